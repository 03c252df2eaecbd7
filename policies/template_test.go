package policies_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

func TestShippedTemplates(t *testing.T) {
	s := mustLoad(t)
	if diff := cmp.Diff([]string{"dynamodb-read", "dynamodb-readwrite", "dynamodb-silo-read", "dynamodb-silo-readwrite", "s3-read", "s3-readwrite"}, s.Names()); diff != "" {
		t.Fatalf("Names() (-want +got):\n%s", diff)
	}
	if _, ok := s.Get("nope"); ok {
		t.Error(`Get("nope") found a template`)
	}
	tpl := mustGet(t, s, "dynamodb-read")
	if tpl.Name() != "dynamodb-read" {
		t.Errorf("Name = %q", tpl.Name())
	}
	if got := tpl.Targets(); len(got) != 1 || got[0].Name() != dynamodb.Name {
		t.Errorf("Targets = %v, want [dynamodb]", got)
	}
}

// TestGolden renders every shipped template for tenant "1" on the demo table
// (a silo template on the per-tenant demo tables) and the demo bucket, and
// compares with testdata/golden/NAME.json (go test -update rewrites them).
func TestGolden(t *testing.T) {
	s := mustLoad(t)
	for _, name := range s.Names() {
		t.Run(name, func(t *testing.T) {
			table := demoTable
			if strings.Contains(name, "silo") {
				table = siloTable
			}
			r, err := mustGet(t, s, name).Render("1", append(bind(t, dynamodb.DefaultLeadingKeyFormat, table), bindS3(t, demoBucket)))
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
			if r.Size != len(r.JSON) || r.Size > stsrules.MaxPolicySize {
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
	tp, err := policies.ParseTemplate("shapes", "test", []byte(tpl), targets.All())
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	other := "arn:aws:dynamodb:eu-west-1:123456789012:table/other"
	r, err := tp.Render("7", bind(t, "Tenant#{tenant}", demoTable, other))
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
	if _, err := tp.Render("", bind(t, "Tenant#{tenant}", demoTable)); !errors.Is(err, policies.ErrInvalidParams) {
		t.Errorf("Render without the tenant the template uses: err = %v, want ErrInvalidParams", err)
	}
}

func TestRenderParams(t *testing.T) {
	tpl := mustGet(t, mustLoad(t), "dynamodb-read")
	tests := map[string]struct {
		tenant   string
		bindings []policies.Binding
		wantErr  error
		wantRule string
	}{
		"no binding":            {tenant: "1", wantErr: policies.ErrInvalidParams},
		"bad tenant":            {tenant: "*", bindings: bind(t, "Tenant#{tenant}", demoTable), wantErr: policies.ErrInvalidParams},
		"key too long":          {tenant: "0123456789", bindings: bind(t, strings.Repeat("k", 1015)+"{tenant}", demoTable), wantErr: policies.ErrInvalidParams},
		"bound twice":           {tenant: "1", bindings: append(bind(t, "Tenant#{tenant}", demoTable), bind(t, "T#{tenant}", demoTable)...), wantErr: policies.ErrInvalidParams},
		"variable in key":       {tenant: "1", bindings: raw("${aws:username}", demoTable), wantRule: dynamodb.RuleVariables},
		"control char in key":   {tenant: "1", bindings: raw("Tenant#\x01", demoTable), wantRule: policies.RuleCharset},
		"too big once rendered": {tenant: "1", bindings: bind(t, strings.Repeat("k", 1000)+"{tenant}", manyTables(12)...), wantRule: policies.RuleSize},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := tpl.Render(tc.tenant, tc.bindings)
			if r != nil {
				t.Fatalf("Render returned a policy: %s", r.JSON)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantRule != "" {
				var le *policies.LintError
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
	s, err := policies.LoadTemplates(dir, targets.All())
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	if diff := cmp.Diff([]string{"custom", "dynamodb-read", "dynamodb-readwrite", "dynamodb-silo-read", "dynamodb-silo-readwrite", "s3-read", "s3-readwrite"}, s.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
	r, err := mustGet(t, s, "dynamodb-read").Render("1", bind(t, "Tenant#{tenant}", demoTable))
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
		_, err = policies.LoadTemplates(bad, targets.All())
		var le *policies.LintError
		if !errors.As(err, &le) || le.Rule != dynamodb.RuleKeylessAction || !strings.Contains(err.Error(), "leaky.json") {
			t.Errorf("err = %v, want keyless-action naming leaky.json", err)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "-x.json"), shipped, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.LoadTemplates(bad, targets.All()); err == nil {
			t.Error("template named -x loaded")
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		if _, err := policies.LoadTemplates(filepath.Join(dir, "missing"), targets.All()); err == nil {
			t.Error("missing directory loaded")
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		bad := t.TempDir()
		big := append(bytes.Repeat([]byte(" "), policies.MaxTemplateBytes), shipped...)
		if err := os.WriteFile(filepath.Join(bad, "big.json"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		var le *policies.LintError
		if _, err := policies.LoadTemplates(bad, targets.All()); !errors.As(err, &le) || le.Rule != policies.RuleSize {
			t.Errorf("err = %v, want rule size", err)
		}
	})
}

// TestTemplateTargets: a template uses a target by naming its placeholders
// or by granting its actions, and must then name its required placeholders.
func TestTemplateTargets(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want string // "" = accepted
	}{
		"no placeholder at all": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
			want: "never uses an isolating placeholder ({{leading_key}}"},
		"tenant alone": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"{{tenant}}"}]}`,
			want: "never uses an isolating placeholder ({{leading_key}}, {{tenant_table_arns}}, {{s3_object_arns}}, {{s3_prefixes}}, {{bucket_prefix_arn}})"},
		"grants dynamodb without its placeholders": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"{{bucket_prefix_arn}}"},` +
			`{"Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}]}`,
			want: "template grants dynamodb actions but never uses {{leading_key}}"},
		"second target alone": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"{{bucket_prefix_arn}}"}]}`},
		"two targets": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"{{bucket_prefix_arn}}"},` +
			`{"Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}",` +
			`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`},
		"tenant and key": {doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}",` +
			`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"},` +
			`"StringEquals":{"aws:PrincipalTag/t":"{{tenant}}"}}}]}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			known := append(append([]policies.Target(nil), targets.All()...), fakeTarget{})
			_, err := policies.ParseTemplate("x", "test", []byte(tc.doc), known)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *policies.LintError
			if !errors.As(err, &le) || le.Rule != policies.RulePlaceholder || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want placeholder rule containing %q", err, tc.want)
			}
		})
	}
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
				if !strings.EqualFold(k, dynamodb.LeadingKeysKey) {
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

// FuzzRender: for any tenant claim the rendered policy of every shipped
// DynamoDB template is either refused or holds exactly one LeadingKeys
// value, equal to the validated, formatted key, and is otherwise
// byte-identical to a reference tenant's rendering. (policies/s3 has the
// same property for the S3 templates.)
func FuzzRender(f *testing.F) {
	for _, seed := range []string{"1", "12", "acme_co-7", "*", "1*", "?", `"`, `a","b`, "${aws:username}", "a/b", `a\b`,
		"Tenant#1", "", " ", "\x00", "a\nb", "é", "\u2028", strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("é", 128), strings.Repeat("é", 129), "REF0"} {
		f.Add(seed)
	}
	s := mustLoad(f)
	bindings := bind(f, dynamodb.DefaultLeadingKeyFormat, demoTable)
	format := tenant.MustParseFormat(dynamodb.DefaultLeadingKeyFormat)
	refs := map[string][]byte{} // template name -> rendering for refKey
	const refKey = "Tenant#REF"
	var names []string // the DynamoDB templates isolating by partition key
	for _, name := range s.Names() {
		if tg := mustGet(f, s, name).Targets(); len(tg) == 1 && tg[0].Name() == dynamodb.Name && !strings.Contains(name, "silo") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		f.Fatal("no DynamoDB template")
	}
	for _, name := range names {
		r, err := mustGet(f, s, name).Render("REF", bindings)
		if err != nil {
			f.Fatal(err)
		}
		refs[name] = r.JSON
	}
	// checkSwap asserts that r holds key as its only LeadingKeys value and
	// equals the reference rendering with the reference key swapped for key.
	checkSwap := func(t *testing.T, name string, r *policies.Rendered, key string) {
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
	f.Fuzz(func(t *testing.T, id string) {
		// Even with validation bypassed, the JSON-aware renderer cannot be
		// injected into: the raw key is refused or lands as one JSON string.
		rawKey := "Tenant#" + id
		for _, name := range names {
			if r, err := mustGet(t, s, name).Render("REF", raw(rawKey, demoTable)); err == nil {
				checkSwap(t, name, r, rawKey)
			}
		}
		// The fixed rules alone (any pattern), then the default pattern.
		for _, check := range []func(string) error{tenant.CheckRunes, tenant.Default().Check} {
			if check(id) != nil {
				continue // refused
			}
			if utf8.RuneCountInString(id) > tenant.MaxLength || strings.ContainsFunc(id, tenant.Forbidden) {
				t.Fatalf("tenant %q accepted", id)
			}
			for _, name := range names {
				r, err := mustGet(t, s, name).Render(id, bindings)
				if err != nil {
					t.Fatalf("%s: valid tenant %q refused: %v", name, id, err)
				}
				checkSwap(t, name, r, format.Expand(id))
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	tpl := mustGet(b, mustLoad(b), "dynamodb-readwrite")
	bindings := bind(b, dynamodb.DefaultLeadingKeyFormat, demoTable)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render("1", bindings); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderConcurrent renders one template from many goroutines (run with
// -race): a Template is immutable, so every result must equal the serial one.
func TestRenderConcurrent(t *testing.T) {
	tpl := mustGet(t, mustLoad(t), "dynamodb-readwrite")
	bindings := bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)
	want, err := tpl.Render("1", bindings)
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := tpl.Render("1", bindings)
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
