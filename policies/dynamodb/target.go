// Package dynamodb is the DynamoDB isolation target: one shared table (or
// several), tenants isolated by partition key. A tenant session may only
// use actions whose requests carry dynamodb:LeadingKeys, and only with its
// own key: ForAllValues:StringEquals on dynamodb:LeadingKeys and the Null
// guard, on the table and its indexes (never table/NAME/*, which also
// matches streams).
//
// The target contributes the placeholders {{leading_key}} (the profile's
// leading-key format applied to the tenant id; required), {{table_arns}}
// and {{index_arns}} (each table ARN + "/index/*"), the statement lint
// rules (Rule* ids), the action catalogue, the table-ARN grammar and the
// proof battery.
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
// Profile settings (YAML keys at the profile's top level):
//
//	table_arns:         [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
//	leading_key_format: "Tenant#{tenant}"
//
// Everything here is immutable and safe for concurrent use.
package dynamodb

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

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
	PlaceholderTableARNs  = "{{table_arns}}"  // the table ARNs (a list)
	PlaceholderIndexARNs  = "{{index_arns}}"  // each table ARN + "/index/*" (a list)
)

// sampleTable is the table ARN templates are linted with at load.
const sampleTable = "arn:aws:dynamodb:us-east-1:123456789012:table/TABLE"

// tableARNRE is the one table-ARN grammar: a real partition, region and
// account, and a table name of 3-255 characters of [A-Za-z0-9_.-] (so no
// wildcard, no index or stream suffix).
var tableARNRE = regexp.MustCompile(`^arn:` + stsrules.PartitionRE + `:dynamodb:` + stsrules.RegionRE + `:` +
	stsrules.AccountRE + `:table/[A-Za-z0-9_.-]{3,255}$`)

// CheckTableARN checks that arn names one DynamoDB table, with no wildcard:
// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME.
func CheckTableARN(arn string) error {
	if !tableARNRE.MatchString(arn) {
		return errors.New("not a DynamoDB table ARN (arn:<partition>:dynamodb:<region>:<account>:table/<name>, no wildcards)")
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
		{Name: PlaceholderIndexARNs, List: true, Sample: []string{sampleTable + "/index/*"}},
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
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &policies.SettingError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if len(set.TableARNs) == 0 {
		bad("table_arns", "at least one table ARN is required")
	}
	b := &binding{}
	for i, arn := range set.TableARNs {
		field := fmt.Sprintf("table_arns[%d]", i)
		switch err := CheckTableARN(arn); {
		case err != nil:
			bad(field, "%v", err)
		case slices.Index(set.TableARNs, arn) < i:
			bad(field, "duplicate table ARN")
		default:
			b.tables = append(b.tables, arn)
			b.indexes = append(b.indexes, arn+"/index/*")
		}
	}
	format, err := tenant.ParseFormat(set.LeadingKeyFormat)
	switch {
	case err != nil:
		bad("leading_key_format", "%v", err)
	case len(set.LeadingKeyFormat) > MaxLeadingKeyLength:
		bad("leading_key_format", "longer than %d bytes", MaxLeadingKeyLength)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.format = format
	return b, nil
}

// binding is the DynamoDB target bound to a profile's tables and format.
type binding struct {
	tables, indexes []string
	format          tenant.Format
}

func (b *binding) Target() policies.Target { return Target }

// LeadingKey returns the partition-key value of tenant id.
func (b *binding) LeadingKey(id string) string { return b.format.Expand(id) }

// Values implements policies.Binding.
func (b *binding) Values(id string) (policies.Values, error) {
	key := b.format.Expand(id)
	if len(key) > MaxLeadingKeyLength {
		return nil, fmt.Errorf("leading key is %d bytes, limit %d", len(key), MaxLeadingKeyLength)
	}
	return policies.Values{
		PlaceholderLeadingKey: key,
		PlaceholderTableARNs:  b.tables,
		PlaceholderIndexARNs:  b.indexes,
	}, nil
}

// CheckTenants checks that the key of every tenant id p admits fits in
// MaxLeadingKeyLength bytes. (Every character a pattern admits is legal in
// a partition key and in a policy.)
func (b *binding) CheckTenants(p *tenant.Pattern) error {
	if n := b.format.FixedBytes() + p.MaxBytes(); n > MaxLeadingKeyLength {
		return &policies.SettingError{Field: "leading_key_format", Problem: fmt.Sprintf(
			"the leading key of the longest tenant id the tenant pattern admits is %d bytes, limit %d", n, MaxLeadingKeyLength)}
	}
	return nil
}
