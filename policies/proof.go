package policies

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies/iam"
)

// DefaultProofTenants are the sample tenants Prove uses when ProofSpec.Tenants
// is zero. "12" extends "1", so a prefix or wildcard match shows up as a leak.
var DefaultProofTenants = [2]string{"1", "12"}

// ProofSpec says what to prove: the template rendered for two sample tenants
// over the given tables keeps each tenant to its own partition keys.
type ProofSpec struct {
	Template  *Template
	TableARNs []string
	// LeadingKeyFormat is the profile's key format ("" = DefaultLeadingKeyFormat).
	LeadingKeyFormat string
	// Tenants are the two sample tenants (zero = DefaultProofTenants). They
	// must differ and pass Pattern.
	Tenants [2]string
	Pattern *regexp.Regexp // nil = DefaultTenantPattern
}

// ProofRow is one evaluated request of the proof battery.
type ProofRow struct {
	Name        string // e.g. `tenant "1": Query other tenant's key on index`
	Tenant      string // the tenant whose session policy is evaluated
	Action      string
	Resource    string
	LeadingKeys []string // nil = the key is absent from the request
	Want, Got   iam.Outcome
	OK          bool
	// Statement names the statement that decided, or says none did.
	Statement string
}

// ProofReport is the result of Prove: every row, and whether all passed.
type ProofReport struct {
	Rows []ProofRow
	OK   bool
}

// ProofError reports the first failing row of a proof.
type ProofError struct {
	Template string
	Row      ProofRow
	Failed   int // failing rows in total
}

// Error implements error.
func (e *ProofError) Error() string {
	// Row names hold validated tenant ids (no quotes), so they are not re-quoted.
	msg := fmt.Sprintf("policies: isolation proof of template %q failed at row [%s] (%s on %s, LeadingKeys %s): want %s, got %s, decided by %s",
		e.Template, e.Row.Name, e.Row.Action, e.Row.Resource, describeKeys(e.Row.LeadingKeys), e.Row.Want, e.Row.Got, e.Row.Statement)
	if e.Failed > 1 {
		msg += fmt.Sprintf(" (and %d more failing rows)", e.Failed-1)
	}
	return msg
}

func describeKeys(keys []string) string {
	if keys == nil {
		return "absent"
	}
	return "[" + strings.Join(keys, ", ") + "]"
}

// proofIdentity is the role policy of the proof session: allow everything,
// so the session policy alone decides.
const proofIdentity = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// proofStreamLabel is the stream label used for the stream row.
const proofStreamLabel = "2024-01-01T00:00:00.000"

// Prove renders spec.Template for both sample tenants and evaluates, with the
// IAM evaluator, a battery of requests against each rendered policy as the
// session policy of an allow-all role. For each tenant, on each table:
// Query on the table and on an index, GetItem and BatchGetItem with its own
// key are allowed; the other tenant's key on the table and index, a batch
// mixing both keys, a Query with no LeadingKeys, a Query with any other key
// the policy's LeadingKeys conditions name, Scan on table and index,
// DeleteTable and GetRecords on a stream are denied; for every other keyed
// action an Allow statement grants (the writes, PartiQL), its own key is
// allowed, the other's denied, and a mixed BatchWriteItem denied; every
// other key-less DynamoDB action an Allow statement grants (DescribeTable,
// ExportTableToPointInTime, ...) is denied.
//
// Prove does not lint: it is an independent check of what the policy
// actually allows. It returns the report together with a *ProofError when
// any row fails; other errors (bad spec, render failure) come without a
// report.
func Prove(spec ProofSpec) (*ProofReport, error) {
	if spec.Template == nil {
		return nil, errors.New("policies: prove: no template")
	}
	if len(spec.TableARNs) == 0 {
		return nil, errors.New("policies: prove: no table ARNs")
	}
	format := spec.LeadingKeyFormat
	if format == "" {
		format = DefaultLeadingKeyFormat
	}
	tenants := spec.Tenants
	if tenants == ([2]string{}) {
		tenants = DefaultProofTenants
	}
	if tenants[0] == tenants[1] {
		return nil, errors.New("policies: prove: the two sample tenants must differ")
	}
	var keys [2]string
	for i, tn := range tenants {
		k, err := LeadingKey(format, tn, spec.Pattern)
		if err != nil {
			return nil, fmt.Errorf("policies: prove: sample tenant %q: %w", tn, err)
		}
		keys[i] = k
	}
	if keys[0] == keys[1] {
		return nil, errors.New("policies: prove: the two sample tenants format to the same leading key")
	}
	identity, err := iam.Parse("role policy", []byte(proofIdentity))
	if err != nil {
		return nil, fmt.Errorf("policies: prove: %w", err)
	}
	report := &ProofReport{OK: true}
	for self := range 2 {
		other := 1 - self
		r, _, err := spec.Template.render(Params{Tenant: tenants[self], LeadingKey: keys[self], TableARNs: spec.TableARNs})
		if err != nil {
			return nil, fmt.Errorf("policies: prove: %w", err)
		}
		session, err := iam.Parse("session policy", r.JSON)
		if err != nil {
			return nil, fmt.Errorf("policies: prove: template %q rendered for tenant %q: %w", spec.Template.Name(), tenants[self], err)
		}
		in := iam.Input{Identity: []*iam.Policy{identity}, Session: []*iam.Policy{session}}
		for ti, table := range spec.TableARNs {
			b := battery{
				in:     in,
				prefix: fmt.Sprintf("tenant %q: ", tenants[self]),
				suffix: "",
				tenant: tenants[self],
				principal: fmt.Sprintf("arn:aws:sts::%s:assumed-role/tvm-proof/t-%s",
					arnAccount(table), tenants[self]),
			}
			if len(spec.TableARNs) > 1 {
				b.suffix = fmt.Sprintf(" (table %d)", ti)
			}
			b.run(table, keys[self], keys[other], grantedActions(session), namedKeys(session, keys[self], keys[other]))
			report.Rows = append(report.Rows, b.rows...)
		}
	}
	var first *ProofRow
	failed := 0
	for i := range report.Rows {
		if !report.Rows[i].OK {
			failed++
			if first == nil {
				first = &report.Rows[i]
			}
		}
	}
	if first != nil {
		report.OK = false
		return report, &ProofError{Template: spec.Template.Name(), Row: *first, Failed: failed}
	}
	return report, nil
}

// battery evaluates the proof rows for one tenant's policy on one table.
type battery struct {
	in             iam.Input
	prefix, suffix string
	tenant         string
	principal      string
	rows           []ProofRow
}

func (b *battery) run(table, own, other string, granted map[string]bool, named []string) {
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
	for _, a := range dynamoDBActions {
		switch {
		case !granted[a] || keyedActions[a] || a == "Scan" || a == "DeleteTable" || a == "GetRecords":
			// Not granted, or proved by the fixed rows.
		case a == "DescribeStream" || a == "GetShardIterator":
			b.row(a+" on stream", a, stream, nil, deny)
		default:
			b.row(a, a, table, nil, deny)
		}
	}
	b.row("DeleteTable", "DeleteTable", table, nil, deny)
	b.row("GetRecords on stream", "GetRecords", stream, nil, deny)
}

func (b *battery) row(name, action, resource string, keys []string, want iam.Outcome) {
	ctx := map[string][]string{}
	if keys != nil {
		ctx[LeadingKeysKey] = keys
	}
	req := iam.Request{Principal: b.principal, Action: "dynamodb:" + action, Resource: resource, Context: ctx}
	d := iam.Evaluate(req, b.in)
	b.rows = append(b.rows, ProofRow{
		Name:        b.prefix + name + b.suffix,
		Tenant:      b.tenant,
		Action:      req.Action,
		Resource:    resource,
		LeadingKeys: keys,
		Want:        want,
		Got:         d.Outcome,
		OK:          d.Allowed() == (want == iam.Allowed),
		Statement:   describeDecision(d),
	})
}

func describeDecision(d iam.Decision) string {
	if d.Statement < 0 {
		if d.Reason != "" {
			return "no statement (" + d.Reason + ")"
		}
		return "no statement"
	}
	s := fmt.Sprintf("%s statement %d", d.Policy, d.Statement)
	if d.Sid != "" {
		s += fmt.Sprintf(" (Sid %q)", d.Sid)
	}
	return s
}

// provedKeyedActions are the keyed actions beyond Query, GetItem and
// BatchGetItem (which every proof checks) that get own/other rows when a
// policy grants them: the writes first, in writeActions order, then PartiQL.
var provedKeyedActions = append(slices.Clone(writeActions), "PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete")

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

// grantedActions returns the known DynamoDB actions that some Allow
// statement of p grants, through Action (wildcards expanded) or NotAction.
func grantedActions(p *iam.Policy) map[string]bool {
	out := map[string]bool{}
	for i := range p.Statements {
		if p.Statements[i].Effect != iam.Allow {
			continue
		}
		for _, a := range grantedDynamoActions(&p.Statements[i]) {
			out[a] = true
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
