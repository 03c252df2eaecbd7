package policies_test

import (
	"flag"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/s3"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// demoTable is the table the golden files are rendered for; siloTable the
// per-tenant tables of the silo templates' golden files.
const (
	demoTable = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	siloTable = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"
)

func mustLoad(t testing.TB) *policies.Set {
	t.Helper()
	s, err := policies.LoadTemplates("", targets.All())
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return s
}

func mustGet(t testing.TB, s *policies.Set, name string) *policies.Template {
	t.Helper()
	tpl, ok := s.Get(name)
	if !ok {
		t.Fatalf("template %q not found; have %v", name, s.Names())
	}
	return tpl
}

// settings is a policies.Settings holding DynamoDB settings.
type settings dynamodb.Settings

func (s settings) Decode(v any) error {
	*v.(*dynamodb.Settings) = dynamodb.Settings(s)
	return nil
}

// bind binds the DynamoDB target to tables and a leading-key format.
func bind(t testing.TB, format string, tables ...string) []policies.Binding {
	t.Helper()
	b, err := dynamodb.Target.Bind(settings{TableARNs: tables, LeadingKeyFormat: format})
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return []policies.Binding{b}
}

// demoBucket is the bucket the golden files are rendered for.
const demoBucket = "tvm-demo-bucket"

// s3Settings is a policies.Settings holding S3 settings.
type s3Settings s3.Settings

func (s s3Settings) Decode(v any) error {
	*v.(*s3.Settings) = s3.Settings(s)
	return nil
}

// bindS3 binds the S3 target to buckets with the default prefix format.
func bindS3(t testing.TB, buckets ...string) policies.Binding {
	t.Helper()
	b, err := s3.Target.Bind(s3Settings{Buckets: buckets})
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return b
}

// rawBinding supplies fixed DynamoDB placeholder values, bypassing the
// binding's own checks, to exercise the renderer and linter alone.
type rawBinding policies.Values

func (r rawBinding) Target() policies.Target                      { return dynamodb.Target }
func (r rawBinding) Values(string) (policies.Values, error)       { return policies.Values(r), nil }
func (r rawBinding) CheckTenants(*tenant.Pattern) error           { return nil }
func (r rawBinding) Prove(*policies.Prober, string, string) error { return nil }
func raw(key string, tables ...string) []policies.Binding {
	idx := make([]string, len(tables))
	for i, tb := range tables {
		idx[i] = tb + "/index/*"
	}
	return []policies.Binding{rawBinding{
		dynamodb.PlaceholderLeadingKey: key,
		dynamodb.PlaceholderTableARNs:  tables,
		dynamodb.PlaceholderIndexARNs:  idx,
	}}
}

// fakeTarget is a second isolation target (an S3-like bucket prefix) that
// exists only in tests: it shows that the generic code takes any target.
type fakeTarget struct{}

const fakePlaceholder = "{{bucket_prefix_arn}}"

var fakeCatalogue = policies.NewCatalogue("s3", []policies.Action{{Name: "GetObject", Keyed: true}, {Name: "ListBucket"}})

func (fakeTarget) Name() string                                   { return "s3prefix" }
func (fakeTarget) Catalogue() *policies.Catalogue                 { return fakeCatalogue }
func (fakeTarget) Rules() []string                                { return []string{"s3-fake"} }
func (fakeTarget) LintStatement(*iam.Statement) *policies.Finding { return nil }
func (fakeTarget) Placeholders() []policies.Placeholder {
	return []policies.Placeholder{{Name: fakePlaceholder, Required: true, Sample: "arn:aws:s3:::bucket/TENANT/*"}}
}
func (fakeTarget) Bind(policies.Settings) (policies.Binding, error) { return fakeBinding{}, nil }

type fakeBinding struct{}

func (fakeBinding) Target() policies.Target { return fakeTarget{} }
func (fakeBinding) Values(id string) (policies.Values, error) {
	return policies.Values{fakePlaceholder: "arn:aws:s3:::bucket/" + id + "/*"}, nil
}
func (fakeBinding) CheckTenants(*tenant.Pattern) error { return nil }
func (fakeBinding) Prove(p *policies.Prober, own, other string) error {
	p.Check(policies.ProofRequest{Name: "GetObject own prefix", Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/" + own + "/x",
		Account: "123456789012", Want: iam.Allowed})
	p.Check(policies.ProofRequest{Name: "GetObject other prefix", Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/" + other + "/x",
		Account: "123456789012", Want: iam.ImplicitDeny})
	return nil
}
