package iam

import (
	"strings"
	"testing"
	"time"
)

const (
	roleARN     = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	userARN     = "arn:aws:iam::123456789012:user/broker"
	otherAcctID = "999999999999"
)

// tenantSession is a session of the read role with a tenant session policy.
func tenantSession(t testing.TB) *Session {
	t.Helper()
	return &Session{
		Principal:       session,
		PrincipalARN:    roleARN,
		UserID:          "AROAEXAMPLE:t-1-abc",
		Identity:        []*Policy{mustParse(t, "role", rolePolicy)},
		SessionPolicies: []*Policy{mustParse(t, "session", tenantPolicy(t, "Tenant#1", readActions, []string{tableARN, tableARN + "/index/*"}, true))},
	}
}

func TestSessionEvaluate(t *testing.T) {
	s := tenantSession(t)
	cases := map[string]struct {
		action, resource string
		keys             []string
		want             Outcome
		kind             PolicyKind
		msg              string
	}{
		"own tenant":   {"dynamodb:Query", indexARN, []string{"Tenant#1"}, Allowed, SessionPolicy, ""},
		"other tenant": {"dynamodb:Query", indexARN, []string{"Tenant#2"}, ImplicitDeny, SessionPolicy, "User: " + session + " is not authorized to perform: dynamodb:Query on resource: " + indexARN + " because no session policy allows the dynamodb:Query action"},
		"not in role":  {"dynamodb:PutItem", tableARN, []string{"Tenant#1"}, ImplicitDeny, IdentityPolicy, "User: " + session + " is not authorized to perform: dynamodb:PutItem on resource: " + tableARN + " because no identity-based policy allows the dynamodb:PutItem action"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := s.Evaluate(tc.action, tc.resource, map[string][]string{leading: tc.keys})
			if d.Outcome != tc.want || d.Kind != tc.kind {
				t.Fatalf("got %s/%s, want %s/%s (%s)", d.Outcome, d.Kind, tc.want, tc.kind, d.Explain())
			}
			if d.Message() != tc.msg {
				t.Errorf("Message() = %q, want %q", d.Message(), tc.msg)
			}
		})
	}
}

// The global keys a session carries (IAM User Guide, "AWS global condition
// context keys" and "Policy variables": principal key values).
func TestSessionKeys(t *testing.T) {
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := issued.Add(10 * time.Minute)
	s := &Session{
		Principal:      session,
		PrincipalARN:   roleARN,
		UserID:         "AROAEXAMPLE:t-1-abc",
		TokenIssueTime: issued,
		SourceIdentity: "alice",
		Tags:           []Tag{{Key: "Tenant", Value: "1"}},
		RequestTime:    now,
		Extra:          map[string][]string{"aws:SecureTransport": {"false"}},
	}
	user := &Session{Principal: userARN, UserID: "AIDAEXAMPLE", UserName: "broker"}
	cases := map[string]struct {
		s         *Session
		op, key   string
		value     string
		ctx       map[string][]string
		wantApply bool
	}{
		"PrincipalArn is the role":               {s, "StringEquals", "aws:PrincipalArn", roleARN, nil, true},
		"PrincipalArn of a user is the user":     {user, "StringEquals", "aws:PrincipalArn", userARN, nil, true},
		"PrincipalAccount from the ARN":          {s, "StringEquals", "aws:PrincipalAccount", account, nil, true},
		"PrincipalType AssumedRole":              {s, "StringEquals", "aws:PrincipalType", "AssumedRole", nil, true},
		"PrincipalType User":                     {user, "StringEquals", "aws:PrincipalType", "User", nil, true},
		"userid":                                 {s, "StringEquals", "aws:userid", "AROAEXAMPLE:t-1-abc", nil, true},
		"username absent for a role session":     {s, "Null", "aws:username", "true", nil, true},
		"username of a user":                     {user, "StringEquals", "aws:username", "broker", nil, true},
		"source identity":                        {s, "StringEquals", "aws:SourceIdentity", "alice", nil, true},
		"tag key case-insensitive":               {s, "StringEquals", "aws:PrincipalTag/TENANT", "1", nil, true},
		"tag absent":                             {s, "Null", "aws:PrincipalTag/team", "true", nil, true},
		"request cannot claim a tag":             {s, "StringEquals", "aws:PrincipalTag/team", "red", map[string][]string{"aws:PrincipalTag/team": {"red"}}, false},
		"request cannot claim a source id":       {user, "Null", "aws:SourceIdentity", "true", map[string][]string{"aws:SourceIdentity": {"mallory"}}, true},
		"token issue time is ISO 8601":           {s, "StringEquals", "aws:TokenIssueTime", "2026-01-02T03:04:05Z", nil, true},
		"token issued before the cut-off":        {s, "DateLessThan", "aws:TokenIssueTime", "2026-01-02T04:00:00Z", nil, true},
		"token issued after the cut-off":         {s, "DateLessThan", "aws:TokenIssueTime", "2026-01-02T03:00:00Z", nil, false},
		"no token issue time for a user":         {user, "Null", "aws:TokenIssueTime", "true", nil, true},
		"current time":                           {s, "DateGreaterThan", "aws:CurrentTime", "2026-01-02T03:10:00Z", nil, true},
		"epoch time":                             {s, "NumericEquals", "aws:EpochTime", "1767323645", nil, true},
		"request time from the context if unset": {user, "DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", map[string][]string{"aws:CurrentTime": {"2029-01-01T00:00:00Z"}}, true},
		"extra keys":                             {s, "Bool", "aws:SecureTransport", "false", nil, true},
		"variable from a tag":                    {s, "StringEquals", "dynamodb:LeadingKeys", "Tenant#${aws:PrincipalTag/tenant}", map[string][]string{leading: {"Tenant#1"}}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"svc:Do","Resource":"*","Condition":{"` +
				tc.op + `":{"` + tc.key + `":"` + tc.value + `"}}}}`
			sess := *tc.s
			sess.Identity = []*Policy{mustParse(t, "p", doc)}
			d := sess.Evaluate("svc:Do", "arn:aws:svc:::x", tc.ctx)
			if d.Allowed() != tc.wantApply {
				t.Errorf("%s %s %q: allowed = %v, want %v (%s)", tc.op, tc.key, tc.value, d.Allowed(), tc.wantApply, d.Explain())
			}
		})
	}
}

// Revocation as AWS documents it ("Revoking IAM role temporary security
// credentials"): a Deny on aws:TokenIssueTime earlier than a cut-off denies
// the sessions issued before it and not those issued after.
func TestSessionRevokedByTokenIssueTime(t *testing.T) {
	cutoff := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	revoke := mustParse(t, "AWSRevokeOlderSessions", `{"Version":"2012-10-17","Statement":{"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*",
	  "Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+cutoff.Format(time.RFC3339)+`"}}}}`)
	for name, tc := range map[string]struct {
		issued time.Time
		want   Outcome
	}{
		"issued before":   {cutoff.Add(-time.Second), ExplicitDeny},
		"issued after":    {cutoff.Add(time.Second), Allowed},
		"issued at":       {cutoff, Allowed},
		"long-term creds": {time.Time{}, Allowed},
	} {
		t.Run(name, func(t *testing.T) {
			s := tenantSession(t)
			s.TokenIssueTime = tc.issued
			s.Identity = append(s.Identity, revoke)
			d := s.Evaluate("dynamodb:GetItem", tableARN, map[string][]string{leading: {"Tenant#1"}})
			if d.Outcome != tc.want {
				t.Fatalf("got %s, want %s (%s)", d.Outcome, tc.want, d.Explain())
			}
			if tc.want == ExplicitDeny && d.Sid != "Revoke" {
				t.Errorf("Sid = %q", d.Sid)
			}
		})
	}
}

// Resource-based policies combined with the caller's policies
// ("Policy evaluation logic", resource-based policies within one account;
// "Cross-account policy evaluation logic").
func TestSessionEvaluateWithResource(t *testing.T) {
	trust := func(principal string, extra ...string) []*Policy {
		st := `{"Sid":"Trust","Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}`
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{st}, extra...), ",") + `]}`
		p, err := ParseTrustPolicy("trust", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return []*Policy{p}
	}
	assume := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`
	denyAssume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoAssume","Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}`
	target := "arn:aws:iam::123456789012:role/target"
	fnSession := "arn:aws:sts::123456789012:assumed-role/fn/s1"
	fnRole := "arn:aws:iam::123456789012:role/fn"
	remoteUser := "arn:aws:iam::999999999999:user/remote"
	mk := func(principal string, identity []string, session []string) *Session {
		s := &Session{Principal: principal}
		for _, d := range identity {
			s.Identity = append(s.Identity, mustParse(t, "identity", d))
		}
		for _, d := range session {
			s.SessionPolicies = append(s.SessionPolicies, mustParse(t, "session policy", d))
		}
		return s
	}
	cases := map[string]struct {
		s     *Session
		trust []*Policy
		acct  string
		want  Outcome
		kind  PolicyKind
		grant Grant
	}{
		"same account, trust names the user, no identity allow": {mk(userARN, nil, nil), trust(`{"AWS":"` + userARN + `"}`), account, Allowed, ResourcePolicy, GrantPrincipal},
		"same account, trust names the role of the session":     {mk(fnSession, nil, nil), trust(`{"AWS":"` + fnRole + `"}`), account, Allowed, ResourcePolicy, GrantRole},
		"same account, trust names the session ARN":             {mk(fnSession, nil, []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`}), trust(`{"AWS":"` + fnSession + `"}`), account, Allowed, ResourcePolicy, GrantPrincipal},
		"same account, trust names the role, session policy does not allow": {mk(fnSession, nil, []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`}),
			trust(`{"AWS":"` + fnRole + `"}`), account, ImplicitDeny, SessionPolicy, GrantNone},
		"same account, trust names the role, session policy allows":     {mk(fnSession, nil, []string{assume}), trust(`{"AWS":"` + fnRole + `"}`), account, Allowed, ResourcePolicy, GrantRole},
		"same account, trust names the account root, no identity allow": {mk(userARN, nil, nil), trust(`{"AWS":"arn:aws:iam::123456789012:root"}`), account, ImplicitDeny, IdentityPolicy, GrantNone},
		"same account, trust names the account id, identity allows":     {mk(userARN, []string{assume}, nil), trust(`{"AWS":"123456789012"}`), account, Allowed, ResourcePolicy, GrantAccount},
		"same account, trust names someone else, identity allows":       {mk(userARN, []string{assume}, nil), trust(`{"AWS":"arn:aws:iam::123456789012:user/other"}`), account, ImplicitDeny, ResourcePolicy, GrantNone},
		"cross account, trust names the user, no identity allow":        {mk(remoteUser, nil, nil), trust(`{"AWS":"` + remoteUser + `"}`), account, ImplicitDeny, IdentityPolicy, GrantNone},
		"cross account, both allow":                                     {mk(remoteUser, []string{assume}, nil), trust(`{"AWS":"` + otherAcctID + `"}`), account, Allowed, ResourcePolicy, GrantAccount},
		"cross account, identity allows, trust names another account":   {mk(remoteUser, []string{assume}, nil), trust(`{"AWS":"111111111111"}`), account, ImplicitDeny, ResourcePolicy, GrantNone},
		"explicit deny in the identity policy wins over a direct grant": {mk(userARN, []string{denyAssume}, nil), trust(`{"AWS":"` + userARN + `"}`), account, ExplicitDeny, IdentityPolicy, GrantNone},
		"explicit deny in the trust policy": {mk(userARN, []string{assume}, nil),
			trust(`"*"`, `{"Sid":"NotUs","Effect":"Deny","Principal":{"AWS":"`+userARN+`"},"Action":"sts:AssumeRole"}`), account, ExplicitDeny, ResourcePolicy, GrantNone},
		"explicit deny in a session policy": {mk(fnSession, nil, []string{`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:*","Resource":"*"}}`}),
			trust(`{"AWS":"` + fnSession + `"}`), account, ExplicitDeny, SessionPolicy, GrantNone},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := tc.s.EvaluateWithResource("sts:AssumeRole", target, nil, ResourcePolicies{Account: tc.acct, Policies: tc.trust, Required: true})
			if d.Outcome != tc.want || d.Kind != tc.kind || d.Grant != tc.grant {
				t.Fatalf("got %s/%s/%s, want %s/%s/%s (%s)", d.Outcome, d.Kind, d.Grant, tc.want, tc.kind, tc.grant, d.Explain())
			}
		})
	}
	t.Run("not required: identity allow alone is enough within the account", func(t *testing.T) {
		d := mk(userARN, []string{assume}, nil).EvaluateWithResource("sts:AssumeRole", target, nil, ResourcePolicies{Account: account})
		if !d.Allowed() || d.Kind != IdentityPolicy {
			t.Fatalf("got %s/%s (%s)", d.Outcome, d.Kind, d.Explain())
		}
	})
}

// A statement edited after Parse (its slices replaced) is recompiled; a
// hand-built one is compiled on use.
func TestCompiledPatternsFollowTheStatement(t *testing.T) {
	p := mustParse(t, "p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"`+tableARN+`"}}`)
	req := Request{Principal: session, Action: "dynamodb:Query", Resource: tableARN}
	if Evaluate(req, Input{Identity: []*Policy{p}}).Allowed() {
		t.Fatal("Query allowed before the edit")
	}
	p.Statements[0].Action = []string{"dynamodb:Query"}
	if !Evaluate(req, Input{Identity: []*Policy{p}}).Allowed() {
		t.Error("edited statement evaluated with its old patterns")
	}
	hand := &Policy{Name: "hand", Version: Version2012, Statements: []Statement{{Effect: Allow, Action: []string{"dynamodb:*"},
		Resource: []string{"arn:aws:dynamodb:*:*:table/${aws:PrincipalTag/t}"}}}}
	s := &Session{Principal: session, Tags: []Tag{{Key: "t", Value: "tvm-demo"}}, Identity: []*Policy{hand}}
	if d := s.Evaluate("dynamodb:Query", tableARN, nil); !d.Allowed() {
		t.Errorf("hand-built policy: %s", d.Explain())
	}
}

// BenchmarkEvaluateSession is BenchmarkEvaluateTenantSession through the
// Session entry point, with the global keys a session carries.
func BenchmarkEvaluateSession(b *testing.B) {
	s := tenantSession(b)
	s.TokenIssueTime = time.Now()
	s.Tags = []Tag{{Key: "tenant", Value: "1"}}
	ctx := map[string][]string{leading: {"Tenant#1", "Tenant#1", "Tenant#1"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Evaluate("dynamodb:BatchGetItem", tableARN, ctx)
	}
}

func TestARNAccount(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:role/tvm-tenant-read":            "123456789012",
		"arn:aws:sts::123456789012:assumed-role/r/s":                "123456789012",
		"arn:aws:dynamodb:us-east-1:210987654321:table/t/index/gsi": "210987654321",
		"arn:aws:s3:::bucket/key:with:colons":                       "",
		"arn:aws-cn:iam::111122223333:policy/a:b":                   "111122223333",
		"not-an-arn":                       "",
		"arn:aws:iam::123456789012":        "",
		"xrn:aws:iam::123456789012:role/r": "",
		"":                                 "",
	} {
		if got := ARNAccount(arn); got != want {
			t.Errorf("ARNAccount(%q) = %q, want %q", arn, got, want)
		}
	}
}
