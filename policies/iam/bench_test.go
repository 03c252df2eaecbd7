package iam

import "testing"

// BenchmarkEvaluateTenantSession evaluates a BatchGetItem against the local
// AWS's read role and a typical tenant session policy (table and index
// ARNs, ForAllValues:StringEquals on LeadingKeys, the Null guard).
func BenchmarkEvaluateTenantSession(b *testing.B) {
	role := mustParse(b, "role", rolePolicy)
	sess := mustParse(b, "session", tenantPolicy(b, "Tenant#1", readActions, []string{tableARN, tableARN + "/index/*"}, true))
	in := Input{Identity: []*Policy{role}, Session: []*Policy{sess}}
	cases := map[string]Request{
		"allowed batch": ddb("dynamodb:BatchGetItem", tableARN, "Tenant#1", "Tenant#1", "Tenant#1"),
		"denied index":  ddb("dynamodb:Query", indexARN, "Tenant#2"),
	}
	for name, req := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Evaluate(req, in)
			}
		})
	}
}

// BenchmarkParseTenantSession parses a typical tenant session policy.
func BenchmarkParseTenantSession(b *testing.B) {
	doc := []byte(tenantPolicy(b, "Tenant#1", readActions, []string{tableARN, tableARN + "/index/*"}, true))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("session", doc); err != nil {
			b.Fatal(err)
		}
	}
}
