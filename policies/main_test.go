package policies

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// demoTable is the table the golden files are rendered for.
const demoTable = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"

func mustLoad(t testing.TB) *Set {
	t.Helper()
	s, err := LoadTemplates("")
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return s
}

func mustGet(t testing.TB, s *Set, name string) *Template {
	t.Helper()
	tpl, ok := s.Get(name)
	if !ok {
		t.Fatalf("template %q not found; have %v", name, s.Names())
	}
	return tpl
}
