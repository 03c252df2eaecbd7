package iamapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/localaws/identity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	brokerKey = "AKIATVMBROKER0000001"
	brokerSec = "tvmLocalBrokerSecretKey000000000000000001"
	adminKey  = "AKIATVMADMIN00000001"
	adminSec  = "tvmLocalAdminSecretKey0000000000000000001"
	readRole  = "tvm-tenant-read"
	managed   = "arn:aws:iam::123456789012:policy/tvm-demo-read"
	denyDoc   = `{"Version":"2012-10-17","Statement":{"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}}`
)

type env struct {
	srv   *httptest.Server
	store *identity.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := identity.New(identity.DefaultConfig(), identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: httptest.NewServer(h), store: store}
	t.Cleanup(e.srv.Close)
	return e
}

// client is the real aws-sdk-go-v2 IAM client pointed at the handler.
func (e *env) client(key, secret string) *awsiam.Client {
	return awsiam.New(awsiam.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       e.srv.Client(),
		RetryMaxAttempts: 1,
	})
}

func apiError(t *testing.T, err error) (code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func unescape(t *testing.T, s *string) string {
	t.Helper()
	doc, err := url.QueryUnescape(aws.ToString(s))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The broker reads its roles' policies the way the broker will at start-up.
func TestBrokerReadsRolePolicies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(brokerKey, brokerSec)
	role, _ := e.store.RoleByName("123456789012", readRole)

	got, err := c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(readRole)})
	if err != nil {
		t.Fatal(err)
	}
	r := got.Role
	if aws.ToString(r.Arn) != role.ARN || aws.ToString(r.RoleId) != role.ID || aws.ToString(r.Path) != "/" ||
		aws.ToInt32(r.MaxSessionDuration) != 43200 || unescape(t, r.AssumeRolePolicyDocument) != role.TrustDocument || r.CreateDate == nil {
		t.Errorf("GetRole: %+v", r)
	}
	names, err := c.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String(readRole)})
	if err != nil {
		t.Fatal(err)
	}
	if len(names.PolicyNames) != 1 || names.PolicyNames[0] != "read-demo-table" || names.IsTruncated {
		t.Fatalf("ListRolePolicies: %+v", names)
	}
	pol, err := c.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("read-demo-table")})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := role.InlinePolicy("read-demo-table")
	if unescape(t, pol.PolicyDocument) != want.Document || aws.ToString(pol.RoleName) != readRole {
		t.Errorf("GetRolePolicy document:\n%s\nwant\n%s", unescape(t, pol.PolicyDocument), want.Document)
	}

	attached, err := c.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String("tvm-seed-tenant")})
	if err != nil {
		t.Fatal(err)
	}
	if len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != managed ||
		aws.ToString(attached.AttachedPolicies[0].PolicyName) != "tvm-demo-read" {
		t.Fatalf("ListAttachedRolePolicies: %+v", attached.AttachedPolicies)
	}
	gp, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String(managed)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(gp.Policy.DefaultVersionId) != "v1" || aws.ToInt32(gp.Policy.AttachmentCount) != 4 || !strings.HasPrefix(aws.ToString(gp.Policy.PolicyId), "ANPA") {
		t.Errorf("GetPolicy: %+v", gp.Policy)
	}
	v, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(managed), VersionId: gp.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.store.ManagedPolicy(managed)
	if unescape(t, v.PolicyVersion.Document) != m.Default().Document || !v.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion: %+v", v.PolicyVersion)
	}
}

// Every refusal and failure, with IAM's code and message.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	broker, admin := e.client(brokerKey, brokerSec), e.client(adminKey, adminSec)
	const brokerARN = "arn:aws:iam::123456789012:user/broker"
	cases := map[string]struct {
		call func() error
		code string
		msg  string
	}{
		"broker may not put a role policy": {func() error {
			_, err := broker.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("x"), PolicyDocument: aws.String(denyDoc)})
			return err
		}, "AccessDenied", "User: " + brokerARN + " is not authorized to perform: iam:PutRolePolicy on resource: role tvm-tenant-read because no identity-based policy allows the iam:PutRolePolicy action"},
		"broker may not delete a role policy": {func() error {
			_, err := broker.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("read-demo-table")})
			return err
		}, "AccessDenied", "User: " + brokerARN + " is not authorized to perform: iam:DeleteRolePolicy on resource: role tvm-tenant-read because no identity-based policy allows the iam:DeleteRolePolicy action"},
		"unknown role": {func() error {
			_, err := broker.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("nope")})
			return err
		}, "NoSuchEntity", "The role with name nope cannot be found."},
		"unknown role policy": {func() error {
			_, err := broker.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("nope")})
			return err
		}, "NoSuchEntity", "The role policy with name nope cannot be found."},
		"unknown policy": {func() error {
			_, err := broker.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/nope")})
			return err
		}, "NoSuchEntity", "Policy arn:aws:iam::123456789012:policy/nope was not found."},
		"unknown policy version": {func() error {
			_, err := broker.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(managed), VersionId: aws.String("v9")})
			return err
		}, "NoSuchEntity", "Policy " + managed + " version v9 does not exist or is not attachable."},
		"policy of another account": {func() error {
			_, err := broker.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::210987654321:policy/tvm-demo-read")})
			return err
		}, "AccessDenied", "User: " + brokerARN + " is not authorized to perform: iam:GetPolicy on resource: policy arn:aws:iam::210987654321:policy/tvm-demo-read because no identity-based policy allows the iam:GetPolicy action"},
		"delete a policy the role does not have": {func() error {
			_, err := admin.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("nope")})
			return err
		}, "NoSuchEntity", "The role policy with name nope cannot be found."},
		"malformed policy": {func() error {
			_, err := admin.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("x"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}`)})
			return err
		}, "MalformedPolicyDocument", "Policy statement must contain resources."},
		"policy size quota": {func() error {
			_, err := admin.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("big"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::` + strings.Repeat("b", 10300) + `"}}`)})
			return err
		}, "LimitExceeded", "Cannot exceed quota for PolicySize: 10240"},
		"unknown key": {func() error {
			_, err := e.client("AKIAUNKNOWN000000001", brokerSec).GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(readRole)})
			return err
		}, "InvalidClientTokenId", "The security token included in the request is invalid."},
		"forged secret": {func() error {
			_, err := e.client(brokerKey, "forged").GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(readRole)})
			return err
		}, "SignatureDoesNotMatch", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, msg := apiError(t, tc.call())
			if code != tc.code || (tc.msg != "" && msg != tc.msg) {
				t.Errorf("got %s: %s\nwant %s: %s", code, msg, tc.code, tc.msg)
			}
		})
	}
}

// The admin attaches and removes a revocation Deny; the role changes at once.
func TestPutAndDeleteRolePolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.client(adminKey, adminSec)
	if _, err := admin.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("revoke"),
		PolicyDocument: aws.String(denyDoc)}); err != nil {
		t.Fatal(err)
	}
	role, _ := e.store.RoleByName("123456789012", readRole)
	if p, ok := role.InlinePolicy("revoke"); !ok || p.Document != denyDoc || len(role.Policies()) != 2 {
		t.Fatalf("role after PutRolePolicy: %+v %v", p, ok)
	}
	got, err := admin.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("revoke")})
	if err != nil || unescape(t, got.PolicyDocument) != denyDoc {
		t.Fatalf("GetRolePolicy: %v", err)
	}
	page, err := admin.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String(readRole), MaxItems: aws.Int32(1)})
	if err != nil || len(page.PolicyNames) != 1 || !page.IsTruncated || page.Marker == nil {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page, err = admin.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String(readRole), Marker: page.Marker})
	if err != nil || len(page.PolicyNames) != 1 || page.PolicyNames[0] != "revoke" || page.IsTruncated {
		t.Fatalf("second page: %+v %v", page, err)
	}
	if _, err := admin.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(readRole), PolicyName: aws.String("revoke")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := role.InlinePolicy("revoke"); ok || len(role.Policies()) != 1 {
		t.Error("policy still there after DeleteRolePolicy")
	}
}
