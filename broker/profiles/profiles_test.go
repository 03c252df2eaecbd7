package profiles

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testRoleARN  = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	testTableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
)

// baseConfig has a per-tenant read profile (default) and a per-subject
// profile with every AssumeRole option set, with defaults applied.
func baseConfig() *config.Config {
	c := &config.Config{
		DefaultProfile: "read",
		Profiles: []config.Profile{
			{
				Name:            "read",
				RoleARN:         testRoleARN,
				Template:        "dynamodb-read",
				TableARNs:       []string{testTableARN},
				DefaultDuration: time.Hour,
			},
			{
				Name:              "user",
				RoleARN:           "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
				Template:          "dynamodb-readwrite",
				TableARNs:         []string{testTableARN},
				LeadingKeyFormat:  "T#{tenant}",
				DefaultDuration:   30 * time.Minute,
				MaxDuration:       2 * time.Hour,
				ExternalID:        "tvm-external-id",
				SessionTags:       map[string]string{"tenant": "{tenant}", "user": "{subject}", "app": "tvm"},
				TransitiveTagKeys: []string{"tenant"},
				Sessions:          config.PerSubject,
				SourceIdentity:    true,
				AllowedTenants:    []string{"acme", "globex"},
				RequiredScope:     "tvm:write",
			},
		},
	}
	return c
}

func loadTemplates(t testing.TB, dir string) *policies.Set {
	t.Helper()
	set, err := policies.LoadTemplates(dir, targets.All())
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return set
}

func compile(t *testing.T, cfg *config.Config) (*Set, error) {
	t.Helper()
	cfg.SetDefaults()
	return Compile(cfg, loadTemplates(t, ""), Options{})
}

// TestCompileRefusesBadConfig: every profile problem is refused, naming the
// field (the configuration's own rules through ProfileProblems, then the
// compile step's: template, rendering, the longest tenant).
func TestCompileRefusesBadConfig(t *testing.T) {
	tests := map[string]struct {
		mutate func(*config.Config)
		want   string // substring of the error
	}{
		"no profiles":            {func(c *config.Config) { c.Profiles = nil; c.DefaultProfile = "" }, "profiles: at least one"},
		"bad tenant pattern":     {func(c *config.Config) { c.Auth.TenantPattern = "(" }, "auth.tenant_pattern"},
		"unanchored pattern":     {func(c *config.Config) { c.Auth.TenantPattern = "[a-z0-9]{1,8}" }, "auth.tenant_pattern: must be anchored"},
		"pattern allows a space": {func(c *config.Config) { c.Auth.TenantPattern = "^[a-z0-9 ]{1,8}$" }, "auth.tenant_pattern: must not match"},
		"unbounded pattern":      {func(c *config.Config) { c.Auth.TenantPattern = "^[a-z0-9]+$" }, "auth.tenant_pattern: must bound"},
		"one proof tenant":       {func(c *config.Config) { c.Proof.Tenants = []string{"a"} }, "proof.tenants"},
		"equal proof tenants":    {func(c *config.Config) { c.Proof.Tenants = []string{"a", "a"} }, "proof.tenants"},
		"proof tenant bad":       {func(c *config.Config) { c.Proof.Tenants = []string{"a", "*"} }, "proof.tenants[1]"},
		"unknown default":        {func(c *config.Config) { c.DefaultProfile = "nope" }, "default_profile"},
		"no name":                {func(c *config.Config) { c.Profiles[0].Name = ""; c.DefaultProfile = "user" }, "profiles[0].name"},
		"duplicate name":         {func(c *config.Config) { c.Profiles[1].Name = "read" }, `profiles[1].name: duplicate of profiles[0]`},
		"no role":                {func(c *config.Config) { c.Profiles[0].RoleARN = "" }, "profiles[0].role_arn"},
		"user not role":          {func(c *config.Config) { c.Profiles[0].RoleARN = "arn:aws:iam::123456789012:user/broker" }, "profiles[0].role_arn"},
		"no template":            {func(c *config.Config) { c.Profiles[0].Template = "" }, "profiles[0].template: required"},
		"unknown template":       {func(c *config.Config) { c.Profiles[0].Template = "nope" }, "profiles[0].template: unknown"},
		"no tables":              {func(c *config.Config) { c.Profiles[0].TableARNs = nil }, "profiles[0].table_arns"},
		"stream wildcard table":  {func(c *config.Config) { c.Profiles[0].TableARNs = []string{testTableARN + "/*"} }, "profiles[0].table_arns[0]"},
		"not a dynamodb arn":     {func(c *config.Config) { c.Profiles[0].TableARNs = []string{"arn:aws:s3:::bucket"} }, "profiles[0].table_arns[0]"},
		"format no placeholder":  {func(c *config.Config) { c.Profiles[0].LeadingKeyFormat = "Tenant#" }, "profiles[0].leading_key_format"},
		"format twice":           {func(c *config.Config) { c.Profiles[0].LeadingKeyFormat = "{tenant}{tenant}" }, "profiles[0].leading_key_format"},
		"max below 900s":         {func(c *config.Config) { c.Profiles[0].MaxDuration = 899 * time.Second }, "profiles[0].max_duration"},
		"max above 12h":          {func(c *config.Config) { c.Profiles[0].MaxDuration = 13 * time.Hour }, "profiles[0].max_duration"},
		"default above max":      {func(c *config.Config) { c.Profiles[1].DefaultDuration = 3 * time.Hour }, "profiles[1].default_duration"},
		"default below 900s":     {func(c *config.Config) { c.Profiles[1].DefaultDuration = time.Minute }, "profiles[1].default_duration"},
		"external id too short":  {func(c *config.Config) { c.Profiles[1].ExternalID = "x" }, "profiles[1].external_id"},
		"external id bad chars":  {func(c *config.Config) { c.Profiles[1].ExternalID = "a b" }, "profiles[1].external_id"},
		"bad session scope":      {func(c *config.Config) { c.Profiles[1].Sessions = "session" }, "profiles[1].sessions"},
		"source id per tenant":   {func(c *config.Config) { c.Profiles[1].Sessions = config.PerTenant }, "profiles[1].source_identity"},
		"subject tag per tenant": {func(c *config.Config) { c.Profiles[0].SessionTags = map[string]string{"u": "{subject}"} }, `profiles[0].session_tags["u"]`},
		"aws: tag key":           {func(c *config.Config) { c.Profiles[0].SessionTags = map[string]string{"aws:x": "v"} }, "reserved"},
		"bad tag key":            {func(c *config.Config) { c.Profiles[0].SessionTags = map[string]string{"a*b": "v"} }, `session_tags["a*b"]`},
		"tag keys differ by case": {func(c *config.Config) {
			c.Profiles[0].SessionTags = map[string]string{"Team": "a", "team": "b"}
		}, "differ in more than case"},
		"transitive not a tag": {func(c *config.Config) { c.Profiles[1].TransitiveTagKeys = []string{"nope"} }, "profiles[1].transitive_tag_keys[0]"},
		"policy over 2048 at start-up": {func(c *config.Config) {
			// A key within 1024 bytes for every admitted id, in a policy too long.
			c.Profiles[0].LeadingKeyFormat = strings.Repeat("k", 950) + "{tenant}"
			for i := range 8 {
				c.Profiles[0].TableARNs = append(c.Profiles[0].TableARNs, testTableARN+strings.Repeat("x", i+1))
			}
		}, "profiles[0] (template \"dynamodb-read\", tenant \"1\")"},
		"key over 1024 bytes for the longest tenant": {func(c *config.Config) {
			c.Profiles[0].LeadingKeyFormat = strings.Repeat("k", 1000) + "{tenant}"
		}, "profiles[0].leading_key_format: the leading key of the longest tenant id the tenant pattern admits is 1064 bytes, limit 1024"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig()
			tc.mutate(cfg)
			_, err := compile(t, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCompileNilArguments(t *testing.T) {
	if _, err := Compile(nil, loadTemplates(t, ""), Options{}); err == nil {
		t.Error("nil config accepted")
	}
	if _, err := Compile(baseConfig(), nil, Options{}); err == nil {
		t.Error("nil templates accepted")
	}
}

func TestCompiledProfile(t *testing.T) {
	cfg := baseConfig()
	s, err := compile(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Default() != "read" || strings.Join(s.Names(), ",") != "read,user" || s.Pattern().String() != config.DefaultTenantPattern {
		t.Errorf("set: default %q, names %v, pattern %s", s.Default(), s.Names(), s.Pattern())
	}
	def, ok := s.Profile("")
	if !ok || def.Name() != "read" || def.PerSubject() || !def.Allows("anyone") || def.TemplateName() != "dynamodb-read" {
		t.Errorf("default profile = %+v", def)
	}
	u, ok := s.Profile("user")
	if !ok {
		t.Fatal("no profile user")
	}
	got := []any{u.RoleARN(), u.DefaultDuration(), u.MaxDuration(), u.ExternalID(), len(u.Tags()), u.Tags()[0].Key,
		u.TransitiveTagKeys()[0], u.PerSubject(), u.SourceIdentity(), u.Allows("acme"), u.Allows("initech"), u.RequiredScope()}
	want := []any{"arn:aws:iam::123456789012:role/tvm-tenant-readwrite", 30 * time.Minute, 2 * time.Hour, "tvm-external-id", 3, "app",
		"tenant", true, true, true, false, "tvm:write"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
	r, err := u.Render("acme")
	if err != nil || !strings.Contains(string(r.JSON), `"T#acme"`) {
		t.Errorf("Render = %v, %v", r, err)
	}
	if _, ok := s.Profile("nope"); ok {
		t.Error("unknown profile found")
	}
}

func TestCheckRealProof(t *testing.T) {
	cfg := baseConfig()
	cfg.Proof.Tenants = []string{"acme", "acme2"}
	cfg.SetDefaults()
	s, err := Check(cfg, loadTemplates(t, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	reports := s.Reports()
	if len(reports) != 2 {
		t.Fatalf("got %d reports, want 2", len(reports))
	}
	for _, r := range reports {
		if !r.OK() || r.Proof == nil || !r.Proof.OK || len(r.Proof.Rows) == 0 || r.PolicySize == 0 {
			t.Errorf("report %+v: want a passing proof with rows", r)
		}
	}
	if reports[0].Profile != "read" || reports[1].Template != "dynamodb-readwrite" {
		t.Errorf("reports in the wrong order: %+v", reports)
	}
}

// leakyDir holds a template that passes the linter but also grants the
// second proof tenant's key (of the user profile's format, T#{tenant}).
func leakyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const doc = `{"Version":"2012-10-17","Statement":[{"Sid":"Leaky","Effect":"Allow",` +
		`"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],"Resource":["{{table_arns}}","{{index_arns}}"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","T#12"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	if err := os.WriteFile(filepath.Join(dir, "leaky.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestProofFailureRefusesProfile: a profile whose template leaks is refused
// naming the profile's field and the failing row; Check reports the proof;
// with the proof disabled the profile is accepted (still linted).
func TestProofFailureRefusesProfile(t *testing.T) {
	templates := loadTemplates(t, leakyDir(t))
	cfg := baseConfig()
	cfg.Profiles[1].Template = "leaky"
	cfg.SetDefaults()
	_, err := Compile(cfg, templates, Options{})
	for _, want := range []string{"profiles[1]", `tenant "1": Query other tenant's key on table`, "LeadingKeys [T#12]", "isolation proof failed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile error = %v, want it to contain %q", err, want)
		}
	}
	var perr *policies.ProofError
	if !errors.As(err, &perr) {
		t.Errorf("error does not wrap *ProofError: %v", err)
	}

	checked, err := Check(cfg, templates, Options{})
	if err == nil {
		t.Fatal("Check passed a failing proof")
	}
	reports := checked.Reports()
	if !reports[0].OK() || reports[1].OK() || reports[1].Proof == nil || reports[1].Proof.OK || len(reports[1].Proof.Rows) == 0 {
		t.Errorf("reports = %+v", reports)
	}
	// The failed profile still renders, for `tvm-broker render` to show why.
	if p, ok := checked.Profile("user"); !ok {
		t.Error("Check's set lacks the failed profile")
	} else if r, err := p.Render("acme"); err != nil || !strings.Contains(string(r.JSON), `"T#12"`) {
		t.Errorf("Render = %v, %v", r, err)
	}

	// Disabled: the proof does not run, so the profile is accepted (still linted).
	cfg.Proof.Disabled = true
	logs := &testenv.SyncBuffer{}
	s, err := Compile(cfg, templates, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Reports() {
		if r.Proof != nil || r.PolicySize == 0 {
			t.Errorf("disabled proof report %+v", r)
		}
	}
	if !strings.Contains(logs.String(), "DISABLED") {
		t.Errorf("the disabled proof was not logged: %s", logs)
	}
}

func TestCheckReportsEveryProfile(t *testing.T) {
	cfg := baseConfig()
	cfg.Profiles[0].Template = "nope"
	cfg.Profiles = append(cfg.Profiles, config.Profile{Template: "dynamodb-read"})
	cfg.SetDefaults()
	checked, err := Check(cfg, loadTemplates(t, ""), Options{})
	if err == nil {
		t.Fatal("no error")
	}
	reports := checked.Reports()
	if len(reports) != 3 || reports[0].OK() || !reports[1].OK() || reports[2].OK() || reports[2].Profile != "profiles[2]" {
		t.Errorf("reports = %+v", reports)
	}
	if !strings.Contains(err.Error(), "profiles[0].template") || !strings.Contains(err.Error(), "profiles[2].name") {
		t.Errorf("error %v does not name both failures", err)
	}
	// A configuration-level failure yields no reports.
	cfg.Auth.TenantPattern = "^a+$"
	if checked, err := Check(cfg, loadTemplates(t, ""), Options{}); checked != nil || err == nil {
		t.Errorf("Check = %v, %v; want no set and an error", checked, err)
	}
}

// TestEveryAdmittedTenant: the examples. A Latin-1 pattern accepted
// at start-up vends (renders) for its longest tenant; a pattern admitting a
// character a session tag value cannot hold is refused when a profile tags
// {tenant}; so is one whose longest id overflows a tag value.
func TestEveryAdmittedTenant(t *testing.T) {
	tests := map[string]struct {
		pattern string
		tags    map[string]string
		want    string // "" = accepted
	}{
		"latin-1 letters, 100 long":       {pattern: `^[a-zé]{1,100}$`},
		"latin-1 tagged":                  {pattern: `^[a-zé]{1,100}$`, tags: map[string]string{"tenant": "{tenant}"}},
		"hash, untagged":                  {pattern: `^[a-z0-9#]{1,32}$`},
		"hash, tagged":                    {pattern: `^[a-z0-9#]{1,32}$`, tags: map[string]string{"tenant": "t-{tenant}"}, want: `profiles[0].session_tags["tenant"]: auth.tenant_pattern admits the character '#', which a session tag value does not allow`},
		"hash, tag without tenant":        {pattern: `^[a-z0-9#]{1,32}$`, tags: map[string]string{"app": "tvm"}},
		"128 long, tag fits":              {pattern: `^[a-z]{1,128}$`, tags: map[string]string{"t": "{tenant}{tenant}"}},
		"128 long, tag overflows":         {pattern: `^[a-z]{1,128}$`, tags: map[string]string{"t": "{tenant}:{tenant}"}, want: "the value is 257 characters, limit 256"},
		"128 long, subject in tag is cut": {pattern: `^[a-z]{1,128}$`, tags: map[string]string{"t": "{tenant}/{subject}"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Profiles = cfg.Profiles[1:]
			cfg.DefaultProfile = ""
			cfg.Profiles[0].AllowedTenants = nil
			cfg.Profiles[0].SessionTags = tc.tags
			cfg.Profiles[0].TransitiveTagKeys = nil
			cfg.Auth.TenantPattern = tc.pattern
			cfg.Proof.Tenants = []string{"a", "ab"}
			s, err := compile(t, cfg)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Compile = %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, _ := s.Profile("")
			longest := s.Pattern().Longest()
			if err := s.Pattern().Check(longest); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Render(longest); err != nil {
				t.Errorf("Render(longest %q) = %v", longest, err)
			}
		})
	}
}
