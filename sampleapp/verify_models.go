package sampleapp

import (
	"context"
	"fmt"
)

// modelExperiments are the rows of the isolation models beyond the pooled
// table (docs/isolation-models.md), each a real request with credentials
// the broker vends for the model's profile:
//
//   - silo (Config.SiloProfile): a tenant's own table, Query and Scan, is
//     allowed; another tenant's table is denied, tenant 1 against
//     tvm-demo-12 included (a table name pattern tvm-demo-1* would reach it).
//   - bridge (Config.BridgeProfile): the pooled template over the tenant's
//     own table: its own partition is allowed, a foreign key in its own
//     table, a Scan and its own key in another tenant's table are denied.
//   - ABAC (Config.ABACProfile): no per-tenant session policy; the role's
//     policy isolates with ${aws:PrincipalTag/tenant}: own partition on the
//     table and the GSI allowed, the other tenant's (and tenant 12's
//     against 1) denied; and a session of the ABAC role without the tag,
//     which the app assumes itself, denied.
func (e *Env) modelExperiments() []experiment {
	c := e.Config
	allow := func(items ...Item) Expectation { return Expectation{Outcome: Allowed, Items: items} }
	deny := Expectation{Outcome: Denied}
	s1, s12 := Identity{Tenant: "1", Profile: c.SiloProfile}, Identity{Tenant: "12", Profile: c.SiloProfile}
	b1 := Identity{Tenant: "1", Profile: c.BridgeProfile}
	a1, a12 := Identity{Tenant: "1", Profile: c.ABACProfile}, Identity{Tenant: "12", Profile: c.ABACProfile}
	untagged := Identity{Role: c.ABACRole}
	t1, t12, t2 := c.TenantTable("1"), c.TenantTable("12"), c.TenantTable("2")
	own1, own12 := SiloItems["1"][:2], SiloItems["12"]
	i1, i3 := SeedItems[0], SeedItems[2]

	query := func(id Identity, table, tenant string, x Expectation) experiment {
		return experiment{name: fmt.Sprintf("%s: Query table %s %s", id, table, LeadingKey(tenant)), id: id, op: tableQueryOp(table, tenant), expect: x}
	}
	scan := func(id Identity, table string, x Expectation) experiment {
		return experiment{name: fmt.Sprintf("%s: Scan table %s", id, table), id: id, op: tableScanOp(table), expect: x}
	}
	pooled := func(id Identity, tenant string, gsi bool, x Expectation) experiment {
		where := "table"
		if gsi {
			where = "GSI " + c.Index
		}
		return experiment{name: fmt.Sprintf("%s: Query %s %s", id, where, LeadingKey(tenant)), id: id, op: queryOp(tenant, gsi), expect: x}
	}
	return []experiment{
		query(s1, t1, "1", allow(own1...)),
		scan(s1, t1, allow(SiloItems["1"]...)),
		scan(s1, t2, deny),
		scan(s1, t12, deny),
		query(s1, t12, "12", deny),
		scan(s12, t12, allow(own12...)),
		scan(s12, t1, deny),
		query(b1, t1, "1", allow(own1...)),
		query(b1, t1, "12", deny),
		scan(b1, t1, deny),
		query(b1, t12, "1", deny),
		pooled(a1, "1", false, allow(i1)),
		pooled(a1, "1", true, allow(i1, i3)),
		pooled(a1, "2", false, deny),
		pooled(a1, "2", true, deny),
		pooled(a12, "1", false, deny),
		pooled(untagged, "1", false, deny),
	}
}

// tableQueryOp queries tenant's partition on a named table.
func tableQueryOp(table, tenant string) op {
	return func(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error) {
		return queryTable(ctx, api, table, cfg.Index, tenant, false)
	}
}

// tableScanOp scans a named table.
func tableScanOp(table string) op {
	return func(ctx context.Context, api ReadAPI, _ Config) ([]Item, error) {
		return scanTable(ctx, api, table)
	}
}
