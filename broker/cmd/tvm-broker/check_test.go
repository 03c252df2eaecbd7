package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/localaws/iamapi"
	"github.com/tvmkit/tvm/localaws/identity"
)

// checkConfig writes a broker configuration with one profile (profile, a
// YAML block indented for profiles[]) and a policy directory holding
// template (when not empty) as custom.json; it returns the config's path.
func checkConfig(t *testing.T, profile, template string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if template != "" {
		if err := os.WriteFile(filepath.Join(dir, "policies", "custom.json"), []byte(template), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `policy_dir: policies
auth:
  issuer: http://127.0.0.1:4566
  audiences: [tvm-broker]
  jwks_url: http://127.0.0.1:4566/.well-known/jwks.json
sts:
  region: us-east-1
  timeout: 5s
profiles:
` + profile
	path := filepath.Join(dir, "broker.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	guard     = `"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}`
	readStmt  = `{"Sid":"Read","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":["{{table_arns}}","{{index_arns}}"],` + guard + `}`
	customTpl = `{"Version":"2012-10-17","Statement":[%s]}`
	readProf  = `  - name: p
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: custom
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`
)

// The S3 target in a custom template and a profile.
const (
	s3Stmt    = `{"Sid":"Obj","Effect":"Allow","Action":"s3:GetObject","Resource":"{{s3_object_arns}}"}`
	s3List    = `{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"{{s3_bucket_arns}}","Condition":{"StringLike":{"s3:prefix":"{{s3_prefixes}}"}}}`
	s3Section = "    s3: {buckets: [tvm-demo-bucket]}\n"
	s3Prof    = `  - name: files
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-s3
    template: custom
` + s3Section
)

func tpl(statements ...string) string {
	return strings.Replace(customTpl, "%s", strings.Join(statements, ","), 1)
}

// TestCheckIssue14 is issue 14's "Done when": `tvm-broker check` refuses
// every hole class of points 1 (grants outside DynamoDB) and 2 (resources
// written into a template) naming the rule, and accepts stricter profiles
// (one granted read, table only, write only) and a template with an extra
// narrowing condition.
func TestCheckIssue14(t *testing.T) {
	tests := map[string]struct {
		template string
		profile  string // default readProf
		want     []string
		ok       bool
	}{
		// S3 is a registered target: its grants are judged by its rules.
		"s3:GetObject on every object, without the S3 target": {template: tpl(readStmt, `{"Sid":"Export","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"}`),
			want: []string{"[placeholder]", "grants s3 actions but never uses {{s3_object_arns}}", `"s3:GetObject"`}},
		"s3:GetObject on every object, with the S3 target": {template: tpl(readStmt, s3Stmt, `{"Sid":"Export","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"}`),
			profile: readProf + s3Section, want: []string{"[s3-resource]", `"arn:aws:s3:::*"`}},
		"a shared prefix of the profile's bucket": {template: tpl(readStmt, s3Stmt, `{"Sid":"Shared","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tvm-demo-bucket/shared/*"}`),
			profile: readProf + s3Section, want: []string{"[resource-scope]", `"arn:aws:s3:::tvm-demo-bucket/shared/*"`}},
		"sqs:SendMessage on every queue": {template: tpl(readStmt, `{"Sid":"Q","Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}`),
			want: []string{"[unknown-action]", `"sqs:SendMessage"`}},
		"sts:AssumeRole on every role": {template: tpl(readStmt, `{"Sid":"Chain","Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`),
			want: []string{"[unknown-action]", `"sts:AssumeRole"`}},
		"iam:*": {template: tpl(readStmt, `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::123456789012:role/x"}`),
			want: []string{"[unknown-action]", `"iam:*"`}},
		"a named queue, not listed": {template: tpl(readStmt, `{"Sid":"Q","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}`),
			want: []string{"[unknown-action]", `"sqs:SendMessage"`, "extra_actions"}},
		"a named queue, listed": {template: tpl(readStmt, `{"Sid":"Q","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}`),
			profile: readProf + "    extra_actions: [{actions: [sqs:SendMessage], resources: [\"arn:aws:sqs:us-east-1:123456789012:q\"]}]\n",
			ok:      true, want: []string{"UNPROVEN: profile p: sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:q (extra_actions)"}},
		"the key in every region and account": {template: tpl(readStmt, `{"Sid":"Everywhere","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:*:table/tvm-demo",`+guard+`}`),
			want: []string{"[resource-scope]", "a wildcard or policy variable in the region"}},
		"another table": {template: tpl(readStmt, `{"Sid":"Other","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/other",`+guard+`}`),
			want: []string{"[resource-scope]", "lies within no resource the profile declares"}},
		"one granted read":             {template: tpl(`{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"{{table_arns}}",` + guard + `}`), ok: true},
		"table only":                   {template: tpl(`{"Effect":"Allow","Action":["dynamodb:Query","dynamodb:GetItem"],"Resource":"{{table_arns}}",` + guard + `}`), ok: true},
		"write only":                   {template: tpl(`{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:UpdateItem"],"Resource":"{{table_arns}}",` + guard + `}`), ok: true},
		"an extra narrowing condition": {template: tpl(strings.Replace(readStmt, `"Null"`, `"Bool":{"aws:SecureTransport":"true"},"Null"`, 1)), ok: true},
		"a table and a bucket":         {template: tpl(readStmt, s3Stmt), profile: readProf + s3Section, ok: true},
		"list only, S3":                {template: tpl(s3List), profile: s3Prof, ok: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			profile := tc.profile
			if profile == "" {
				profile = readProf
			}
			code, stdout, stderr := runCLI("check", "--config", checkConfig(t, profile, tc.template))
			if tc.ok != (code == exitOK) {
				t.Fatalf("exit %d, want ok %v\nstdout: %s\nstderr: %s", code, tc.ok, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, stdout, stderr)
				}
			}
		})
	}
}

// TestCheckFetchesRolePolicies: `tvm-broker check` reads a role's
// policies through the IAM API (the local AWS's, over HTTP, with the
// broker's credentials) for a profile that sets role_policy_from_iam, and
// refuses the profile when they cannot be read.
func TestCheckFetchesRolePolicies(t *testing.T) {
	store, err := identity.New(identity.DefaultConfig(), identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := iamapi.New(iamapi.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	profile := `  - name: read
    role_arn: arn:aws:iam::123456789012:role/%s
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
    role_policy_from_iam: true
`
	tests := map[string]struct {
		role, key string
		ok        bool
		want      string
	}{
		"fetched": {role: "tvm-tenant-read", key: "AKIATVMBROKER0000001", ok: true, want: "from IAM (1 policy)"},
		"a role that does not allow the reads": {role: "tvm-no-grant", key: "AKIATVMBROKER0000001",
			want: `Query own key on table] (dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo, LeadingKeys [Tenant#1]): want Allow, got ImplicitDeny`},
		"unknown credentials": {role: "tvm-tenant-read", key: "AKIAUNKNOWN000000001", want: "role_policy_from_iam: the role's policies could not be read through the IAM API"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", srv.URL)
			t.Setenv("AWS_ACCESS_KEY_ID", tc.key)
			t.Setenv("AWS_SECRET_ACCESS_KEY", "tvmLocalBrokerSecretKey000000000000000001")
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
			code, stdout, stderr := runCLI("check", "--config", checkConfig(t, strings.Replace(profile, "%s", tc.role, 1), ""))
			if tc.ok != (code == exitOK) || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d (want ok %v), output lacks %q\nstdout: %s\nstderr: %s", code, tc.ok, tc.want, stdout, stderr)
			}
		})
	}
}

// TestRenderSessionTags: a session-tags profile without a template sends
// no session policy, and render says so.
func TestRenderSessionTags(t *testing.T) {
	role := writeFile(t, "role.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem",`+
		`"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo",`+
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#${aws:PrincipalTag/tenant}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`)
	cfg := checkConfig(t, `  - name: abac
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-abac
    isolation: session-tags
    session_tags: {tenant: "{tenant}"}
    role_policy_files: [`+role+`]
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`, "")
	code, stdout, stderr := runCLI("render", "--config", cfg, "--tenant", "1")
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "sends no session policy (isolation: session-tags)") {
		t.Fatalf("render: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI("check", "--config", cfg)
	if code != exitOK || !regexp.MustCompile(`(?m)^abac\s+-\s+session-tags\s+from files \(1 policy\)\s+-\s+(\d+)/(\d+) rows\s+ok$`).MatchString(stdout) {
		t.Fatalf("check: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestRenderRefusedProfile: render still prints what a tenant of a profile
// that fails its proof would get, but says that the broker refuses the
// profile, naming the failing row, and exits non-zero.
func TestRenderRefusedProfile(t *testing.T) {
	twoKeys := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],` +
		`"Resource":["{{table_arns}}","{{index_arns}}"],"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#admin"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	leakyRole := writeFile(t, "role.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem",`+
		`"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo",`+
		`"Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["Tenant#${aws:PrincipalTag/tenant}*"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`)
	tests := map[string]struct {
		profile, template string
		wantStdout        string // "" = none
		wantStderr        string
	}{
		"session policy": {
			profile: `  - name: p
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: custom
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`,
			template:   twoKeys,
			wantStdout: `"Tenant#admin"`,
			wantStderr: `Query key "Tenant#admin" named by the policy`,
		},
		"session tags": {
			profile: `  - name: abac
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-abac
    isolation: session-tags
    session_tags: {tenant: "{tenant}"}
    role_policy_files: [` + leakyRole + `]
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`,
			wantStderr: `GetItem other tenant's key`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI("render", "--config", checkConfig(t, tc.profile, tc.template), "--tenant", "1")
			if code != exitFailure || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, tc.wantStderr) ||
				(tc.wantStdout == "") != (stdout == "") || !strings.Contains(stdout, tc.wantStdout) {
				t.Fatalf("render: exit %d, want %d, stdout with %q, stderr with %q\nstdout: %s\nstderr: %s",
					code, exitFailure, tc.wantStdout, tc.wantStderr, stdout, stderr)
			}
		})
	}
}
