package dynamodb

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// proofStreamLabel is the stream label used for the stream rows.
const proofStreamLabel = "2024-01-01T00:00:00.000"

// Prove runs the DynamoDB battery for the policy p evaluates (rendered for
// tenant own) against the sample tenant other, on each table: Query on the
// table and on an index, GetItem and BatchGetItem with its own key are
// allowed; the other tenant's key on the table and index, a batch mixing
// both keys, a Query with no LeadingKeys, a Query with any other key the
// policy's LeadingKeys conditions name, Scan on table and index,
// DeleteTable and GetRecords on a stream are denied; for every other keyed
// action an Allow statement grants (the writes, PartiQL), its own key is
// allowed, the other's denied, and a mixed BatchWriteItem denied; every
// other key-less DynamoDB action an Allow statement grants (DescribeTable,
// ExportTableToPointInTime, ...) is denied.
func (b *binding) Prove(p *policies.Prober, own, other string) error {
	ownKey, otherKey := b.format.Expand(own), b.format.Expand(other)
	if ownKey == otherKey {
		return errors.New("the two sample tenants format to the same leading key")
	}
	granted := catalogue.GrantedBy(p.Session())
	named := namedKeys(p.Session(), ownKey, otherKey)
	for ti, table := range b.tables {
		bt := battery{p: p, table: table, account: arnAccount(table)}
		if len(b.tables) > 1 {
			bt.suffix = fmt.Sprintf(" (table %d)", ti)
		}
		bt.run(ownKey, otherKey, granted, named)
	}
	return nil
}

// battery evaluates the proof rows for one tenant's policy on one table.
type battery struct {
	p              *policies.Prober
	table, account string
	suffix         string
}

func (b *battery) run(own, other string, granted map[string]bool, named []string) {
	table := b.table
	index := table + "/index/gsi"
	stream := table + "/stream/" + proofStreamLabel
	allow, deny := iam.Allowed, iam.ImplicitDeny
	b.row("Query own key on table", "Query", table, []string{own}, allow)
	b.row("Query own key on index", "Query", index, []string{own}, allow)
	b.row("GetItem own key", "GetItem", table, []string{own}, allow)
	b.row("BatchGetItem own key", "BatchGetItem", table, []string{own}, allow)
	b.row("Query other tenant's key on table", "Query", table, []string{other}, deny)
	b.row("Query other tenant's key on index", "Query", index, []string{other}, deny)
	b.row("GetItem other tenant's key", "GetItem", table, []string{other}, deny)
	b.row("BatchGetItem mixing own and other tenant's keys", "BatchGetItem", table, []string{own, other}, deny)
	b.row("Scan table", "Scan", table, nil, deny)
	b.row("Scan index", "Scan", index, nil, deny)
	b.row("Query without LeadingKeys", "Query", table, nil, deny)
	for _, k := range named {
		b.row(fmt.Sprintf("Query key %q named by the policy", k), "Query", table, []string{k}, deny)
	}
	for _, a := range provedKeyedActions {
		if !granted[a] {
			continue
		}
		b.row(a+" own key", a, table, []string{own}, allow)
		b.row(a+" other tenant's key", a, table, []string{other}, deny)
		if a == "BatchWriteItem" {
			b.row("BatchWriteItem mixing own and other tenant's keys", a, table, []string{own, other}, deny)
		}
	}
	for _, a := range catalogue.Actions() {
		switch n := a.Name; {
		case !granted[n] || a.Keyed || n == "Scan" || n == "DeleteTable" || n == "GetRecords":
			// Not granted, or proved by the fixed rows.
		case n == "DescribeStream" || n == "GetShardIterator":
			b.row(n+" on stream", n, stream, nil, deny)
		default:
			b.row(n, n, table, nil, deny)
		}
	}
	b.row("DeleteTable", "DeleteTable", table, nil, deny)
	b.row("GetRecords on stream", "GetRecords", stream, nil, deny)
}

func (b *battery) row(name, action, resource string, keys []string, want iam.Outcome) {
	b.p.Check(policies.ProofRequest{
		Name:     name + b.suffix,
		Action:   catalogue.Full(action),
		Resource: resource,
		Account:  b.account,
		Key:      LeadingKeysKey,
		Values:   keys,
		Want:     want,
	})
}

// namedKeys returns the dynamodb:LeadingKeys values that the conditions of
// p's Allow statements name besides own and other, in policy order without
// repeats: a constant key there (a shared or another tenant's partition)
// would be reachable by every tenant, so the proof checks each is denied.
func namedKeys(p *iam.Policy, own, other string) []string {
	var out []string
	for _, st := range p.Statements {
		if st.Effect != iam.Allow {
			continue
		}
		for _, c := range st.Conditions {
			if !strings.EqualFold(c.Key, LeadingKeysKey) || c.Operator == "Null" {
				continue
			}
			for _, v := range c.Values {
				if v != own && v != other && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// arnAccount returns the account field of an ARN.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
