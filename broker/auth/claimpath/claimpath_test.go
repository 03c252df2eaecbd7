package claimpath

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := map[string]struct {
		text  string
		keys  []string
		exact bool
		err   string // substring; "" = valid
	}{
		"plain":                    {text: "tenant_id", keys: []string{"tenant_id"}},
		"colon":                    {text: "custom:tenant_id", keys: []string{"custom:tenant_id"}},
		"nested":                   {text: "org.tenant", keys: []string{"org", "tenant"}},
		"URL keeps its meaning":    {text: "https://example.com/t", keys: []string{"https://example", "com/t"}},
		"empty keys as today":      {text: "a..b.", keys: []string{"a", "", "b", ""}},
		"kubernetes namespace":     {text: `kubernetes\.io.namespace`, keys: []string{"kubernetes.io", "namespace"}, exact: true},
		"kubernetes sa name":       {text: `kubernetes\.io.serviceaccount.name`, keys: []string{"kubernetes.io", "serviceaccount", "name"}, exact: true},
		"escaped top level":        {text: `a\.b`, keys: []string{"a.b"}, exact: true},
		"literal backslash":        {text: `a\\b`, keys: []string{`a\b`}, exact: true},
		"backslash then separator": {text: `a\\.b`, keys: []string{`a\`, "b"}, exact: true},
		"escaped dot at the end":   {text: `a\.`, keys: []string{"a."}, exact: true},
		"unicode key":              {text: `é\.x.ü`, keys: []string{"é.x", "ü"}, exact: true},
		"empty":                    {text: "", err: "required"},
		"too long":                 {text: strings.Repeat("a", MaxBytes+1), err: "longer than 256 bytes"},
		"longest":                  {text: strings.Repeat("a", MaxBytes), keys: []string{strings.Repeat("a", MaxBytes)}},
		"control":                  {text: "a\nb", err: "control character"},
		"bad UTF-8":                {text: "a\xffb", err: "UTF-8"},
		"trailing backslash":       {text: `a\`, err: "escapes nothing"},
		"unknown escape":           {text: `kubernetes\io`, err: `backslash at byte 10 escapes nothing`},
		"escaped letter":           {text: `\n`, err: "escapes nothing"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tt.text)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %v, %v; want an error containing %q", tt.text, p, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			if diff := cmp.Diff(tt.keys, p.Keys()); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if p.exact != tt.exact || p.String() != tt.text {
				t.Errorf("exact %v, text %q; want %v, %q", p.exact, p.String(), tt.exact, tt.text)
			}
		})
	}
}

// kubeletClaims are the claims of a kubelet-projected service-account token
// (fact sheet E.1), decoded as the verifier decodes them.
func kubeletClaims(t *testing.T) map[string]any {
	t.Helper()
	const token = `{
	  "aud": ["tvm.tvmkit.io"], "exp": 1764155671, "iat": 1764152071, "nbf": 1764152071,
	  "iss": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
	  "jti": "6f1c2f8e-7c8a-4c57-9a0e-2f3b1d4c5e6f",
	  "kubernetes.io": {
	    "namespace": "team-a",
	    "node": {"name": "ip-10-0-1-23.ec2.internal", "uid": "0d0bb3e4-0b8b-4a57-8d61-0c5cf1f7b2a1"},
	    "pod": {"name": "app-7d9f8b6c5d-x2x9z", "uid": "9b2d8d5a-2f4e-4b9c-b8a1-3e0f6f1c2d3e"},
	    "serviceaccount": {"name": "app", "uid": "5a1e3c7b-1d2f-4e6a-9b8c-7d6e5f4a3b2c"},
	    "warnafter": 1764155278
	  },
	  "sub": "system:serviceaccount:team-a:app"
	}`
	var claims map[string]any
	if err := json.Unmarshal([]byte(token), &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestLookup(t *testing.T) {
	k8s := kubeletClaims
	plain := func(t *testing.T) map[string]any {
		return map[string]any{
			"tenant_id":  "t1",
			"org.tenant": "exact",
			"org":        map[string]any{"tenant": "nested", "list": []any{"x"}},
			"a.b":        map[string]any{"c": "dotted-key"},
			`a\b`:        "backslash",
			"":           map[string]any{"": "empty keys"},
			"n":          nil,
			"p.q":        "top-only",
		}
	}
	tests := map[string]struct {
		claims func(*testing.T) map[string]any
		path   string
		want   any
		err    error
	}{
		"namespace":                       {k8s, `kubernetes\.io.namespace`, "team-a", nil},
		"service account name":            {k8s, `kubernetes\.io.serviceaccount.name`, "app", nil},
		"pod uid":                         {k8s, `kubernetes\.io.pod.uid`, "9b2d8d5a-2f4e-4b9c-b8a1-3e0f6f1c2d3e", nil},
		"unescaped misses the dot":        {k8s, "kubernetes.io.namespace", nil, ErrAbsent},
		"subject":                         {k8s, "sub", "system:serviceaccount:team-a:app", nil},
		"whole object":                    {k8s, `kubernetes\.io.node`, map[string]any{"name": "ip-10-0-1-23.ec2.internal", "uid": "0d0bb3e4-0b8b-4a57-8d61-0c5cf1f7b2a1"}, nil},
		"missing nested key":              {k8s, `kubernetes\.io.tenant`, nil, ErrAbsent},
		"through a string":                {k8s, `sub.x`, nil, ErrAbsent},
		"top level":                       {plain, "tenant_id", "t1", nil},
		"top-level and nested: ambiguous": {plain, "org.tenant", nil, ErrAmbiguous},
		"top-level name, nothing nested":  {plain, "p.q", "top-only", nil},
		"escaped path is exact":           {plain, `org\.tenant`, "exact", nil},
		"escaped nested":                  {plain, `a\.b.c`, "dotted-key", nil},
		"unescaped dotted key":            {plain, "a.b.c", nil, ErrAbsent},
		"literal backslash":               {plain, `a\\b`, "backslash", nil},
		"through an array":                {plain, "org.list.0", nil, ErrAbsent},
		"empty keys":                      {plain, ".", "empty keys", nil},
		"null value is found":             {plain, "n", nil, nil},
		"absent":                          {plain, "nope", nil, ErrAbsent},
		"nested path when no exact":       {plain, "org.list", []any{"x"}, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := MustParse(tt.path).Lookup(tt.claims(t))
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) || !cmp.Equal(got, tt.want) {
				t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.path, got, err, tt.want, tt.err)
			}
		})
	}
	if v, err := (Path{}).Lookup(plain(t)); err == nil || v != nil {
		t.Errorf("zero Path found %v", v)
	}
}

func TestQuote(t *testing.T) {
	for _, keys := range [][]string{
		{"kubernetes.io", "namespace"}, {`a\b`}, {"a.", `\`}, {"plain"}, {"", ""}, {`\.`, `.\`},
	} {
		text := Quote(keys...)
		p, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(Quote(%q)) = %v", keys, err)
		}
		if !slices.Equal(p.Keys(), keys) {
			t.Errorf("Parse(Quote(%q)).Keys() = %q (text %q)", keys, p.Keys(), text)
		}
	}
	if got := Quote("kubernetes.io", "namespace"); got != `kubernetes\.io.namespace` {
		t.Errorf("Quote = %q", got)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of an invalid path did not panic")
		}
	}()
	MustParse(`bad\`)
}

// FuzzParse: Parse never panics; a valid path round-trips through Quote; a
// path without a backslash keeps the plain meaning (its keys are the
// '.'-separated parts); Lookup finds a value planted at the path's keys
// (exactly that value) and nothing in an empty claim set.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tenant_id", "org.tenant", `kubernetes\.io.namespace`, `a\\b`, `a\`, `\x`, "a..b", ".", `\.`, `\\.`,
		"https://example.com/tenant", "custom:tenant_id", "é.ü", "a\x00b", "\xff", strings.Repeat(`\.`, 128),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			if p.String() != "" || p.Keys() != nil {
				t.Fatalf("refused %q but returned %+v", text, p)
			}
			return
		}
		keys := p.Keys()
		if len(keys) == 0 || p.String() != text {
			t.Fatalf("Parse(%q) = %+v", text, p)
		}
		if !strings.ContainsRune(text, Escape) && !slices.Equal(keys, strings.Split(text, ".")) {
			t.Fatalf("plain path %q: keys %q", text, keys)
		}
		q, err := Parse(Quote(keys...))
		if err != nil || !slices.Equal(q.Keys(), keys) {
			t.Fatalf("Quote(%q) = %q does not round-trip: %v, %q", keys, Quote(keys...), err, q.Keys())
		}
		// Plant a marker at the keys.
		const marker = "found-it"
		var val any = marker
		for i := len(keys) - 1; i >= 0; i-- {
			val = map[string]any{keys[i]: val}
		}
		claims := val.(map[string]any)
		if got, err := p.Lookup(claims); err != nil || got != marker {
			t.Fatalf("Lookup(%q) in %v = %v, %v", text, claims, got, err)
		}
		if got, err := p.Lookup(map[string]any{}); err == nil {
			t.Fatalf("Lookup(%q) in {} = %v", text, got)
		}
	})
}
