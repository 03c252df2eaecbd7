package s3

import (
	"errors"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
)

const (
	bucketARN = "arn:aws:s3:::" + demoBucket
	objARN    = bucketARN + "/tenants/1/*"
	objStmt   = `{"Sid":"Obj","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"` + objARN + `"}`
	listStmt  = `{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"` + bucketARN + `",` +
		`"Condition":{"StringLike":{"s3:prefix":["tenants/1/","tenants/1/*"]}}}`
)

func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// listWith is listStmt with its Condition block replaced.
func listWith(cond string) string {
	return `{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"` + bucketARN + `","Condition":` + cond + `}`
}

func objOn(resource string) string {
	return `{"Sid":"Obj","Effect":"Allow","Action":"s3:GetObject","Resource":"` + resource + `"}`
}

// TestLint checks policies through policies.Lint with the S3 target's
// rules: the rule, the statement and the offending text of each finding.
func TestLint(t *testing.T) {
	tests := map[string]struct {
		doc       string
		rule      string // "" = passes
		statement int
		text      string
	}{
		"shipped shape":          {doc: doc(objStmt, listStmt)},
		"one statement for both": {doc: doc(`{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["` + bucketARN + `","` + objARN + `"],"Condition":{"StringLike":{"s3:prefix":"tenants/1/*"}}}`)},
		"exact object":           {doc: doc(objOn(bucketARN + "/tenants/1/report.csv"))},
		"list versions":          {doc: doc(strings.Replace(listStmt, "s3:ListBucket", "s3:ListBucketVersions", 1))},
		"string equals prefix":   {doc: doc(listWith(`{"StringEquals":{"s3:prefix":"tenants/1/"}}`))},
		// What {{s3_prefixes}} renders to: under StringEquals "*" is a
		// literal character, so "tenants/1/*" names a prefix inside tenants/1/.
		"string equals placeholder values": {doc: doc(listWith(`{"StringEquals":{"s3:prefix":["tenants/1/","tenants/1/*"]}}`))},
		"string equals star without slash": {doc: doc(listWith(`{"StringEquals":{"s3:prefix":"tenants/1*"}}`)), rule: RuleDelimiter, text: "tenants/1*"},
		"object wildcard inside":           {doc: doc(`{"Effect":"Allow","Action":"s3:GetObject*","Resource":"` + objARN + `"}`)},
		"other service":                    {doc: doc(objStmt, `{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}`), rule: policies.RuleUnknownAction, statement: 1, text: "sqs:SendMessage"},
		"other service, named queue":       {doc: doc(objStmt, `{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:audit"}`)},
		"deny is not checked":              {doc: doc(objStmt, `{"Effect":"Deny","Action":"s3:*","Resource":"*"}`)},
		"bucket ARN on object act":         {doc: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":["` + bucketARN + `","` + objARN + `"]}`)},
		"dynamodb resource beside":         {doc: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:dynamodb:us-east-1:123456789012:table/t","` + objARN + `"]}`)},
		"extra narrowing condition":        {doc: doc(listWith(`{"StringLike":{"s3:prefix":"tenants/1/*"},"StringEquals":{"s3:delimiter":"/"}}`))},
		"notaction": {doc: doc(`{"Sid":"N","Effect":"Allow","NotAction":"s3:PutBucketPolicy","Resource":"` + objARN + `"}`),
			rule: RuleNotAction, text: "s3:PutBucketPolicy"},
		"notaction excluding s3 grants every other service": {doc: doc(objStmt, `{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}`),
			rule: policies.RuleUnknownAction, statement: 1, text: "s3:*"},
		"notresource": {doc: doc(`{"Effect":"Allow","Action":"s3:GetObject","NotResource":"` + bucketARN + `/tenants/2/*"}`),
			rule: RuleNotAction, text: bucketARN + "/tenants/2/*"},
		"s3 star":           {doc: doc(`{"Effect":"Allow","Action":"s3:*","Resource":"` + objARN + `"}`), rule: RuleAction, text: "s3:*"},
		"star":              {doc: doc(`{"Effect":"Allow","Action":"*","Resource":"` + objARN + `"}`), rule: RuleAction, text: "*"},
		"put wildcard":      {doc: doc(`{"Effect":"Allow","Action":"s3:Put*","Resource":"` + objARN + `"}`), rule: RuleAction, text: "s3:Put*"},
		"question wildcard": {doc: doc(`{"Effect":"Allow","Action":"s3:?etBucketPolicy","Resource":"` + objARN + `"}`), rule: RuleAction},
		"unknown action":    {doc: doc(objStmt, `{"Effect":"Allow","Action":"s3:ReadObject","Resource":"`+objARN+`"}`), rule: RuleAction, statement: 1, text: "s3:ReadObject"},
		"list multipart": {doc: doc(`{"Effect":"Allow","Action":"s3:ListBucketMultipartUploads","Resource":"` + bucketARN + `"}`),
			rule: RuleListMultipart, text: "s3:ListBucketMultipartUploads"},
		"bucket policy": {doc: doc(`{"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":"` + bucketARN + `"}`),
			rule: RuleBucketAction, text: "s3:PutBucketPolicy"},
		"lifecycle": {doc: doc(`{"Effect":"Allow","Action":"s3:PutLifecycleConfiguration","Resource":"` + bucketARN + `"}`),
			rule: RuleBucketAction},
		"bucket read": {doc: doc(`{"Effect":"Allow","Action":"s3:GetBucketLocation","Resource":"` + bucketARN + `"}`),
			rule: RuleBucketAction},
		"object acl write": {doc: doc(`{"Effect":"Allow","Action":"s3:PutObjectAcl","Resource":"` + objARN + `"}`),
			rule: RuleBucketAction, text: "s3:PutObjectAcl"},
		"list without condition": {doc: doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"` + bucketARN + `"}`), rule: RuleListPrefix},
		"list with another key":  {doc: doc(listWith(`{"StringEquals":{"s3:delimiter":"/"}}`)), rule: RuleListPrefix},
		"ifexists":               {doc: doc(listWith(`{"StringLikeIfExists":{"s3:prefix":"tenants/1/*"}}`)), rule: RuleListPrefix, text: "StringLikeIfExists"},
		"for any value":          {doc: doc(listWith(`{"ForAnyValue:StringLike":{"s3:prefix":"tenants/1/*"}}`)), rule: RuleListPrefix},
		"negated beside":         {doc: doc(listWith(`{"StringLike":{"s3:prefix":"tenants/1/*"},"StringNotLike":{"s3:prefix":"x/*"}}`)), rule: RuleListPrefix, text: "StringNotLike"},
		"empty prefix":           {doc: doc(listWith(`{"StringLike":{"s3:prefix":["tenants/1/*",""]}}`)), rule: RuleListPrefix, text: ""},
		"bare wildcard prefix":   {doc: doc(listWith(`{"StringLike":{"s3:prefix":"*"}}`)), rule: RuleListPrefix, text: "*"},
		"inner wildcard prefix":  {doc: doc(listWith(`{"StringLike":{"s3:prefix":"tenants/*/x/"}}`)), rule: RuleListPrefix},
		"key name case":          {doc: doc(listWith(`{"StringLike":{"S3:Prefix":"tenants/1*"}}`)), rule: RuleDelimiter, text: "tenants/1*"},
		"prefix trap":            {doc: doc(listWith(`{"StringLike":{"s3:prefix":["tenants/1","tenants/1*"]}}`)), rule: RuleDelimiter, text: "tenants/1"},
		"equals without slash":   {doc: doc(listWith(`{"StringEquals":{"s3:prefix":"tenants/1"}}`)), rule: RuleDelimiter},
		"list wildcard bucket": {doc: doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::tvm-*","Condition":{"StringLike":{"s3:prefix":"tenants/1/*"}}}`),
			rule: RuleListPrefix, text: "arn:aws:s3:::tvm-*"},
		"list star resource": {doc: doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":"tenants/1/*"}}}`),
			rule: RuleListPrefix, text: "*"},
		"variable in prefix":   {doc: doc(listWith(`{"StringLike":{"s3:prefix":"tenants/${aws:PrincipalTag/tenant}/*"}}`)), rule: RuleVariables},
		"variable in resource": {doc: doc(objOn(bucketARN + "/tenants/${aws:PrincipalTag/tenant}/*")), rule: RuleVariables},
		"star resource":        {doc: doc(objOn("*")), rule: RuleResource, text: "*"},
		"short star resource":  {doc: doc(objOn("arn:aws:s3*")), rule: policies.RuleParse, statement: -1},
		"whole bucket":         {doc: doc(objOn(bucketARN + "/*")), rule: RuleResource, text: bucketARN + "/*"},
		"bucket wildcard":      {doc: doc(objOn("arn:aws:s3:::tvm-*/tenants/1/*")), rule: RuleResource},
		"bucket wildcard only": {doc: doc(objOn("arn:aws:s3:::*")), rule: RuleResource},
		"inner key wildcard":   {doc: doc(objOn(bucketARN + "/tenants/*/files/*")), rule: RuleResource},
		"question in key":      {doc: doc(objOn(bucketARN + "/tenants/1?/*")), rule: RuleResource},
		"access point":         {doc: doc(objOn("arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/tenants/1/*")), rule: RuleResource},
		"service wildcard":     {doc: doc(objOn("arn:aws:s*:::b/tenants/1/*")), rule: policies.RuleParse, statement: -1},
		"partition wildcard":   {doc: doc(objOn("arn:*:s3:::" + demoBucket + "/tenants/1/*")), rule: policies.RuleResourceScope},
		"delimiter trap":       {doc: doc(objOn(bucketARN + "/tenants/1*")), rule: RuleDelimiter, text: bucketARN + "/tenants/1*"},
		"size": {doc: doc(objStmt, strings.Repeat(objOn(bucketARN+"/tenants/1/some/long/sub/folder/*")+",", 20)+listStmt),
			rule: policies.RuleSize, statement: -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := policies.Lint([]byte(tc.doc), policies.LintOptions{Name: "test", Targets: []policies.Target{Target}})
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
			if le.Rule != tc.rule || le.Statement != tc.statement || (tc.text != "" && le.Text != tc.text) {
				t.Fatalf("got rule %s statement %d text %q (%v); want %s %d %q", le.Rule, le.Statement, le.Text, err, tc.rule, tc.statement, tc.text)
			}
		})
	}
}

func TestMayMatchBucket(t *testing.T) {
	tests := map[string]bool{
		bucketARN:                  false,
		objARN:                     false,
		bucketARN + "/*":           false,
		"*":                        true,
		"arn:aws:s3:::*":           true,
		"arn:aws:s3:::tvm-*":       true,
		"arn:aws:s3:::t?m":         true,
		"arn:*:s3:::b":             false,
		"arn:aws:s3*":              true,
		"arn:aws:s3:::*/tenants/x": true,
		"arn:aws:dynamodb:*:*:*":   false,
		"arn:aws:s3:::b/x*":        false,
	}
	for r, want := range tests {
		if got := mayMatchBucket(r); got != want {
			t.Errorf("mayMatchBucket(%q) = %v, want %v", r, got, want)
		}
	}
}

// TestRulesOrder: Rules lists every rule once, and each rule has a test
// case above that finds it.
func TestRulesOrder(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Target.Rules() {
		if seen[r] || !strings.HasPrefix(r, "s3-") {
			t.Errorf("rule %q repeated or not prefixed s3-", r)
		}
		seen[r] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d rules, want 8", len(seen))
	}
}
