package policies_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/s3"
	"github.com/tvmkit/tvm/policies/targets"
)

// guarded describes one generated template: a statement granting actions
// on resources under conditions.
type guarded struct {
	actions, resources []string
	conditions         map[string]map[string]any // operator -> key -> value
}

func (g guarded) doc() []byte {
	st := map[string]any{"Sid": "Tenant", "Effect": "Allow", "Action": g.actions, "Resource": g.resources}
	if len(g.conditions) > 0 {
		st["Condition"] = g.conditions
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	if err != nil {
		panic(err)
	}
	return doc
}

// clone deep-copies g so that a mutation leaves it alone.
func (g guarded) clone() guarded {
	c := guarded{actions: slices.Clone(g.actions), resources: slices.Clone(g.resources), conditions: map[string]map[string]any{}}
	for op, keys := range g.conditions {
		c.conditions[op] = map[string]any{}
		for k, v := range keys {
			c.conditions[op][k] = v
		}
	}
	return c
}

// refused reports whether the template is refused at load, at render for
// either proof tenant, or by the proof, and why.
func refused(t *testing.T, doc []byte, bindings []policies.Binding) (bool, string) {
	t.Helper()
	tpl, err := policies.ParseTemplate("generated", "property test", doc, targets.All())
	if err != nil {
		return true, err.Error()
	}
	for _, tn := range []string{"1", "12"} {
		if _, err := tpl.Render(tn, bindings); err != nil {
			return true, err.Error()
		}
	}
	if _, err := policies.Prove(policies.ProofSpec{Template: tpl, Bindings: bindings}); err != nil {
		return true, err.Error()
	}
	return false, ""
}

// subset returns a random non-empty subset of the actions names of
// service svc, in order.
func subset(rng *rand.Rand, svc string, names []string) []string {
	for {
		var out []string
		for _, n := range names {
			if rng.IntN(2) == 0 {
				out = append(out, svc+":"+n)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
}

// TestGuardedTemplateProperty (issue 14): for random subsets of the
// DynamoDB target's actions, the guarded template is accepted — pooled on
// a shared table (LeadingKeys and the Null guard, with or without the
// index) and silo on per-tenant tables (the tenant's own table and
// index) — and removing any one isolating condition or widening any one
// resource gets it refused (by the linter or the proof).
func TestGuardedTemplateProperty(t *testing.T) {
	var keyed []string
	for _, a := range dynamodb.Target.Catalogue().Actions() {
		if a.Keyed {
			keyed = append(keyed, a.Name)
		}
	}
	silo := append(slices.Clone(keyed), "Scan", "DescribeTable")
	pooled := bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)
	perTenant := bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable, siloTable)
	rng := rand.New(rand.NewPCG(14, 8))
	for i := range 60 {
		// Pooled.
		g := guarded{actions: subset(rng, "dynamodb", keyed), resources: []string{"{{table_arns}}"}, conditions: map[string]map[string]any{
			"ForAllValues:StringEquals": {dynamodb.LeadingKeysKey: []string{"{{leading_key}}"}},
			"Null":                      {dynamodb.LeadingKeysKey: "false"},
		}}
		if rng.IntN(2) == 0 {
			g.resources = append(g.resources, "{{index_arns}}")
		}
		checkProperty(t, fmt.Sprintf("pooled %d %v", i, g.actions), g, pooled, []mutation{
			{"without the LeadingKeys condition", func(m *guarded) { delete(m.conditions, "ForAllValues:StringEquals") }},
			{"without the Null guard", func(m *guarded) { delete(m.conditions, "Null") }},
			{"every table", func(m *guarded) { m.resources[0] = "arn:aws:dynamodb:us-east-1:123456789012:table/*" }},
			{"a table-name prefix", func(m *guarded) { m.resources[0] = demoTable + "*" }},
			{"every region and account", func(m *guarded) { m.resources[0] = "arn:aws:dynamodb:*:*:table/tvm-demo" }},
			{"the table's streams", func(m *guarded) { m.resources = append(m.resources, demoTable+"/*") }},
			{"another table", func(m *guarded) {
				m.resources = append(m.resources, "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-other")
			}},
		})
		// Silo.
		s := guarded{actions: subset(rng, "dynamodb", silo), resources: []string{"{{tenant_table_arns}}"}}
		if rng.IntN(2) == 0 {
			s.resources = append(s.resources, "{{tenant_index_arns}}")
		}
		checkProperty(t, fmt.Sprintf("silo %d %v", i, s.actions), s, perTenant, []mutation{
			{"every tenant's table", func(m *guarded) { m.resources[0] = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-*" }},
			{"the shared table too", func(m *guarded) { m.resources = append(m.resources, "{{table_arns}}") }},
			{"another tenant's table", func(m *guarded) {
				m.resources = append(m.resources, "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12")
			}},
		})
	}
}

// TestGuardedS3TemplateProperty (issue 14, the S3 target): for random
// subsets of the object actions on the tenant's prefix, and of the two
// prefix-keyed listings with s3:prefix pinned to it, the guarded template
// is accepted; widening any one resource or loosening the prefix
// condition gets it refused (by the linter or the proof).
func TestGuardedS3TemplateProperty(t *testing.T) {
	var objects []string
	listings := []string{"ListBucket", "ListBucketVersions"}
	for _, a := range s3.Target.Catalogue().Actions() {
		if a.Keyed && !slices.Contains(listings, a.Name) {
			objects = append(objects, a.Name)
		}
	}
	const bucket = "arn:aws:s3:::" + demoBucket
	bindings := []policies.Binding{bindS3(t, demoBucket)}
	rng := rand.New(rand.NewPCG(14, 9))
	for i := range 40 {
		g := guarded{actions: subset(rng, "s3", objects), resources: []string{"{{s3_object_arns}}"}}
		checkProperty(t, fmt.Sprintf("objects %d %v", i, g.actions), g, bindings, []mutation{
			{"the whole bucket", func(m *guarded) { m.resources[0] = bucket + "/*" }},
			{"every tenant's prefix", func(m *guarded) { m.resources[0] = bucket + "/tenants/*" }},
			{"a shared prefix too", func(m *guarded) { m.resources = append(m.resources, bucket+"/shared/*") }},
			{"every bucket", func(m *guarded) { m.resources[0] = "arn:aws:s3:::*" }},
			{"every partition", func(m *guarded) { m.resources[0] = "arn:*:s3:::" + demoBucket + "/tenants/*" }},
			{"another tenant's prefix", func(m *guarded) { m.resources = append(m.resources, bucket+"/tenants/12/*") }},
		})
		l := guarded{actions: subset(rng, "s3", listings), resources: []string{"{{s3_bucket_arns}}"},
			conditions: map[string]map[string]any{"StringLike": {s3.PrefixKey: []string{"{{s3_prefixes}}"}}}}
		checkProperty(t, fmt.Sprintf("listings %d %v", i, l.actions), l, bindings, []mutation{
			{"without the prefix condition", func(m *guarded) { delete(m.conditions, "StringLike") }},
			{"the prefix condition IfExists", func(m *guarded) {
				m.conditions["StringLikeIfExists"] = m.conditions["StringLike"]
				delete(m.conditions, "StringLike")
			}},
			{"every prefix", func(m *guarded) { m.conditions["StringLike"][s3.PrefixKey] = []string{"{{s3_prefixes}}", "*"} }},
			{"the common prefix", func(m *guarded) { m.conditions["StringLike"][s3.PrefixKey] = []string{"{{s3_prefixes}}", "tenants/"} }},
			{"every bucket", func(m *guarded) { m.resources[0] = "arn:aws:s3:::*" }},
		})
	}
}

type mutation struct {
	name  string
	apply func(*guarded)
}

func checkProperty(t *testing.T, name string, g guarded, bindings []policies.Binding, mutations []mutation) {
	t.Helper()
	if bad, why := refused(t, g.doc(), bindings); bad {
		t.Errorf("%s: the guarded template is refused: %s\n%s", name, why, g.doc())
		return
	}
	for _, m := range mutations {
		c := g.clone()
		m.apply(&c)
		if bad, _ := refused(t, c.doc(), bindings); !bad {
			t.Errorf("%s, %s: accepted\n%s", name, m.name, c.doc())
		}
	}
}
