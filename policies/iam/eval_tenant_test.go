package iam

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	account   = "123456789012"
	tableARN  = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	indexARN  = tableARN + "/index/gsi"
	streamARN = tableARN + "/stream/2026-01-01T00:00:00.000"
	session   = "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-abc"
	leading   = "dynamodb:LeadingKeys"
)

// rolePolicy is the local AWS's tvm-tenant-read role policy: broad on
// purpose (Scan included), the session policy narrows it.
const rolePolicy = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "ReadTable",
    "Effect": "Allow",
    "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
               "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"],
    "Resource": ["arn:aws:dynamodb:*:123456789012:table/tvm-demo", "arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"]
  }]
}`

// tenantPolicy renders the recommended tenant session policy (AWS's
// fine-grained access control example 5 shape plus the Null guard).
func tenantPolicy(t testing.TB, tenantKey string, actions []string, resources []string, nullGuard bool) string {
	t.Helper()
	cond := map[string]any{
		"ForAllValues:StringEquals": map[string]any{leading: []string{tenantKey}},
	}
	if nullGuard {
		cond["Null"] = map[string]any{leading: "false"}
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "TenantItems",
			"Effect":    "Allow",
			"Action":    actions,
			"Resource":  resources,
			"Condition": cond,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var readActions = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}

func ddb(action, resource string, keys ...string) Request {
	r := Request{Principal: session, Action: action, Resource: resource}
	if keys != nil {
		r.Context = map[string][]string{leading: keys}
	}
	return r
}

// Edge cases of the fact sheet (/work/shared/reference/aws-semantics.md §1-§3)
// against the tenant session policy the broker renders.
func TestEvaluateTenantIsolation(t *testing.T) {
	guarded := tenantPolicy(t, "Tenant#1", readActions, []string{tableARN, tableARN + "/index/*"}, true)
	withScanUnguarded := tenantPolicy(t, "Tenant#1", append(readActions, "dynamodb:Scan"), []string{tableARN, tableARN + "/index/*"}, false)
	withScanGuarded := tenantPolicy(t, "Tenant#1", append(readActions, "dynamodb:Scan"), []string{tableARN, tableARN + "/index/*"}, true)
	tableStar := tenantPolicy(t, "Tenant#1", append(readActions, "dynamodb:GetRecords"), []string{tableARN, tableARN + "/*"}, false)
	tableOnly := tenantPolicy(t, "Tenant#1", readActions, []string{tableARN}, true)
	streamRole := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:*:123456789012:table/tvm-demo*"}}`
	role := []string{rolePolicy}

	runEvalCases(t, map[string]evalCase{
		"own tenant GetItem": {identity: role, session: []string{guarded}, req: ddb("dynamodb:GetItem", tableARN, "Tenant#1"), want: Allowed, kind: SessionPolicy, sid: "TenantItems"},
		"other tenant GetItem": {identity: role, session: []string{guarded}, req: ddb("dynamodb:GetItem", tableARN, "Tenant#2"),
			want: ImplicitDeny, kind: SessionPolicy},
		"own tenant Query on the index": {identity: role, session: []string{guarded}, req: ddb("dynamodb:Query", indexARN, "Tenant#1"), want: Allowed},
		"other tenant Query on the index": {identity: role, session: []string{guarded}, req: ddb("dynamodb:Query", indexARN, "Tenant#2"),
			want: ImplicitDeny, kind: SessionPolicy},
		"index ARN not listed: index query denied": {identity: role, session: []string{tableOnly}, req: ddb("dynamodb:Query", indexARN, "Tenant#1"),
			want: ImplicitDeny, kind: SessionPolicy},
		"batch of own tenant twice":                          {identity: role, session: []string{guarded}, req: ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#1"), want: Allowed},
		"batch with two tenants":                             {identity: role, session: []string{guarded}, req: ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#2"), want: ImplicitDeny},
		"batch with only other":                              {identity: role, session: []string{guarded}, req: ddb("dynamodb:BatchGetItem", tableARN, "Tenant#2"), want: ImplicitDeny},
		"Scan not listed is denied":                          {identity: role, session: []string{guarded}, req: ddb("dynamodb:Scan", tableARN), want: ImplicitDeny, kind: SessionPolicy},
		"Scan hazard: ForAllValues alone allows a full Scan": {identity: role, session: []string{withScanUnguarded}, req: ddb("dynamodb:Scan", tableARN), want: Allowed},
		"Scan hazard: the Null guard denies it":              {identity: role, session: []string{withScanGuarded}, req: ddb("dynamodb:Scan", tableARN), want: ImplicitDeny, kind: SessionPolicy},
		"Scan hazard on the index":                           {identity: role, session: []string{withScanUnguarded}, req: ddb("dynamodb:Scan", indexARN), want: Allowed},
		"empty LeadingKeys set: ForAllValues alone is true":  {identity: role, session: []string{withScanUnguarded}, req: ddb("dynamodb:Query", tableARN, []string{}...), want: Allowed},
		"empty LeadingKeys set: Null guard makes it false": {identity: role, session: []string{guarded},
			req: Request{Principal: session, Action: "dynamodb:Query", Resource: tableARN, Context: map[string][]string{leading: {}}}, want: ImplicitDeny},
		"key name case-insensitive": {identity: role, session: []string{guarded},
			req: Request{Principal: session, Action: "dynamodb:GetItem", Resource: tableARN, Context: map[string][]string{"DYNAMODB:leadingkeys": {"Tenant#2"}}}, want: ImplicitDeny},
		"two spellings of one key form one set": {identity: role, session: []string{guarded},
			req: Request{Principal: session, Action: "dynamodb:BatchGetItem", Resource: tableARN,
				Context: map[string][]string{"DynamoDB:LeadingKeys": {"Tenant#1"}, "dynamodb:leadingkeys": {"Tenant#2"}}}, want: ImplicitDeny},
		"key name case-insensitive own tenant": {identity: role, session: []string{guarded},
			req: Request{Principal: session, Action: "dynamodb:GetItem", Resource: tableARN, Context: map[string][]string{"DynamoDB:LeadingKeys": {"Tenant#1"}}}, want: Allowed},
		"StringEquals value is case-sensitive": {identity: role, session: []string{guarded}, req: ddb("dynamodb:GetItem", tableARN, "tenant#1"), want: ImplicitDeny},
		"table/T/* also matches streams":       {identity: []string{streamRole}, session: []string{tableStar}, req: ddb("dynamodb:GetRecords", streamARN), want: Allowed},
		"table/T/index/* does not match streams": {identity: []string{streamRole}, session: []string{tenantPolicy(t, "Tenant#1", append(readActions, "dynamodb:GetRecords"), []string{tableARN, tableARN + "/index/*"}, false)},
			req: ddb("dynamodb:GetRecords", streamARN), want: ImplicitDeny},
		"session broader than role is still limited by the role": {identity: role,
			session: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}}`},
			req:     ddb("dynamodb:DeleteTable", tableARN), want: ImplicitDeny, kind: IdentityPolicy},
		"no-grant role denies even with a session allow": {identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}`},
			session: []string{guarded}, req: ddb("dynamodb:GetItem", tableARN, "Tenant#1"), want: ImplicitDeny, kind: IdentityPolicy},
		"explicit deny in the session policy": {identity: role,
			session: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},{"Sid":"NoScan","Effect":"Deny","Action":"dynamodb:Scan","Resource":"*"}]}`},
			req:     ddb("dynamodb:Scan", tableARN), want: ExplicitDeny, kind: SessionPolicy, sid: "NoScan"},
		"explicit deny in the role policy wins over both allows": {
			identity: []string{rolePolicy, `{"Version":"2012-10-17","Statement":{"Sid":"DenyTenant2","Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":"Tenant#2"}}}}`},
			session:  []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}}`},
			req:      ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#2"), want: ExplicitDeny, kind: IdentityPolicy, sid: "DenyTenant2"},
		"unqualified operator on a batch: an Allow does not apply": {identity: role,
			session: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:BatchGetItem","Resource":"*","Condition":{"StringNotEquals":{"dynamodb:LeadingKeys":"Tenant#2"}}}}`},
			req:     ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#3"), want: ImplicitDeny, kind: SessionPolicy},
		"unqualified operator on a batch: a Deny applies": {
			identity: []string{rolePolicy, `{"Version":"2012-10-17","Statement":{"Sid":"OnlyTenant1","Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"StringNotEquals":{"dynamodb:LeadingKeys":"Tenant#1"}}}}`},
			req:      ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#2"), want: ExplicitDeny, kind: IdentityPolicy, sid: "OnlyTenant1"},
		"unqualified Deny on one value still decides normally": {
			identity: []string{rolePolicy, `{"Version":"2012-10-17","Statement":{"Sid":"OnlyTenant1","Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"StringNotEquals":{"dynamodb:LeadingKeys":"Tenant#1"}}}}`},
			req:      ddb("dynamodb:GetItem", tableARN, "Tenant#1"), want: Allowed, kind: IdentityPolicy, sid: "ReadTable"},
		"no session policy: the role alone decides": {identity: role, req: ddb("dynamodb:Scan", tableARN), want: Allowed, kind: IdentityPolicy, sid: "ReadTable"},
		"no identity policy at all":                 {req: ddb("dynamodb:GetItem", tableARN, "Tenant#1"), want: ImplicitDeny, kind: IdentityPolicy},
		"wildcard injection: StringLike Tenant#* reads every tenant": {identity: role,
			session: []string{strings.Replace(tenantPolicy(t, "Tenant#*", readActions, []string{tableARN}, true), "ForAllValues:StringEquals", "ForAllValues:StringLike", 1)},
			req:     ddb("dynamodb:GetItem", tableARN, "Tenant#2"), want: Allowed},
		"wildcard injection: StringEquals Tenant#* is literal": {identity: role, session: []string{tenantPolicy(t, "Tenant#*", readActions, []string{tableARN}, true)},
			req: ddb("dynamodb:GetItem", tableARN, "Tenant#2"), want: ImplicitDeny},
	})
}

// Missing and empty keys under every kind of operator (aws-semantics.md §2).
func TestEvaluateMissingKeys(t *testing.T) {
	policy := func(op, value string) string {
		b, _ := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": map[string]any{
				"Effect": "Allow", "Action": "svc:Do", "Resource": "*",
				"Condition": map[string]any{op: map[string]any{"svc:key": value}},
			},
		})
		return string(b)
	}
	absent := Request{Principal: session, Action: "svc:Do", Resource: "arn:aws:svc:::x"}
	with := func(v ...string) Request {
		r := absent
		r.Context = map[string][]string{"svc:key": v}
		return r
	}
	cases := map[string]struct {
		op, value string
		req       Request
		want      Outcome
	}{
		"StringEquals absent":                      {"StringEquals", "a", absent, ImplicitDeny},
		"StringNotEquals absent":                   {"StringNotEquals", "a", absent, Allowed},
		"StringNotLike absent":                     {"StringNotLike", "a*", absent, Allowed},
		"StringNotEqualsIgnoreCase absent":         {"StringNotEqualsIgnoreCase", "a", absent, Allowed},
		"NumericNotEquals absent":                  {"NumericNotEquals", "1", absent, Allowed},
		"DateNotEquals absent":                     {"DateNotEquals", "2020-01-01", absent, Allowed},
		"NotIpAddress absent":                      {"NotIpAddress", "10.0.0.0/8", absent, Allowed},
		"ArnNotEquals absent":                      {"ArnNotEquals", "arn:aws:s3:::b", absent, Allowed},
		"StringEqualsIfExists absent":              {"StringEqualsIfExists", "a", absent, Allowed},
		"StringEqualsIfExists present mismatch":    {"StringEqualsIfExists", "a", with("b"), ImplicitDeny},
		"StringEqualsIfExists present match":       {"StringEqualsIfExists", "a", with("a"), Allowed},
		"NumericLessThanIfExists absent":           {"NumericLessThanIfExists", "3", absent, Allowed},
		"StringNotEqualsIfExists present equal":    {"StringNotEqualsIfExists", "a", with("a"), ImplicitDeny},
		"ForAllValues absent":                      {"ForAllValues:StringEquals", "a", absent, Allowed},
		"ForAllValues empty set":                   {"ForAllValues:StringEquals", "a", with(), Allowed},
		"ForAnyValue absent":                       {"ForAnyValue:StringEquals", "a", absent, ImplicitDeny},
		"ForAnyValue empty set":                    {"ForAnyValue:StringEquals", "a", with(), ImplicitDeny},
		"ForAnyValue one of two":                   {"ForAnyValue:StringEquals", "a", with("b", "a"), Allowed},
		"ForAllValues one of two":                  {"ForAllValues:StringEquals", "a", with("b", "a"), ImplicitDeny},
		"ForAllValues:StringNotEquals none equal":  {"ForAllValues:StringNotEquals", "a", with("b", "c"), Allowed},
		"ForAllValues:StringNotEquals one equal":   {"ForAllValues:StringNotEquals", "a", with("b", "a"), ImplicitDeny},
		"ForAnyValue:StringNotEquals one differs":  {"ForAnyValue:StringNotEquals", "a", with("a", "b"), Allowed},
		"ForAnyValue:StringNotEquals all equal":    {"ForAnyValue:StringNotEquals", "a", with("a", "a"), ImplicitDeny},
		"ForAnyValue:StringEqualsIfExists absent":  {"ForAnyValue:StringEqualsIfExists", "a", absent, Allowed},
		"Null true absent":                         {"Null", "true", absent, Allowed},
		"Null true present":                        {"Null", "true", with("x"), ImplicitDeny},
		"Null true empty set":                      {"Null", "true", with(), Allowed},
		"Null false absent":                        {"Null", "false", absent, ImplicitDeny},
		"Null false present":                       {"Null", "false", with("x"), Allowed},
		"StringEqualsIgnoreCase":                   {"StringEqualsIgnoreCase", "Tenant", with("tENANT"), Allowed},
		"StringNotEqualsIgnoreCase present":        {"StringNotEqualsIgnoreCase", "Tenant", with("tENANT"), ImplicitDeny},
		"StringEqualsIgnoreCase is not a wildcard": {"StringEqualsIgnoreCase", "T*", with("tx"), ImplicitDeny},
		"StringEquals star is literal":             {"StringEquals", "a*", with("a*"), Allowed},
		"StringEquals star does not match":         {"StringEquals", "a*", with("ab"), ImplicitDeny},
		"StringLike star":                          {"StringLike", "a*", with("ab"), Allowed},
		"NumericGreaterThan decimal":               {"NumericGreaterThan", "1.5", with("2"), Allowed},
		"NumericGreaterThanEquals equal":           {"NumericGreaterThanEquals", "2", with("2.0"), Allowed},
		"NumericLessThan false":                    {"NumericLessThan", "2", with("2"), ImplicitDeny},
		"NumericEquals":                            {"NumericEquals", "7", with("7"), Allowed},
		"NumericNotEquals present equal":           {"NumericNotEquals", "7", with("7"), ImplicitDeny},
		"DateLessThan ISO date":                    {"DateLessThan", "2030-01-01", with("2029-12-31T23:59:59Z"), Allowed},
		"DateLessThanEquals epoch vs ISO":          {"DateLessThanEquals", "2020-01-01T00:00:00Z", with("1577836800"), Allowed},
		"DateEquals zones":                         {"DateEquals", "2020-01-01T01:00:00+01:00", with("2020-01-01T00:00:00Z"), Allowed},
		"DateGreaterThanEquals":                    {"DateGreaterThanEquals", "2020-01-01T00:00:00Z", with("2019-01-01T00:00:00Z"), ImplicitDeny},
		"Bool true":                                {"Bool", "true", with("true"), Allowed},
		"Bool mismatch":                            {"Bool", "true", with("false"), ImplicitDeny},
		"IpAddress single address":                 {"IpAddress", "192.0.2.1", with("192.0.2.1"), Allowed},
		"IpAddress single address is /32":          {"IpAddress", "192.0.2.1", with("192.0.2.2"), ImplicitDeny},
		"NotIpAddress inside":                      {"NotIpAddress", "10.0.0.0/8", with("10.1.2.3"), ImplicitDeny},
		"NotIpAddress outside":                     {"NotIpAddress", "10.0.0.0/8", with("192.0.2.1"), Allowed},
		"IpAddress not an address":                 {"IpAddress", "10.0.0.0/8", with("host"), ImplicitDeny},
		"ArnLike service mismatch":                 {"ArnLike", "arn:aws:s3:::*", with("arn:aws:sqs:us-east-1:1:q"), ImplicitDeny},
		// IAM User Guide, "Policy variables with no value"
		// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value):
		// the variable's value "is effectively null. There is no equal or like
		// value", and "Inverted condition operators like StringNotEquals or
		// StringNotLike do match against a null value".
		"unresolved variable in negated operator":                           {"StringNotEquals", "${aws:PrincipalTag/none}", with("x"), Allowed},
		"resolved default variable negated":                                 {"StringNotEquals", "${aws:PrincipalTag/none, 'y'}", with("x"), Allowed},
		"unresolved variable in positive operator":                          {"StringEquals", "${aws:PrincipalTag/none}", with(""), ImplicitDeny},
		"unterminated variable is literal":                                  {"StringEquals", "${aws:username", with("${aws:username"), Allowed},
		"malformed default matches nothing":                                 {"StringEquals", "${aws:userid, anonymous}", with("anonymous"), ImplicitDeny},
		"unqualified positive on one value":                                 {"StringEquals", "a", with("a"), Allowed},
		"unqualified positive on several values is undefined: fails closed": {"StringEquals", "a", with("b", "a"), ImplicitDeny},
		"unqualified positive on several equal values fails closed":         {"StringEquals", "a", with("a", "a"), ImplicitDeny},
		"unqualified negated on several values, one equal":                  {"StringNotEquals", "a", with("b", "a"), ImplicitDeny},
		"unqualified negated on several values, none equal: fails closed":   {"StringNotEquals", "a", with("b", "c"), ImplicitDeny},
		"unqualified IfExists on several values fails closed":               {"StringNotEqualsIfExists", "a", with("b", "c"), ImplicitDeny},
		"unqualified negated on an empty set is true, as if absent":         {"StringNotEquals", "a", with(), Allowed},
		"Bool with a variable resolves":                                     {"Bool", "${svc:flag, 'true'}", with("true"), Allowed},
		"Bool with an unresolved variable is false":                         {"Bool", "${svc:flag}", with("true"), ImplicitDeny},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := mustParse(t, "p", policy(tc.op, tc.value))
			got := Evaluate(tc.req, Input{Identity: []*Policy{p}})
			if got.Outcome != tc.want {
				t.Errorf("%s %q on %v: got %s, want %s (%s)", tc.op, tc.value, tc.req.Context, got.Outcome, tc.want, got.Reason)
			}
		})
	}
}

// NOR for negated multi-values, OR for values, AND across keys and
// operators ("Creating a condition with multiple context keys or values",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
func TestEvaluateConditionLogic(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"svc:Do","Resource":"*","Condition":{
	  "StringEquals": {"aws:PrincipalTag/team": ["red", "blue"], "aws:PrincipalTag/env": "prod"},
	  "StringNotEquals": {"aws:PrincipalTag/role": ["intern", "contractor"]},
	  "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}
	}}}`
	p := mustParse(t, "logic", doc)
	base := func() map[string][]string {
		return map[string][]string{
			"aws:PrincipalTag/team": {"blue"}, "aws:PrincipalTag/env": {"prod"},
			"aws:PrincipalTag/role": {"engineer"}, "aws:CurrentTime": {"2024-05-01T00:00:00Z"},
		}
	}
	cases := map[string]struct {
		edit func(map[string][]string)
		want Outcome
	}{
		"all true":                        {func(map[string][]string) {}, Allowed},
		"OR over values: red":             {func(m map[string][]string) { m["aws:PrincipalTag/team"] = []string{"red"} }, Allowed},
		"OR over values: green":           {func(m map[string][]string) { m["aws:PrincipalTag/team"] = []string{"green"} }, ImplicitDeny},
		"AND across keys":                 {func(m map[string][]string) { m["aws:PrincipalTag/env"] = []string{"dev"} }, ImplicitDeny},
		"NOR over negated values: intern": {func(m map[string][]string) { m["aws:PrincipalTag/role"] = []string{"intern"} }, ImplicitDeny},
		"NOR over negated values: contractor": {func(m map[string][]string) { m["aws:PrincipalTag/role"] = []string{"contractor"} },
			ImplicitDeny},
		"negated absent key":      {func(m map[string][]string) { delete(m, "aws:PrincipalTag/role") }, Allowed},
		"AND across operators":    {func(m map[string][]string) { m["aws:CurrentTime"] = []string{"2019-05-01T00:00:00Z"} }, ImplicitDeny},
		"absent positive key":     {func(m map[string][]string) { delete(m, "aws:PrincipalTag/team") }, ImplicitDeny},
		"unparsable request date": {func(m map[string][]string) { m["aws:CurrentTime"] = []string{"yesterday"} }, ImplicitDeny},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			got := Evaluate(Request{Principal: session, Action: "svc:Do", Resource: "x", Context: m}, Input{Identity: []*Policy{p}})
			if got.Outcome != tc.want {
				t.Errorf("got %s, want %s (%s)", got.Outcome, tc.want, got.Reason)
			}
		})
	}
}

// Evaluation logic with session policies and AWS's AccessDenied wording
// ("Policy evaluation logic",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html;
// "Session policies", https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session;
// "Troubleshoot access denied error messages",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
func TestDenialMessage(t *testing.T) {
	role := mustParse(t, "role", rolePolicy)
	sess := mustParse(t, "session", tenantPolicy(t, "Tenant#1", readActions, []string{tableARN, tableARN + "/index/*"}, true))
	denyRole := mustParse(t, "deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},{"Effect":"Deny","Action":"dynamodb:DeleteTable","Resource":"*"}]}`)
	denySession := mustParse(t, "denysession", `{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Action":"dynamodb:*","Resource":"*"}}`)
	cases := map[string]struct {
		req  Request
		in   Input
		want string
	}{
		"implicit deny in the session policy": {
			req:  ddb("dynamodb:Query", tableARN, "Tenant#2"),
			in:   Input{Identity: []*Policy{role}, Session: []*Policy{sess}},
			want: "User: " + session + " is not authorized to perform: dynamodb:Query on resource: " + tableARN + " because no session policy allows the dynamodb:Query action",
		},
		"implicit deny in the identity policy, checked first": {
			req:  ddb("dynamodb:DeleteTable", tableARN),
			in:   Input{Identity: []*Policy{role}, Session: []*Policy{sess}},
			want: "User: " + session + " is not authorized to perform: dynamodb:DeleteTable on resource: " + tableARN + " because no identity-based policy allows the dynamodb:DeleteTable action",
		},
		"explicit deny in an identity-based policy": {
			req:  ddb("dynamodb:DeleteTable", tableARN),
			in:   Input{Identity: []*Policy{denyRole}},
			want: "User: " + session + " is not authorized to perform: dynamodb:DeleteTable on resource: " + tableARN + " with an explicit deny in an identity-based policy",
		},
		"explicit deny in a session policy": {
			req:  ddb("dynamodb:GetItem", indexARN, "Tenant#1"),
			in:   Input{Identity: []*Policy{role}, Session: []*Policy{sess, denySession}},
			want: "User: " + session + " is not authorized to perform: dynamodb:GetItem on resource: " + indexARN + " with an explicit deny in a session policy",
		},
		"allowed": {
			req:  ddb("dynamodb:GetItem", tableARN, "Tenant#1"),
			in:   Input{Identity: []*Policy{role}, Session: []*Policy{sess}},
			want: "",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Evaluate(tc.req, tc.in)
			if got := d.DenialMessage(tc.req); got != tc.want {
				t.Errorf("DenialMessage:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecisionNamesTheStatement(t *testing.T) {
	role := mustParse(t, "role", rolePolicy)
	sess := mustParse(t, "tenant session", tenantPolicy(t, "Tenant#1", readActions, []string{tableARN}, true))
	cases := map[string]struct {
		req  Request
		want Decision
		// reasonHas lists substrings the Reason must contain.
		reasonHas []string
	}{
		"allow names the session statement": {
			req:       ddb("dynamodb:GetItem", tableARN, "Tenant#1"),
			want:      Decision{Outcome: Allowed, Kind: SessionPolicy, Policy: "tenant session", Statement: 0, Sid: "TenantItems"},
			reasonHas: []string{`"TenantItems"`, `"tenant session"`, `"ReadTable"`},
		},
		"implicit deny explains the failed condition": {
			req:       ddb("dynamodb:GetItem", tableARN, "Tenant#2"),
			want:      Decision{Outcome: ImplicitDeny, Kind: SessionPolicy, Statement: -1},
			reasonHas: []string{"ForAllValues:StringEquals", leading, "no session policy allows dynamodb:GetItem"},
		},
		"implicit deny in the role": {
			req:       ddb("dynamodb:PutItem", tableARN, "Tenant#1"),
			want:      Decision{Outcome: ImplicitDeny, Kind: IdentityPolicy, Statement: -1},
			reasonHas: []string{"no identity-based policy allows dynamodb:PutItem"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Evaluate(tc.req, Input{Identity: []*Policy{role}, Session: []*Policy{sess}})
			reason := got.Explain()
			exported := Decision{Outcome: got.Outcome, Kind: got.Kind, Policy: got.Policy, Statement: got.Statement, Sid: got.Sid}
			if exported != tc.want {
				t.Errorf("Decision = %+v, want %+v", exported, tc.want)
			}
			for _, s := range tc.reasonHas {
				if !strings.Contains(reason, s) {
					t.Errorf("Explain() %q does not contain %q", reason, s)
				}
			}
		})
	}
}

// Trust policies: principal matching for sts:AssumeRole.
func TestEvaluateTrustPolicy(t *testing.T) {
	trust := func(principal string) *Policy {
		p, err := ParseTrustPolicy("trust", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":`+principal+
			`,"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const broker = "arn:aws:iam::123456789012:user/broker"
	const roleARN = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	cases := map[string]struct {
		principal string
		caller    string
		action    string
		want      Outcome
	}{
		"named user":                       {`{"AWS":"` + broker + `"}`, broker, "sts:AssumeRole", Allowed},
		"named user list":                  {`{"AWS":["arn:aws:iam::123456789012:user/x","` + broker + `"]}`, broker, "sts:TagSession", Allowed},
		"other user":                       {`{"AWS":"` + broker + `"}`, "arn:aws:iam::123456789012:user/admin", "sts:AssumeRole", ImplicitDeny},
		"account root matches any":         {`{"AWS":"arn:aws:iam::123456789012:root"}`, "arn:aws:iam::123456789012:user/admin", "sts:AssumeRole", Allowed},
		"account id matches any":           {`{"AWS":"123456789012"}`, broker, "sts:AssumeRole", Allowed},
		"other account root":               {`{"AWS":"arn:aws:iam::999999999999:root"}`, broker, "sts:AssumeRole", ImplicitDeny},
		"wildcard":                         {`"*"`, "arn:aws:iam::999999999999:user/x", "sts:AssumeRole", Allowed},
		"AWS wildcard":                     {`{"AWS":"*"}`, "arn:aws:iam::999999999999:user/x", "sts:AssumeRole", Allowed},
		"role ARN matches its sessions":    {`{"AWS":"arn:aws:iam::123456789012:role/path/chain"}`, "arn:aws:sts::123456789012:assumed-role/chain/s1", "sts:AssumeRole", Allowed},
		"role ARN other role's session":    {`{"AWS":"arn:aws:iam::123456789012:role/chain"}`, "arn:aws:sts::123456789012:assumed-role/other/s1", "sts:AssumeRole", ImplicitDeny},
		"service principal":                {`{"Service":"lambda.amazonaws.com"}`, "lambda.amazonaws.com", "sts:AssumeRole", Allowed},
		"federated principal":              {`{"Federated":"arn:aws:iam::123456789012:oidc-provider/idp"}`, "arn:aws:iam::123456789012:oidc-provider/idp", "sts:AssumeRole", Allowed},
		"action not in the trust policy":   {`{"AWS":"` + broker + `"}`, broker, "sts:AssumeRoleWithWebIdentity", ImplicitDeny},
		"root string is not a user suffix": {`{"AWS":"arn:aws:iam::123456789012:root"}`, "arn:aws:iam::999999999999:user/root", "sts:AssumeRole", ImplicitDeny},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := Request{Principal: tc.caller, Action: tc.action, Resource: roleARN}
			d := EvaluateResourcePolicy(req, []*Policy{trust(tc.principal)})
			if d.Outcome != tc.want {
				t.Fatalf("got %s, want %s (%s)", d.Outcome, tc.want, d.Reason)
			}
			if d.Kind != ResourcePolicy {
				t.Errorf("Kind = %q", d.Kind)
			}
		})
	}
	t.Run("NotPrincipal deny", func(t *testing.T) {
		p, err := ParseTrustPolicy("trust", []byte(`{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
		  {"Sid":"OnlyBroker","Effect":"Deny","NotPrincipal":{"AWS":"`+broker+`"},"Action":"sts:AssumeRole"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		for caller, want := range map[string]Outcome{broker: Allowed, "arn:aws:iam::123456789012:user/admin": ExplicitDeny} {
			d := EvaluateResourcePolicy(Request{Principal: caller, Action: "sts:AssumeRole", Resource: roleARN}, []*Policy{p})
			if d.Outcome != want {
				t.Errorf("%s: got %s, want %s", caller, d.Outcome, want)
			}
		}
	})
}

// Hand-built policies can carry operators Parse would reject: evaluation
// must fail closed (an Allow does not apply, a Deny does).
func TestEvaluateUnknownOperatorFailsClosed(t *testing.T) {
	bad := []Condition{{Operator: "StringEqualz", Key: "svc:k", Values: []string{"a"}}}
	allow := &Policy{Name: "hand", Statements: []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}, Conditions: bad}}}
	deny := &Policy{Name: "hand", Statements: []Statement{
		{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}},
		{Effect: Deny, Action: []string{"*"}, Resource: []string{"*"}, Conditions: bad},
	}}
	req := Request{Principal: session, Action: "svc:Do", Resource: "x", Context: ctx("svc:k", "a")}
	if d := Evaluate(req, Input{Identity: []*Policy{allow}}); d.Outcome != ImplicitDeny {
		t.Errorf("allow with unknown operator: %s", d.Outcome)
	}
	if d := Evaluate(req, Input{Identity: []*Policy{deny}}); d.Outcome != ExplicitDeny {
		t.Errorf("deny with unknown operator: %s", d.Outcome)
	}
	if d := Evaluate(req, Input{Identity: []*Policy{nil, deny}}); d.Outcome != ExplicitDeny {
		t.Errorf("nil policy entry: %s", d.Outcome)
	}
}
