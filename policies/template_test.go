package policies

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShippedTemplates(t *testing.T) {
	s := mustLoad(t)
	if diff := cmp.Diff([]string{"dynamodb-read", "dynamodb-readwrite"}, s.Names()); diff != "" {
		t.Fatalf("Names() (-want +got):\n%s", diff)
	}
	if _, ok := s.Get("nope"); ok {
		t.Error(`Get("nope") found a template`)
	}
	tpl := mustGet(t, s, "dynamodb-read")
	if tpl.Name() != "dynamodb-read" || tpl.Source() != "embedded:templates/dynamodb-read.json" {
		t.Errorf("Name, Source = %q, %q", tpl.Name(), tpl.Source())
	}
}

// TestGolden renders every shipped template for tenant "1" on the demo table
// and compares with testdata/golden/NAME.json (go test -update rewrites them).
func TestGolden(t *testing.T) {
	s := mustLoad(t)
	for _, name := range s.Names() {
		t.Run(name, func(t *testing.T) {
			key, err := LeadingKey(DefaultLeadingKeyFormat, "1", nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := mustGet(t, s, name).Render(Params{Tenant: "1", LeadingKey: key, TableARNs: []string{demoTable}})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, append(bytes.Clone(r.JSON), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(bytes.TrimSuffix(want, []byte("\n"))), string(r.JSON)); diff != "" {
				t.Errorf("rendered policy differs from %s (-want +got):\n%s", path, diff)
			}
			sum := sha256.Sum256(r.JSON)
			if r.Hash != hex.EncodeToString(sum[:]) {
				t.Errorf("Hash = %s, want sha256 of JSON", r.Hash)
			}
			if r.Size != len(r.JSON) || r.Size > MaxPolicySize {
				t.Errorf("Size = %d, JSON length %d", r.Size, len(r.JSON))
			}
		})
	}
}

func TestRenderShapes(t *testing.T) {
	const tpl = `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Read", "Effect": "Allow", "Action": "dynamodb:Query",
	    "Resource": "{{table_arns}}",
	    "Condition": {
	      "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": "{{leading_key}}"},
	      "Null": {"dynamodb:LeadingKeys": "false"},
	      "StringEquals": {"aws:PrincipalTag/tenant": ["{{tenant}}"], "aws:PrincipalTag/team": "a&b<c>"}
	    }
	  }, {
	    "Sid": "Index", "Effect": "Allow", "Action": ["dynamodb:Query"],
	    "Resource": ["{{index_arns}}"],
	    "Condition": {
	      "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["{{leading_key}}"]},
	      "Null": {"dynamodb:LeadingKeys": "false"}
	    }
	  }]
	}`
	tp, err := ParseTemplate("shapes", "test", []byte(tpl))
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	other := "arn:aws:dynamodb:eu-west-1:123456789012:table/other"
	r, err := tp.Render(Params{Tenant: "7", LeadingKey: "Tenant#7", TableARNs: []string{demoTable, other}})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"dynamodb:Query",` +
		`"Resource":["` + demoTable + `","` + other + `"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":"Tenant#7"},"Null":{"dynamodb:LeadingKeys":"false"},` +
		`"StringEquals":{"aws:PrincipalTag/tenant":["7"],"aws:PrincipalTag/team":"a&b<c>"}}},` +
		`{"Sid":"Index","Effect":"Allow","Action":["dynamodb:Query"],"Resource":["` + demoTable + `/index/*","` + other + `/index/*"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#7"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	if diff := cmp.Diff(want, string(r.JSON)); diff != "" {
		t.Errorf("Render (-want +got):\n%s", diff)
	}
	if _, err := tp.Render(Params{LeadingKey: "Tenant#7", TableARNs: []string{demoTable}}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("Render without the tenant the template uses: err = %v, want ErrInvalidParams", err)
	}
}

func TestRenderParams(t *testing.T) {
	tpl := mustGet(t, mustLoad(t), "dynamodb-read")
	tests := map[string]struct {
		p        Params
		wantErr  error
		wantRule string
	}{
		"no leading key":        {p: Params{Tenant: "1", TableARNs: []string{demoTable}}, wantErr: ErrInvalidParams},
		"no tables":             {p: Params{Tenant: "1", LeadingKey: "Tenant#1"}, wantErr: ErrInvalidParams},
		"wildcard table":        {p: Params{LeadingKey: "Tenant#1", TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/*"}}, wantErr: ErrInvalidParams},
		"table with a slash":    {p: Params{LeadingKey: "Tenant#1", TableARNs: []string{demoTable + "/index/x"}}, wantErr: ErrInvalidParams},
		"not dynamodb":          {p: Params{LeadingKey: "Tenant#1", TableARNs: []string{"arn:aws:s3:::bucket"}}, wantErr: ErrInvalidParams},
		"duplicate table":       {p: Params{LeadingKey: "Tenant#1", TableARNs: []string{demoTable, demoTable}}, wantErr: ErrInvalidParams},
		"bad tenant":            {p: Params{Tenant: "*", LeadingKey: "Tenant#1", TableARNs: []string{demoTable}}, wantErr: ErrInvalidParams},
		"key too long":          {p: Params{LeadingKey: strings.Repeat("k", MaxLeadingKeyLength+1), TableARNs: []string{demoTable}}, wantErr: ErrInvalidParams},
		"variable in key":       {p: Params{LeadingKey: "${aws:username}", TableARNs: []string{demoTable}}, wantRule: RuleVariables},
		"control char in key":   {p: Params{LeadingKey: "Tenant#\x01", TableARNs: []string{demoTable}}, wantRule: RuleCharset},
		"too big once rendered": {p: Params{LeadingKey: strings.Repeat("k", 1000), TableARNs: manyTables(12)}, wantRule: RuleSize},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := tpl.Render(tc.p)
			if r != nil {
				t.Fatalf("Render returned a policy: %s", r.JSON)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantRule != "" {
				var le *LintError
				if !errors.As(err, &le) || le.Rule != tc.wantRule {
					t.Fatalf("err = %v, want lint rule %s", err, tc.wantRule)
				}
			}
		})
	}
}

func manyTables(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = demoTable + "-" + strings.Repeat("x", i+1)
	}
	return out
}

func TestLoadTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	shipped, err := os.ReadFile(filepath.Join("templates", "dynamodb-read.json"))
	if err != nil {
		t.Fatal(err)
	}
	override := bytes.Replace(shipped, []byte(`"TenantItemRead"`), []byte(`"OverriddenRead"`), 1)
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dynamodb-read.json", override)
	write("custom.json", shipped)
	write("README.md", []byte("not a template"))
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	if diff := cmp.Diff([]string{"custom", "dynamodb-read", "dynamodb-readwrite"}, s.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
	tpl := mustGet(t, s, "dynamodb-read")
	if tpl.Source() != filepath.Join(dir, "dynamodb-read.json") {
		t.Errorf("Source() = %q", tpl.Source())
	}
	r, err := tpl.Render(Params{LeadingKey: "Tenant#1", TableARNs: []string{demoTable}})
	if err != nil || !bytes.Contains(r.JSON, []byte("OverriddenRead")) {
		t.Errorf("override not used: %v", err)
	}

	t.Run("bad template names the file", func(t *testing.T) {
		bad := t.TempDir()
		leaky, err := os.ReadFile(filepath.Join("testdata", "lint", "keyless-action.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, "leaky.json"), leaky, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = LoadTemplates(bad)
		var le *LintError
		if !errors.As(err, &le) || le.Rule != RuleKeylessAction || !strings.Contains(err.Error(), "leaky.json") {
			t.Errorf("err = %v, want keyless-action naming leaky.json", err)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "-x.json"), shipped, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTemplates(bad); err == nil {
			t.Error("template named -x loaded")
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		if _, err := LoadTemplates(filepath.Join(dir, "missing")); err == nil {
			t.Error("missing directory loaded")
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		bad := t.TempDir()
		big := append(bytes.Repeat([]byte(" "), MaxTemplateBytes), shipped...)
		if err := os.WriteFile(filepath.Join(bad, "big.json"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		var le *LintError
		if _, err := LoadTemplates(bad); !errors.As(err, &le) || le.Rule != RuleSize {
			t.Errorf("err = %v, want rule size", err)
		}
	})
}

// leadingKeyValues returns every value of every dynamodb:LeadingKeys entry
// under any condition operator but Null in a rendered policy.
func leadingKeyValues(t *testing.T, doc []byte) []string {
	t.Helper()
	var pol struct {
		Statement []struct {
			Condition map[string]map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(doc, &pol); err != nil {
		t.Fatalf("rendered policy does not decode: %v", err)
	}
	var out []string
	for _, st := range pol.Statement {
		for op, keys := range st.Condition {
			if op == "Null" {
				continue
			}
			for k, raw := range keys {
				if !strings.EqualFold(k, LeadingKeysKey) {
					continue
				}
				var many []string
				if err := json.Unmarshal(raw, &many); err != nil {
					var one string
					if err := json.Unmarshal(raw, &one); err != nil {
						t.Fatalf("LeadingKeys value %s", raw)
					}
					many = []string{one}
				}
				out = append(out, many...)
			}
		}
	}
	return out
}

// jsonString encodes s the way the renderer does.
func jsonString(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// FuzzRender: for any tenant claim the rendered policy is either refused or
// holds exactly one LeadingKeys value, equal to the validated, formatted
// key, and is otherwise byte-identical to a reference tenant's rendering.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{"1", "12", "acme_co-7", "*", "1*", "?", `"`, `a","b`, "${aws:username}", "a/b", `a\b`,
		"Tenant#1", "", " ", "\x00", "a\nb", "é", "\u2028", strings.Repeat("a", 64), strings.Repeat("a", 65), "REF0"} {
		f.Add(seed)
	}
	s := mustLoad(f)
	tables := []string{demoTable}
	patterns := []*regexp.Regexp{nil, regexp.MustCompile(`.*`)}
	refs := map[string][]byte{} // template name -> rendering for refKey
	const refKey = "Tenant#REF"
	for _, name := range s.Names() {
		r, err := mustGet(f, s, name).Render(Params{Tenant: "REF", LeadingKey: refKey, TableARNs: tables})
		if err != nil {
			f.Fatal(err)
		}
		refs[name] = r.JSON
	}
	// checkSwap asserts that r holds key as its only LeadingKeys value and
	// equals the reference rendering with the reference key swapped for key.
	checkSwap := func(t *testing.T, name string, r *Rendered, key string) {
		t.Helper()
		if got := leadingKeyValues(t, r.JSON); len(got) != 1 || got[0] != key {
			t.Fatalf("%s: LeadingKeys values %q, want exactly [%q]", name, got, key)
		}
		refJSON := refs[name]
		refEnc := jsonString(t, refKey)
		if n := bytes.Count(refJSON, refEnc); n != 1 {
			t.Fatalf("reference key occurs %d times in the reference rendering", n)
		}
		want := bytes.Replace(refJSON, refEnc, jsonString(t, key), 1)
		if !bytes.Equal(want, r.JSON) {
			t.Fatalf("%s: rendering for key %q differs beyond the key:\nwant %s\ngot  %s", name, key, want, r.JSON)
		}
	}
	f.Fuzz(func(t *testing.T, tenant string) {
		// Even with validation bypassed, the JSON-aware renderer cannot be
		// injected into: the raw key is refused or lands as one JSON string.
		raw := "Tenant#" + tenant
		for _, name := range s.Names() {
			if r, err := mustGet(t, s, name).Render(Params{LeadingKey: raw, TableARNs: tables}); err == nil {
				checkSwap(t, name, r, raw)
			}
		}
		for _, pattern := range patterns {
			key, err := LeadingKey(DefaultLeadingKeyFormat, tenant, pattern)
			if err != nil {
				continue // refused
			}
			if len(tenant) > MaxTenantLength || strings.ContainsAny(tenant, `*?"$/\`) {
				t.Fatalf("LeadingKey accepted tenant %q", tenant)
			}
			for _, r := range tenant {
				if r < 0x20 || r >= 0x7f {
					t.Fatalf("LeadingKey accepted tenant %q", tenant)
				}
			}
			for _, name := range s.Names() {
				r, err := mustGet(t, s, name).Render(Params{Tenant: tenant, LeadingKey: key, TableARNs: tables})
				if err != nil {
					t.Fatalf("%s: valid tenant %q refused: %v", name, tenant, err)
				}
				checkSwap(t, name, r, key)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	tpl := mustGet(b, mustLoad(b), "dynamodb-readwrite")
	p := Params{Tenant: "1", LeadingKey: "Tenant#1", TableARNs: []string{demoTable}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderConcurrent renders one template from many goroutines (run with
// -race): a Template is immutable, so every result must equal the serial one.
func TestRenderConcurrent(t *testing.T) {
	tpl := mustGet(t, mustLoad(t), "dynamodb-readwrite")
	want, err := tpl.Render(Params{Tenant: "1", LeadingKey: "Tenant#1", TableARNs: []string{demoTable}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := tpl.Render(Params{Tenant: "1", LeadingKey: "Tenant#1", TableARNs: []string{demoTable}})
			if err == nil && r.Hash != want.Hash {
				err = errors.New("hash differs: " + r.Hash)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestParseTree(t *testing.T) {
	tests := map[string]string{
		"trailing data":    `{} {}`,
		"trailing garbage": `{}x`,
		"too deep":         strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		"unterminated":     `{"a":[1,2`,
		"bad literal":      `{"a":tru}`,
		"duplicate key":    `{"a":1,"a":2}`,
		"empty":            ``,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parseTree([]byte(doc)); err == nil {
				t.Errorf("parseTree(%q) accepted it", doc)
			}
		})
	}
	t.Run("round trip keeps order and numbers", func(t *testing.T) {
		const doc = `{"z":1.50,"a":[true,false,null,"x\u0026y"],"m":{}}`
		tree, err := parseTree([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		out, err := encodeTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"z":1.50,"a":[true,false,null,"x&y"],"m":{}}`; string(out) != want {
			t.Errorf("encodeTree = %s, want %s", out, want)
		}
	})
}
