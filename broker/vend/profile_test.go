package vend

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

func TestNewRefusesBadConfig(t *testing.T) {
	tests := map[string]struct {
		mutate func(*config.Config)
		want   string // substring of the error
	}{
		"no profiles":            {func(c *config.Config) { c.Profiles = nil }, "profiles: at least one"},
		"bad tenant pattern":     {func(c *config.Config) { c.Auth.TenantPattern = "(" }, "auth.tenant_pattern"},
		"unanchored pattern":     {func(c *config.Config) { c.Auth.TenantPattern = "[a-z0-9]{1,8}" }, "auth.tenant_pattern: must be anchored"},
		"pattern allows a space": {func(c *config.Config) { c.Auth.TenantPattern = "^[a-z0-9 ]{1,8}$" }, "auth.tenant_pattern: must not match"},
		"unbounded pattern":      {func(c *config.Config) { c.Auth.TenantPattern = "^[a-z0-9]+$" }, "auth.tenant_pattern: must bound"},
		"one proof tenant":       {func(c *config.Config) { c.Proof.Tenants = []string{"a"} }, "proof.tenants"},
		"equal proof tenants":    {func(c *config.Config) { c.Proof.Tenants = []string{"a", "a"} }, "proof.tenants"},
		"proof tenant bad":       {func(c *config.Config) { c.Proof.Tenants = []string{"a", "*"} }, "proof.tenants[1]"},
		"unknown default":        {func(c *config.Config) { c.DefaultProfile = "nope" }, "default_profile"},
		"no name":                {func(c *config.Config) { c.Profiles[0].Name = "" }, "profiles[0].name"},
		"duplicate name":         {func(c *config.Config) { c.Profiles[1].Name = "read" }, `profiles[1].name: duplicate profile "read"`},
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
			c.Profiles[0].LeadingKeyFormat = strings.Repeat("k", 1000) + "{tenant}"
			for i := range 8 {
				c.Profiles[0].TableARNs = append(c.Profiles[0].TableARNs, testTableARN+strings.Repeat("x", i))
			}
		}, "profiles[0] (template \"dynamodb-read\", tenant \"1\")"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig()
			tc.mutate(cfg)
			_, err := New(cfg, loadTemplates(t), &fakeSTS{clock: newClock()}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewNilArguments(t *testing.T) {
	set := loadTemplates(t)
	if _, err := New(nil, set, &fakeSTS{}, Options{}); err == nil {
		t.Error("nil config accepted")
	}
	if _, err := New(baseConfig(), nil, &fakeSTS{}, Options{}); err == nil {
		t.Error("nil templates accepted")
	}
	if _, err := New(baseConfig(), set, nil, Options{}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestNewDefaults(t *testing.T) {
	cfg := baseConfig()
	cfg.DefaultProfile = ""
	cfg.Profiles = cfg.Profiles[:1]
	cfg.Profiles[0].DefaultDuration = 0
	v, err := New(cfg, loadTemplates(t), &fakeSTS{clock: newClock()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p := v.profiles["read"]
	got := []any{v.defaultProfile, v.fresh.refreshBefore, v.fresh.floor, v.sts.Timeout, v.sts.MaxAttempts, p.defaultDur, p.maxDur, p.keyFormat, p.perSubject}
	want := []any{"read", config.DefaultRefreshBefore, config.DefaultClientWindow + time.Minute,
		config.DefaultSTSTimeout, config.DefaultSTSMaxAttempts, config.DefaultDuration, config.DefaultMaxDuration, "Tenant#{tenant}", false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("default %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCheckProfilesRealProof(t *testing.T) {
	cfg := baseConfig()
	cfg.Proof.Tenants = []string{"acme", "acme2"}
	reports, err := CheckProfiles(cfg, loadTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
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

func TestProofFailureRefusesProfile(t *testing.T) {
	orig := prove
	t.Cleanup(func() { prove = orig })
	var spec policies.ProofSpec
	row := policies.ProofRow{Name: "tenant 1: Scan table", Action: "dynamodb:Scan", Resource: testTableARN, Want: iam.ImplicitDeny, Got: iam.Allowed}
	prove = func(s policies.ProofSpec) (*policies.ProofReport, error) {
		spec = s
		if s.Template.Name() == "dynamodb-readwrite" {
			return &policies.ProofReport{Rows: []policies.ProofRow{row}}, &policies.ProofError{Template: "dynamodb-readwrite", Row: row, Failed: 1}
		}
		return orig(s)
	}
	_, err := New(baseConfig(), loadTemplates(t), &fakeSTS{clock: newClock()}, Options{})
	if err == nil || !strings.Contains(err.Error(), "profiles[1]") || !strings.Contains(err.Error(), "Scan table") {
		t.Fatalf("New error = %v, want the failing profile and row", err)
	}
	var perr *policies.ProofError
	if !errors.As(err, &perr) {
		t.Errorf("error does not wrap *ProofError: %v", err)
	}
	if spec.LeadingKeyFormat != "T#{tenant}" || spec.Tenants != policies.DefaultProofTenants || spec.Pattern == nil {
		t.Errorf("proof spec = %+v", spec)
	}

	reports, err := CheckProfiles(baseConfig(), loadTemplates(t))
	if err == nil {
		t.Fatal("CheckProfiles passed a failing proof")
	}
	if !reports[0].OK() || reports[1].OK() || reports[1].Proof == nil || reports[1].Proof.Rows[0].Name != row.Name {
		t.Errorf("reports = %+v", reports)
	}

	// A report that fails without a ProofError still names its failing row.
	prove = func(policies.ProofSpec) (*policies.ProofReport, error) {
		return &policies.ProofReport{Rows: []policies.ProofRow{row}}, nil
	}
	if _, err := CheckProfiles(baseConfig(), loadTemplates(t)); err == nil || !strings.Contains(err.Error(), row.Name) {
		t.Errorf("error %v does not name the failing row", err)
	}

	// Disabled: the proof does not run, so the profile is accepted (still linted).
	cfg := baseConfig()
	cfg.Proof.Disabled = true
	reports, err = CheckProfiles(cfg, loadTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.Proof != nil || r.PolicySize == 0 {
			t.Errorf("disabled proof report %+v", r)
		}
	}
}

func TestCheckProfilesReportsEveryProfile(t *testing.T) {
	cfg := baseConfig()
	cfg.Profiles[0].Template = "nope"
	cfg.Profiles = append(cfg.Profiles, config.Profile{Template: "dynamodb-read"})
	reports, err := CheckProfiles(cfg, loadTemplates(t))
	if err == nil {
		t.Fatal("no error")
	}
	if len(reports) != 3 || reports[0].OK() || !reports[1].OK() || reports[2].OK() || reports[2].Profile != "profiles[2]" {
		t.Errorf("reports = %+v", reports)
	}
	if !strings.Contains(err.Error(), "profiles[0].template") || !strings.Contains(err.Error(), "profiles[2].name") {
		t.Errorf("error %v does not name both failures", err)
	}
}

func TestNewFromParsedConfig(t *testing.T) {
	const doc = `
auth:
  issuer: https://idp.example.com/
  audiences: [tvm-broker]
  jwks_url: https://idp.example.com/.well-known/jwks.json
  tenant_claim: tenant_id
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
  - name: readwrite
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-readwrite
    template: dynamodb-readwrite
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
    sessions: subject
    source_identity: true
    session_tags: {tenant: "{tenant}"}
default_profile: read
`
	cfg, err := config.Parse([]byte(doc), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	clock := newClock()
	fake := &fakeSTS{clock: clock}
	v, err := New(cfg, loadTemplates(t), fake, Options{Clock: clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer v.Close()
	c, err := v.Vend(t.Context(), Request{Tenant: "1", Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "read" || c.SessionName != "t-1-read" || c.Expiration.Sub(clock.Now()) != config.DefaultDuration {
		t.Errorf("credentials %+v", c)
	}
	if _, err := v.Vend(t.Context(), Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if si := fake.lastInput(t).SourceIdentity; si == nil || *si != "alice" {
		t.Errorf("SourceIdentity = %v", si)
	}
}
