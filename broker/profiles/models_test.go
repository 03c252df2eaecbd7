package profiles

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

const (
	siloTableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"
	abacRoleARN  = "arn:aws:iam::123456789012:role/tvm-tenant-abac"
	siloRoleARN  = "arn:aws:iam::123456789012:role/tvm-tenant-silo"
)

func roleFile(name string) string { return filepath.Join("testdata", "roles", name+".json") }

// modelConfig has one profile, p, with defaults applied by compile.
func modelConfig(p config.Profile) *config.Config {
	if p.Name == "" {
		p.Name = "p"
	}
	return &config.Config{Profiles: []config.Profile{p}}
}

// fakeRoles is a RoleSource: the roles "fetched from IAM" are read from
// files; err fails every role.
type fakeRoles struct {
	files map[string]string // role ARN -> policy file
	err   error
	calls int
}

func (f *fakeRoles) Role(arn string) (*rolepolicy.Role, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	r, err := rolepolicy.LoadFiles(arn, []string{f.files[arn]})
	if err != nil {
		return nil, err
	}
	r.Source, r.ID = rolepolicy.FromIAM, "AROAFAKEABAC00000001"
	return r, nil
}

// TestIsolationModels compiles the contract's silo, bridge and ABAC
// profiles (and their leaky variants) with the role's policy as deployed.
func TestIsolationModels(t *testing.T) {
	abac := config.Profile{RoleARN: abacRoleARN, Isolation: policies.IsolationSessionTags,
		SessionTags: map[string]string{"tenant": "{tenant}"}, TableARNs: []string{testTableARN}}
	with := func(p config.Profile, edit func(*config.Profile)) config.Profile {
		edit(&p)
		return p
	}
	tests := map[string]struct {
		profile  config.Profile
		roles    *fakeRoles
		want     string // substring of the error; "" = accepted
		role     string // Report.RolePolicy when accepted
		template string
		unproven int // Report.Unproven entries when accepted
	}{
		"silo": {profile: config.Profile{RoleARN: siloRoleARN, Template: "dynamodb-silo-read", TableARNs: []string{siloTableARN},
			RolePolicyFiles: []string{roleFile("silo")}}, role: "from files (1 policy)", template: "dynamodb-silo-read"},
		"silo readwrite, allow-all role": {profile: config.Profile{RoleARN: siloRoleARN, Template: "dynamodb-silo-readwrite",
			TableARNs: []string{siloTableARN}}, role: RoleUnknown, template: "dynamodb-silo-readwrite"},
		"bridge": {profile: config.Profile{RoleARN: siloRoleARN, Template: "dynamodb-read", TableARNs: []string{siloTableARN},
			RolePolicyFiles: []string{roleFile("silo")}}, role: "from files (1 policy)", template: "dynamodb-read"},
		"silo template on a shared table": {profile: config.Profile{RoleARN: siloRoleARN, Template: "dynamodb-silo-read", TableARNs: []string{testTableARN}},
			want: "the template uses {{tenant_index_arns}} and {{tenant_table_arns}}, which no bound target provides"},
		"abac, role from files": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("abac")} }),
			role: "from files (1 policy)"},
		"abac, role from IAM": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFromIAM = true }),
			roles: &fakeRoles{files: map[string]string{abacRoleARN: roleFile("abac")}}, role: "from IAM (1 policy)"},
		"abac with a static session policy": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles, p.Template = []string{roleFile("abac")}, "dynamodb-read"
		}), role: "from files (1 policy)", template: "dynamodb-read"},
		"abac silo": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles, p.TableARNs = []string{roleFile("abac-silo")}, []string{siloTableARN}
		}), role: "from files (1 policy)"},
		"abac without a role policy": {profile: abac, want: "profiles[0].isolation: session-tags needs role_policy_files or role_policy_from_iam"},
		"abac, IAM unreachable": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFromIAM = true }),
			roles: &fakeRoles{err: errors.New("connection refused")}, want: "profiles[0].role_policy_from_iam: the role's policies could not be read through the IAM API: connection refused"},
		"abac, no IAM client": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFromIAM = true }),
			want: "profiles[0].role_policy_from_iam: " + rolepolicy.ErrNotFetched.Error()},
		"abac, wildcard after the tag": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("abac-leaky-wildcard")} }),
			want: `row [tenant "1": Query other tenant's key on table] (dynamodb:Query on ` + testTableARN + `, LeadingKeys [Tenant#12]): want ImplicitDeny, got Allow, decided by role policy abac-leaky-wildcard.json statement 0 (Sid "TenantPartition")`},
		"abac, a statement without the condition": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("abac-leaky-unconditioned")} }),
			want: `row [tenant "1": GetItem other tenant's key] (dynamodb:GetItem on ` + testTableARN + `, LeadingKeys [Tenant#12]): want ImplicitDeny, got Allow, decided by role policy abac-leaky-unconditioned.json statement 1 (Sid "Forgotten")`},
		"abac silo, wildcard after the tag": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles, p.TableARNs = []string{roleFile("abac-silo-leaky")}, []string{siloTableARN}
		}), want: `row [tenant "1": Query own key on other tenant's table] (dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12, LeadingKeys [Tenant#1]): want ImplicitDeny, got Allow, decided by role policy abac-silo-leaky.json statement 0`},
		"abac role that may chain": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("abac"), roleFile("abac-chain")} }),
			want: `policy lint [unknown-action] role policy abac-chain.json statement 0 (Sid "Chain")`},
		"abac tag values outside STS's grammar": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("abac")} }),
			want: `profiles[0].session_tags["tenant"]: auth.tenant_pattern admits the character '#', which a session tag value does not allow`},
		"role as deployed lacks the template's writes": {profile: config.Profile{RoleARN: testRoleARN, Template: "dynamodb-readwrite",
			TableARNs: []string{testTableARN}, RolePolicyFiles: []string{roleFile("read")}},
			want: `row [tenant "1": PutItem own key] (dynamodb:PutItem on ` + testTableARN + `, LeadingKeys [Tenant#1]): want Allow, got ImplicitDeny, decided by no statement (implicit deny: no identity-based policy allows the request)`},
		"role as deployed allows the template's reads": {profile: config.Profile{RoleARN: testRoleARN, Template: "dynamodb-read",
			TableARNs: []string{testTableARN}, RolePolicyFiles: []string{roleFile("read")}}, role: "from files (1 policy)", template: "dynamodb-read"},
		"role that grants nothing": {profile: config.Profile{RoleARN: testRoleARN, Template: "dynamodb-read",
			TableARNs: []string{testTableARN}, RolePolicyFiles: []string{roleFile("nothing")}},
			want: `row [tenant "1": Query own key on table] (dynamodb:Query on ` + testTableARN + `, LeadingKeys [Tenant#1]): want Allow, got ExplicitDeny, decided by role policy nothing.json statement 0 (Sid "Nothing")`},
		"abac role that grants nothing": {profile: with(abac, func(p *config.Profile) { p.RolePolicyFiles = []string{roleFile("nothing")} }),
			want: `row [tenant "1": Query own key on table (the profile grants the tenant nothing on its tables)]`},
		// One role isolating two targets by the tag (the built-in tvm-tenant-abac).
		"abac over DynamoDB and S3": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles, p.Targets = []string{roleFile("abac"), abacS3Policy}, s3Targets(t)
		}), role: "from files (2 policies)"},
		// Nothing would prove the S3 statements: refused (configure S3).
		"abac S3 statements, S3 not configured": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles = []string{roleFile("abac"), abacS3Policy}
		}), want: `statement 0 (Sid "TenantObjectsByTag"): an action of the s3 isolation target, which the profile does not configure`},
		"abac over S3, its statements missing": {profile: with(abac, func(p *config.Profile) {
			p.RolePolicyFiles, p.Targets = []string{roleFile("abac")}, s3Targets(t)
		}), want: `row [tenant "1": GetObject own object (the profile grants the tenant nothing under its prefix)]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := modelConfig(tc.profile)
			if name == "abac tag values outside STS's grammar" {
				cfg.Auth.TenantPattern = `^[a-z0-9#]{1,16}$`
			}
			cfg.SetDefaults()
			opts := Options{Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
			if tc.roles != nil {
				opts.Roles = tc.roles
			}
			s, err := Compile(cfg, loadTemplates(t, ""), opts)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Compile error = %v\nwant it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rep := s.Reports()[0]
			if rep.RolePolicy != tc.role || rep.Template != tc.template || rep.Proof == nil || !rep.Proof.OK || len(rep.Unproven) != tc.unproven {
				t.Fatalf("report %+v, want role policy %q, template %q, %d unproven grants and a passing proof", rep, tc.role, tc.template, tc.unproven)
			}
			p, _ := s.Profile("")
			r, err := p.Render("1")
			if err != nil || (tc.template == "") != (len(r.JSON) == 0) {
				t.Errorf("Render = %v, %v; want a session policy only with a template", r, err)
			}
		})
	}
}

// abacS3Policy is the S3 document of the ABAC role as deployed (the local
// AWS's tvm-tenant-abac and CloudFormation carry it).
var abacS3Policy = filepath.Join("..", "..", "deploy", "aws", "policies", "tvm-tenant-abac-s3.json")

// s3Targets is a profile's s3 section: the demo bucket, the default prefix.
func s3Targets(t *testing.T) map[string]yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`{buckets: [tvm-demo-bucket], prefix_format: "tenants/{tenant}/"}`), &n); err != nil {
		t.Fatal(err)
	}
	return map[string]yaml.Node{"s3": *n.Content[0]}
}

// TestABACProofRows: the ABAC proof evaluates the role's policy with each
// tenant's tag, and repeats every row for an untagged session, which must
// be denied.
func TestABACProofRows(t *testing.T) {
	cfg := modelConfig(config.Profile{RoleARN: abacRoleARN, Isolation: policies.IsolationSessionTags,
		SessionTags: map[string]string{"tenant": "{tenant}"}, TableARNs: []string{testTableARN}, RolePolicyFiles: []string{roleFile("abac")}})
	cfg.SetDefaults()
	s, err := Compile(cfg, loadTemplates(t, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := s.Reports()[0].Proof.Rows
	own, untagged := 0, 0
	for _, r := range rows {
		switch {
		case strings.HasSuffix(r.Name, ", session without tags"):
			untagged++
			if r.Got == iam.Allowed {
				t.Errorf("row %s allowed", r.Name)
			}
		case r.Want == iam.Allowed:
			own++
			if !strings.Contains(r.Statement, `role policy abac.json statement 0`) {
				t.Errorf("row %s decided by %s", r.Name, r.Statement)
			}
		}
	}
	if own == 0 || untagged != len(rows)-untagged {
		t.Errorf("%d own rows, %d of %d rows untagged; want some own rows, and every row once untagged", own, untagged, len(rows))
	}
}

// TestIssue14 runs the issue's classes at the profile level: resources a
// template writes in must lie within the profile's; another service's
// action needs the profile's extra_actions and is then reported UNPROVEN;
// stricter profiles (one read, table only, write only) and a template
// narrowing on global keys are accepted.
func TestIssue14(t *testing.T) {
	templates := loadTemplates(t, filepath.Join("testdata", "templates"))
	audit := []policies.ExtraGrant{{Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:us-east-1:123456789012:tvm-audit"}}}
	tests := map[string]struct {
		template string
		extra    []policies.ExtraGrant
		want     string // substring of the error; "" = accepted
	}{
		"a table outside the profile": {template: "constant-table",
			want: `policy lint [resource-scope] template "constant-table" statement 0 (Sid "Read"): lies within no resource the profile declares (its target settings and extra_actions): "arn:aws:dynamodb:us-east-1:123456789012:table/another-deployment"`},
		"an index within the profile":           {template: "constant-index"},
		"another service without extra_actions": {template: "audit-queue", want: `policy lint [unknown-action] template "audit-queue" statement 1 (Sid "Audit")`},
		"another service in extra_actions":      {template: "audit-queue", extra: audit},
		"GetItem only":                          {template: "getitem-only"},
		"table only":                            {template: "table-only"},
		"write only":                            {template: "write-only"},
		"narrowed on global keys":               {template: "narrowed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := modelConfig(config.Profile{RoleARN: testRoleARN, Template: tc.template, TableARNs: []string{testTableARN},
				SessionTags: map[string]string{"tenant": "{tenant}"}, ExtraActions: tc.extra})
			cfg.SetDefaults()
			logs := &testenv.SyncBuffer{}
			s, err := Compile(cfg, templates, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Compile error = %v\nwant it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rep := s.Reports()[0]
			if len(rep.Unproven) != len(tc.extra) {
				t.Errorf("unproven %v, want the %d extra grants", rep.Unproven, len(tc.extra))
			}
			for _, g := range tc.extra {
				if !strings.Contains(logs.String(), "UNPROVEN grant") || !strings.Contains(logs.String(), g.String()) {
					t.Errorf("log lacks the UNPROVEN %s:\n%s", g, logs)
				}
			}
			if !strings.Contains(logs.String(), `role_policy="unknown: assumed allow-all"`) {
				t.Errorf("the start-up line does not say the role policy is unknown:\n%s", logs)
			}
		})
	}
}

// contractYAML is the wave's configuration contract for the isolation
// models, verbatim but for the auth section.
const contractYAML = `
auth:
  issuer: http://127.0.0.1:4566
  audiences: [tvm-broker]
  jwks_url: http://127.0.0.1:4566/.well-known/jwks.json
default_profile: read
profiles:
  - name: read                      # pooled (today, unchanged)
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]

  - name: silo-read                 # silo: {tenant} in the table NAME (whole-name templating)
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-silo
    template: dynamodb-silo-read    # shipped: dynamodb-silo-read, dynamodb-silo-readwrite (Scan, DescribeTable ok)
    table_arns: ["arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"]

  - name: bridge-read               # bridge: per-tenant table AND LeadingKeys (pooled template over silo tables)
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-silo
    template: dynamodb-read
    table_arns: ["arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"]

  - name: abac-read                 # ABAC: the role's own policy isolates with ${aws:PrincipalTag/tenant}
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-abac
    isolation: session-tags         # default "session-policy"; "session-tags" = no per-tenant session policy
    # template: optional static session policy (no tenant placeholders) for session-tags profiles
    session_tags: {tenant: "{tenant}"}   # required for session-tags: some tag value must be exactly "{tenant}"
    role_policy_from_iam: true      # fetch the role's policies through the IAM API at start-up and in check
    # role_policy_files: [roles/tvm-tenant-abac.json]   # or: the documents as deployed (relative to the config file)
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
    leading_key_format: "Tenant#{tenant}"   # what the role policy's key is, for the proof's own/other rows
`

// TestContractProfiles: the contract's pooled, silo, bridge and ABAC
// profiles compile and prove; the ABAC one against its role's policy read
// "from IAM", the others against an allow-all role, and say so.
func TestContractProfiles(t *testing.T) {
	cfg, err := config.Parse([]byte(contractYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	roles := &fakeRoles{files: map[string]string{abacRoleARN: roleFile("abac")}}
	s, err := Compile(cfg, loadTemplates(t, ""), Options{Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"read": RoleUnknown, "silo-read": RoleUnknown, "bridge-read": RoleUnknown, "abac-read": "from IAM (1 policy)"}
	for _, rep := range s.Reports() {
		if !rep.OK() || rep.RolePolicy != want[rep.Profile] || rep.Proof == nil || !rep.Proof.OK {
			t.Errorf("report %+v, want a proof against role policy %q", rep, want[rep.Profile])
		}
	}
	silo, _ := s.Profile("silo-read")
	r, err := silo.Render("12")
	if err != nil || !strings.Contains(string(r.JSON), `"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12"`) || strings.Contains(string(r.JSON), "LeadingKeys") {
		t.Errorf("silo-read for tenant 12 = %s, %v", r.JSON, err)
	}
	abac, _ := s.Profile("abac-read")
	if r, err := abac.Render("1"); err != nil || len(r.JSON) != 0 || abac.TemplateName() != "" {
		t.Errorf("abac-read renders %q, %v: want no session policy", r.JSON, err)
	}
	if got := abac.SessionTags("1", "alice"); len(got) != 1 || got[0] != (Tag{Key: "tenant", Value: "1"}) {
		t.Errorf("abac-read session tags = %v", got)
	}
}
