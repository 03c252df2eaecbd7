package policies_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
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

// subset returns a random non-empty subset of names, in order.
func subset(rng *rand.Rand, names []string) []string {
	for {
		var out []string
		for _, n := range names {
			if rng.IntN(2) == 0 {
				out = append(out, "dynamodb:"+n)
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
		g := guarded{actions: subset(rng, keyed), resources: []string{"{{table_arns}}"}, conditions: map[string]map[string]any{
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
		s := guarded{actions: subset(rng, silo), resources: []string{"{{tenant_table_arns}}"}}
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
