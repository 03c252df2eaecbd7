package iam

import (
	"errors"
	"testing"
)

// FuzzParseEvaluate parses arbitrary bytes in every mode and evaluates what
// parses against fixed requests: it must never panic, errors must be
// *ParseError, and a parsed policy must evaluate to a well-formed decision.
func FuzzParseEvaluate(f *testing.F) {
	seeds := []string{
		rolePolicy,
		allowAll,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":["arn:aws:dynamodb:*:1:table/T","arn:aws:dynamodb:*:1:table/T/index/*"],"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"]},"Null":{"dynamodb:LeadingKeys":"false"}}}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"s3:*","NotResource":"arn:aws:s3:::b/${aws:username, 'x'}/*","Condition":{"StringLike":{"aws:userid":"${*}${?}${$}*"}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}}}`,
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThanIfExists":{"aws:CurrentTime":1700000000},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"Bool":{"aws:SecureTransport":true},"BinaryEquals":{"a:b":"QQ=="},"NumericLessThan":{"a:n":1.5}}}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a:*","Resource":"arn:aws:a:::${","Condition":{"StringEquals":{"a:k":"${a:k"}}}}`,
		`[`, `{}`, `null`, `{"Statement":[]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	reqs := []Request{
		{Principal: session, Action: "dynamodb:GetItem", Resource: tableARN, Context: map[string][]string{leading: {"Tenant#1"}, "aws:username": {"u"}}},
		{Principal: "arn:aws:iam::123456789012:user/broker", Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/r",
			Context: map[string][]string{"aws:CurrentTime": {"2024-01-01T00:00:00Z"}, "aws:SourceIp": {"10.1.1.1"}, "aws:SecureTransport": {"true"}}},
		{Principal: session, Action: "dynamodb:Scan", Resource: indexARN},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		for mode, parse := range parseModes {
			p, err := parse("fuzz", doc)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Msg == "" {
					t.Fatalf("mode %s: error %v is not a *ParseError with a message", mode, err)
				}
				continue
			}
			for _, req := range reqs {
				var d Decision
				switch mode {
				case "identity":
					d = Evaluate(req, Input{Identity: []*Policy{p}, Session: []*Policy{p}})
				default:
					d = EvaluateResourcePolicy(req, []*Policy{p})
				}
				switch d.Outcome {
				case Allowed, ImplicitDeny, ExplicitDeny:
				default:
					t.Fatalf("bad outcome %q", d.Outcome)
				}
				if d.Reason == "" || d.Explain() == "" {
					t.Fatal("empty reason or explanation")
				}
				if d.Outcome == ImplicitDeny && d.Statement != -1 {
					t.Fatalf("implicit deny names statement %d", d.Statement)
				}
				if d.Outcome != ImplicitDeny && (d.Statement < 0 || d.Statement >= len(p.Statements)) {
					t.Fatalf("decision names statement %d of %d", d.Statement, len(p.Statements))
				}
				if (d.Message() == "") != d.Allowed() || d.Message() != d.DenialMessage(req) {
					t.Fatalf("Message %q for outcome %s", d.Message(), d.Outcome)
				}
			}
		}
	})
}

// FuzzMatch checks that the wildcard matchers never panic and that a
// pattern without wildcards matches exactly itself.
func FuzzMatch(f *testing.F) {
	f.Add("arn:aws:dynamodb:*:1:table/T/index/*", "arn:aws:dynamodb:us-east-1:1:table/T/index/gsi")
	f.Add("dynamodb:Get*", "dynamodb:GetItem")
	f.Add("a?b*c", "a\u00e9bxxc")
	f.Add("***:*:?", "::x")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		_ = MatchAction(pattern, s)
		_ = MatchResource(pattern, s)
		if !containsWild(pattern) && MatchResource(pattern, s) != (pattern == s) {
			t.Fatalf("literal pattern %q vs %q: MatchResource = %v", pattern, s, !(pattern == s))
		}
		if !MatchResource(pattern, pattern) && !containsWild(pattern) {
			t.Fatalf("literal pattern %q does not match itself", pattern)
		}
		if !MatchAction(pattern, pattern) && !containsWild(pattern) {
			t.Fatalf("literal action %q does not match itself", pattern)
		}
	})
}

func containsWild(s string) bool {
	for _, r := range s {
		if r == '*' || r == '?' {
			return true
		}
	}
	return false
}
