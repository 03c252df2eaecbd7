package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tvmkit/tvm/client"
	"github.com/tvmkit/tvm/localaws/identity"
)

// e2eRoles are this test's own roles, added to the local AWS's built-in
// configuration: an ABAC role whose policy isolates tenants by the session
// tag "tenant", and a leaky one (a wildcard after the tag: tenant 1 would
// reach Tenant#12's partition). The broker may tag sessions of both.
const e2eRoles = `      - name: tvm-e2e-abac
        max_session_duration: 1h
        trust_policy: &e2eTrust |
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/broker"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringLike": {"aws:RequestTag/tenant": "?*"}}}]}
        policies:
          - name: tenant-partition
            document: |
              {"Version": "2012-10-17", "Statement": [{"Sid": "TenantPartition", "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                "Resource": ["arn:aws:dynamodb:*:123456789012:table/tvm-demo", "arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["Tenant#${aws:PrincipalTag/tenant}"]},
                              "Null": {"dynamodb:LeadingKeys": "false"}}}]}
      - name: tvm-e2e-abac-leaky
        max_session_duration: 1h
        trust_policy: *e2eTrust
        policies:
          - name: tenant-partition
            document: |
              {"Version": "2012-10-17", "Statement": [{"Sid": "TenantPrefix", "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                "Resource": ["arn:aws:dynamodb:*:123456789012:table/tvm-demo", "arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["Tenant#${aws:PrincipalTag/tenant}*"]},
                              "Null": {"dynamodb:LeadingKeys": "false"}}}]}
`

// abacProfile is the broker configuration with one session-tags profile
// whose role's policy the broker reads through the IAM API.
const abacProfile = `listen: 127.0.0.1:0
auth:
  issuer: http://127.0.0.1:4566
  audiences: [tvm-broker]
  jwks_url: http://127.0.0.1:4566/.well-known/jwks.json
sts:
  region: us-east-1
profiles:
  - name: abac
    role_arn: arn:aws:iam::123456789012:role/ROLE
    isolation: session-tags
    session_tags: {tenant: "{tenant}"}
    role_policy_from_iam: true
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`

// writeE2EConfigs writes the local AWS's identity configuration (the
// built-in one plus e2eRoles) and the broker's configuration for role.
func writeE2EConfigs(t *testing.T, role string) (identityFile, brokerFile string) {
	t.Helper()
	dir := t.TempDir()
	builtIn := string(identity.DefaultYAML)
	i := strings.Index(builtIn, "\n    roles:\n")
	if i < 0 {
		t.Fatal("the built-in identity configuration has no roles section")
	}
	i += len("\n    roles:\n")
	identityFile, brokerFile = filepath.Join(dir, "identity.yaml"), filepath.Join(dir, "broker.yaml")
	if err := os.WriteFile(identityFile, []byte(builtIn[:i]+e2eRoles+builtIn[i:]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(brokerFile, []byte(strings.Replace(abacProfile, "ROLE", role, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return identityFile, brokerFile
}

// TestABACRolePolicyFromIAM (issue 8): the real broker reads an ABAC
// role's policy from the real local AWS's IAM API at start-up, proves it
// with each tenant's session tag, says so in its start-up line, and vends
// session-tagged credentials with no session policy that the local
// DynamoDB keeps to the tenant's partition (on both backends). A leaky
// role policy makes it refuse to start, naming the failing row.
func TestABACRolePolicyFromIAM(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			identityFile, brokerFile := writeE2EConfigs(t, "tvm-e2e-abac")
			s := &stack{}
			s.localURL, s.local = startLocal(t, backend(t), "--config", identityFile)
			s.broker = start(t, "tvm-broker", brokerEnv(s.localURL), "serve", "--config", brokerFile, "--listen", listenAny)
			s.brokerURL = "http://" + s.broker.addr(t)
			waitReady(t, s.broker, s.brokerURL+"/readyz")
			for _, want := range []string{`"role_policy":"from IAM (1 policy)"`, "profile proven against the role's policy as deployed", `"isolation":"session-tags"`} {
				if !strings.Contains(s.broker.out.String(), want) {
					t.Errorf("broker start-up log lacks %q:\n%s", want, s.broker.out.String())
				}
			}
			s.seed(t)
			creds := client.NewCached(s.brokerURL, client.StaticToken(mintToken(t, s.localURL, "1", "svc-abac")),
				func(o *client.Options) { o.Profile = "abac" })
			checkIsolation(t, aws.Config{Region: region, Credentials: creds}, s.localURL)
		})
	}
	t.Run("leaky role policy", func(t *testing.T) {
		identityFile, brokerFile := writeE2EConfigs(t, "tvm-e2e-abac-leaky")
		localURL, _ := startLocal(t, "", "--config", identityFile)
		out, code := run(t, brokerEnv(localURL), "tvm-broker", "serve", "--config", brokerFile, "--listen", "127.0.0.1:0")
		if code == 0 {
			t.Fatalf("the broker started with a leaky role policy:\n%s", out)
		}
		for _, want := range []string{"from IAM (1 policy)", `tenant \"1\": Query other tenant's key on table`, "want ImplicitDeny, got Allow",
			`role policy tvm-e2e-abac-leaky/tenant-partition statement 0 (Sid \"TenantPrefix\")`} {
			if !strings.Contains(out, want) {
				t.Errorf("start-up error lacks %q:\n%s", want, out)
			}
		}
	})
}
