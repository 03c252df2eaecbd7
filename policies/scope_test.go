package policies_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/targets"
)

func TestResourceWithin(t *testing.T) {
	const idx = demoTable + "/index/*"
	tests := []struct {
		r, declared string
		want        bool
	}{
		{demoTable, demoTable, true},
		{demoTable + "/index/gsi", idx, true},
		{demoTable + "/index/g*", idx, true},
		{demoTable + "/index/?si", idx, true},
		{idx, idx, true},
		{demoTable + "/index/${aws:PrincipalTag/i}", idx, true},
		{demoTable + "/*", idx, false},
		{demoTable + "*", demoTable, false},
		{demoTable + "-2", demoTable, false},
		{demoTable, idx, false},
		{"arn:aws:dynamodb:*:123456789012:table/tvm-demo", demoTable, false},
		{"arn:aws:dynamodb:us-east-1:*:table/tvm-demo", demoTable, false},
		{"arn:aws:dynamodb:us-east-2:123456789012:table/tvm-demo", demoTable, false},
		{"arn:aws-cn:dynamodb:us-east-1:123456789012:table/tvm-demo", demoTable, false},
		{"*", demoTable, false},
		{"Tenant#1", "Tenant#1", true},
		{"Tenant#*", "Tenant#*", false},
		{"arn:aws:s3:::bucket/tenants/1/*", "arn:aws:s3:::bucket/tenants/1/*", true},
		{"arn:aws:s3:::bucket/tenants/1/a/*", "arn:aws:s3:::bucket/tenants/1/*", true},
		{"arn:aws:s3:::bucket/tenants/1*", "arn:aws:s3:::bucket/tenants/1/*", false},
		{"arn:aws:s3:::bucket/tenants/*/x", "arn:aws:s3:::bucket/tenants/1/*", false},
		// Two different invalid bytes are not one character (fuzzing found
		// "\xff" taken to be within "\x80").
		{demoTable + "/index/\xff", demoTable + "/index/\x80", false},
		{demoTable + "/index/\xff", idx, false},
		{demoTable + "/index/\xff", demoTable + "/index/\xff", true},
	}
	for _, tc := range tests {
		if got := policies.ResourceWithin(tc.r, tc.declared); got != tc.want {
			t.Errorf("ResourceWithin(%q, %q) = %v, want %v", tc.r, tc.declared, got, tc.want)
		}
	}
}

// FuzzResourceWithin: ResourceWithin is sound — whatever ARN r matches,
// declared matches too.
func FuzzResourceWithin(f *testing.F) {
	f.Add("table/t/index/g*", "table/t/index/*", "table/t/index/gsi")
	f.Add("table/t?", "table/t*", "table/tx")
	f.Add("a*b*c", "a*c", "abbbc")
	f.Add("*", "?*", "")
	f.Fuzz(func(t *testing.T, r, d, s string) {
		const head = "arn:aws:dynamodb:us-east-1:123456789012:"
		if policies.ResourceWithin(head+r, head+d) && iam.MatchResource(head+r, head+s) && !iam.MatchResource(head+d, head+s) {
			t.Fatalf("%q within %q, but %q matches only the first", r, d, s)
		}
	})
}

// TestLintProfile: a policy rendered for a profile may grant another
// service's action only as the profile's extra_actions list it, on those
// resources, and name only resources within the profile's.
func TestLintProfile(t *testing.T) {
	audit := `{"Sid":"Audit","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:audit"}`
	grant := policies.ExtraGrant{Actions: []string{"SQS:SendMessage"}, Resources: []string{"arn:aws:sqs:us-east-1:123456789012:audit"}}
	declared := []string{demoTable, demoTable + "/index/*", "Tenant#1"}
	tests := map[string]struct {
		doc   string
		extra []policies.ExtraGrant
		rule  string
	}{
		"declared resources":           {doc: policy(queryStmt)},
		"one index of the declared":    {doc: policy(strings.Replace(queryStmt, demoTable+`/index/*"`, demoTable+`/index/gsi"`, 1))},
		"a table the profile does not": {doc: policy(strings.Replace(queryStmt, demoTable+`/index/*"`, demoTable+`-other"`, 1)), rule: policies.RuleResourceScope},
		"extra grant listed":           {doc: policy(queryStmt, audit), extra: []policies.ExtraGrant{grant}},
		"extra grant not listed":       {doc: policy(queryStmt, audit), rule: policies.RuleUnknownAction},
		"extra grant on another queue": {doc: policy(queryStmt, strings.Replace(audit, ":audit", ":other", 1)), extra: []policies.ExtraGrant{grant},
			rule: policies.RuleUnknownAction},
		"extra action, another action": {doc: policy(queryStmt, strings.Replace(audit, "SendMessage", "ReceiveMessage", 1)), extra: []policies.ExtraGrant{grant},
			rule: policies.RuleUnknownAction},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := policies.Lint([]byte(tc.doc), policies.LintOptions{Name: "test", Targets: targets.All(),
				Profile: &policies.LintProfile{Tenant: "1", Resources: append(declared, extraResources(tc.extra)...), Extra: tc.extra}})
			var le *policies.LintError
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("Lint: %v", err)
			case tc.rule != "" && (!errors.As(err, &le) || le.Rule != tc.rule):
				t.Fatalf("Lint = %v, want rule %s", err, tc.rule)
			}
		})
	}
}

func extraResources(gs []policies.ExtraGrant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Resources...)
	}
	return out
}

// TestRenderWithExtra: RenderWith lints with the profile's extra grants.
func TestRenderWithExtra(t *testing.T) {
	doc := policy(`{"Sid":"Read","Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}",`+
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}`,
		`{"Sid":"Audit","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:audit"}`)
	tpl, err := policies.ParseTemplate("audit", "test", []byte(doc), targets.All())
	if err != nil {
		t.Fatalf("a named extra action is left for the profile at load: %v", err)
	}
	b := bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)
	var le *policies.LintError
	if _, err := tpl.Render("1", b); !errors.As(err, &le) || le.Rule != policies.RuleUnknownAction {
		t.Errorf("Render without the extra grant = %v, want unknown-action", err)
	}
	grant := policies.ExtraGrant{Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:us-east-1:123456789012:audit"}}
	if _, err := tpl.RenderWith("1", b, []policies.ExtraGrant{grant}); err != nil {
		t.Errorf("RenderWith the extra grant: %v", err)
	}
}

// TestJudgeRoleGrants: a role policy acting without a session policy may
// grant a bound target's actions and the profile's extra grants; anything
// else is refused — a registered target the profile does not bind too
// (nothing would prove its grants).
func TestJudgeRoleGrants(t *testing.T) {
	registered := append([]policies.Target{fakeTarget{}}, targets.All()...)
	bound := []policies.Target{dynamodb.Target} // S3 registered, not bound
	tests := map[string]struct {
		doc     string
		extra   []policies.ExtraGrant
		refused bool
	}{
		"dynamodb":           {doc: `{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}`},
		"unbound target":     {doc: `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:PrincipalTag/tenant}/*"}`, refused: true},
		"deny is not judged": {doc: `{"Effect":"Deny","Action":"*","Resource":"*"}`},
		"sts":                {doc: `{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`, refused: true},
		"star":               {doc: `{"Effect":"Allow","Action":"*","Resource":"*"}`, refused: true},
		"notaction":          {doc: `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, refused: true},
		"unknown service":    {doc: `{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}`, refused: true},
		"extra grant": {doc: `{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}`,
			extra: []policies.ExtraGrant{{Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:us-east-1:123456789012:q"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pol, err := iam.Parse("role policy r", []byte(policy(tc.doc)))
			if err != nil {
				t.Fatal(err)
			}
			err = policies.JudgeRoleGrants(pol, bound, registered, tc.extra)
			var le *policies.LintError
			if tc.refused != (err != nil) || (err != nil && (!errors.As(err, &le) || le.Rule != policies.RuleUnknownAction || le.Policy != "role policy r")) {
				t.Fatalf("JudgeRoleGrants err = %v, want refused %v", err, tc.refused)
			}
		})
	}
}

// TestProofGlobalKeys (issue 14, hole 4): a role policy that requires
// every global key a real request carries, with the values the broker's
// sessions have, keeps the own-tenant rows allowed; one that also requires
// a key the request chooses (aws:SourceIp) narrows: its own rows are
// allowed "for some value of aws:SourceIp", while a grant of another
// tenant's key that the same key opens fails its denial row.
func TestProofGlobalKeys(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/path/tvm-tenant-read"
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cond := `"Bool":{"aws:SecureTransport":"true","aws:ViaAWSService":"false","aws:PrincipalIsAWSService":"false"},` +
		`"StringEquals":{"aws:PrincipalAccount":"123456789012","aws:PrincipalType":"AssumedRole","aws:RequestedRegion":"us-east-1",` +
		`"aws:ResourceAccount":"123456789012","aws:SourceIdentity":"alice","aws:PrincipalTag/tenant":"${aws:PrincipalTag/tenant}",` +
		`"aws:PrincipalTag/team":"data","aws:userid":"AROAEXAMPLE:t-${aws:PrincipalTag/tenant}"},` +
		`"ArnEquals":{"aws:PrincipalArn":"` + role + `"},` +
		`"DateEquals":{"aws:CurrentTime":"2026-05-01T12:00:00Z","aws:TokenIssueTime":"2026-05-01T12:00:00Z"},` +
		`"NumericEquals":{"aws:EpochTime":"` + "1777636800" + `"}`
	spec := func(extra string) policies.ProofSpec {
		pol, err := iam.Parse("role policy global", []byte(policy(`{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*","Condition":{`+cond+extra+`}}`)))
		if err != nil {
			t.Fatal(err)
		}
		return policies.ProofSpec{
			Template: mustGet(t, mustLoad(t), "dynamodb-read"),
			Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable),
			Role:     policies.Role{ARN: role, ID: "AROAEXAMPLE", Known: true, Policies: []*iam.Policy{pol}, Tags: []iam.Tag{{Key: "team", Value: "data"}, {Key: "Tenant", Value: "role-tag"}}},
			Session: policies.SessionShape{
				Name:           func(tn, _ string) string { return "t-" + tn },
				Tags:           func(tn, _ string) []iam.Tag { return []iam.Tag{{Key: "tenant", Value: tn}} },
				SourceIdentity: func(string) string { return "alice" },
			},
			Time: at,
		}
	}
	if rep, err := policies.Prove(spec("")); err != nil || !rep.OK {
		t.Fatalf("Prove with every global key required: %v", err)
	}
	rep, err := policies.Prove(spec(`,"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}`))
	if err != nil {
		t.Fatalf("Prove requiring aws:SourceIp: %v", err)
	}
	for _, r := range rep.Rows {
		if r.Want == iam.Allowed && !strings.HasSuffix(r.Statement, ", for some value of aws:SourceIp") {
			t.Errorf("own row %s decided by %s, want one naming aws:SourceIp", r.Name, r.Statement)
		}
	}
	// The same key opening another tenant's partition to the session.
	leak, err := policies.ParseTemplate("leak", "test", []byte(policy(
		`{"Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}","Condition":`+tmplGuarded+`},`+
			`{"Sid":"Leak","Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}",`+
			`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":"Tenant#12"},"Null":{"dynamodb:LeadingKeys":"false"},`+
			`"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`)), targets.All())
	if err != nil {
		t.Fatal(err)
	}
	s := spec("")
	s.Template = leak
	_, err = policies.Prove(s)
	var pe *policies.ProofError
	if !errors.As(err, &pe) || pe.Row.Want == iam.Allowed || !strings.HasSuffix(pe.Row.Statement, `(Sid "Leak"), for some value of aws:SourceIp`) {
		t.Fatalf("Prove of a grant opened from 10.0.0.0/8 = %v, want a denial row failing on it", err)
	}
}

// TestCheckExtraGrant: an extra grant names plain actions of services no
// target owns, on named resources — never STS or IAM (in any case), a
// target's action, nor a service that reaches a target's data past its
// isolation (DAX reads DynamoDB with the cluster's role: DynamoDB
// Developer Guide, "DAX access control").
func TestCheckExtraGrant(t *testing.T) {
	const queue = "arn:aws:sqs:us-east-1:123456789012:audit"
	tests := map[string]struct {
		grant policies.ExtraGrant
		want  string // substring of the error ("" = accepted)
	}{
		"a named queue":      {policies.ExtraGrant{Actions: []string{"sqs:SendMessage"}, Resources: []string{queue}}, ""},
		"STS in capitals":    {policies.ExtraGrant{Actions: []string{"STS:AssumeRole"}, Resources: []string{queue}}, "actions[0]: STS actions are never allowed"},
		"a target's action":  {policies.ExtraGrant{Actions: []string{"dynamodb:Scan"}, Resources: []string{queue}}, "actions[0]: an action of the dynamodb isolation target"},
		"DAX":                {policies.ExtraGrant{Actions: []string{"dax:GetItem"}, Resources: []string{"arn:aws:dax:us-east-1:123456789012:cache/c"}}, "actions[0]: dax reaches the data of the dynamodb isolation target"},
		"a wildcard action":  {policies.ExtraGrant{Actions: []string{"sqs:*"}, Resources: []string{queue}}, "actions[0]: must name one action"},
		"a wildcard queue":   {policies.ExtraGrant{Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:*:*:*"}}, "resources[0]: must name one resource"},
		"no resource at all": {policies.ExtraGrant{Actions: []string{"sqs:SendMessage"}}, "resources: at least one resource is required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := policies.CheckExtraGrant(tc.grant, targets.All())
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckExtraGrant = %v, want %q", err, tc.want)
			}
		})
	}
}
