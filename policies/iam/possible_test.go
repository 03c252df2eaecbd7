package iam

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// possibleUnknown are the keys the tests of EvaluatePossible leave unknown:
// those a caller chooses per request.
var possibleUnknown = []string{"aws:SourceIp", "aws:SourceVpce", "aws:CurrentTime", "aws:CalledVia", "s3:delimiter", "aws:SourceIdentity"}

func isPossibleUnknown(key string) bool {
	return slices.ContainsFunc(possibleUnknown, func(k string) bool { return strings.EqualFold(k, key) })
}

// TestEvaluatePossible: a condition on an unknown key may hold in an Allow
// and may fail in a Deny; a variable naming one in a Resource matches any
// resource in an Allow and none in a Deny (NotResource the other way
// round); a condition AWS leaves undefined may hold in an Allow and fail in
// a Deny; everything known is evaluated as Evaluate does.
func TestEvaluatePossible(t *testing.T) {
	const (
		obj    = "arn:aws:s3:::b/tenants/1/x"
		other  = "arn:aws:s3:::b/tenants/12/x"
		allowB = `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`
	)
	doc := func(statements ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
	}
	tests := map[string]struct {
		doc     string
		action  string
		res     string
		ctx     map[string][]string
		want    Outcome
		assumed string
		// enforced is what Evaluate decides on ctx (the unknown keys absent).
		enforced Outcome
	}{
		"allow from an address range": {
			doc:  doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
			want: Allowed, assumed: "aws:SourceIp", enforced: ImplicitDeny},
		"allow after a date (a time bomb)": {
			doc:  doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2031-01-01T00:00:00Z"}}}`),
			want: Allowed, assumed: "aws:CurrentTime", enforced: ImplicitDeny},
		"a known key still decides": {
			doc:  doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"x/"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
			ctx:  map[string][]string{"s3:prefix": {"y/"}},
			want: ImplicitDeny, enforced: ImplicitDeny},
		"a deny on an unknown key may not apply": {
			doc:  doc(allowB, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
			want: Allowed, enforced: ExplicitDeny},
		"a deny on known keys applies": {
			doc:  doc(allowB, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"s3:prefix":"tenants/*"}}}`),
			ctx:  map[string][]string{"s3:prefix": {"tenants/"}},
			want: ExplicitDeny, enforced: ExplicitDeny},
		"a deny fenced by an unknown key and a known one": {
			doc:  doc(allowB, `{"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}}`),
			want: Allowed, enforced: ExplicitDeny},
		"a variable naming an unknown key in an Allow's resource": {
			doc: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:SourceIdentity}/*"}`),
			res: other, want: Allowed, enforced: ImplicitDeny},
		"a variable naming an unknown key in a Deny's resource": {
			doc:  doc(allowB, `{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:SourceIdentity}/*"}`),
			want: Allowed, enforced: Allowed},
		"a Deny's NotResource naming an unknown key may exclude": {
			doc:  doc(allowB, `{"Effect":"Deny","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/${aws:SourceIdentity}/*"}`),
			want: Allowed, enforced: ExplicitDeny},
		"an Allow's NotResource naming an unknown key excludes nothing": {
			doc:  doc(`{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/${aws:SourceIdentity}/*"}`),
			want: Allowed, enforced: Allowed},
		"a condition value naming an unknown key": {
			doc:  doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:SourceIdentity}"}}}`),
			ctx:  map[string][]string{"s3:prefix": {"admin"}},
			want: Allowed, assumed: "aws:SourceIdentity", enforced: ImplicitDeny},
		// "Multivalued context keys require a condition set operator" (IAM
		// User Guide, "Single-valued vs. multivalued context keys"): AWS
		// defines no result for a bare operator on several values.
		"an undefined condition in a Deny may not apply": {
			doc: doc(allowB, `{"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:k":"admin"}}}`),
			ctx: map[string][]string{"s3:k": {"1", "admin"}}, want: Allowed, enforced: ExplicitDeny},
		"an undefined condition in an Allow may apply": {
			doc: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:k":"admin"}}}`),
			ctx: map[string][]string{"s3:k": {"1", "admin"}}, want: Allowed, enforced: ImplicitDeny},
		"a delimiter opening the common prefix": {
			doc:    doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringEquals":{"s3:prefix":"tenants/","s3:delimiter":"/"}}}`),
			action: "s3:ListBucket", res: "arn:aws:s3:::b", ctx: map[string][]string{"s3:prefix": {"tenants/"}},
			want: Allowed, assumed: "s3:delimiter", enforced: ImplicitDeny},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.action == "" {
				tc.action = "s3:GetObject"
			}
			if tc.res == "" {
				tc.res = obj
			}
			s := &Session{Principal: session, Identity: []*Policy{mustParse(t, "role", tc.doc)}}
			got := s.EvaluatePossible(tc.action, tc.res, tc.ctx, isPossibleUnknown)
			if got.Outcome != tc.want || got.Assumed != tc.assumed {
				t.Errorf("EvaluatePossible = %s assuming %q, want %s assuming %q (%s)", got.Outcome, got.Assumed, tc.want, tc.assumed, got.Reason)
			}
			if got := s.Evaluate(tc.action, tc.res, tc.ctx); got.Outcome != tc.enforced {
				t.Errorf("Evaluate = %s, want %s", got.Outcome, tc.enforced)
			}
		})
	}
}

// TestSubstitute: a value or resource means, for every request of a
// session, its variables replaced by the session's values or defaults;
// without either, or for an unknown key, it has no meaning.
func TestSubstitute(t *testing.T) {
	s := &Session{Principal: session, Tags: []Tag{{Key: "Tenant", Value: "1"}, {Key: "team", Value: "data"}}}
	tests := map[string]struct {
		text, want string
		ok         bool
	}{
		"a tag, key in another case": {"Tenant#${aws:PrincipalTag/tenant}", "Tenant#1", true},
		"a role tag":                 {"tenants/${aws:PrincipalTag/team}/", "tenants/data/", true},
		"a default, used":            {"t-${aws:PrincipalTag/missing, 'admin'}", "t-admin", true},
		"a default, not used":        {"t-${aws:PrincipalTag/tenant, 'admin'}", "t-1", true},
		"no value, no default":       {"t-${aws:PrincipalTag/missing}", "", false},
		"an unknown key":             {"t-${aws:SourceIdentity, 'x'}", "", false},
		"escapes are literal":        {"a${*}b${?}c${$}", "a*b?c$", true},
		"no variable":                {"plain", "plain", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := s.Substitute(tc.text, isPossibleUnknown)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Substitute(%q) = %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestEvaluateDocsNullDataSet: "The ForAllValues set operator also returns
// true if there are no context keys in the request. You can prevent
// missing context keys or context keys with empty values from evaluating
// to true by including a Null condition operator in your policy with a
// value of false to check if the context key in the request exists and
// its value is not null" (IAM User Guide, "Multivalued context key
// examples",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html):
// empty values are a null data set for ForAllValues (true), ForAnyValue
// (false) and Null; a single-valued operator compares "" as a value (the
// S3 console's prefix="" is matched by "StringEquals": {"s3:prefix": [""]}).
func TestEvaluateDocsNullDataSet(t *testing.T) {
	const (
		forAll     = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"key1"}}}}`
		forAllNull = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"key1"},"Null":{"aws:TagKeys":"false"}}}}`
		forAny     = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"key1"}}}}`
		root       = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":[""]}}}}`
	)
	r := func(key string, vals ...string) Request {
		return Request{Principal: session, Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: map[string][]string{key: vals}}
	}
	runEvalCases(t, map[string]evalCase{
		"ForAllValues: an empty value is a null data set":      {identity: []string{forAll}, req: r("aws:TagKeys", ""), want: Allowed},
		"ForAllValues: another value":                          {identity: []string{forAll}, req: r("aws:TagKeys", "key2"), want: ImplicitDeny},
		"ForAllValues + Null false: an empty value is refused": {identity: []string{forAllNull}, req: r("aws:TagKeys", ""), want: ImplicitDeny},
		"ForAllValues + Null false: a listed value":            {identity: []string{forAllNull}, req: r("aws:TagKeys", "key1"), want: Allowed},
		"ForAnyValue: an empty value is a null data set":       {identity: []string{forAny}, req: r("aws:TagKeys", ""), want: ImplicitDeny},
		"ForAnyValue: another value":                           {identity: []string{forAny}, req: r("aws:TagKeys", "key2"), want: Allowed},
		"StringEquals compares the empty prefix":               {identity: []string{root}, req: r("s3:prefix", ""), want: Allowed},
	})
}

// FuzzEvaluatePossible: EvaluatePossible over-approximates what AWS may
// allow. For any policy and any values of the unknown keys, a request
// Evaluate allows is allowed by EvaluatePossible given only the known keys;
// and a request EvaluatePossible denies explicitly is denied explicitly by
// Evaluate.
func FuzzEvaluatePossible(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:SourceIdentity}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::b/${aws:PrincipalTag/t}/*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01"},"StringEquals":{"s3:delimiter":"/","s3:prefix":"${aws:PrincipalTag/t, 'x'}"}}}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"s3:k":"a"},"Null":{"aws:CalledVia":"true"}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:CalledVia":"athena.*"},"ForAllValues:StringEquals":{"s3:k":["a","b"]}}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "10.1.2.3", "2031-05-01T00:00:00Z", "/", "alice")
	}
	f.Fuzz(func(t *testing.T, doc []byte, ip, now, delimiter, subject string) {
		p, err := Parse("fuzz", doc)
		if err != nil {
			return
		}
		s := &Session{Principal: session, Tags: []Tag{{Key: "t", Value: "1"}}, Identity: []*Policy{p}, SessionPolicies: []*Policy{p}}
		known := map[string][]string{"s3:prefix": {"tenants/1/"}, "s3:k": {"a", "b"}}
		full := map[string][]string{"aws:SourceIp": {ip}, "aws:CurrentTime": {now}, "s3:delimiter": {delimiter},
			"aws:SourceIdentity": {subject}, "aws:CalledVia": {"athena.amazonaws.com"}}
		for k, v := range known {
			full[k] = v
		}
		for _, res := range []string{"arn:aws:s3:::b/alice/x", "arn:aws:s3:::b/1/x", "arn:aws:s3:::b"} {
			for _, action := range []string{"s3:GetObject", "s3:ListBucket"} {
				real, maybe := s.Evaluate(action, res, full), s.EvaluatePossible(action, res, known, isPossibleUnknown)
				if real.Allowed() && !maybe.Allowed() {
					t.Fatalf("%s on %s: Evaluate allows, EvaluatePossible says %s", action, res, maybe.Outcome)
				}
				if maybe.Outcome == ExplicitDeny && real.Outcome != ExplicitDeny {
					t.Fatalf("%s on %s: EvaluatePossible denies explicitly, Evaluate says %s", action, res, real.Outcome)
				}
			}
		}
	})
}

// TestEvaluatePossibleKnowsSessionKeys: the session's own keys are known
// unless unknown names them (the time, say).
func TestEvaluatePossibleKnowsSessionKeys(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	pol := mustParse(t, "role", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2031-01-01T00:00:00Z"},"StringEquals":{"aws:PrincipalTag/t":"1"}}}}`)
	for _, tc := range []struct {
		tag  string
		want Outcome
	}{{"1", Allowed}, {"2", ImplicitDeny}} {
		s := &Session{Principal: session, RequestTime: at, Tags: []Tag{{Key: "t", Value: tc.tag}}, Identity: []*Policy{pol}}
		if got := s.EvaluatePossible("s3:GetObject", "arn:aws:s3:::b/k", nil, isPossibleUnknown); got.Outcome != tc.want {
			t.Errorf("tag %s: EvaluatePossible = %s, want %s", tc.tag, got.Outcome, tc.want)
		}
		if got := s.Evaluate("s3:GetObject", "arn:aws:s3:::b/k", nil); got.Allowed() {
			t.Errorf("tag %s: Evaluate allows in 2026", tc.tag)
		}
	}
}
