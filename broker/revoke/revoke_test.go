package revoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/policies/iam"
)

const (
	account  = "123456789012"
	readRole = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	rwRole   = "arn:aws:iam::123456789012:role/tvm-tenant-readwrite"
	abacRole = "arn:aws:iam::123456789012:role/tvm-tenant-abac"
	s3Role   = "arn:aws:iam::123456789012:role/tvm-tenant-s3"
	table    = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
)

var cutoff = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// testConfig has one profile of each kind: per-tenant sessions
// recognised by name; per-subject with a {tenant} tag; session-tags
// isolation; and two per-tenant profiles sharing a role.
func testConfig() *config.Config {
	c := &config.Config{
		DefaultProfile: "read",
		Profiles: []config.Profile{
			{Name: "read", RoleARN: readRole, Template: "dynamodb-read", TableARNs: []string{table}},
			{Name: "readwrite", RoleARN: rwRole, Template: "dynamodb-readwrite", TableARNs: []string{table},
				Sessions: config.PerSubject, SessionTags: map[string]string{"tenant": "{tenant}", "user": "{subject}"}},
			{Name: "abac-read", RoleARN: abacRole, Isolation: "session-tags", SessionTags: map[string]string{"tenant": "{tenant}"},
				TableARNs: []string{table}},
			{Name: "files-read", RoleARN: s3Role, Template: "s3-read"},
			{Name: "files-rw", RoleARN: s3Role, Template: "s3-readwrite", Sessions: config.PerSubject},
			{Name: "nogrant", RoleARN: readRole, Template: "dynamodb-read", TableARNs: []string{table}, AllowedTenants: []string{"1"}},
		},
	}
	c.SetDefaults()
	return c
}

func TestNewPlanDocuments(t *testing.T) {
	p, err := NewPlan(testConfig(), "a", cutoff.Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if want := cutoff.Add(time.Second); !p.Cutoff.Equal(want) {
		t.Errorf("cutoff %s, want the next whole second %s", p.Cutoff, want)
	}
	const cond = `"DateLessThan":{"aws:TokenIssueTime":"2026-11-30T12:00:01Z"}`
	want := map[string]struct {
		profiles, byTag, byName []string
		doc                     string
	}{
		readRole: {[]string{"read", "nogrant"}, nil, []string{"read", "nogrant"},
			`{"Version":"2012-10-17","Statement":[{"Sid":"TvmRevokeByName","Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cond +
				`,"StringLike":{"aws:userid":["*:t-a@read","*:t-a@nogrant"]}}}]}`},
		rwRole: {[]string{"readwrite"}, []string{"readwrite"}, nil,
			`{"Version":"2012-10-17","Statement":[{"Sid":"TvmRevokeByTag1","Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cond +
				`,"StringEquals":{"aws:PrincipalTag/tenant":"a"}}}]}`},
		abacRole: {[]string{"abac-read"}, []string{"abac-read"}, nil,
			`{"Version":"2012-10-17","Statement":[{"Sid":"TvmRevokeByTag1","Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cond +
				`,"StringEquals":{"aws:PrincipalTag/tenant":"a"}}}]}`},
		s3Role: {[]string{"files-read", "files-rw"}, nil, []string{"files-read", "files-rw"},
			`{"Version":"2012-10-17","Statement":[{"Sid":"TvmRevokeByName","Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cond +
				`,"StringLike":{"aws:userid":["*:t-a@files-read","*:t-a@*"]}}}]}`},
	}
	if len(p.Roles) != len(want) {
		t.Fatalf("%d roles, want %d", len(p.Roles), len(want))
	}
	for _, r := range p.Roles {
		w := want[r.RoleARN]
		if r.Document != w.doc {
			t.Errorf("%s:\n got %s\nwant %s", r.RoleARN, r.Document, w.doc)
		}
		if !slices.Equal(r.Profiles, w.profiles) || !slices.Equal(r.ByTag, w.byTag) || !slices.Equal(r.ByName, w.byName) {
			t.Errorf("%s: profiles %v, by tag %v, by name %v", r.RoleARN, r.Profiles, r.ByTag, r.ByName)
		}
		if r.PolicyName != "tvm-revoke@a@20261130T120001Z" || r.Size() != len(r.Document) {
			t.Errorf("%s: name %q, size %d", r.RoleARN, r.PolicyName, r.Size())
		}
	}
}

func TestNewPlanRefusesTenantOutsidePattern(t *testing.T) {
	for _, tn := range []string{"", "*", "a/b", "t?"} {
		if _, err := NewPlan(testConfig(), tn, cutoff); err == nil {
			t.Errorf("tenant %q accepted", tn)
		}
	}
}

// session is the IAM view of a session the broker vended for tenantID
// under profile pc, issued at issued, on a role carrying doc.
func session(t *testing.T, pc *config.Profile, roleDoc, tenantID, subject string, issued time.Time) *iam.Session {
	t.Helper()
	pol, err := iam.Parse("revocation", []byte(roleDoc))
	if err != nil {
		t.Fatal(err)
	}
	allow, _ := iam.Parse("role", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	name := profiles.SessionName(tenantID, pc.Name, subject, pc.Sessions == config.PerSubject)
	s := &iam.Session{
		Principal: "arn:aws:sts::" + account + ":assumed-role/r/" + name, Account: account, Type: "AssumedRole",
		UserID: "AROAEXAMPLEROLEID00001:" + name, TokenIssueTime: issued, RequestTime: issued.Add(time.Hour),
		Identity: []*iam.Policy{allow, pol},
	}
	for k, v := range pc.SessionTags {
		s.Tags = append(s.Tags, iam.Tag{Key: k, Value: profiles.TagValue(v, tenantID, subject)})
	}
	return s
}

// TestPlanDeniesOnlyTheTenantsOlderSessions evaluates every role's
// revocation with the IAM evaluator: the tenant's sessions issued before
// the cut-off are denied, under every profile kind; its later sessions and
// every session of the other tenants ("a-b" and "ab" included) are not.
func TestPlanDeniesOnlyTheTenantsOlderSessions(t *testing.T) {
	cfg := testConfig()
	p, err := NewPlan(cfg, "a", cutoff)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, r := range p.Roles {
		docs[r.RoleARN] = r.Document
	}
	for i := range cfg.Profiles {
		pc := &cfg.Profiles[i]
		for _, tc := range []struct {
			tenant string
			issued time.Time
			denied bool
		}{
			{"a", cutoff.Add(-time.Second), true},
			{"a", cutoff.Add(-6 * time.Hour), true},
			{"a", cutoff, false},
			{"a", cutoff.Add(time.Minute), false},
			{"a-b", cutoff.Add(-time.Second), false},
			{"ab", cutoff.Add(-time.Second), false},
			{"b", cutoff.Add(-time.Second), false},
		} {
			t.Run(fmt.Sprintf("%s/%s/%s", pc.Name, tc.tenant, tc.issued.Sub(cutoff)), func(t *testing.T) {
				d := session(t, pc, docs[pc.RoleARN], tc.tenant, "alice", tc.issued).Evaluate("dynamodb:GetItem", table, nil)
				if got := d.Outcome == iam.ExplicitDeny; got != tc.denied {
					t.Errorf("outcome %s, want denied %v", d.Outcome, tc.denied)
				}
			})
		}
	}
}

// TestPlanCutoffCoversItsWholeSecond: a cut-off with a fraction of a
// second (a time copied from a log record) still denies every session of
// the tenant issued before it, the one issued earlier in that second
// included: the cut-off is rounded up, never down.
func TestPlanCutoffCoversItsWholeSecond(t *testing.T) {
	cfg := testConfig()
	pc := &cfg.Profiles[0]
	tests := []struct {
		name           string
		before, issued time.Duration // after cutoff, which is a whole second
		denied         bool
	}{
		{"same second, earlier", 300 * time.Millisecond, 100 * time.Millisecond, true},
		{"same second, at its start", 999 * time.Millisecond, 0, true},
		{"whole second", 0, -time.Millisecond, true},
		{"whole second, at it", 0, 0, false},
		{"next second", 300 * time.Millisecond, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(cfg, "a", cutoff.Add(tc.before))
			if err != nil {
				t.Fatal(err)
			}
			if p.Cutoff.Nanosecond() != 0 {
				t.Errorf("cutoff %s is not a whole second", p.Cutoff)
			}
			d := session(t, pc, p.Roles[0].Document, "a", "alice", cutoff.Add(tc.issued)).Evaluate("dynamodb:GetItem", table, nil)
			if got := d.Outcome == iam.ExplicitDeny; got != tc.denied {
				t.Errorf("outcome %s, want denied %v", d.Outcome, tc.denied)
			}
		})
	}
}

func TestPolicyName(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tn := range []string{"a", "a-b", "a@b", long, "é"} {
		name := PolicyName(tn, cutoff)
		if len(name) > maxPolicyName || strings.ContainsFunc(name, func(r rune) bool { return !strings.ContainsRune("+=,.@-_", r) && !isAlnum(r) }) {
			t.Errorf("PolicyName(%q) = %q: not a valid policy name", tn, name)
		}
		part, c, ok := ParsePolicyName(name)
		if !ok || !c.Equal(cutoff) || !matchesTenant(part, tn) {
			t.Errorf("ParsePolicyName(%q) = %q %s %v", name, part, c, ok)
		}
	}
	if matchesTenant(profiles.TenantNamePart("a", tenantRoom), "a-b") {
		t.Error("tenant a's revocation lists as a-b's")
	}
	for _, bad := range []string{"other", "tvm-revoke@", "tvm-revoke@a", "tvm-revoke@a@2026", "tvm-revoke@@20261130T120000Z"} {
		if _, _, ok := ParsePolicyName(bad); ok {
			t.Errorf("ParsePolicyName(%q) ok", bad)
		}
	}
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// fakeIAM holds inline policies per role and enforces the quota, as IAM.
type fakeIAM struct {
	roles map[string]map[string]string
	fail  map[string]error // by role name, for PutRolePolicy
}

func (f *fakeIAM) ListRolePolicies(_ context.Context, role string) ([]string, error) {
	var out []string
	for n := range f.roles[role] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeIAM) GetRolePolicy(_ context.Context, role, name string) (string, error) {
	return f.roles[role][name], nil
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, role, name, doc string) error {
	if err := f.fail[role]; err != nil {
		return err
	}
	if f.roles[role] == nil {
		f.roles[role] = map[string]string{}
	}
	f.roles[role][name] = doc
	return nil
}

func (f *fakeIAM) DeleteRolePolicy(_ context.Context, role, name string) error {
	delete(f.roles[role], name)
	return nil
}

func TestApplyListRemove(t *testing.T) {
	api := &fakeIAM{roles: map[string]map[string]string{"tvm-tenant-read": {"read-demo-table": `{"Version":"2012-10-17"}`}},
		fail: map[string]error{"tvm-tenant-abac": errors.New("AccessDenied")}}
	cfg := testConfig()
	now := cutoff.Add(time.Minute)
	for _, c := range []struct {
		tenant string
		at     time.Time
	}{{"a", cutoff.Add(-13 * time.Hour)}, {"a", cutoff}, {"a-b", cutoff}} {
		p, err := NewPlan(cfg, c.tenant, c.at)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Apply(context.Background(), api, p, now)
		if err == nil || !strings.Contains(err.Error(), "role "+abacRole+": PutRolePolicy") || strings.Count(err.Error(), "AccessDenied") != 1 || len(res) != 4 {
			t.Errorf("Apply: %d results, err %v; want the abac role's failure only", len(res), err)
		}
	}
	roles := []Role{{readRole, "tvm-tenant-read"}, {s3Role, "tvm-tenant-s3"}}
	revs, err := List(context.Background(), api, roles, "a", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 4 {
		t.Fatalf("List(a) = %+v, want 2 per role", revs)
	}
	old, latest := revs[0], revs[1]
	if !old.Expired || old.SupersededBy != latest.PolicyName || latest.Expired || latest.SupersededBy != "" {
		t.Errorf("statuses: old %+v, latest %+v", old, latest)
	}
	if every, _ := List(context.Background(), api, roles, "", now); len(every) != 6 {
		t.Errorf("List(all) = %d revocations, want 6", len(every))
	}
	if _, err := Remove(context.Background(), api, revs); err != nil {
		t.Fatal(err)
	}
	left, _ := List(context.Background(), api, roles, "", now)
	if len(left) != 2 || left[0].TenantPart != "a-b" {
		t.Errorf("after removing a's: %+v", left)
	}
	if _, ok := api.roles["tvm-tenant-read"]["read-demo-table"]; !ok {
		t.Error("the role's own policy was removed")
	}
}

// TestApplyQuota: a revocation that would take the role's inline policies
// over 10,240 characters is refused before writing, naming the expired
// revocations that can go.
func TestApplyQuota(t *testing.T) {
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` +
		strings.Repeat("b", iam.MaxRoleInlinePolicySize-400) + `"}]}`
	cfg := testConfig()
	cfg.Profiles = cfg.Profiles[:1]
	api := &fakeIAM{roles: map[string]map[string]string{"tvm-tenant-read": {"big": big}}}
	expired, _ := NewPlan(cfg, "z", cutoff.Add(-24*time.Hour))
	api.roles["tvm-tenant-read"][expired.Roles[0].PolicyName] = expired.Roles[0].Document
	p, _ := NewPlan(cfg, "a", cutoff)
	_, err := Apply(context.Background(), api, p, cutoff)
	if !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "1 expired revocations can go: tvm-broker revoke --remove --expired ("+expired.Roles[0].PolicyName+")") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := api.roles["tvm-tenant-read"][p.Roles[0].PolicyName]; ok {
		t.Error("written despite the quota")
	}
	delete(api.roles["tvm-tenant-read"], expired.Roles[0].PolicyName)
	res, err := Apply(context.Background(), api, p, cutoff)
	if err != nil || res[0].Total != iam.PolicySize(big)+p.Roles[0].Size() {
		t.Errorf("after making room: %+v, %v", res, err)
	}
}

func FuzzPolicyName(f *testing.F) {
	f.Add("a", "a-b", int64(0))
	f.Add("a@b", "a_b", int64(1e9))
	f.Fuzz(func(t *testing.T, tn, other string, sec int64) {
		c := time.Unix(sec%(1<<34), 0).UTC()
		name := PolicyName(tn, c)
		part, got, ok := ParsePolicyName(name)
		if len(name) > maxPolicyName || !ok || !got.Equal(c) && c.Year() < 10000 && c.Year() >= 0 {
			t.Fatalf("PolicyName(%q, %s) = %q: parsed %q %s %v", tn, c, name, part, got, ok)
		}
		if !matchesTenant(part, tn) {
			t.Fatalf("%q does not list as %q's", name, tn)
		}
		if other != tn && matchesTenant(part, other) { // distinct tenants, one name: only a 32-bit hash collision could
			t.Fatalf("%q lists as %q's too", name, other)
		}
	})
}
