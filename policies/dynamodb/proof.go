package dynamodb

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// Resource forms of the proof's requests.
const (
	proofIndex       = "/index/gsi"
	proofStreamLabel = "/stream/2024-01-01T00:00:00.000"
)

// keyedOrder is the order in which the keyed actions get their rows:
// reads, then item writes, then PartiQL.
var keyedOrder = []string{
	"Query", "GetItem", "BatchGetItem",
	"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem",
	"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete",
}

// multiKey lists the keyed actions one request of which may carry several
// partition keys, so that a mixed request (own key and another) has a row of
// its own: the batches, and PartiQLSelect, whose WHERE clause may test the
// partition key with IN (up to 50 values) without becoming a scan (DynamoDB
// Developer Guide, "PartiQL select statements" and "PartiQL operators").
// BatchGetItem gets its rows whether granted or not; the others when granted.
var multiKey = []string{"BatchGetItem", "BatchWriteItem", "PartiQLSelect"}

// mixedRows denies on table each multi-key action's request mixing the own
// key with the other tenant's; where ends each row's name.
func (b *battery) mixedRows(table, where string) {
	for _, a := range multiKey {
		if a == "BatchGetItem" || b.granted[a] {
			b.row(a+" mixing own and other tenant's keys"+where, a, table, b.mixed(), iam.ImplicitDeny)
		}
	}
}

// Prove runs the DynamoDB battery on the session p evaluates (tenant own)
// against the sample tenant other, table by table. Rows follow the grants
// (p.GrantedActions): an own-tenant row, wanting Allow, for each granted
// action on each resource form the policies name (the table; the index for
// Query and Scan), and denial rows for each granted action against every
// other-tenant form; plus the hazards checked whatever is granted.
//
// A shared table (pooled): the other tenant's key on the table and index,
// a request mixing both keys (each multiKey action), a request without
// LeadingKeys, every other key the policies' LeadingKeys conditions name,
// Scan on table and index, DeleteTable, GetRecords on a stream, and every
// other granted key-less action are denied.
//
// A per-tenant table (silo): the other tenant's table and its index are
// denied with any key and without one (Scan and DescribeTable included),
// and so are DeleteTable and stream reads on both tables and any other
// key-less action granted; Scan and DescribeTable on the tenant's own
// table are own-tenant rows when granted. When the policies isolate the own
// table by LeadingKeys too (bridge) and grant no Scan on it, the other
// tenant's key, a mixed batch and a key-less request on the own table are
// denied as well.
//
// A profile whose policies grant its tenant nothing on its tables gets an
// own-tenant Query row anyway, which fails.
func (b *binding) Prove(p *policies.Prober, own, other string) error {
	bt := &battery{p: p, granted: p.GrantedActions(catalogue), own: b.format.Expand(own), other: b.format.Expand(other)}
	if bt.own == bt.other {
		return errors.New("the two sample tenants format to the same leading key")
	}
	// Every other key the policies' LeadingKeys conditions name.
	bt.named = slices.DeleteFunc(p.ConditionValues(LeadingKeysKey), func(k string) bool { return k == bt.own || k == bt.other })
	for ti, t := range b.tables {
		bt.suffix = ""
		if len(b.tables) > 1 {
			bt.suffix = fmt.Sprintf(" (table %d)", ti)
		}
		if !t.perTenant {
			bt.pooled(t.fixed)
			continue
		}
		ownTable, otherTable := t.arn(own), t.arn(other)
		if ownTable == otherTable {
			return errors.New("the two sample tenants name the same per-tenant table")
		}
		bt.silo(ownTable, otherTable)
	}
	bt.suffix = ""
	if bt.ownRows == 0 {
		bt.row("Query own key on table (the profile grants the tenant nothing on its tables)", "Query", b.tables[0].arn(own), bt.key(), iam.Allowed)
	}
	bt.outside(b.tables, own)
	return nil
}

// Resources outside every profile: a table name no profile uses, and an
// account no table is in.
const (
	proofUnlistedTable = "tvm-proof-unlisted-table"
	proofOtherAccount  = "000000000000"
	proofOtherAccount2 = "111111111111"
)

// outside runs the rows of the tables the profile does not name, each
// denied: every granted action (keyed ones with the own key) on a table of
// another name in the first table's account and region, and on the first
// table's name in another account; and every action an Allow statement
// grants on each table or index resource it names beyond the profile's
// tables (variables resolved per session, wildcards sampled as "x") — a
// table's name in another region of its account counts as the table (a
// global table's replica).
func (b *battery) outside(tables []table, own string) {
	first := strings.SplitN(tables[0].arn(own), ":", 6)
	other := proofOtherAccount
	if first[4] == other {
		other = proofOtherAccount2
	}
	unlisted := strings.Join(first[:5], ":") + ":table/" + proofUnlistedTable
	elsewhere := strings.Join(append(slices.Clone(first[:4]), other, first[5]), ":")
	for _, a := range catalogue.Actions() {
		if b.granted[a.Name] {
			b.actionRow(a, unlisted, "on a table the profile does not name")
			b.actionRow(a, elsewhere, "on the table in another account")
		}
	}
	var ownARNs []string
	for _, t := range tables {
		ownARNs = append(ownARNs, t.arn(own), t.arn(own)+indexSuffix)
	}
	seen := map[string]bool{unlisted: true, elsewhere: true}
	for _, pol := range b.p.Policies() {
		for i := range pol.Statements {
			st := &pol.Statements[i]
			if st.Effect != iam.Allow {
				continue
			}
			granted := catalogue.Granted(st)
			for _, written := range st.Resource {
				for _, r := range b.p.Resolve(pol, written) {
					probe := sampleARN(r)
					if len(granted) == 0 || probe == "" || seen[probe] || withinOwn(r, ownARNs) {
						continue
					}
					seen[probe] = true
					for _, a := range granted {
						b.actionRow(a, probe, fmt.Sprintf("on %s named by the policy", r))
					}
				}
			}
		}
	}
}

// actionRow denies action a on resource: with the own key when a is keyed,
// without a key otherwise; where names the resource in the row's name.
func (b *battery) actionRow(a policies.Action, resource, where string) {
	if a.Keyed {
		b.row(a.Name+" own key "+where, a.Name, resource, b.key(), iam.ImplicitDeny)
		return
	}
	b.row(a.Name+" "+where, a.Name, resource, nil, iam.ImplicitDeny)
}

// sampleARN returns one DynamoDB ARN a resource pattern matches, each
// wildcard replaced by "x", or "" when the pattern is not a DynamoDB ARN
// ("*" is probed by the unlisted-table rows).
func sampleARN(r string) string {
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 || !globMatch(parts[2], Service) {
		return ""
	}
	return strings.NewReplacer("*", "x", "?", "x").Replace(strings.Join(append(parts[:2:2], Service, parts[3], parts[4], parts[5]), ":"))
}

// withinOwn reports whether the resource pattern r lies within one of the
// tenant's own tables or their indexes (own), in any region of the same
// account.
func withinOwn(r string, own []string) bool {
	rp := strings.SplitN(r, ":", 6)
	if len(rp) < 6 {
		return false
	}
	for _, d := range own {
		dp := strings.SplitN(d, ":", 6)
		rp[3] = dp[3]
		if policies.ResourceWithin(strings.Join(rp, ":"), d) {
			return true
		}
	}
	return false
}

// battery evaluates the proof rows for one tenant's session.
type battery struct {
	p          *policies.Prober
	granted    map[string]bool
	own, other string   // the two tenants' leading keys
	named      []string // other keys the policies name
	suffix     string   // names the table when there are several
	ownRows    int
}

// Request keys: the own key, the other tenant's, both.
func (b *battery) key() []string      { return []string{b.own} }
func (b *battery) otherKey() []string { return []string{b.other} }
func (b *battery) mixed() []string    { return []string{b.own, b.other} }

// grantedKeyed returns the granted keyed actions in keyedOrder.
func (b *battery) grantedKeyed() []string {
	var out []string
	for _, a := range keyedOrder {
		if b.granted[a] {
			out = append(out, a)
		}
	}
	return out
}

// pooled runs the rows of a table shared by every tenant.
func (b *battery) pooled(table string) {
	index := table + proofIndex
	deny := iam.ImplicitDeny
	keyed := b.grantedKeyed()
	for _, a := range keyed {
		if a == "Query" {
			b.ownRow(a, table, "Query own key on table", "Query own key on index", b.key())
			continue
		}
		b.ownRow(a, table, a+" own key", "", b.key())
	}
	for _, a := range keyed {
		if a == "Query" {
			b.row("Query other tenant's key on table", a, table, b.otherKey(), deny)
			b.row("Query other tenant's key on index", a, index, b.otherKey(), deny)
			continue
		}
		b.row(a+" other tenant's key", a, table, b.otherKey(), deny)
	}
	b.mixedRows(table, "")
	b.row("Scan table", "Scan", table, nil, deny)
	b.row("Scan index", "Scan", index, nil, deny)
	b.row("Query without LeadingKeys", "Query", table, nil, deny)
	for _, a := range keyed {
		if a != "Query" {
			b.row(a+" without LeadingKeys", a, table, nil, deny)
		}
	}
	for _, k := range b.named {
		b.row(fmt.Sprintf("Query key %q named by the policy", k), "Query", table, []string{k}, deny)
		for _, a := range keyed {
			if a != "Query" {
				b.row(fmt.Sprintf("%s key %q named by the policy", a, k), a, table, []string{k}, deny)
			}
		}
		// A batch mixing it with the own key: a Deny fencing the key off
		// with a single-valued operator has no defined result on it.
		for _, a := range multiKey {
			if b.granted[a] {
				b.row(fmt.Sprintf("%s mixing own key and key %q named by the policy", a, k), a, table, []string{b.own, k}, deny)
			}
		}
	}
	b.keylessRows(table, "", deny)
	b.row("DeleteTable", "DeleteTable", table, nil, deny)
	b.row("GetRecords on stream", "GetRecords", table+proofStreamLabel, nil, deny)
}

// silo runs the rows of a per-tenant table: own is the tenant's table,
// other the other tenant's.
func (b *battery) silo(own, other string) {
	deny := iam.ImplicitDeny
	keyed := b.grantedKeyed()
	for _, a := range keyed {
		b.ownRow(a, own, a+" own key on own table", a+" own key on own index", b.key())
	}
	for _, a := range []string{"Scan", "DescribeTable"} {
		if b.granted[a] {
			b.ownRow(a, own, a+" own table", a+" own index", nil)
		}
	}
	for _, a := range keyed {
		b.row(a+" own key on other tenant's table", a, other, b.key(), deny)
		b.row(a+" other tenant's key on other tenant's table", a, other, b.otherKey(), deny)
		if a == "Query" {
			b.row("Query other tenant's key on other tenant's index", a, other+proofIndex, b.otherKey(), deny)
		}
	}
	b.row("Query other tenant's table without LeadingKeys", "Query", other, nil, deny)
	b.row("Scan other tenant's table", "Scan", other, nil, deny)
	b.row("Scan other tenant's index", "Scan", other+proofIndex, nil, deny)
	b.row("DescribeTable other tenant's table", "DescribeTable", other, nil, deny)
	if b.keyIsolated(own) {
		for _, a := range keyed {
			b.row(a+" other tenant's key on own table", a, own, b.otherKey(), deny)
		}
		b.mixedRows(own, " on own table")
		b.row("Query own table without LeadingKeys", "Query", own, nil, deny)
		b.row("Scan own table", "Scan", own, nil, deny)
	}
	b.keylessRows(own, " on own table", deny)
	b.keylessRows(other, " on other tenant's table", deny)
	for _, t := range [2]struct{ arn, name string }{{own, "own table"}, {other, "other tenant's table"}} {
		b.row("DeleteTable "+t.name, "DeleteTable", t.arn, nil, deny)
		b.row("GetRecords on stream of "+t.name, "GetRecords", t.arn+proofStreamLabel, nil, deny)
	}
}

// keyIsolated reports whether the policies isolate the tenant's own table
// by partition key as well (bridge): some Allow statement naming it tests
// dynamodb:LeadingKeys, and no Scan is granted on it.
func (b *battery) keyIsolated(own string) bool {
	if b.p.Granted(catalogue.Full("Scan"), own) {
		return false
	}
	for _, pol := range b.p.Policies() {
		for _, st := range pol.Statements {
			if st.Effect != iam.Allow || !slices.ContainsFunc(st.Conditions, isKeyCondition) {
				continue
			}
			if slices.ContainsFunc(st.Resource, func(r string) bool { return policies.ResourceMatches(r, own) }) {
				return true
			}
		}
	}
	return false
}

func isKeyCondition(c iam.Condition) bool {
	return strings.EqualFold(c.Key, LeadingKeysKey) && c.Operator != "Null"
}

// keylessRows denies every granted key-less action but those the fixed
// rows check (Scan, DescribeTable, DeleteTable, GetRecords) on table, its
// stream actions on its stream.
func (b *battery) keylessRows(table, where string, want iam.Outcome) {
	for _, a := range catalogue.Actions() {
		switch n := a.Name; {
		case !b.granted[n] || a.Keyed || n == "Scan" || n == "DescribeTable" || n == "DeleteTable" || n == "GetRecords":
		case n == "DescribeStream" || n == "GetShardIterator":
			b.row(n+" on stream"+where, n, table+proofStreamLabel, nil, want)
		default:
			b.row(n+where, n, table, nil, want)
		}
	}
}

// ownRow adds the own-tenant row of action on table, and, for Query and
// Scan, on its index, for each form the policies grant it on; tableName
// and indexName name the rows.
func (b *battery) ownRow(action, table, tableName, indexName string, keys []string) {
	if b.p.Granted(catalogue.Full(action), table) {
		b.row(tableName, action, table, keys, iam.Allowed)
	}
	if index := table + proofIndex; (action == "Query" || action == "Scan") && b.p.Granted(catalogue.Full(action), index) {
		b.row(indexName, action, index, keys, iam.Allowed)
	}
}

func (b *battery) row(name, action, resource string, keys []string, want iam.Outcome) {
	if want == iam.Allowed {
		b.ownRows++
	}
	b.p.Check(policies.ProofRequest{
		Name:     name + b.suffix,
		Action:   catalogue.Full(action),
		Resource: resource,
		Key:      LeadingKeysKey,
		Values:   keys,
		Want:     want,
	})
}
