package awsdeploy

import (
	"fmt"
	"testing"
	"time"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/policies/iam"
)

// twins maps the template's role resources to the local AWS's roles of the
// same name: the two must decide alike.
var twins = map[string]string{
	"TenantReadRole": "tvm-tenant-read",
	"NoGrantRole":    "tvm-no-grant",
	"TenantSiloRole": "tvm-tenant-silo",
	"TenantABACRole": "tvm-tenant-abac",
}

func localStore(t *testing.T) *identity.Store {
	t.Helper()
	s, err := identity.New(identity.DefaultConfig(), identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assumeRequest is one AssumeRole request of the trust battery.
type assumeRequest struct {
	caller   string // access key id of the local user
	tags     map[string]string
	sourceID string
}

// decideTrust decides req against a role's trust policy as the local STS
// does: sts:AssumeRole, plus sts:TagSession with tags and
// sts:SetSourceIdentity with a source identity, each with the request's
// condition keys; every action must be allowed.
func decideTrust(t *testing.T, s *identity.Store, roleARN string, trust *iam.Policy, req assumeRequest) bool {
	t.Helper()
	cred, ok := s.Lookup(req.caller)
	if !ok {
		t.Fatalf("no local key %s", req.caller)
	}
	ctx := map[string][]string{"sts:RoleSessionName": {"probe"}}
	actions := []string{"sts:AssumeRole"}
	if len(req.tags) > 0 {
		actions = append(actions, "sts:TagSession")
		for k, v := range req.tags {
			ctx["aws:RequestTag/"+k] = []string{v}
			ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
		}
	}
	if req.sourceID != "" {
		actions = append(actions, "sts:SetSourceIdentity")
		ctx["sts:SourceIdentity"] = []string{req.sourceID}
	}
	ev := identity.Principal{User: cred.User}.Evaluator(time.Now())
	rp := iam.ResourcePolicies{Account: account, Policies: []*iam.Policy{trust}, Required: true}
	for _, a := range actions {
		if !ev.EvaluateWithResource(a, roleARN, ctx, rp).Allowed() {
			return false
		}
	}
	return true
}

// TestRolesMatchTheLocalAWS: each role the template shares with the local
// AWS admits the same AssumeRole requests (trust) and allows the same
// DynamoDB requests with and without the tenant tag (permissions), so what
// tvm-sample verify proves locally is what the stack deploys.
func TestRolesMatchTheLocalAWS(t *testing.T) {
	tp := loadTemplate(t)
	s := localStore(t)
	const brokerKey, adminKey = "AKIATVMBROKER0000001", "AKIATVMADMIN00000001"
	assumes := []assumeRequest{
		{caller: brokerKey}, {caller: adminKey},
		{caller: brokerKey, tags: map[string]string{"tenant": "1"}},
		{caller: brokerKey, tags: map[string]string{"tenant": "1"}, sourceID: "alice"},
		{caller: brokerKey, tags: map[string]string{"tenant": ""}},
		{caller: brokerKey, tags: map[string]string{"team": "1"}},
		{caller: brokerKey, tags: map[string]string{"tenant": "1", "admin": "true"}},
		{caller: adminKey, tags: map[string]string{"tenant": "1"}},
		{caller: brokerKey, sourceID: "alice"},
	}
	for resource, name := range twins {
		t.Run(name, func(t *testing.T) {
			if got := tp.property(resource, "RoleName"); got == nil || got.Value != name {
				t.Fatalf("%s: RoleName %v, want %s", resource, got, name)
			}
			if tags := tp.property(resource, "Tags"); tags != nil {
				t.Errorf("%s carries IAM tags: a role tag stands in for a missing session tag", name)
			}
			role, ok := s.Role("arn:aws:iam::" + account + ":role/" + name)
			if !ok {
				t.Fatalf("the local AWS has no role %s", name)
			}
			trust, perms := rolePolicies(t, tp, resource)
			for _, req := range assumes {
				local, cfn := decideTrust(t, s, role.ARN, role.Trust, req), decideTrust(t, s, role.ARN, trust, req)
				if local != cfn {
					t.Errorf("AssumeRole %+v: local allows %v, template %v", req, local, cfn)
				}
			}
			comparePermissions(t, s, role, perms)
		})
	}
}

// comparePermissions evaluates a battery of DynamoDB requests for sessions
// of role (tagged tenant=1, tagged tenant=12, untagged) against the local
// role's policies and the template's, and requires the same decisions;
// the battery must produce both outcomes for the roles that grant anything.
func comparePermissions(t *testing.T, s *identity.Store, role *identity.Role, perms []*iam.Policy) {
	t.Helper()
	tables := []string{"tvm-demo", "tvm-demo/index/gsi", "tvm-demo-1", "tvm-demo-1/index/gsi", "tvm-demo-12", "tvm-demo-2",
		"tvm-demo/stream/2026-01-01T00:00:00.000"}
	actions := []string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan", "dynamodb:PutItem",
		"dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:GetRecords"}
	keys := [][]string{nil, {"Tenant#1"}, {"Tenant#12"}, {"Tenant#1", "Tenant#2"}}
	allowed, denied := 0, 0
	for _, tags := range [][]identity.Tag{nil, {{Key: "tenant", Value: "1"}}, {{Key: "tenant", Value: "12"}}} {
		sess, err := s.CreateSession(identity.SessionSpec{Role: role, Name: "probe", Duration: 15 * time.Minute, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		local := identity.Principal{Session: sess}.Evaluator(time.Now())
		cfn := *local
		cfn.Identity = perms
		for _, table := range tables {
			resource := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, table)
			for _, action := range actions {
				for _, k := range keys {
					var ctx map[string][]string
					if k != nil {
						ctx = map[string][]string{"dynamodb:LeadingKeys": k}
					}
					l, c := local.Evaluate(action, resource, ctx), cfn.Evaluate(action, resource, ctx)
					if l.Allowed() != c.Allowed() {
						t.Errorf("tags %v: %s on %s with LeadingKeys %v: local %s, template %s (%s)", tags, action, table, k, l.Outcome, c.Outcome, c.Explain())
					}
					if l.Allowed() {
						allowed++
					} else {
						denied++
					}
				}
			}
		}
	}
	if len(role.Policies()) > 0 && (allowed == 0 || denied == 0) {
		t.Errorf("the battery is vacuous for %s: %d allowed, %d denied", role.Name, allowed, denied)
	}
}
