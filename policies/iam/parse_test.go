package iam

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreCompiled leaves the compiled patterns out of comparisons.
var ignoreCompiled = cmpopts.IgnoreUnexported(Statement{})

func TestParseShapes(t *testing.T) {
	cases := map[string]struct {
		doc  string
		want *Policy
	}{
		"single statement object and string values": {
			doc: `{"Version":"2012-10-17","Id":"p1","Statement":{"Sid":"S1","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:1:table/T"}}`,
			want: &Policy{Name: "p", Version: "2012-10-17", ID: "p1", Statements: []Statement{{
				Sid: "S1", Effect: Allow, Action: []string{"dynamodb:GetItem"}, Resource: []string{"arn:aws:dynamodb:us-east-1:1:table/T"},
			}}},
		},
		"statement array, NotAction and NotResource": {
			doc: `{"Version":"2008-10-17","Statement":[{"Effect":"Deny","NotAction":["s3:*","sqs:*"],"NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}`,
			want: &Policy{Name: "p", Version: "2008-10-17", Statements: []Statement{{
				Effect: Deny, NotAction: []string{"s3:*", "sqs:*"}, NotResource: []string{"arn:aws:s3:::b", "arn:aws:s3:::b/*"},
			}}},
		},
		"no Version": {
			doc:  `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			want: &Policy{Name: "p", Statements: []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}}}},
		},
		"condition values: string, array, bool, number; sorted by operator then key": {
			doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:Query","Resource":"*","Condition":{
			  "Null":{"dynamodb:LeadingKeys":false},
			  "ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"],"dynamodb:Attributes":"PK"},
			  "NumericLessThan":{"s3:max-keys":10},
			  "Bool":{"aws:SecureTransport":[true]}}}}`,
			want: &Policy{Name: "p", Version: "2012-10-17", Statements: []Statement{{
				Effect: Allow, Action: []string{"dynamodb:Query"}, Resource: []string{"*"},
				Conditions: []Condition{
					{Operator: "Bool", Key: "aws:SecureTransport", Values: []string{"true"}},
					{Operator: "ForAllValues:StringEquals", Key: "dynamodb:Attributes", Values: []string{"PK"}},
					{Operator: "ForAllValues:StringEquals", Key: "dynamodb:LeadingKeys", Values: []string{"Tenant#1"}},
					{Operator: "Null", Key: "dynamodb:LeadingKeys", Values: []string{"false"}},
					{Operator: "NumericLessThan", Key: "s3:max-keys", Values: []string{"10"}},
				},
			}}},
		},
		"every operator family with IfExists": {
			doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{
			  "StringNotEqualsIgnoreCaseIfExists":{"a:s":"x"},
			  "DateLessThanEqualsIfExists":{"a:d":"2020-01-01T00:00:00Z"},
			  "BinaryEqualsIfExists":{"a:b":"QQ=="},
			  "NotIpAddressIfExists":{"a:i":"10.0.0.0/8"},
			  "ArnNotLikeIfExists":{"a:a":"arn:aws:s3:::*"},
			  "ForAnyValue:NumericGreaterThanEqualsIfExists":{"a:n":"1"}}}}`,
			want: &Policy{Name: "p", Version: "2012-10-17", Statements: []Statement{{
				Effect: Allow, Action: []string{"a:b"}, Resource: []string{"*"},
				Conditions: []Condition{
					{Operator: "ArnNotLikeIfExists", Key: "a:a", Values: []string{"arn:aws:s3:::*"}},
					{Operator: "BinaryEqualsIfExists", Key: "a:b", Values: []string{"QQ=="}},
					{Operator: "DateLessThanEqualsIfExists", Key: "a:d", Values: []string{"2020-01-01T00:00:00Z"}},
					{Operator: "ForAnyValue:NumericGreaterThanEqualsIfExists", Key: "a:n", Values: []string{"1"}},
					{Operator: "NotIpAddressIfExists", Key: "a:i", Values: []string{"10.0.0.0/8"}},
					{Operator: "StringNotEqualsIgnoreCaseIfExists", Key: "a:s", Values: []string{"x"}},
				},
			}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse("p", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, ignoreCompiled); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":` + s + `}` }
	cases := map[string]struct {
		doc  string
		mode string // key of parseModes; "" is identity
		msg  string // substring of ParseError.Msg
	}{
		"not JSON":                  {doc: `{"Version":`, msg: "Syntax errors in policy."},
		"JSON syntax error":         {doc: `{"Version" 1}`, msg: "Invalid JSON at offset"},
		"truncated JSON":            {doc: `{"Version":"2012-10-17","Statement":[`, msg: "Unexpected end of the policy document."},
		"effect not a string":       {doc: stmt(`{"Effect":true,"Action":"a:b","Resource":"*"}`), msg: "Invalid effect: true"},
		"effect null":               {doc: stmt(`{"Effect":null,"Action":"a:b","Resource":"*"}`), msg: "Invalid effect: null"},
		"trailing data":             {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*"}`) + `{}`, msg: "Unexpected data"},
		"not an object":             {doc: `[]`, msg: "must be a JSON object"},
		"invalid UTF-8":             {doc: "{\"Statement\":\"\xff\"}", msg: "Syntax errors"},
		"duplicate top-level key":   {doc: `{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}`, msg: `Duplicate key "Version"`},
		"duplicate statement key":   {doc: stmt(`{"Effect":"Allow","Effect":"Deny","Action":"a:b","Resource":"*"}`), msg: `Duplicate key "Effect"`},
		"duplicate condition key":   {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"a:k":"1","A:K":"2"}}}`), msg: "Duplicate condition key"},
		"unknown top-level key":     {doc: `{"Version":"2012-10-17","Statment":[]}`, msg: "Unknown field Statment"},
		"unknown statement key":     {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Actions":"x"}`), msg: "Unknown field Actions"},
		"bad version":               {doc: `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}`, msg: "The policy failed legacy parsing"},
		"version not a string":      {doc: `{"Version":2012,"Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}`, msg: "The policy failed legacy parsing"},
		"no statement":              {doc: `{"Version":"2012-10-17"}`, msg: "Missing required field Statement"},
		"empty statement list":      {doc: stmt(`[]`), msg: "Statement must not be empty"},
		"statement not object":      {doc: stmt(`["x"]`), msg: "Each statement must be a JSON object"},
		"bad effect":                {doc: stmt(`{"Effect":"allow","Action":"a:b","Resource":"*"}`), msg: "Invalid effect: allow"},
		"no effect":                 {doc: stmt(`{"Action":"a:b","Resource":"*"}`), msg: "Missing required field Effect"},
		"no action":                 {doc: stmt(`{"Effect":"Allow","Resource":"*"}`), msg: "Policy statement must contain actions."},
		"action and NotAction":      {doc: stmt(`{"Effect":"Allow","Action":"a:b","NotAction":"a:c","Resource":"*"}`), msg: "both Action and NotAction"},
		"no resource":               {doc: stmt(`{"Effect":"Allow","Action":"a:b"}`), msg: "Policy statement must contain resources."},
		"resource and NotResource":  {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","NotResource":"*"}`), msg: "both Resource and NotResource"},
		"action without vendor":     {doc: stmt(`{"Effect":"Allow","Action":"GetItem","Resource":"*"}`), msg: "Actions/Conditions must be prefaced by a vendor"},
		"wildcard vendor":           {doc: stmt(`{"Effect":"Allow","Action":"*:GetItem","Resource":"*"}`), msg: "Actions/Conditions must be prefaced by a vendor"},
		"empty action list":         {doc: stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), msg: "Action must not be an empty array"},
		"action not a string":       {doc: stmt(`{"Effect":"Allow","Action":[1],"Resource":"*"}`), msg: "Action must be a string or an array of strings"},
		"resource not an ARN":       {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"table/T"}`), msg: `Resource table/T must be in ARN format or "*".`},
		"resource service wildcard": {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"arn:aws:*:us-east-1:1:table/T"}`), msg: "Resource vendor must be fully qualified"},
		"principal in identity":     {doc: stmt(`{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*"}`), msg: "Policy document should not specify a principal."},
		"sid not alphanumeric":      {doc: stmt(`{"Sid":"my sid","Effect":"Allow","Action":"a:b","Resource":"*"}`), msg: "Statement IDs (SID) must be alpha-numeric"},
		"duplicate sid":             {doc: stmt(`[{"Sid":"A","Effect":"Allow","Action":"a:b","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"a:c","Resource":"*"}]`), msg: "Statement IDs (SID) in a single policy must be unique."},
		"unknown operator":          {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEqualz":{"a:k":"v"}}}`), msg: "Invalid Condition type : StringEqualz"},
		"unknown set qualifier":     {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"a:k":"v"}}}`), msg: "Invalid Condition type : ForSomeValues:StringEquals"},
		"operator wrong case":       {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"stringequals":{"a:k":"v"}}}`), msg: "Invalid Condition type"},
		"IfExists twice":            {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEqualsIfExistsIfExists":{"a:k":"v"}}}`), msg: "Invalid Condition type"},
		"Null with IfExists":        {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"NullIfExists":{"a:k":"true"}}}`), msg: "Invalid Condition type : NullIfExists"},
		"Null with a set qualifier": {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ForAllValues:Null":{"a:k":"true"}}}`), msg: "Invalid Condition type"},
		"Null with a variable":      {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Null":{"a:k":"${aws:username}"}}}`), msg: "Policy variables are not allowed in the Null"},
		"Null not a boolean":        {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Null":{"a:k":"yes"}}}`), msg: `Invalid value "yes"`},
		"Numeric not a number":      {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"NumericEquals":{"a:k":"ten"}}}`), msg: `Invalid value "ten"`},
		"Date not a date":           {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"DateLessThan":{"a:k":"tomorrow"}}}`), msg: `Invalid value "tomorrow"`},
		"IP not an address":         {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), msg: `Invalid value "10.0.0.0/33"`},
		"Bool not a boolean":        {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Bool":{"a:k":"maybe"}}}`), msg: `Invalid value "maybe"`},
		"condition key no vendor":   {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"LeadingKeys":"v"}}}`), msg: "Actions/Conditions must be prefaced by a vendor"},
		"condition value null":      {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"a:k":null}}}`), msg: "must be strings, numbers or booleans"},
		"condition value object":    {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"a:k":[{}]}}}`), msg: "must be strings, numbers or booleans"},
		"condition value empty":     {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"a:k":[]}}}`), msg: "has no values"},
		"condition not an object":   {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":[]}`), msg: "Condition must be a JSON object"},
		"operator block empty":      {doc: stmt(`{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{}}}`), msg: "must map condition keys to values"},
		"nested too deep":           {doc: strings.Repeat("[", 100) + strings.Repeat("]", 100), msg: "nested too deeply"},
		"trust policy with resource": {doc: stmt(`{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole","Resource":"*"}`),
			mode: "trust", msg: "Has prohibited field Resource"},
		"trust policy without principal": {doc: stmt(`{"Effect":"Allow","Action":"sts:AssumeRole"}`), mode: "trust", msg: "Missing required field Principal"},
		"principal bad string":           {doc: stmt(`{"Effect":"Allow","Principal":"me","Action":"sts:AssumeRole"}`), mode: "trust", msg: "Invalid principal in policy: me"},
		"principal unknown kind":         {doc: stmt(`{"Effect":"Allow","Principal":{"User":"x"},"Action":"sts:AssumeRole"}`), mode: "trust", msg: `Invalid principal in policy: "User"`},
		"principal AWS not an ARN":       {doc: stmt(`{"Effect":"Allow","Principal":{"AWS":"broker"},"Action":"sts:AssumeRole"}`), mode: "trust", msg: "Invalid principal"},
		"principal and NotPrincipal": {doc: stmt(`{"Effect":"Allow","Principal":"*","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}`),
			mode: "trust", msg: "both Principal and NotPrincipal"},
		"resource policy without principal": {doc: stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`), mode: "resource", msg: "Missing required field Principal"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mode := tc.mode
			if mode == "" {
				mode = "identity"
			}
			_, err := parseModes[mode]("bad", []byte(tc.doc))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q", pe.Msg, tc.msg)
			}
			if pe.Policy != "bad" || !strings.Contains(pe.Error(), "bad") {
				t.Errorf("Error() = %q does not name the policy", pe.Error())
			}
		})
	}
}

func TestParseTrustPolicy(t *testing.T) {
	p, err := ParseTrustPolicy("trust", []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Broker may assume","Effect":"Allow",
	  "Principal":{"AWS":["arn:aws:iam::123456789012:user/broker","123456789012"],"Service":"ec2.amazonaws.com"},
	  "Action":["sts:AssumeRole","sts:TagSession"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{Name: "trust", Version: "2012-10-17", Statements: []Statement{{
		Sid: "Broker may assume", Effect: Allow,
		Principal: &Principal{AWS: []string{"arn:aws:iam::123456789012:user/broker", "123456789012"}, Service: []string{"ec2.amazonaws.com"}},
		Action:    []string{"sts:AssumeRole", "sts:TagSession"},
	}}}
	if diff := cmp.Diff(want, p, ignoreCompiled); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseErrorMessageFormat(t *testing.T) {
	cases := map[string]struct {
		err  *ParseError
		want string
	}{
		"named":   {&ParseError{Policy: "session", Msg: "Syntax errors in policy."}, `iam: malformed policy "session": Syntax errors in policy.`},
		"unnamed": {&ParseError{Msg: "Syntax errors in policy."}, "iam: malformed policy: Syntax errors in policy."},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
