package iam

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mustParse parses an identity or session policy or fails the test.
func mustParse(t testing.TB, name, doc string) *Policy {
	t.Helper()
	p, err := Parse(name, []byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return p
}

// mustParseResource parses a resource-based policy or fails the test.
func mustParseResource(t testing.TB, name, doc string) *Policy {
	t.Helper()
	p, err := ParseResourcePolicy(name, []byte(doc))
	if err != nil {
		t.Fatalf("ParseResourcePolicy(%s): %v", name, err)
	}
	return p
}

// parseModes maps each parse function to a name for table tests.
var parseModes = map[string]func(string, []byte) (*Policy, error){
	"identity": Parse,
	"trust":    ParseTrustPolicy,
	"resource": ParseResourcePolicy,
}

// ctx builds a request context from key/values pairs.
func ctx(kv ...any) map[string][]string {
	m := make(map[string][]string)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			m[k] = []string{v}
		case []string:
			m[k] = v
		default:
			panic("ctx: value must be string or []string")
		}
	}
	return m
}

// allowAll is an identity policy that allows everything, so that a test
// can show what a Deny statement alone does.
const allowAll = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
