package dynamodb

import (
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// Statement lint rule ids of the target (stable; documented in the README).
const (
	// RuleLeadingKeysCondition: an Allow statement grants a DynamoDB action
	// without both ForAllValues:StringEquals on dynamodb:LeadingKeys and
	// "Null": {"dynamodb:LeadingKeys": "false"} in its Condition block,
	// on a resource that is not the tenant's own per-tenant table.
	RuleLeadingKeysCondition = "leadingkeys-condition"
	// RuleKeylessAction: an Allow statement grants a DynamoDB action whose
	// request carries no dynamodb:LeadingKeys (Scan, DescribeTable,
	// dynamodb:*, any wildcard expanding to one, or an unknown action),
	// except Scan and DescribeTable in a statement whose every resource is
	// the tenant's own per-tenant table or its indexes (silo).
	RuleKeylessAction = "keyless-action"
	// RuleNotAction: an Allow statement uses NotAction or NotResource and
	// thereby grants DynamoDB actions.
	RuleNotAction = "notaction"
	// RuleStringLikeWildcard: a *Like operator on dynamodb:LeadingKeys in an
	// Allow statement (a tenant "*" would read every tenant).
	RuleStringLikeWildcard = "stringlike-wildcard"
	// RuleLeadingKeysOperator: dynamodb:LeadingKeys tested in an Allow
	// statement with an operator other than ForAllValues:StringEquals or Null.
	RuleLeadingKeysOperator = "leadingkeys-operator"
	// RuleStreamWildcard: a Resource of a DynamoDB-granting Allow statement
	// also matches stream ARNs (table/NAME/*, table/*, *).
	RuleStreamWildcard = "stream-wildcard"
	// RuleVariables: a policy variable ("${...}") in a dynamodb:LeadingKeys
	// value of an Allow statement.
	RuleVariables = "variables"
)

func (target) Rules() []string {
	return []string{
		RuleNotAction, RuleKeylessAction, RuleStringLikeWildcard, RuleLeadingKeysOperator,
		RuleVariables, RuleLeadingKeysCondition, RuleStreamWildcard,
	}
}

// siloActions are the key-less actions a tenant may use on its own
// per-tenant table (and its indexes): Scan reaches only that table's items,
// DescribeTable only its metadata. Every other key-less action is control
// plane (DeleteTable, UpdateTable, PutResourcePolicy, exports, backups,
// restores, replicas) or reaches beyond the table (ListTables, streams),
// and no tenant session may have it, even on its own table.
var siloActions = map[string]bool{"Scan": true, "DescribeTable": true}

// LintStatement checks one Allow statement of a template at load against
// the rules, in Rules order. The tenant's own tables are then the sample
// values of {{tenant_table_arns}} and {{tenant_index_arns}}.
func (target) LintStatement(st *iam.Statement) *policies.Finding {
	return lintStatement(st, func(r string) bool {
		return r == sampleTenantTable || r == sampleTenantTable+indexSuffix
	})
}

// LintStatement checks one Allow statement of a policy rendered for
// tenant (policies.StatementLinter): the tenant's own tables are the
// profile's per-tenant tables named for tenant, and their indexes.
func (b *binding) LintStatement(st *iam.Statement, tenantID string) *policies.Finding {
	var own []string
	for _, t := range b.tables {
		if t.perTenant {
			arn := t.arn(tenantID)
			own = append(own, arn, arn+indexSuffix)
		}
	}
	return lintStatement(st, func(r string) bool {
		return slices.ContainsFunc(own, func(d string) bool { return policies.ResourceWithin(r, d) })
	})
}

// lintStatement applies the rules to one Allow statement. own reports
// whether a resource pattern lies within the tenant's own per-tenant
// tables: a statement whose every resource does is a silo statement, which
// may grant Scan and DescribeTable and needs no LeadingKeys condition.
func lintStatement(st *iam.Statement, own func(string) bool) *policies.Finding {
	fail := func(rule, detail, text string) *policies.Finding {
		return &policies.Finding{Rule: rule, Detail: detail, Text: text}
	}
	if f := policies.LintNot(st, catalogue, RuleNotAction, "DynamoDB"); f != nil {
		return f
	}
	granted := catalogue.Granted(st)
	silo := len(st.Resource) > 0 && !slices.ContainsFunc(st.Resource, func(r string) bool { return !own(r) })
	if f := lintActions(st, silo); f != nil {
		return f
	}
	hasEquals, hasNull, f := lintConditions(st)
	if f != nil || len(granted) == 0 {
		return f
	}
	names := make([]string, len(granted))
	for i, a := range granted {
		names[i] = catalogue.Full(a.Name)
	}
	acts := strings.Join(names, ",")
	switch {
	case silo:
		// The tenant's own tables: every item is the tenant's.
	case !hasEquals:
		return fail(RuleLeadingKeysCondition, `grants DynamoDB actions without "ForAllValues:StringEquals" on dynamodb:LeadingKeys`, acts)
	case !hasNull:
		return fail(RuleLeadingKeysCondition, `grants DynamoDB actions without the "Null": {"dynamodb:LeadingKeys": "false"} guard`, acts)
	}
	for _, r := range st.Resource {
		if matchesStreams(r) {
			return fail(RuleStreamWildcard, "resource also matches DynamoDB stream ARNs; name the table and table/NAME/index/*", r)
		}
	}
	return nil
}

// lintActions refuses actions whose requests carry no LeadingKeys, except,
// in a silo statement, Scan and DescribeTable (siloActions).
func lintActions(st *iam.Statement, silo bool) *policies.Finding {
	for _, p := range st.Action {
		matched := catalogue.Expand(p)
		for _, a := range matched {
			switch {
			case a.Keyed:
			case silo && siloActions[a.Name]:
			case silo:
				return &policies.Finding{Rule: RuleKeylessAction, Detail: "grants dynamodb:" + a.Name +
					", a key-less action no tenant session may have, not even on its own table (only Scan and DescribeTable)", Text: p}
			default:
				return &policies.Finding{Rule: RuleKeylessAction, Detail: "grants dynamodb:" + a.Name +
					", whose requests carry no dynamodb:LeadingKeys, on a resource that is not the tenant's own table ({{tenant_table_arns}})", Text: p}
			}
		}
		if len(matched) == 0 && catalogue.CouldMatch(p) {
			return &policies.Finding{Rule: RuleKeylessAction, Detail: "names no known DynamoDB action that carries dynamodb:LeadingKeys", Text: p}
		}
	}
	return nil
}

// lintConditions checks the operators on dynamodb:LeadingKeys and reports
// whether the statement has the equality condition and the Null guard.
func lintConditions(st *iam.Statement) (hasEquals, hasNull bool, f *policies.Finding) {
	for _, c := range st.Conditions {
		if !strings.EqualFold(c.Key, LeadingKeysKey) {
			continue
		}
		op := c.Operator
		switch {
		case strings.Contains(strings.ToLower(op), "like"):
			return false, false, &policies.Finding{Rule: RuleStringLikeWildcard,
				Detail: op + " on dynamodb:LeadingKeys lets a wildcard-bearing key match other tenants; use ForAllValues:StringEquals",
				Text:   op + " " + strings.Join(c.Values, ",")}
		case strings.EqualFold(op, "ForAllValues:StringEquals"):
			for _, v := range c.Values {
				if strings.Contains(v, "${") {
					return false, false, &policies.Finding{Rule: RuleVariables, Detail: "policy variable in a dynamodb:LeadingKeys value", Text: v}
				}
			}
			hasEquals = hasEquals || len(c.Values) > 0
		case strings.EqualFold(op, "Null"):
			hasNull = hasNull || isNullFalse(c.Values)
		default:
			return false, false, &policies.Finding{Rule: RuleLeadingKeysOperator,
				Detail: "dynamodb:LeadingKeys must be tested with ForAllValues:StringEquals (it is multivalued)", Text: op}
		}
	}
	return hasEquals, hasNull, nil
}

// isNullFalse reports whether a Null condition's values require the key to
// be present: every value "false" (several values are ORed, so one "true"
// would let an absent key through).
func isNullFalse(values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		if !strings.EqualFold(v, "false") {
			return false
		}
	}
	return true
}

// matchesStreams reports whether a resource pattern may match a DynamoDB
// stream ARN (arn:P:dynamodb:R:A:table/NAME/stream/LABEL). It errs on the
// side of yes: "*" spans "/" in resource patterns, so any "*" in the
// resource type or table name segment, or a third segment that could read
// "stream", counts.
func matchesStreams(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 {
		// Not a full ARN: a trailing "*" may span the missing colons.
		return strings.Contains(r, "*")
	}
	if !globMatch(parts[2], "dynamodb") {
		return false
	}
	segs := strings.Split(parts[5], "/")
	if strings.Contains(segs[0], "*") {
		return true
	}
	if !globMatch(segs[0], "table") || len(segs) < 2 {
		return false
	}
	if strings.Contains(segs[1], "*") {
		return true
	}
	if len(segs) < 3 {
		return false
	}
	third := segs[2]
	if i := strings.IndexByte(third, '*'); i >= 0 {
		prefix := third[:i]
		if j := strings.IndexByte(prefix, '?'); j >= 0 {
			prefix = prefix[:j]
		}
		return strings.HasPrefix("stream", prefix)
	}
	return globMatch(third, "stream")
}

// globMatch matches s against a pattern with '*' (any run) and '?' (one
// character), case-insensitively: the matching IAM uses for actions.
func globMatch(pattern, s string) bool {
	return iam.MatchAction(pattern, s)
}
