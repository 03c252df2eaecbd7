package iamfetch

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/localaws/iamapi"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/policies/iam"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	roleARN = "arn:aws:iam::123456789012:role/teams/tvm-tenant-abac"
	docA    = `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}]}`
	docB    = `{"Version":"2012-10-17","Statement":[{"Sid":"B","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}`
	docM    = `{"Version":"2012-10-17","Statement":[{"Sid":"M","Effect":"Allow","Action":"dynamodb:PutItem","Resource":"*"}]}`
)

// fakeIAM is a tiny in-process IAM: inline policies, one page each, then a
// second page; a managed policy with two versions; call counters.
type fakeIAM struct {
	inline  [][]string          // pages of inline policy names
	docs    map[string]string   // inline name -> document (plain JSON)
	managed map[string][]string // policy ARN -> documents by version (v1, v2, ...)
	def     map[string]string   // policy ARN -> default version id
	fail    string              // operation that fails
	calls   map[string]int
}

func (f *fakeIAM) call(op string) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	if f.fail == op {
		return errors.New(op + " refused")
	}
	return nil
}

func enc(doc string) *string { return aws.String(strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")) }

func page(i int, n int) (*string, bool) {
	if i+1 < n {
		return aws.String(string(rune('1' + i))), true
	}
	return nil, false
}

func marker(m *string) int {
	if m == nil {
		return 0
	}
	return int((*m)[0] - '0')
}

func (f *fakeIAM) GetRole(_ context.Context, in *awsiam.GetRoleInput, _ ...func(*awsiam.Options)) (*awsiam.GetRoleOutput, error) {
	if err := f.call("GetRole"); err != nil {
		return nil, err
	}
	return &awsiam.GetRoleOutput{Role: &types.Role{RoleId: aws.String("AROAFAKE0000000000001"), RoleName: in.RoleName,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}}, nil
}

func (f *fakeIAM) ListRolePolicies(_ context.Context, in *awsiam.ListRolePoliciesInput, _ ...func(*awsiam.Options)) (*awsiam.ListRolePoliciesOutput, error) {
	if err := f.call("ListRolePolicies"); err != nil {
		return nil, err
	}
	i := marker(in.Marker)
	next, more := page(i, len(f.inline))
	return &awsiam.ListRolePoliciesOutput{PolicyNames: f.inline[i], Marker: next, IsTruncated: more}, nil
}

func (f *fakeIAM) GetRolePolicy(_ context.Context, in *awsiam.GetRolePolicyInput, _ ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error) {
	if err := f.call("GetRolePolicy"); err != nil {
		return nil, err
	}
	return &awsiam.GetRolePolicyOutput{RoleName: in.RoleName, PolicyName: in.PolicyName, PolicyDocument: enc(f.docs[*in.PolicyName])}, nil
}

func (f *fakeIAM) ListAttachedRolePolicies(_ context.Context, _ *awsiam.ListAttachedRolePoliciesInput, _ ...func(*awsiam.Options)) (*awsiam.ListAttachedRolePoliciesOutput, error) {
	if err := f.call("ListAttachedRolePolicies"); err != nil {
		return nil, err
	}
	var out []types.AttachedPolicy
	for arn := range f.managed {
		out = append(out, types.AttachedPolicy{PolicyArn: aws.String(arn), PolicyName: aws.String(arn[strings.LastIndexByte(arn, '/')+1:])})
	}
	return &awsiam.ListAttachedRolePoliciesOutput{AttachedPolicies: out}, nil
}

func (f *fakeIAM) GetPolicy(_ context.Context, in *awsiam.GetPolicyInput, _ ...func(*awsiam.Options)) (*awsiam.GetPolicyOutput, error) {
	if err := f.call("GetPolicy"); err != nil {
		return nil, err
	}
	return &awsiam.GetPolicyOutput{Policy: &types.Policy{Arn: in.PolicyArn, DefaultVersionId: aws.String(f.def[*in.PolicyArn])}}, nil
}

func (f *fakeIAM) GetPolicyVersion(_ context.Context, in *awsiam.GetPolicyVersionInput, _ ...func(*awsiam.Options)) (*awsiam.GetPolicyVersionOutput, error) {
	if err := f.call("GetPolicyVersion"); err != nil {
		return nil, err
	}
	v := int((*in.VersionId)[1] - '1')
	return &awsiam.GetPolicyVersionOutput{PolicyVersion: &types.PolicyVersion{Document: enc(f.managed[*in.PolicyArn][v]), VersionId: in.VersionId}}, nil
}

func newFake() *fakeIAM {
	const m = "arn:aws:iam::123456789012:policy/tvm-writes"
	return &fakeIAM{
		inline:  [][]string{{"a"}, {"b"}},
		docs:    map[string]string{"a": docA, "b": docB},
		managed: map[string][]string{m: {docA, docM}},
		def:     map[string]string{m: "v2"},
	}
}

func sids(r *rolepolicy.Role) []string {
	var out []string
	for _, p := range r.Policies {
		for _, st := range p.Statements {
			out = append(out, p.Name+":"+st.Sid)
		}
	}
	return out
}

// TestFetch: every page of inline policies, the default version of each
// managed policy, URL-decoded; the role's id and tags.
func TestFetch(t *testing.T) {
	f := newFake()
	r, err := New(f).Fetch(context.Background(), roleARN)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"role policy tvm-tenant-abac/a:A", "role policy tvm-tenant-abac/b:B", "role policy tvm-tenant-abac/tvm-writes:M"}
	if got := sids(r); !slices.Equal(got, want) {
		t.Errorf("policies %v, want %v", got, want)
	}
	if r.ID != "AROAFAKE0000000000001" || r.Source != rolepolicy.FromIAM || !slices.Equal(r.Tags, []iam.Tag{{Key: "team", Value: "data"}}) {
		t.Errorf("role %+v", r)
	}
	if f.calls["ListRolePolicies"] != 2 || f.calls["GetRolePolicy"] != 2 || f.calls["GetPolicyVersion"] != 1 {
		t.Errorf("calls %v", f.calls)
	}
	if d := r.Describe(); d != "from IAM (3 policies)" {
		t.Errorf("Describe = %q", d)
	}
}

func TestFetchErrors(t *testing.T) {
	for _, op := range []string{"GetRole", "ListRolePolicies", "GetRolePolicy", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion"} {
		t.Run(op, func(t *testing.T) {
			f := newFake()
			f.fail = op
			if _, err := New(f).Fetch(context.Background(), roleARN); err == nil || !strings.Contains(err.Error(), op) {
				t.Fatalf("Fetch = %v, want an error naming %s", err, op)
			}
		})
	}
	t.Run("malformed document", func(t *testing.T) {
		f := newFake()
		f.docs["a"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}`
		if _, err := New(f).Fetch(context.Background(), roleARN); err == nil || !strings.Contains(err.Error(), "tvm-tenant-abac/a") {
			t.Fatalf("Fetch = %v, want the policy named", err)
		}
	})
	t.Run("not a role", func(t *testing.T) {
		if _, err := New(newFake()).Fetch(context.Background(), "arn:aws:iam::123456789012:user/x"); err == nil {
			t.Fatal("a user ARN was fetched")
		}
	})
}

// TestFetchFromLocalIAM fetches a built-in role of the local AWS through
// the real SDK client and the local IAM API, as the broker does: its
// inline policy and its attached managed policy.
func TestFetchFromLocalIAM(t *testing.T) {
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
	client := awsiam.New(awsiam.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIATVMBROKER0000001", "tvmLocalBrokerSecretKey000000000000000001", ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
	tests := map[string][]string{
		"arn:aws:iam::123456789012:role/tvm-tenant-read":  {"role policy tvm-tenant-read/read-demo-table:ReadDemoTable"},
		"arn:aws:iam::123456789012:role/tvm-seed-tenant":  {"role policy tvm-seed-tenant/tvm-demo-read:ReadDemoTable"},
		"arn:aws:iam::123456789012:role/tvm-no-grant":     nil,
		"arn:aws:iam::123456789012:role/tvm-nonexistent":  {"error"},
		"arn:aws:iam::123456789012:role/tvm-account-read": {"role policy tvm-account-read/tvm-demo-read:ReadDemoTable"},
	}
	for arn, want := range tests {
		t.Run(arn, func(t *testing.T) {
			r, err := New(client).Fetch(context.Background(), arn)
			if slices.Equal(want, []string{"error"}) {
				if err == nil || !strings.Contains(err.Error(), "GetRole") {
					t.Fatalf("Fetch = %v, want GetRole's error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sids(r); !slices.Equal(got, want) || !strings.HasPrefix(r.ID, "AROA") {
				t.Errorf("policies %v (id %q), want %v", got, r.ID, want)
			}
		})
	}
}

// TestFetchAll fetches each role once and keeps each failure.
func TestFetchAll(t *testing.T) {
	f := newFake()
	s := rolepolicy.FetchAll(context.Background(), New(f), []string{roleARN, roleARN, "arn:aws:iam::123456789012:user/x"})
	if f.calls["GetRole"] != 1 {
		t.Errorf("GetRole called %d times", f.calls["GetRole"])
	}
	if r, err := s.Role(roleARN); err != nil || len(r.Policies) != 3 {
		t.Errorf("Role = %v, %v", r, err)
	}
	if _, err := s.Role("arn:aws:iam::123456789012:user/x"); err == nil || errors.Is(err, rolepolicy.ErrNotFetched) {
		t.Errorf("failed role: %v", err)
	}
	if _, err := s.Role("arn:aws:iam::123456789012:role/other"); !errors.Is(err, rolepolicy.ErrNotFetched) {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := (*rolepolicy.Set)(nil).Role(roleARN); !errors.Is(err, rolepolicy.ErrNotFetched) {
		t.Errorf("nil set: %v", err)
	}
}
