package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeakyProfileRefusedAtStartup starts the real broker with a profile
// whose template leaks and checks that it refuses to start, naming why: the
// linter names the rule for a template of the wrong shape, and the isolation
// proof (evaluated on the IAM evaluator) names the failing row for one that
// passes the linter and still leaks.
func TestLeakyProfileRefusedAtStartup(t *testing.T) {
	localURL, _ := startBareLocal(t)

	example, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "broker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const statement = `{"Version":"2012-10-17","Statement":[{"Sid":"Leaky","Effect":"Allow",` +
		`"Action":%s,"Resource":["{{table_arns}}","{{index_arns}}"],"Condition":{%s}}]}`
	tests := map[string]struct {
		template string
		want     []string
	}{
		"scan allowed": {
			template: strings.Replace(strings.Replace(statement, "%s", `["dynamodb:Query","dynamodb:Scan"]`, 1), "%s",
				`"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]}`, 1),
			want: []string{"keyless-action", "dynamodb:Scan", `Leaky`},
		},
		"StringLike with a wildcard": {
			template: strings.Replace(strings.Replace(statement, "%s", `["dynamodb:Query"]`, 1), "%s",
				`"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["{{leading_key}}*"]}`, 1),
			want: []string{"placeholder"},
		},
		"StringLike on LeadingKeys": {
			template: strings.Replace(strings.Replace(statement, "%s", `["dynamodb:Query"]`, 1), "%s",
				`"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}`, 1),
			want: []string{"stringlike-wildcard"},
		},
		"passes the linter, leaks another tenant": {
			template: strings.Replace(strings.Replace(statement, "%s", `["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"]`, 1), "%s",
				`"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#12"]},"Null":{"dynamodb:LeadingKeys":"false"}`, 1),
			want: []string{"isolation proof", `Query other tenant's key on table`, "want ImplicitDeny, got Allow", `Leaky`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "policies", "leaky.json"), []byte(tc.template), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := strings.Replace(string(example), "template: dynamodb-read\n", "template: leaky\n", 1)
			cfg = "policy_dir: policies\n" + cfg
			if err := os.WriteFile(filepath.Join(dir, "broker.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code := run(t, []string{
				"AWS_ACCESS_KEY_ID=" + brokerKeyID, "AWS_SECRET_ACCESS_KEY=" + brokerSecret,
				"AWS_ENDPOINT_URL=" + localURL,
				"TVM_AUTH_ISSUER=" + localURL, "TVM_AUTH_JWKS_URL=" + localURL + "/.well-known/jwks.json",
			}, "tvm-broker", "serve", "--config", filepath.Join(dir, "broker.yaml"), "--listen", "127.0.0.1:0")
			if code == 0 {
				t.Fatalf("the broker started with a leaky profile:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("start-up error lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, `"msg":"ready"`) {
				t.Errorf("the broker logged ready before refusing:\n%s", out)
			}
		})
	}
}
