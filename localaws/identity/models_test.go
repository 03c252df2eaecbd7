package identity

import (
	"testing"
	"time"
)

// TestModelRoles evaluates the built-in roles of the silo/bridge and ABAC
// isolation models as their sessions would be evaluated by the enforcing
// gateways: what each role's own policy allows, with and without the
// session tag, before any session policy narrows it.
func TestModelRoles(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}
	s := newDefault(t, clock)
	const (
		acct  = "arn:aws:dynamodb:us-east-1:123456789012:"
		abac  = "arn:aws:iam::123456789012:role/tvm-tenant-abac"
		silo  = "arn:aws:iam::123456789012:role/tvm-tenant-silo"
		query = "dynamodb:Query"
	)
	session := func(roleARN string, tags ...Tag) *Session {
		t.Helper()
		role, ok := s.Role(roleARN)
		if !ok {
			t.Fatalf("no role %s", roleARN)
		}
		sess, err := s.CreateSession(SessionSpec{Role: role, Name: "probe", Duration: 15 * time.Minute, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	tenant1 := session(abac, Tag{Key: "tenant", Value: "1"})
	untagged := session(abac)
	otherTag := session(abac, Tag{Key: "team", Value: "1"})
	siloSess := session(silo)
	keys := func(k ...string) map[string][]string { return map[string][]string{"dynamodb:LeadingKeys": k} }
	for name, tc := range map[string]struct {
		sess     *Session
		action   string
		resource string
		ctx      map[string][]string
		allowed  bool
	}{
		"abac: own partition on the table":            {tenant1, query, acct + "table/tvm-demo", keys("Tenant#1"), true},
		"abac: own partition on the GSI":              {tenant1, query, acct + "table/tvm-demo/index/gsi", keys("Tenant#1"), true},
		"abac: own GetItem":                           {tenant1, "dynamodb:GetItem", acct + "table/tvm-demo", keys("Tenant#1"), true},
		"abac: other tenant's partition":              {tenant1, query, acct + "table/tvm-demo", keys("Tenant#2"), false},
		"abac: tenant 12 is not tenant 1":             {tenant1, query, acct + "table/tvm-demo", keys("Tenant#12"), false},
		"abac: mixed batch":                           {tenant1, "dynamodb:BatchGetItem", acct + "table/tvm-demo", keys("Tenant#1", "Tenant#2"), false},
		"abac: no LeadingKeys (Null guard)":           {tenant1, query, acct + "table/tvm-demo", nil, false},
		"abac: Scan is not granted":                   {tenant1, "dynamodb:Scan", acct + "table/tvm-demo", nil, false},
		"abac: silo tables are not granted":           {tenant1, query, acct + "table/tvm-demo-1", keys("Tenant#1"), false},
		"abac: no tag matches no key":                 {untagged, query, acct + "table/tvm-demo", keys("Tenant#1"), false},
		"abac: no tag does not match the bare prefix": {untagged, query, acct + "table/tvm-demo", keys("Tenant#"), false},
		"abac: another tag key is not the tenant":     {otherTag, query, acct + "table/tvm-demo", keys("Tenant#1"), false},
		"silo: any per-tenant table (narrowed later)": {siloSess, "dynamodb:Scan", acct + "table/tvm-demo-12", nil, true},
		"silo: per-tenant index":                      {siloSess, query, acct + "table/tvm-demo-1/index/gsi", keys("Tenant#1"), true},
		"silo: writes":                                {siloSess, "dynamodb:PutItem", acct + "table/tvm-demo-2", keys("Tenant#2"), true},
		"silo: not the pooled table":                  {siloSess, "dynamodb:Scan", acct + "table/tvm-demo", nil, false},
		"silo: not the streams":                       {siloSess, "dynamodb:GetRecords", acct + "table/tvm-demo-1/stream/2026", nil, false},
		"silo: no table management":                   {siloSess, "dynamodb:DeleteTable", acct + "table/tvm-demo-1", nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			d := Principal{Session: tc.sess}.Evaluator(clock.Now()).Evaluate(tc.action, tc.resource, tc.ctx)
			if d.Allowed() != tc.allowed {
				t.Errorf("%s on %s %v: allowed = %v, want %v (%s)", tc.action, tc.resource, tc.ctx, d.Allowed(), tc.allowed, d.Explain())
			}
		})
	}
}
