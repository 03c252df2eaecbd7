package identity

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
)

const denyAllDoc = `{"Version":"2012-10-17","Statement":{"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*"}}`

// A role's inline policies change at run time, and a session issued before
// the change is evaluated against the role's current policies.
func TestRoleInlinePoliciesReachExistingSessions(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}
	s := newDefault(t, clock)
	role, _ := s.Role("arn:aws:iam::123456789012:role/tvm-tenant-read")
	sess, err := s.CreateSession(SessionSpec{Role: role, Name: "old", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	get := func() iam.Decision {
		return Principal{Session: sess}.Evaluator(clock.Now()).Evaluate("dynamodb:GetItem",
			"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo", map[string][]string{"dynamodb:LeadingKeys": {"Tenant#1"}})
	}
	if d := get(); !d.Allowed() {
		t.Fatalf("before: %s", d.Explain())
	}
	if err := role.PutInlinePolicy("revoke", denyAllDoc); err != nil {
		t.Fatal(err)
	}
	if d := get(); d.Outcome != iam.ExplicitDeny || d.Sid != "Revoke" {
		t.Fatalf("after PutInlinePolicy: %s", d.Explain())
	}
	if p, ok := role.InlinePolicy("revoke"); !ok || p.Document != denyAllDoc {
		t.Errorf("InlinePolicy = %+v, %v", p, ok)
	}
	if err := role.DeleteInlinePolicy("revoke"); err != nil {
		t.Fatal(err)
	}
	if d := get(); !d.Allowed() {
		t.Fatalf("after DeleteInlinePolicy: %s", d.Explain())
	}
	if err := role.DeleteInlinePolicy("revoke"); !errors.Is(err, ErrNoSuchPolicy) {
		t.Errorf("second delete: %v", err)
	}
	var pe *iam.ParseError
	if err := role.PutInlinePolicy("bad", `{"Statement":[]}`); !errors.As(err, &pe) {
		t.Errorf("malformed policy: %v", err)
	}
	if err := role.PutInlinePolicy("bad name!", denyAllDoc); err == nil {
		t.Error("bad name accepted")
	}
	big := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", MaxInlinePolicySize) + `"}}`
	if err := role.PutInlinePolicy("big", big); !errors.Is(err, ErrPolicySize) {
		t.Errorf("oversized: %v", err)
	}
	if names := len(role.InlinePolicies()); names != 1 {
		t.Errorf("%d inline policies after failed puts", names)
	}
}

// Writers and readers run concurrently (go test -race).
func TestRoleInlinePoliciesConcurrent(t *testing.T) {
	s := newDefault(t, &fakeClock{t: time.Now()})
	role, _ := s.Role("arn:aws:iam::123456789012:role/tvm-tenant-read")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p%d", i)
			if err := role.PutInlinePolicy(name, denyAllDoc); err != nil {
				t.Error(err)
			}
			if err := role.DeleteInlinePolicy(name); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				if n := len(role.Policies()); n < 1 {
					t.Errorf("%d policies", n)
				}
			}
		}()
	}
	wg.Wait()
	if got := len(role.InlinePolicies()); got != 1 {
		t.Errorf("%d inline policies left", got)
	}
}

func TestManagedPolicies(t *testing.T) {
	s := newDefault(t, &fakeClock{t: time.Now()})
	arn := "arn:aws:iam::123456789012:policy/tvm-demo-read"
	m, ok := s.ManagedPolicy(arn)
	if !ok || m.DefaultVersionID != "v1" || len(m.Versions) != 1 || m.AttachmentCount != 4 || !strings.HasPrefix(m.ID, "ANPA") {
		t.Fatalf("managed policy %+v", m)
	}
	role, _ := s.RoleByName("123456789012", "tvm-seed-tenant")
	if a := role.AttachedPolicies(); len(a) != 1 || a[0] != m || len(role.Policies()) != 1 || role.Policies()[0] != m.Default().Policy {
		t.Errorf("attached %+v", a)
	}
	cases := map[string]struct{ yaml, want string }{
		"unknown attachment": {`accounts: [{id: "123456789012", roles: [{name: r, trust_policy: '{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}', managed_policy_arns: ["arn:aws:iam::123456789012:policy/nope"]}]}]`, "managed_policy_arns[0]"},
		"no versions":        {`accounts: [{id: "123456789012", managed_policies: [{name: p}]}]`, "versions"},
		"bad default":        {`accounts: [{id: "123456789012", managed_policies: [{name: p, default_version: v2, versions: [{document: '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'}]}]}]`, "default_version"},
		"bad document":       {`accounts: [{id: "123456789012", managed_policies: [{name: p, versions: [{document: '{'}]}]}]`, "versions[0].document"},
		"bad path":           {`accounts: [{id: "123456789012", managed_policies: [{name: p, path: team, versions: [{document: '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'}]}]}]`, "path"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(c.yaml))
			if err == nil {
				_, err = New(cfg, Options{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}
