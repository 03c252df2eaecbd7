// Package dynamodb is the DynamoDB isolation target. Tenants are isolated
// either by partition key in a table they share (pooled), or by table (a
// per-tenant table, silo), or both (bridge).
//
// Pooled: a tenant session may only use actions whose requests carry
// dynamodb:LeadingKeys, and only with its own key: ForAllValues:StringEquals
// on dynamodb:LeadingKeys and the Null guard, on the table and its indexes
// (never table/NAME/*, which also matches streams).
//
// Silo: a table ARN whose name holds {tenant} (table/orders-{tenant}) is
// named for each tenant by whole-name templating with the validated id; the
// tenant pattern must only admit table-name characters and fit the name in
// 255 characters (checked at start-up). A statement whose every resource is
// the tenant's own table or its indexes ({{tenant_table_arns}},
// {{tenant_index_arns}}) may also grant Scan and DescribeTable, and needs no
// LeadingKeys condition. No other key-less action is ever allowed.
//
// Bridge: a pooled template (LeadingKeys) over per-tenant tables.
//
// The target contributes the placeholders {{leading_key}} (the profile's
// leading-key format applied to the tenant id), {{table_arns}} and
// {{index_arns}} (every table ARN, named for the tenant, + "/index/*"),
// {{tenant_table_arns}} and {{tenant_index_arns}} (the per-tenant tables
// only); a template must use {{leading_key}} or {{tenant_table_arns}}. It
// also brings the statement lint rules (Rule* ids; a binding checks a
// rendered policy with its tenant's own tables), the action catalogue, the
// table-ARN grammar and the proof battery (see binding.Prove).
//
// A shipped template (templates/dynamodb-read.json in package policies):
//
//	{"Version": "2012-10-17",
//	 "Statement": [{"Sid": "TenantItemRead", "Effect": "Allow",
//	   "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
//	   "Resource": ["{{table_arns}}", "{{index_arns}}"],
//	   "Condition": {
//	     "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["{{leading_key}}"]},
//	     "Null": {"dynamodb:LeadingKeys": "false"}}}]}
//
// and its silo counterpart (templates/dynamodb-silo-read.json):
//
//	{"Version": "2012-10-17",
//	 "Statement": [{"Sid": "TenantTableRead", "Effect": "Allow",
//	   "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
//	              "dynamodb:Scan", "dynamodb:DescribeTable"],
//	   "Resource": ["{{tenant_table_arns}}", "{{tenant_index_arns}}"]}]}
//
// Profile settings (YAML keys at the profile's top level):
//
//	table_arns:         [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo,
//	                     "arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenant}"]
//	leading_key_format: "Tenant#{tenant}"
//
// Everything here is immutable and safe for concurrent use.
package dynamodb

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Name is the target's name in configuration and messages.
const Name = "dynamodb"

// Service is DynamoDB's IAM service prefix.
const Service = "dynamodb"

// LeadingKeysKey is the condition key the isolation rests on.
const LeadingKeysKey = "dynamodb:LeadingKeys"

// DefaultLeadingKeyFormat is the partition-key format used when a profile
// configures none; {tenant} is replaced by the validated tenant id.
const DefaultLeadingKeyFormat = "Tenant#{tenant}"

// MaxLeadingKeyLength is the most bytes a formatted leading key (and a
// leading-key format) may have. DynamoDB partition keys may be up to 2048
// bytes, but a session policy must fit in 2048 characters altogether.
const MaxLeadingKeyLength = 1024

// Placeholders of the target.
const (
	PlaceholderLeadingKey = "{{leading_key}}" // the formatted partition-key value, e.g. "Tenant#1"
	PlaceholderTableARNs  = "{{table_arns}}"  // the table ARNs, {tenant} filled in (a list)
	PlaceholderIndexARNs  = "{{index_arns}}"  // each table ARN + "/index/*" (a list)
	// PlaceholderTenantTableARNs are the tenant's own tables: the profile's
	// per-tenant tables (a {tenant} in the name) named for the tenant (a
	// list). A statement on them alone may grant Scan and DescribeTable and
	// needs no LeadingKeys condition: the whole table is the tenant's.
	PlaceholderTenantTableARNs = "{{tenant_table_arns}}"
	// PlaceholderTenantIndexARNs: each tenant table ARN + "/index/*".
	PlaceholderTenantIndexARNs = "{{tenant_index_arns}}"
)

// indexSuffix makes a table ARN the pattern of its indexes.
const indexSuffix = "/index/*"

// Table-name limits (DynamoDB Developer Guide, "Naming rules"): 3-255
// characters of [A-Za-z0-9_.-].
const (
	MinTableNameLen = 3
	MaxTableNameLen = 255
)

// Samples of the ARNs templates are linted with at load.
const (
	sampleTable       = "arn:aws:dynamodb:us-east-1:123456789012:table/TABLE"
	sampleTenantTable = "arn:aws:dynamodb:us-east-1:123456789012:table/TABLE-TENANT"
)

// tableARNRE is the one table-ARN grammar: a real partition, region and
// account, and a table name of [A-Za-z0-9_.-] that may hold {tenant} once
// (a per-tenant table); no wildcard, no index or stream suffix. The
// name's length is checked apart.
var tableARNRE = regexp.MustCompile(`^arn:` + stsrules.PartitionRE + `:dynamodb:` + stsrules.RegionRE + `:` +
	stsrules.AccountRE + `:table/([A-Za-z0-9_.-]*(?:` + regexp.QuoteMeta(tenant.Placeholder) + `)?[A-Za-z0-9_.-]*)$`)

// TableNameRune reports whether r may appear in a DynamoDB table name.
func TableNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}

// CheckTableARN checks that arn names one DynamoDB table, with no wildcard:
// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME, NAME 3-255 characters
// of [A-Za-z0-9_.-]. NAME may hold {tenant} once — a per-tenant table,
// named for each tenant by replacing it with the tenant id — and then its
// other characters must leave room for a tenant id of at least one
// character within the limits.
func CheckTableARN(arn string) error {
	if strings.Contains(arn, tenant.Placeholder) && strings.ContainsAny(arn, "*?") {
		return errors.New("a per-tenant table name must not hold a wildcard: orders-{tenant}* would reach orders-12 from tenant 1")
	}
	m := tableARNRE.FindStringSubmatch(arn)
	if m == nil {
		return errors.New("not a DynamoDB table ARN (arn:<partition>:dynamodb:<region>:<account>:table/<name>, no wildcards, {tenant} at most once in the name)")
	}
	name := m[1]
	n := len(name)
	if strings.Contains(name, tenant.Placeholder) {
		n = n - len(tenant.Placeholder) + 1 // the shortest tenant id has one character
	}
	if n < MinTableNameLen || len(name) > MaxTableNameLen+len(tenant.Placeholder) || n > MaxTableNameLen {
		return fmt.Errorf("table name must be %d-%d characters (with {tenant} as a 1-character id)", MinTableNameLen, MaxTableNameLen)
	}
	return nil
}

// Target is the DynamoDB isolation target.
var Target policies.Target = target{}

type target struct{}

func (target) Name() string                   { return Name }
func (target) Catalogue() *policies.Catalogue { return catalogue }
func (target) Placeholders() []policies.Placeholder {
	return []policies.Placeholder{
		{Name: PlaceholderLeadingKey, Required: true, Sample: "Tenant#TENANT"},
		{Name: PlaceholderTableARNs, List: true, Sample: []string{sampleTable}},
		{Name: PlaceholderIndexARNs, List: true, Sample: []string{sampleTable + indexSuffix}},
		{Name: PlaceholderTenantTableARNs, List: true, Required: true, Sample: []string{sampleTenantTable}},
		{Name: PlaceholderTenantIndexARNs, List: true, Sample: []string{sampleTenantTable + indexSuffix}},
	}
}

// Settings are a profile's DynamoDB settings.
type Settings struct {
	TableARNs        []string `yaml:"table_arns"`
	LeadingKeyFormat string   `yaml:"leading_key_format"`
}

// Bind validates the settings — at least one table ARN, each valid and
// listed once; a leading-key format with {tenant} exactly once, of at most
// MaxLeadingKeyLength bytes — and compiles them.
func (target) Bind(s policies.Settings) (policies.Binding, error) {
	var set Settings
	if err := s.Decode(&set); err != nil {
		return nil, &policies.SettingError{Problem: err.Error()}
	}
	var problems policies.SettingProblems
	tables := policies.ParseList(&problems, "table_arns", "table ARN", set.TableARNs, func(arn string) (table, error) {
		if err := CheckTableARN(arn); err != nil {
			return table{}, err
		}
		return newTable(arn), nil
	})
	format, err := tenant.ParseFormat(set.LeadingKeyFormat)
	switch {
	case err != nil:
		problems.Add("leading_key_format", err)
	case len(set.LeadingKeyFormat) > MaxLeadingKeyLength:
		problems.Addf("leading_key_format", "longer than %d bytes", MaxLeadingKeyLength)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &binding{tables: tables, format: format}, nil
}

// table is one table of a profile: a fixed ARN, or a per-tenant one.
type table struct {
	fixed     string        // the ARN, when not per-tenant
	name      tenant.Format // the whole ARN as a format, when per-tenant
	perTenant bool
}

func newTable(arn string) table {
	if !strings.Contains(arn, tenant.Placeholder) {
		return table{fixed: arn}
	}
	return table{name: tenant.MustParseFormat(arn), perTenant: true}
}

// arn returns the table's ARN for tenant id.
func (t table) arn(id string) string {
	if t.perTenant {
		return t.name.Expand(id)
	}
	return t.fixed
}

// binding is the DynamoDB target bound to a profile's tables and format.
type binding struct {
	tables []table
	format tenant.Format
}

func (b *binding) Target() policies.Target { return Target }

// LeadingKey returns the partition-key value of tenant id.
func (b *binding) LeadingKey(id string) string { return b.format.Expand(id) }

// Values implements policies.Binding. {{tenant_table_arns}} and
// {{tenant_index_arns}} are present only when the profile has per-tenant
// tables, so a template that uses them cannot render for a profile without.
func (b *binding) Values(id string) (policies.Values, error) {
	key := b.format.Expand(id)
	if len(key) > MaxLeadingKeyLength {
		return nil, fmt.Errorf("leading key is %d bytes, limit %d", len(key), MaxLeadingKeyLength)
	}
	var tables, indexes, own, ownIndexes []string
	for _, t := range b.tables {
		arn := t.arn(id)
		if t.perTenant {
			if err := CheckTableARN(arn); err != nil {
				return nil, fmt.Errorf("the tenant's table: %w", err)
			}
			own, ownIndexes = append(own, arn), append(ownIndexes, arn+indexSuffix)
		}
		tables, indexes = append(tables, arn), append(indexes, arn+indexSuffix)
	}
	v := policies.Values{
		PlaceholderLeadingKey: key,
		PlaceholderTableARNs:  tables,
		PlaceholderIndexARNs:  indexes,
	}
	if len(own) > 0 {
		v[PlaceholderTenantTableARNs], v[PlaceholderTenantIndexARNs] = own, ownIndexes
	}
	return v, nil
}

// CheckTenants checks that the key of every tenant id p admits fits in
// MaxLeadingKeyLength bytes, that every id p admits names a valid
// per-tenant table: only table-name characters, within the length limit
// (every character a pattern admits is legal in a partition key and in a
// policy), and that no two tenants can own the same table (tablesApart).
func (b *binding) CheckTenants(p *tenant.Pattern) error {
	if n := b.format.FixedBytes() + p.MaxBytes(); n > MaxLeadingKeyLength {
		return &policies.SettingError{Field: "leading_key_format", Problem: fmt.Sprintf(
			"the leading key of the longest tenant id the tenant pattern admits is %d bytes, limit %d", n, MaxLeadingKeyLength)}
	}
	for i, t := range b.tables {
		if !t.perTenant {
			continue
		}
		field := fmt.Sprintf("table_arns[%d]", i)
		if err := p.CheckAlphabet("a DynamoDB table name", TableNameRune); err != nil {
			return &policies.SettingError{Field: field, Problem: "auth.tenant_pattern " + err.Error()}
		}
		name := t.arn("")[strings.Index(t.arn(""), ":table/")+len(":table/"):]
		if n := len(name) + p.MaxLen(); n > MaxTableNameLen {
			return &policies.SettingError{Field: field, Problem: fmt.Sprintf(
				"the table name of the longest tenant id the tenant pattern admits is %d characters, limit %d", n, MaxTableNameLen)}
		}
	}
	return b.tablesApart(p)
}

// tablesApart checks that every table of the profile belongs to one tenant
// at most: a table a profile names for every tenant (shared) is no
// tenant's own table — tvm-demo-admin next to tvm-demo-{tenant} would be
// tenant "admin"'s, where a silo template allows Scan — and two per-tenant
// tables never name one table for two tenants — t-{tenant}-archive of
// tenant "1" is t-{tenant} of tenant "1-archive" (tenant.Pattern.Overlap,
// conservative).
func (b *binding) tablesApart(p *tenant.Pattern) error {
	for j, t := range b.tables {
		if !t.perTenant {
			continue
		}
		field := fmt.Sprintf("table_arns[%d]", j)
		for i, o := range b.tables {
			switch {
			case i == j:
			case !o.perTenant:
				if id, ok := p.Names(t.name, o.fixed); ok {
					return &policies.SettingError{Field: field, Problem: fmt.Sprintf(
						"names the table %s for tenant %q, which table_arns[%d] shares with every tenant: "+
							"its tenant would own every tenant's items (rename one, or narrow auth.tenant_pattern)", o.fixed, id, i)}
				}
			case i < j:
				if diff, ok := p.Overlap(t.name, o.name); ok {
					return &policies.SettingError{Field: field, Problem: fmt.Sprintf(
						"and table_arns[%d] can name one table for two tenants (ids that differ by %q, which auth.tenant_pattern admits): "+
							"make their names differ before {tenant}, or by a character no tenant id holds", i, diff)}
				}
			}
		}
	}
	return nil
}
