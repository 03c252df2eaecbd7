package identity

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/policies/iam"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newDefault(t *testing.T, clock *fakeClock) *Store {
	t.Helper()
	s, err := New(DefaultConfig(), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDefaultConfigMatchesLayout pins the documented dev principals.
func TestDefaultConfigMatchesLayout(t *testing.T) {
	s := newDefault(t, &fakeClock{t: time.Now()})
	keys := map[string]struct{ arn, secret string }{
		"AKIATVMBROKER0000001": {"arn:aws:iam::123456789012:user/broker", "tvmLocalBrokerSecretKey000000000000000001"},
		"AKIATVMADMIN00000001": {"arn:aws:iam::123456789012:user/admin", "tvmLocalAdminSecretKey0000000000000000001"},
	}
	for id, want := range keys {
		c, ok := s.Lookup(id)
		if !ok || c.User == nil || c.User.ARN != want.arn || c.Secret != want.secret {
			t.Errorf("Lookup(%s) = %+v, %v", id, c, ok)
		}
	}
	var got []string
	for _, r := range s.Roles() {
		got = append(got, r.ARN)
		if r.MaxSessionDuration != 12*time.Hour || r.Trust == nil {
			t.Errorf("%s: max %v trust %v", r.ARN, r.MaxSessionDuration, r.Trust)
		}
		if !regexp.MustCompile(`^AROA[A-Z2-7]{17}$`).MatchString(r.ID) {
			t.Errorf("role id %q", r.ID)
		}
	}
	want := []string{
		"arn:aws:iam::123456789012:role/tvm-account-read",
		"arn:aws:iam::123456789012:role/tvm-no-grant",
		"arn:aws:iam::123456789012:role/tvm-partner-read",
		"arn:aws:iam::123456789012:role/tvm-seed-function",
		"arn:aws:iam::123456789012:role/tvm-seed-tenant",
		"arn:aws:iam::123456789012:role/tvm-tenant-abac",
		"arn:aws:iam::123456789012:role/tvm-tenant-read",
		"arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
		"arn:aws:iam::123456789012:role/tvm-tenant-s3",
		"arn:aws:iam::123456789012:role/tvm-tenant-silo",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("roles (-want +got):\n%s", d)
	}
	if r, _ := s.Role("arn:aws:iam::123456789012:role/tvm-no-grant"); len(r.Policies()) != 0 {
		t.Errorf("no-grant role has policies")
	}
}

func TestConfigErrors(t *testing.T) {
	base := func(mut string) string {
		return strings.Replace(string(DefaultYAML), "      - name: admin\n", mut, 1)
	}
	cases := map[string]struct {
		yaml string
		want string
	}{
		"unknown key":       {base("      - name: admin\n        colour: blue\n"), "colour"},
		"empty":             {"", "empty"},
		"no accounts":       {"accounts: []\n", "at least one account"},
		"bad account":       {"accounts: [{id: '12'}]\n", "accounts[0].id"},
		"duplicate user":    {base("      - name: broker\n        access_keys: [{id: AKIAXXXXXXXXXXXXXXX9, secret: aaaaaaaaaaaaaaaaaaaa}]\n      - name: admin\n"), "duplicate user"},
		"bad key id":        {base("      - name: x\n        access_keys: [{id: ASIAXXXXXXXXXXXXXXX9, secret: aaaaaaaaaaaaaaaaaaaa}]\n      - name: admin\n"), "access_keys[0].id"},
		"duplicate key":     {base("      - name: x\n        access_keys: [{id: AKIATVMBROKER0000001, secret: aaaaaaaaaaaaaaaaaaaa}]\n      - name: admin\n"), "duplicate access key"},
		"short secret":      {base("      - name: x\n        access_keys: [{id: AKIAXXXXXXXXXXXXXXX9, secret: a}]\n      - name: admin\n"), "secret"},
		"no keys":           {base("      - name: x\n      - name: admin\n"), "at least one access key"},
		"bad policy":        {base("      - name: x\n        access_keys: [{id: AKIAXXXXXXXXXXXXXXX9, secret: aaaaaaaaaaaaaaaaaaaa}]\n        policies: [{name: p, document: '{'}]\n      - name: admin\n"), "policies[0].document"},
		"duration too long": {strings.Replace(string(DefaultYAML), "max_session_duration: 12h", "max_session_duration: 13h", 1), "max_session_duration"},
		"two documents":     {string(DefaultYAML) + "---\naccounts: []\n", "more than one"},
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

func TestSessions(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}
	s := newDefault(t, clock)
	role, _ := s.Role("arn:aws:iam::123456789012:role/tvm-tenant-read")
	sess, err := s.CreateSession(SessionSpec{Role: role, Name: "t-1-abc", Duration: 15 * time.Minute,
		Tags: []Tag{{Key: "tenant", Value: "1"}}, SourceIdentity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(sess.AccessKeyID) {
		t.Errorf("key id %q", sess.AccessKeyID)
	}
	if len(sess.SecretAccessKey) != 40 || len(sess.SessionToken) < 100 {
		t.Errorf("secret/token too short: %d %d", len(sess.SecretAccessKey), len(sess.SessionToken))
	}
	if sess.ARN != "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-abc" || sess.AssumedRoleID != role.ID+":t-1-abc" {
		t.Errorf("arn %q id %q", sess.ARN, sess.AssumedRoleID)
	}
	c, ok := s.Lookup(sess.AccessKeyID)
	if !ok || c.Session != sess {
		t.Fatal("session not found")
	}
	checks := map[string]struct {
		cred  Credential
		token string
		want  error
	}{
		"right token":         {c, sess.SessionToken, nil},
		"no token":            {c, "", ErrInvalidToken},
		"other token":         {c, sess.SessionToken + "x", ErrInvalidToken},
		"token with user key": {Credential{User: &User{}}, "x", ErrInvalidToken},
		"user key":            {Credential{User: &User{}}, "", nil},
	}
	for name, k := range checks {
		t.Run(name, func(t *testing.T) {
			if err := s.CheckToken(k.cred, k.token); !errors.Is(err, k.want) {
				t.Errorf("CheckToken = %v, want %v", err, k.want)
			}
		})
	}

	ev := Principal{Session: sess}.Evaluator(clock.Now())
	wantEv := &iam.Session{
		Principal: sess.ARN, PrincipalARN: role.ARN, Account: "123456789012", Type: "AssumedRole",
		UserID: role.ID + ":t-1-abc", TokenIssueTime: clock.Now(), SourceIdentity: "alice",
		Tags: []Tag{{Key: "tenant", Value: "1"}}, RequestTime: clock.Now(),
		Extra:    map[string][]string{"aws:SecureTransport": {"false"}},
		Identity: role.Policies(),
	}
	if d := cmp.Diff(wantEv, ev, cmpopts.IgnoreUnexported(iam.Statement{})); d != "" {
		t.Errorf("session keys (-want +got):\n%s", d)
	}
	// The keys as policies see them.
	keys := map[string]string{
		"aws:CurrentTime": "2026-11-26T07:00:00Z", "aws:EpochTime": "1795676400", "aws:PrincipalAccount": "123456789012",
		"aws:userid": role.ID + ":t-1-abc", "aws:SecureTransport": "false", "aws:PrincipalArn": role.ARN,
		"aws:PrincipalType": "AssumedRole", "aws:TokenIssueTime": "2026-11-26T07:00:00Z", "aws:SourceIdentity": "alice",
		"aws:PrincipalTag/tenant": "1",
	}
	for k, v := range keys {
		probe := *ev
		p, err := iam.Parse("probe", []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"svc:Do","Resource":"*","Condition":{"StringEquals":{"`+k+`":"`+v+`"}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		probe.Identity, probe.SessionPolicies = []*iam.Policy{p}, nil
		if d := probe.Evaluate("svc:Do", "arn:aws:svc:::x", nil); !d.Allowed() {
			t.Errorf("%s is not %q: %s", k, v, d.Explain())
		}
	}

	clock.Add(15 * time.Minute)
	if err := s.CheckToken(c, sess.SessionToken); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("after expiry: %v", err)
	}
	clock.Add(59 * time.Minute)
	s.Purge()
	if _, ok := s.Lookup(sess.AccessKeyID); !ok {
		t.Error("expired session forgotten inside the retention period")
	}
	clock.Add(2 * time.Minute)
	s.Purge()
	if _, ok := s.Lookup(sess.AccessKeyID); ok || s.SessionCount() != 0 {
		t.Error("expired session not purged")
	}
}

func TestMaxSessions(t *testing.T) {
	s, err := New(DefaultConfig(), Options{MaxSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	role, _ := s.Role("arn:aws:iam::123456789012:role/tvm-no-grant")
	for i := range 3 {
		_, err := s.CreateSession(SessionSpec{Role: role, Name: "s", Duration: time.Hour})
		if (i < 2) != (err == nil) {
			t.Fatalf("session %d: err = %v", i, err)
		}
	}
}

func TestUserContextKeys(t *testing.T) {
	s := newDefault(t, &fakeClock{t: time.Unix(0, 0)})
	c, _ := s.Lookup("AKIATVMBROKER0000001")
	ev := Principal{User: c.User}.Evaluator(time.Unix(0, 0))
	if ev.UserName != "broker" || ev.PrincipalARN != c.User.ARN || ev.Type != "User" || !strings.HasPrefix(ev.UserID, "AIDA") ||
		!ev.TokenIssueTime.IsZero() {
		t.Errorf("session %+v", ev)
	}
	if len(ev.Identity) != 2 || len(ev.SessionPolicies) != 0 {
		t.Errorf("policies %d identity, %d session", len(ev.Identity), len(ev.SessionPolicies))
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(DefaultYAML)
	f.Add([]byte("accounts: [{id: '123456789012', users: [{name: a, access_keys: [{id: AKIAAAAAAAAAAAAAAAAA, secret: bbbbbbbbbbbbbbbbbbbb}]}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		_, _ = New(cfg, Options{})
	})
}
