package policies

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
			_, err = ParseTemplate(base, file, data)
			var le *LintError
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
	for _, rule := range Rules() {
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
	}{
		"shipped shape passes": {doc: policy(queryStmt)},
		"deny statements are not checked": {doc: policy(queryStmt,
			`{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"StringLike":{"dynamodb:LeadingKeys":"x*"}}}`)},
		"non-DynamoDB allow passes": {doc: policy(queryStmt, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)},
		"keyed wildcard passes":     {doc: policy(`{"Effect":"Allow","Action":"dynamodb:*Item",` + tableRes + `,` + goodCond + `}`)},
		"indented input passes":     {doc: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": " + queryStmt + "\n}"},
		"latin-1 passes":            {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#é", 1))},
		"not JSON":                  {doc: `{"Version"`, rule: RuleInvalidJSON, statement: -1},
		"empty":                     {doc: ``, rule: RuleInvalidJSON, statement: -1},
		"duplicate key":             {doc: `{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}`, rule: RuleInvalidJSON, statement: -1},
		"array top level":           {doc: `[]`, rule: RuleParse, statement: -1},
		"charset raw":               {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#\u2028", 1)), rule: RuleCharset, statement: -1, text: "\u2028"},
		"charset escaped":           {doc: policy(strings.Replace(queryStmt, "Tenant#1", `Tenant#\u0001`, 1)), rule: RuleCharset, statement: -1, text: "Tenant#\x01"},
		"invalid UTF-8":             {doc: policy(strings.Replace(queryStmt, "Tenant#1", "Tenant#\xff", 1)), rule: RuleCharset, statement: -1},
		"size":                      {doc: policy(queryStmt, strings.Repeat(`{"Effect":"Deny","Action":"s3:*","Resource":"*"},`, 40)+queryStmt), rule: RuleSize, statement: -1},
		"notaction": {doc: policy(queryStmt, `{"Sid":"Nope","Effect":"Allow","NotAction":"s3:*",`+tableRes+`,`+goodCond+`}`),
			rule: RuleNotAction, statement: 1, sid: "Nope", text: "s3:*"},
		"notaction excluding all of dynamodb passes": {doc: policy(queryStmt, `{"Effect":"Allow","NotAction":["dynamodb:*","iam:*"],"Resource":"*"}`)},
		"notresource": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:Query","NotResource":"arn:aws:s3:::x",` + goodCond + `}`),
			rule: RuleNotAction, statement: 0, text: "arn:aws:s3:::x"},
		"scan": {doc: policy(`{"Sid":"S","Effect":"Allow","Action":["dynamodb:Query","dynamodb:scan"],` + tableRes + `,` + goodCond + `}`),
			rule: RuleKeylessAction, statement: 0, sid: "S", text: "dynamodb:scan"},
		"question-mark wildcard reaching Scan": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:?can",` + tableRes + `,` + goodCond + `}`),
			rule: RuleKeylessAction, statement: 0, text: "dynamodb:?can"},
		"wildcard reaching a replication action": {doc: policy(`{"Effect":"Allow","Action":"dynamodb:*rite*",` + tableRes + `,` + goodCond + `}`),
			rule: RuleKeylessAction, statement: 0, text: "dynamodb:*rite*"},
		"action star": {doc: policy(`{"Effect":"Allow","Action":"*",` + tableRes + `,` + goodCond + `}`),
			rule: RuleKeylessAction, statement: 0, text: "*"},
		"service wildcard refused by the parser": {doc: policy(`{"Effect":"Allow","Action":"dynamo*:*",` + tableRes + `,` + goodCond + `}`),
			rule: RuleParse, statement: -1},
		"stringlike": {doc: policy(strings.Replace(queryStmt, "ForAllValues:StringEquals", "ForAllValues:StringLike", 1)),
			rule: RuleStringLikeWildcard, statement: 0, sid: "Read", text: "ForAllValues:StringLike Tenant#1"},
		"stringnotlike": {doc: policy(strings.Replace(queryStmt, `"Null"`, `"ForAnyValue:StringNotLike":{"dynamodb:LeadingKeys":"x"},"Null"`, 1)),
			rule: RuleStringLikeWildcard, statement: 0, sid: "Read"},
		"lower-case key name still checked": {doc: policy(strings.Replace(queryStmt, `"ForAllValues:StringEquals":{"dynamodb:LeadingKeys"`, `"StringEquals":{"DynamoDB:leadingkeys"`, 1)),
			rule: RuleLeadingKeysOperator, statement: 0, sid: "Read", text: "StringEquals"},
		"ifexists operator": {doc: policy(strings.Replace(queryStmt, "ForAllValues:StringEquals", "ForAllValues:StringEqualsIfExists", 1)),
			rule: RuleLeadingKeysOperator, statement: 0, sid: "Read", text: "ForAllValues:StringEqualsIfExists"},
		"variable": {doc: policy(strings.Replace(queryStmt, `["Tenant#1"]`, `["${aws:username}"]`, 1)),
			rule: RuleVariables, statement: 0, sid: "Read", text: "${aws:username}"},
		"missing null guard": {doc: policy(strings.Replace(queryStmt, `,"Null":{"dynamodb:LeadingKeys":"false"}`, "", 1)),
			rule: RuleLeadingKeysCondition, statement: 0, sid: "Read", text: "dynamodb:Query"},
		"null guard true": {doc: policy(strings.Replace(queryStmt, `"Null":{"dynamodb:LeadingKeys":"false"}`, `"Null":{"dynamodb:LeadingKeys":"true"}`, 1)),
			rule: RuleLeadingKeysCondition, statement: 0, sid: "Read"},
		"empty equals list": {doc: policy(strings.Replace(queryStmt, `["Tenant#1"]`, `[]`, 1)),
			rule: RuleParse, statement: -1},
		"unconditioned second statement": {doc: policy(queryStmt, `{"Sid":"Extra","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}`),
			rule: RuleLeadingKeysCondition, statement: 1, sid: "Extra", text: "dynamodb:GetItem"},
		"table/NAME/*": {doc: policy(strings.Replace(queryStmt, demoTable+"/index/*", demoTable+"/*", 1)),
			rule: RuleStreamWildcard, statement: 0, sid: "Read", text: demoTable + "/*"},
		"explicit stream": {doc: policy(strings.Replace(queryStmt, demoTable+"/index/*", demoTable+"/stream/*", 1)),
			rule: RuleStreamWildcard, statement: 0, sid: "Read"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Lint([]byte(tc.doc), LintOptions{Name: "test"})
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Lint: %v", err)
				}
				return
			}
			var le *LintError
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

func TestLintMaxSize(t *testing.T) {
	doc := []byte(policy(queryStmt))
	var le *LintError
	if err := Lint(doc, LintOptions{MaxSize: 100}); !errors.As(err, &le) || le.Rule != RuleSize {
		t.Errorf("MaxSize 100: err = %v, want rule size", err)
	}
	if err := Lint(doc, LintOptions{MaxSize: 1 << 20}); err != nil {
		t.Errorf("MaxSize above the STS limit: %v", err)
	}
	big := []byte(policy(queryStmt, strings.Repeat(`{"Effect":"Deny","Action":"s3:*","Resource":"*"},`, 40)+queryStmt))
	if err := Lint(big, LintOptions{MaxSize: 1 << 20}); !errors.As(err, &le) || le.Rule != RuleSize {
		t.Errorf("MaxSize cannot loosen the STS limit: err = %v", err)
	}
}

func TestMatchesStreams(t *testing.T) {
	tests := map[string]bool{
		"*":                             true,
		"arn:aws:dynamodb:*":            true,
		"arn:aws:dynamodb:*:*:*":        true,
		"arn:aws:dynamodb:*:*:table/*":  true,
		demoTable + "*":                 true,
		demoTable + "/*":                true,
		demoTable + "/s*":               true,
		demoTable + "/stream/*":         true,
		demoTable + "/strea?/*":         true,
		demoTable + "/*/x":              true,
		demoTable:                       false,
		demoTable + "/index/*":          false,
		demoTable + "/index/gsi":        false,
		demoTable + "/i*":               false,
		"arn:aws:dynamodb:*:*:table/t?": false,
		"arn:aws:dynamodb:us-east-1:123456789012:backup/*": false,
		"arn:aws:s3:::bucket/*":                            false,
	}
	for pattern, want := range tests {
		t.Run(pattern, func(t *testing.T) {
			if got := matchesStreams(pattern); got != want {
				t.Errorf("matchesStreams(%q) = %v, want %v", pattern, got, want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"dynamodb", "DynamoDB", true},
		{"dyn*", "dynamodb", true},
		{"*db", "dynamodb", true},
		{"d?namodb", "dynamodb", true},
		{"*", "", true},
		{"?", "", false},
		{"s3", "dynamodb", false},
		{"d*x*b", "dynamodb", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestKeyedActionsKnown keeps the two action tables consistent.
func TestKeyedActionsKnown(t *testing.T) {
	for a := range keyedActions {
		if !slices.Contains(dynamoDBActions, a) {
			t.Errorf("keyed action %s missing from dynamoDBActions", a)
		}
	}
	for _, a := range writeActions {
		if !keyedActions[a] {
			t.Errorf("write action %s is not keyed", a)
		}
	}
	if !slices.IsSorted(dynamoDBActions) {
		t.Error("dynamoDBActions is not sorted")
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
		err := Lint(doc, LintOptions{})
		if err == nil {
			if _, perr := parseTree(doc); perr != nil {
				t.Fatalf("Lint accepted invalid JSON: %v", perr)
			}
			return
		}
		var le *LintError
		if !errors.As(err, &le) || !slices.Contains(Rules(), le.Rule) {
			t.Fatalf("Lint returned %v, not a *LintError with a known rule", err)
		}
	})
}
