package policies_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/s3"
	"github.com/tvmkit/tvm/policies/targets"
)

// TestLintFixtures loads every template in testdata/lint (named RULE.json or
// RULE--VARIANT.json) and checks it is refused by exactly that rule.
func TestLintFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lint", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		base := strings.TrimSuffix(filepath.Base(file), ".json")
		rule, _, _ := strings.Cut(base, "--")
		covered[rule] = true
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = policies.ParseTemplate(base, file, data, targets.All())
			var le *policies.LintError
			if !errors.As(err, &le) {
				t.Fatalf("ParseTemplate err = %v, want a *LintError", err)
			}
			if le.Rule != rule {
				t.Fatalf("rule = %s, want %s (%v)", le.Rule, rule, err)
			}
			if !strings.Contains(err.Error(), "["+rule+"]") {
				t.Errorf("Error() %q does not name the rule", err)
			}
		})
	}
	for _, rule := range policies.Rules(targets.All()...) {
		if !covered[rule] {
			t.Errorf("rule %s has no fixture in testdata/lint", rule)
		}
	}
}

const (
	goodCond  = `"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"]},"Null":{"dynamodb:LeadingKeys":"false"}}`
	tableRes  = `"Resource":["` + demoTable + `","` + demoTable + `/index/*"]`
	queryStmt = `{"Sid":"Read","Effect":"Allow","Action":"dynamodb:Query",` + tableRes + `,` + goodCond + `}`
)

func policy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// TestLint checks rendered policies directly, including the statement, Sid
// and offending text each finding names.
func TestLint(t *testing.T) {
	tests := map[string]struct {
		doc       string
		rule      string // "" = passes
		statement int
		sid, text string
		targets   []policies.Target // nil = targets.All()
	}{
		"shipped shape passes": {doc: policy(queryStmt)},
		"deny statements are not checked": {doc: policy(queryStmt,
			`{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"StringLike":{"dynamodb:LeadingKeys":"x*"}}}`)},
		// Issue 14, hole 1: grants outside every target are judged.
		"non-DynamoDB allow on every bucket": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`),
			rule: policies.RuleUnknownAction, statement: 1, text: "s3:GetObject", targets: []policies.Target{dynamodb.Target}},
		"S3 allow on every bucket, judged by the S3 target": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`),
			rule: s3.RuleResource, statement: 1, text: "*"},
		"another service on every resource": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}`),
			rule: policies.RuleUnknownAction, statement: 1, text: "sqs:SendMessage"},
		"sts:AssumeRole on every role": {doc: policy(queryStmt, `{"Sid":"Chain","Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`),
			rule: policies.RuleUnknownAction, statement: 1, sid: "Chain", text: "sts:AssumeRole"},
		"sts:* on a named role": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"sts:*","Resource":"arn:aws:iam::123456789012:role/x"}`),
			rule: policies.RuleUnknownAction, statement: 1, text: "sts:*"},
		"cross-service wildcard": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/k"}`),
			rule: dynamodb.RuleKeylessAction, statement: 1, text: "*"},
		"cross-service wildcard, without targets": {doc: policy(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/k"}`),
			rule: policies.RuleUnknownAction, statement: 0, text: "*", targets: []policies.Target{}},
		"another service's action on a named resource is left for the profile": {doc: policy(queryStmt,
			`{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:audit"}`)},
		// Issue 14, hole 2: resources written into a template.
		"region and account wildcards": {doc: policy(strings.Replace(queryStmt, `"Resource":["`+demoTable+`",`, `"Resource":["arn:aws:dynamodb:*:*:table/tvm-demo",`, 1)),
			rule: policies.RuleResourceScope, statement: 0, sid: "Read", text: "arn:aws:dynamodb:*:*:table/tvm-demo"},
		"partition variable": {doc: policy(strings.Replace(queryStmt, `"Resource":["`+demoTable+`",`, `"Resource":["arn:${aws:PrincipalTag/p}:dynamodb:us-east-1:123456789012:table/t",`, 1)),
			rule: policies.RuleResourceScope, statement: 0, sid: "Read"},
		"keyed wildcard passes": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:*Item",` + tableRes + `,` + goodCond + `}`)},
		"indented input passes": {doc: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": " + queryStmt + "\n}"},
		"latin-1 passes":        {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#é", 1))},
		"not JSON":              {doc: `{"Version"`, rule: policies.RuleInvalidJSON, statement: -1},
		"empty":                 {doc: ``, rule: policies.RuleInvalidJSON, statement: -1},
		"duplicate key":         {doc: `{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}`, rule: policies.RuleInvalidJSON, statement: -1},
		"array top level":       {doc: `[]`, rule: policies.RuleParse, statement: -1},
		"charset raw":           {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#\u2028", 1)), rule: policies.RuleCharset, statement: -1, text: "\u2028"},
		"charset escaped":       {doc: policy(strings.Replace(queryStmt, "Tenant#1", `Tenant#\u0001`, 1)), rule: policies.RuleCharset, statement: -1, text: "Tenant#\x01"},
		"invalid UTF-8":         {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#\xff", 1)), rule: policies.RuleCharset, statement: -1},
		"size":                  {doc: policy(queryStmt, strings.Repeat(`{"Effect":"Deny","Action":"s3:*","Resource":"*"},`, 40)+queryStmt), rule: policies.RuleSize, statement: -1},
		"notaction": {doc: policy(queryStmt, `{"Sid":"Nope","Effect":"Allow","NotAction":"s3:*",`+tableRes+`,`+goodCond+`}`),
			rule: dynamodb.RuleNotAction, statement: 1, sid: "Nope", text: "s3:*"},
		"notaction excluding all of dynamodb and s3 grants every other service": {doc: policy(queryStmt, `{"Effect":"Allow","NotAction":["dynamodb:*","s3:*","iam:*"],"Resource":"*"}`),
			rule: policies.RuleUnknownAction, statement: 1, text: "dynamodb:*,s3:*,iam:*"},
		"notaction excluding dynamodb grants S3": {doc: policy(queryStmt, `{"Effect":"Allow","NotAction":["dynamodb:*","iam:*"],"Resource":"*"}`),
			rule: s3.RuleNotAction, statement: 1, text: "dynamodb:*,iam:*"},
		"notresource": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:Query","NotResource":"arn:aws:s3:::x",` + goodCond + `}`),
			rule: dynamodb.RuleNotAction, statement: 0, text: "arn:aws:s3:::x"},
		"scan": {doc: policy(`{"Sid":"S","Effect":"Allow","Action":["dynamodb:Query","dynamodb:scan"],` + tableRes + `,` + goodCond + `}`),
			rule: dynamodb.RuleKeylessAction, statement: 0, sid: "S", text: "dynamodb:scan"},
		"question-mark wildcard reaching Scan": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:?can",` + tableRes + `,` + goodCond + `}`),
			rule: dynamodb.RuleKeylessAction, statement: 0, text: "dynamodb:?can"},
		"wildcard reaching a replication action": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:*rite*",` + tableRes + `,` + goodCond + `}`),
			rule: dynamodb.RuleKeylessAction, statement: 0, text: "dynamodb:*rite*"},
		"action star": {doc: policy(`{"Effect":"Allow","Action":"*",` + tableRes + `,` + goodCond + `}`),
			rule: dynamodb.RuleKeylessAction, statement: 0, text: "*"},
		"service wildcard refused by the parser": {doc: policy(`{"Effect":"Allow","Action":"dynamo*:*",` + tableRes + `,` + goodCond + `}`),
			rule: policies.RuleParse, statement: -1},
		"stringlike": {doc: policy(strings.Replace(queryStmt, "ForAllValues:StringEquals", "ForAllValues:StringLike", 1)),
			rule: dynamodb.RuleStringLikeWildcard, statement: 0, sid: "Read", text: "ForAllValues:StringLike Tenant#1"},
		"stringnotlike": {doc: policy(strings.Replace(queryStmt, `"Null"`, `"ForAnyValue:StringNotLike":{"dynamodb:LeadingKeys":"x"},"Null"`, 1)),
			rule: dynamodb.RuleStringLikeWildcard, statement: 0, sid: "Read"},
		"lower-case key name still checked": {doc: policy(strings.Replace(queryStmt, `"ForAllValues:StringEquals":{"dynamodb:LeadingKeys"`, `"StringEquals":{"DynamoDB:leadingkeys"`, 1)),
			rule: dynamodb.RuleLeadingKeysOperator, statement: 0, sid: "Read", text: "StringEquals"},
		"ifexists operator": {doc: policy(strings.Replace(queryStmt, "ForAllValues:StringEquals", "ForAllValues:StringEqualsIfExists", 1)),
			rule: dynamodb.RuleLeadingKeysOperator, statement: 0, sid: "Read", text: "ForAllValues:StringEqualsIfExists"},
		"variable": {doc: policy(strings.Replace(queryStmt, `["Tenant#1"]`, `["${aws:username}"]`, 1)),
			rule: dynamodb.RuleVariables, statement: 0, sid: "Read", text: "${aws:username}"},
		"missing null guard": {doc: policy(strings.Replace(queryStmt, `,"Null":{"dynamodb:LeadingKeys":"false"}`, "", 1)),
			rule: dynamodb.RuleLeadingKeysCondition, statement: 0, sid: "Read", text: "dynamodb:Query"},
		"null guard true": {doc: policy(strings.Replace(queryStmt, `"Null":{"dynamodb:LeadingKeys":"false"}`, `"Null":{"dynamodb:LeadingKeys":"true"}`, 1)),
			rule: dynamodb.RuleLeadingKeysCondition, statement: 0, sid: "Read"},
		"empty equals list": {doc: policy(strings.Replace(queryStmt, `["Tenant#1"]`, `[]`, 1)),
			rule: policies.RuleParse, statement: -1},
		"unconditioned second statement": {doc: policy(queryStmt, `{"Sid":"Extra","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}`),
			rule: dynamodb.RuleLeadingKeysCondition, statement: 1, sid: "Extra", text: "dynamodb:GetItem"},
		"table/NAME/*": {doc: policy(strings.Replace(queryStmt, demoTable+"/index/*", demoTable+"/*", 1)),
			rule: dynamodb.RuleStreamWildcard, statement: 0, sid: "Read", text: demoTable + "/*"},
		"explicit stream": {doc: policy(strings.Replace(queryStmt, demoTable+"/index/*", demoTable+"/stream/*", 1)),
			rule: dynamodb.RuleStreamWildcard, statement: 0, sid: "Read"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			known := tc.targets
			if known == nil {
				known = targets.All()
			}
			err := policies.Lint([]byte(tc.doc), policies.LintOptions{Name: "test", Targets: known})
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Lint: %v", err)
				}
				return
			}
			var le *policies.LintError
			if !errors.As(err, &le) {
				t.Fatalf("Lint err = %v, want rule %s", err, tc.rule)
			}
			if le.Rule != tc.rule || le.Statement != tc.statement || le.Sid != tc.sid || (tc.text != "" && le.Text != tc.text) {
				t.Fatalf("got rule %s statement %d sid %q text %q (%v); want %s %d %q %q",
					le.Rule, le.Statement, le.Sid, le.Text, err, tc.rule, tc.statement, tc.sid, tc.text)
			}
			msg := err.Error()
			for _, want := range []string{"[" + tc.rule + "]", "test"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() %q lacks %q", msg, want)
				}
			}
			if tc.sid != "" && !strings.Contains(msg, `Sid "`+tc.sid+`"`) {
				t.Errorf("Error() %q does not name the Sid", msg)
			}
		})
	}
}

// FuzzLint: Lint never panics, and whatever it accepts is valid JSON within
// the size limit.
func FuzzLint(f *testing.F) {
	f.Add([]byte(policy(queryStmt)))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"a":1e999999}`))
	if files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json")); err == nil {
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := policies.Lint(doc, policies.LintOptions{Targets: targets.All()})
		if err == nil {
			if _, perr := policies.ParseTree(doc); perr != nil {
				t.Fatalf("Lint accepted invalid JSON: %v", perr)
			}
			return
		}
		var le *policies.LintError
		if !errors.As(err, &le) || !slices.Contains(policies.Rules(targets.All()...), le.Rule) {
			t.Fatalf("Lint returned %v, not a *LintError with a known rule", err)
		}
	})
}
