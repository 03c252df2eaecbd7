package sts

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/identity"
)

// trustConfig has a principal for every branch of AWS's AssumeRole rule
// (aws-semantics.md §4, "Who may call AssumeRole"): users without any
// identity policy, a user with an explicit Deny, a second account, a
// function role whose sessions assume other roles.
const trustConfig = `
accounts:
  - id: "123456789012"
    users:
      - name: plain
        access_keys: [{id: AKIAPLAIN00000000001, secret: plainSecretKey0000000000000000000000001}]
      - name: allowed
        access_keys: [{id: AKIAALLOWED000000001, secret: allowedSecretKey00000000000000000000001}]
        policies:
          - name: assume
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}}'
      - name: denied
        access_keys: [{id: AKIADENIED0000000001, secret: deniedSecretKey000000000000000000000001}]
        policies:
          - name: no-assume
            document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"},{"Sid":"NoTrustPlain","Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/trust-users"}]}'
      - name: admin
        access_keys: [{id: AKIAADMIN00000000001, secret: adminSecretKey00000000000000000000000001}]
        policies:
          - name: all
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'
    roles:
      - name: trust-users
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["arn:aws:iam::123456789012:user/plain","arn:aws:iam::123456789012:user/denied"]}}}'
      - name: trust-account-root
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Principal":{"AWS":"arn:aws:iam::123456789012:root"}}}'
      - name: trust-account-id
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"123456789012"}}}'
      - name: trust-remote
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["arn:aws:iam::999999999999:user/remote","arn:aws:iam::999999999999:user/remote-allowed"]}}}'
      - name: trust-remote-account
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"999999999999"}}}'
      - name: trust-deny
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"123456789012"}},{"Sid":"NotPlain","Effect":"Deny","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::123456789012:user/allowed"}}]}'
      - name: fn
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"}}}'
        policies:
          - name: read
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}}'
      - name: trust-fn-role
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::123456789012:role/fn"}}}'
      - name: trust-fn-session
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/fn/fn-session"}}}'
  - id: "999999999999"
    users:
      - name: remote
        access_keys: [{id: AKIAREMOTE0000000001, secret: remoteSecretKey000000000000000000000001}]
      - name: remote-allowed
        access_keys: [{id: AKIAREMOTEALLOWED001, secret: remoteAllowedSecretKey00000000000000001}]
        policies:
          - name: assume
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}}'
`

func newTrustEnv(t *testing.T) *env { return newConfigEnv(t, trustConfig) }

// newConfigEnv starts the STS over the identity configuration config.
func newConfigEnv(t *testing.T, config string) *env {
	t.Helper()
	cfg, err := identity.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	store, err := identity.New(cfg, identity.Options{Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, clock: c, logs: &testenv.SyncBuffer{}}
	h, err := New(Options{Store: store, Region: "us-east-1", Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// The message forms: a trust policy that does not allow gets STS's
// long-standing message naming no policy (seen on AWS in
// aws/karpenter-provider-aws#4680: "User: arn:aws:sts::...:assumed-role/...
// is not authorized to perform: sts:AssumeRole on resource:
// arn:aws:iam::...:role/EksAdminRole-mycluster"); a refusal by the caller's
// policies names them, as AWS's enhanced messages do ("... on resource:
// arn:aws:iam::...:role/... because no identity-based policy allows the
// sts:AssumeRole action"; IAM User Guide, "Troubleshoot access denied error
// messages", which also gives "with an explicit deny in the role trust
// policy" for a Deny in the trust policy).
func trustDenied(user, action, role string) string {
	return "User: " + user + " is not authorized to perform: " + action + " on resource: " + role
}

func TestAssumeRoleTrustRule(t *testing.T) {
	e := newTrustEnv(t)
	ctx := context.Background()
	const acct = "arn:aws:iam::123456789012:"
	role := func(name string) string { return acct + "role/" + name }
	user := func(name string) string { return acct + "user/" + name }
	plain := e.client("AKIAPLAIN00000000001", "plainSecretKey0000000000000000000000001", "")
	allowed := e.client("AKIAALLOWED000000001", "allowedSecretKey00000000000000000000001", "")
	denied := e.client("AKIADENIED0000000001", "deniedSecretKey000000000000000000000001", "")
	admin := e.client("AKIAADMIN00000000001", "adminSecretKey00000000000000000000000001", "")
	remote := e.client("AKIAREMOTE0000000001", "remoteSecretKey000000000000000000000001", "")
	remoteAllowed := e.client("AKIAREMOTEALLOWED001", "remoteAllowedSecretKey00000000000000001", "")

	// Sessions of the function role: one named as trust-fn-session's trust
	// names it, one with another name, one with a session policy that does
	// not allow sts:AssumeRole.
	fnSession := func(name, policy string) *sts.Client {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role("fn")), RoleSessionName: aws.String(name)}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		out, err := admin.AssumeRole(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		return e.client(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	}
	fn := fnSession("fn-session", "")
	fnOther := fnSession("other-session", "")
	fnLimited := fnSession("fn-session", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}}`)
	fnARN := "arn:aws:sts::123456789012:assumed-role/fn/fn-session"
	fnOtherARN := "arn:aws:sts::123456789012:assumed-role/fn/other-session"

	cases := map[string]struct {
		client *sts.Client
		role   string
		mod    func(*sts.AssumeRoleInput)
		msg    string // "" = allowed
	}{
		"same account, trust names the user, no identity policy":        {plain, role("trust-users"), nil, ""},
		"same account, trust names the account root, no identity allow": {plain, role("trust-account-root"), nil, trustDenied(user("plain"), "sts:AssumeRole", role("trust-account-root")) + " because no identity-based policy allows the sts:AssumeRole action"},
		"same account, trust names the account root, identity allows":   {allowed, role("trust-account-root"), nil, ""},
		"same account, trust names the account id, no identity allow":   {plain, role("trust-account-id"), nil, trustDenied(user("plain"), "sts:AssumeRole", role("trust-account-id")) + " because no identity-based policy allows the sts:AssumeRole action"},
		"same account, trust names the account id, identity allows":     {allowed, role("trust-account-id"), nil, ""},
		"same account, trust names someone else, identity allows":       {allowed, role("trust-users"), nil, trustDenied(user("allowed"), "sts:AssumeRole", role("trust-users"))},
		"cross account, trust names the user, no identity allow":        {remote, role("trust-remote"), nil, trustDenied("arn:aws:iam::999999999999:user/remote", "sts:AssumeRole", role("trust-remote")) + " because no identity-based policy allows the sts:AssumeRole action"},
		"cross account, trust names the user, identity allows":          {remoteAllowed, role("trust-remote"), nil, ""},
		"cross account, trust names the account, identity allows":       {remoteAllowed, role("trust-remote-account"), nil, ""},
		"cross account, identity allows, trust names another account":   {remoteAllowed, role("trust-account-root"), nil, trustDenied("arn:aws:iam::999999999999:user/remote-allowed", "sts:AssumeRole", role("trust-account-root"))},
		"explicit deny in the identity policy beats the trust policy":   {denied, role("trust-users"), nil, trustDenied(user("denied"), "sts:AssumeRole", role("trust-users")) + " with an explicit deny in an identity-based policy"},
		"explicit deny in the trust policy beats both allows":           {allowed, role("trust-deny"), nil, trustDenied(user("allowed"), "sts:AssumeRole", role("trust-deny")) + " with an explicit deny in the role trust policy"},
		"session caller, trust names its role":                          {fn, role("trust-fn-role"), nil, ""},
		"session caller, trust names its session ARN":                   {fn, role("trust-fn-session"), nil, ""},
		"session caller, trust names another session of its role":       {fnOther, role("trust-fn-session"), nil, trustDenied(fnOtherARN, "sts:AssumeRole", role("trust-fn-session"))},
		"session caller, trust names its role, session policy does not allow": {fnLimited, role("trust-fn-role"), nil,
			trustDenied(fnARN, "sts:AssumeRole", role("trust-fn-role")) + " because no session policy allows the sts:AssumeRole action"},
		"session caller, trust names its session ARN, session policy does not allow": {fnLimited, role("trust-fn-session"), nil, ""},
		"session caller, trust names the account, role has no sts:AssumeRole":        {fn, role("trust-account-root"), nil, trustDenied(fnARN, "sts:AssumeRole", role("trust-account-root")) + " because no identity-based policy allows the sts:AssumeRole action"},
		"tags need sts:TagSession in the trust policy": {plain, role("trust-users"), func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String("1")}}
		}, trustDenied(user("plain"), "sts:TagSession", role("trust-users"))},
		"tags with sts:TagSession trusted by the account and allowed": {allowed, role("trust-account-root"), func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String("1")}}
		}, ""},
		"source identity needs sts:SetSourceIdentity in the trust policy": {allowed, role("trust-account-root"), func(in *sts.AssumeRoleInput) {
			in.SourceIdentity = aws.String("alice")
		}, trustDenied(user("allowed"), "sts:SetSourceIdentity", role("trust-account-root"))},
		"unknown role": {allowed, role("nope"), nil, trustDenied(user("allowed"), "sts:AssumeRole", role("nope"))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("s1")}
			if tc.mod != nil {
				tc.mod(in)
			}
			out, err := tc.client.AssumeRole(ctx, in)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := aws.ToString(out.AssumedRoleUser.Arn); !strings.HasSuffix(got, ":assumed-role/"+tc.role[strings.LastIndex(tc.role, "/")+1:]+"/s1") {
					t.Errorf("assumed role %s", got)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
				t.Fatalf("err = %v, want AccessDenied", err)
			}
			if ae.ErrorMessage() != tc.msg {
				t.Errorf("message\n got %q\nwant %q", ae.ErrorMessage(), tc.msg)
			}
		})
	}
}

// The built-in roles refuse whom they refused before this rule, each for the
// right reason, and the new built-in roles show each trust shape.
func TestBuiltInRolesTrust(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const acct = "arn:aws:iam::123456789012:"
	admin := e.client(adminKey, adminSec, "")
	broker := e.client(brokerKey, brokerSec, "")
	partner := e.client("AKIATVMPARTNER000001", "tvmLocalPartnerSecretKey00000000000000001", "")
	out, err := broker.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("t-1")})
	if err != nil {
		t.Fatal(err)
	}
	readSession := e.client(aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	readSessionARN := "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1"
	out, err = admin.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(acct + "role/tvm-seed-function"), RoleSessionName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	function := e.client(aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	cases := map[string]struct {
		client *sts.Client
		role   string
		msg    string
	}{
		"tvm-tenant-read refuses admin: its trust names only the broker":               {admin, readRole, trustDenied(acct+"user/admin", "sts:AssumeRole", readRole)},
		"tvm-tenant-readwrite refuses admin":                                           {admin, acct + "role/tvm-tenant-readwrite", trustDenied(acct+"user/admin", "sts:AssumeRole", acct+"role/tvm-tenant-readwrite")},
		"tvm-tenant-read refuses its own session":                                      {readSession, readRole, trustDenied(readSessionARN, "sts:AssumeRole", readRole)},
		"tvm-no-grant refuses a tenant session":                                        {readSession, acct + "role/tvm-no-grant", trustDenied(readSessionARN, "sts:AssumeRole", acct+"role/tvm-no-grant")},
		"tvm-no-grant admits admin":                                                    {admin, acct + "role/tvm-no-grant", ""},
		"tvm-seed-tenant admits the function role's session without an identity allow": {function, acct + "role/tvm-seed-tenant", ""},
		"tvm-seed-tenant refuses admin":                                                {admin, acct + "role/tvm-seed-tenant", trustDenied(acct+"user/admin", "sts:AssumeRole", acct+"role/tvm-seed-tenant")},
		"tvm-account-read admits the broker (identity allow + account trust)":          {broker, acct + "role/tvm-account-read", ""},
		"tvm-account-read refuses the function role (no identity allow)": {function, acct + "role/tvm-account-read",
			trustDenied("arn:aws:sts::123456789012:assumed-role/tvm-seed-function/reader", "sts:AssumeRole", acct+"role/tvm-account-read") + " because no identity-based policy allows the sts:AssumeRole action"},
		"tvm-partner-read admits the partner of the other account":              {partner, acct + "role/tvm-partner-read", ""},
		"tvm-partner-read refuses the broker: its trust names only the partner": {broker, acct + "role/tvm-partner-read", trustDenied(acct+"user/broker", "sts:AssumeRole", acct+"role/tvm-partner-read")},
		"tvm-account-read refuses the partner: its trust names only its own account": {partner, acct + "role/tvm-account-read",
			trustDenied("arn:aws:iam::210987654321:user/partner", "sts:AssumeRole", acct+"role/tvm-account-read")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := tc.client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("probe")})
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || ae.ErrorMessage() != tc.msg {
				t.Fatalf("err = %v\nwant AccessDenied: %s", err, tc.msg)
			}
		})
	}
}
