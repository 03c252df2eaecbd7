package dynamodb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/tenant"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const demoTable = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"

// TestKeyedOrder: every keyed action gets own/other rows when granted
// (keyedOrder lists each once), and only keyed actions are in it.
func TestKeyedOrder(t *testing.T) {
	for _, a := range actions {
		if a.Keyed && !slices.Contains(keyedOrder, a.Name) {
			t.Errorf("keyed action %s gets no proof rows", a.Name)
		}
	}
	for i, name := range keyedOrder {
		if a, ok := catalogue.Lookup(name); !ok || !a.Keyed || slices.Index(keyedOrder, name) != i {
			t.Errorf("proved action %s is not keyed, or listed twice", name)
		}
	}
	for name := range siloActions {
		if a, ok := catalogue.Lookup(name); !ok || a.Keyed {
			t.Errorf("silo action %s is not a key-less DynamoDB action", name)
		}
	}
}

// TestCatalogue keeps the action table consistent: sorted, writes keyed.
func TestCatalogue(t *testing.T) {
	if !slices.IsSortedFunc(actions, func(a, b policies.Action) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("actions are not sorted")
	}
	for _, a := range actions {
		if a.Write && !a.Keyed {
			t.Errorf("write action %s is not keyed", a.Name)
		}
	}
	var got []string
	for _, a := range catalogue.Expand("dynamodb:Get*") {
		got = append(got, a.Name)
	}
	if want := []string{"GetAbacStatus", "GetItem", "GetRecords", "GetResourcePolicy", "GetShardIterator"}; !slices.Equal(got, want) {
		t.Errorf("Expand(dynamodb:Get*) = %v, want %v", got, want)
	}
	if a, ok := catalogue.Lookup("query"); !ok || a.Name != "Query" || !a.Keyed {
		t.Errorf("Lookup(query) = %v, %v", a, ok)
	}
}

func TestMatchesStreams(t *testing.T) {
	tests := map[string]bool{
		"*":                             true,
		"arn:aws:dynamodb:*":            true,
		"arn:aws:dynamodb:*:*:*":        true,
		"arn:aws:dynamodb:*:*:table/*":  true,
		demoTable + "*":                 true,
		demoTable + "/*":                true,
		demoTable + "/s*":               true,
		demoTable + "/stream/*":         true,
		demoTable + "/strea?/*":         true,
		demoTable + "/*/x":              true,
		demoTable:                       false,
		demoTable + "/index/*":          false,
		demoTable + "/index/gsi":        false,
		demoTable + "/i*":               false,
		"arn:aws:dynamodb:*:*:table/t?": false,
		"arn:aws:dynamodb:us-east-1:123456789012:backup/*": false,
		"arn:aws:s3:::bucket/*":                            false,
	}
	for pattern, want := range tests {
		t.Run(pattern, func(t *testing.T) {
			if got := matchesStreams(pattern); got != want {
				t.Errorf("matchesStreams(%q) = %v, want %v", pattern, got, want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"dynamodb", "DynamoDB", true},
		{"dyn*", "dynamodb", true},
		{"*db", "dynamodb", true},
		{"d?namodb", "dynamodb", true},
		{"*", "", true},
		{"?", "", false},
		{"s3", "dynamodb", false},
		{"d*x*b", "dynamodb", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestCheckTableARN(t *testing.T) {
	tests := map[string]bool{
		demoTable: true,
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t_1.x-y":                 true,
		"arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/abc":              true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/" + strings.Repeat("a", 255): true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/" + strings.Repeat("a", 256): false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/ab":                          false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/*":                           false,
		demoTable + "/index/x": false,
		demoTable + "/*":       false,
		"arn:aws:dynamodb:*:123456789012:table/tvm-demo":          false,
		"arn:aws:dynamodb:mars:123456789012:table/tvm-demo":       false,
		"arn:aws:dynamodb:us-east-1:12345678901:table/tvm-demo":   false,
		"arn:awsx:dynamodb:us-east-1:123456789012:table/tvm-demo": false,
		"arn:aws:s3:::bucket":                false,
		"arn:aws:iam::123456789012:role/tvm": false,
		// Per-tenant tables: {tenant} once in the name, no wildcard, room
		// for a one-character id within 3-255 characters.
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenant}":                          true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/{tenant}.orders":                          true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/t{tenant}":                                false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/ab{tenant}":                               true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/" + strings.Repeat("a", 254) + "{tenant}": true,
		"arn:aws:dynamodb:us-east-1:123456789012:table/" + strings.Repeat("a", 255) + "{tenant}": false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenant}*":                         false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenant}-{tenant}":                 false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenant}/index/*":                  false,
		"arn:aws:dynamodb:{tenant}:123456789012:table/orders":                                    false,
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders-{tenants}":                         false,
	}
	for arn, ok := range tests {
		if err := CheckTableARN(arn); (err == nil) != ok {
			t.Errorf("CheckTableARN(%q) = %v, want ok %v", arn, err, ok)
		}
	}
}

type settings Settings

func (s settings) Decode(v any) error {
	*v.(*Settings) = Settings(s)
	return nil
}

type badSettings struct{}

func (badSettings) Decode(any) error { return errors.New("field x not found") }

func TestBind(t *testing.T) {
	tests := map[string]struct {
		s    policies.Settings
		want []string // "" entries: none; else substrings of the error
	}{
		"ok":                    {s: settings{TableARNs: []string{demoTable}, LeadingKeyFormat: DefaultLeadingKeyFormat}},
		"two tables":            {s: settings{TableARNs: []string{demoTable, demoTable + "-2"}, LeadingKeyFormat: "T#{tenant}"}},
		"no tables":             {s: settings{LeadingKeyFormat: DefaultLeadingKeyFormat}, want: []string{"table_arns: at least one table ARN is required"}},
		"wildcard table":        {s: settings{TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/*"}, LeadingKeyFormat: "{tenant}"}, want: []string{"table_arns[0]: not a DynamoDB table ARN"}},
		"table with a slash":    {s: settings{TableARNs: []string{demoTable + "/index/x"}, LeadingKeyFormat: "{tenant}"}, want: []string{"table_arns[0]: not a DynamoDB table ARN"}},
		"not dynamodb":          {s: settings{TableARNs: []string{"arn:aws:s3:::bucket"}, LeadingKeyFormat: "{tenant}"}, want: []string{"table_arns[0]"}},
		"duplicate table":       {s: settings{TableARNs: []string{demoTable, demoTable}, LeadingKeyFormat: "{tenant}"}, want: []string{"table_arns[1]: duplicate table ARN"}},
		"no format":             {s: settings{TableARNs: []string{demoTable}}, want: []string{`leading_key_format: must contain "{tenant}" exactly once`}},
		"format wildcard":       {s: settings{TableARNs: []string{demoTable}, LeadingKeyFormat: "T#{tenant}*"}, want: []string{"leading_key_format: must not contain"}},
		"format too long":       {s: settings{TableARNs: []string{demoTable}, LeadingKeyFormat: strings.Repeat("k", 1017) + "{tenant}"}, want: []string{"leading_key_format: longer than 1024 bytes"}},
		"every problem at once": {s: settings{TableARNs: []string{"x", demoTable, demoTable}}, want: []string{"table_arns[0]", "table_arns[2]", "leading_key_format"}},
		"undecodable":           {s: badSettings{}, want: []string{"field x not found"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Target.Bind(tc.s)
			if len(tc.want) == 0 {
				if err != nil || b.Target() != Target {
					t.Fatalf("Bind = %v, %v", b, err)
				}
				return
			}
			if err == nil || b != nil {
				t.Fatalf("Bind = %v, nil; want an error", b)
			}
			var se *policies.SettingError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *policies.SettingError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBindingValuesAndTenants(t *testing.T) {
	b, err := Target.Bind(settings{TableARNs: []string{demoTable}, LeadingKeyFormat: strings.Repeat("k", 900) + "{tenant}"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.Values("1")
	if err != nil {
		t.Fatal(err)
	}
	if v[PlaceholderLeadingKey] != strings.Repeat("k", 900)+"1" || !slices.Equal(v[PlaceholderIndexARNs].([]string), []string{demoTable + "/index/*"}) {
		t.Errorf("Values = %v", v)
	}
	if _, err := b.Values(strings.Repeat("é", 100)); err == nil {
		t.Error("a 1100-byte key was accepted")
	}
	if err := b.CheckTenants(tenant.Default()); err != nil {
		t.Errorf("default pattern (64 bytes): %v", err)
	}
	p, err := tenant.Compile(`^[a-zé]{1,100}$`)
	if err != nil {
		t.Fatal(err)
	}
	var se *policies.SettingError
	if err := b.CheckTenants(p); !errors.As(err, &se) || se.Field != "leading_key_format" || !strings.Contains(err.Error(), "1100 bytes, limit 1024") {
		t.Errorf("CheckTenants(200-byte ids) = %v, want the leading key's limit", err)
	}
}

const siloTable = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"

// TestPerTenantTables: {tenant} in a table name is whole-name templating
// with the tenant id; the per-tenant tables fill {{tenant_table_arns}} and
// {{tenant_index_arns}}, the shared ones do not.
func TestPerTenantTables(t *testing.T) {
	b, err := Target.Bind(settings{TableARNs: []string{demoTable, siloTable}, LeadingKeyFormat: DefaultLeadingKeyFormat})
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.Values("12")
	if err != nil {
		t.Fatal(err)
	}
	own := "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12"
	want := policies.Values{
		PlaceholderLeadingKey:      "Tenant#12",
		PlaceholderTableARNs:       []string{demoTable, own},
		PlaceholderIndexARNs:       []string{demoTable + "/index/*", own + "/index/*"},
		PlaceholderTenantTableARNs: []string{own},
		PlaceholderTenantIndexARNs: []string{own + "/index/*"},
	}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	pooled, err := Target.Bind(settings{TableARNs: []string{demoTable}, LeadingKeyFormat: DefaultLeadingKeyFormat})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := pooled.Values("1"); v[PlaceholderTenantTableARNs] != nil {
		t.Errorf("a profile without per-tenant tables provides %s: %v", PlaceholderTenantTableARNs, v)
	}
}

// TestPerTenantTableTenants: the tenant pattern must only admit ids that
// name valid tables: table-name characters, within 255 characters.
func TestPerTenantTableTenants(t *testing.T) {
	b, err := Target.Bind(settings{TableARNs: []string{demoTable, "arn:aws:dynamodb:us-east-1:123456789012:table/" + strings.Repeat("t", 200) + "{tenant}"},
		LeadingKeyFormat: DefaultLeadingKeyFormat})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{ // pattern -> substring of the error ("" = accepted)
		`^[a-z0-9]{1,55}$`:       "",
		`^[a-z0-9]{1,56}$`:       "table_arns[1]: the table name of the longest tenant id the tenant pattern admits is 256 characters, limit 255",
		`^[a-z0-9:]{1,8}$`:       `table_arns[1]: auth.tenant_pattern admits the character ':', which a DynamoDB table name does not allow`,
		`^[a-zé]{1,8}$`:          "which a DynamoDB table name does not allow",
		`^[A-Za-z0-9._-]{1,40}$`: "",
	}
	for pattern, want := range tests {
		t.Run(pattern, func(t *testing.T) {
			p, err := tenant.Compile(pattern)
			if err != nil {
				t.Fatal(err)
			}
			err = b.CheckTenants(p)
			if want == "" {
				if err != nil {
					t.Fatalf("CheckTenants: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("CheckTenants = %v, want %q", err, want)
			}
		})
	}
}

// TestBindingLint: rendered for a tenant, a statement may grant Scan and
// go without LeadingKeys only on that tenant's own per-tenant tables.
func TestBindingLint(t *testing.T) {
	b, err := Target.Bind(settings{TableARNs: []string{demoTable, siloTable}, LeadingKeyFormat: DefaultLeadingKeyFormat})
	if err != nil {
		t.Fatal(err)
	}
	sl := b.(policies.StatementLinter)
	own := "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-1"
	tests := map[string]struct {
		actions, resources []string
		want               string // rule, "" = passes
	}{
		"scan own table and index":        {[]string{"dynamodb:Scan", "dynamodb:Query"}, []string{own, own + "/index/*"}, ""},
		"one own index":                   {[]string{"dynamodb:Scan"}, []string{own + "/index/gsi"}, ""},
		"scan another tenant's table":     {[]string{"dynamodb:Scan"}, []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12"}, RuleKeylessAction},
		"scan the shared table":           {[]string{"dynamodb:Scan"}, []string{own, demoTable}, RuleKeylessAction},
		"prefix wildcard next to tenant":  {[]string{"dynamodb:Scan"}, []string{own + "*"}, RuleKeylessAction},
		"delete own table":                {[]string{"dynamodb:DeleteTable"}, []string{own}, RuleKeylessAction},
		"unconditioned read, shared":      {[]string{"dynamodb:GetItem"}, []string{demoTable}, RuleLeadingKeysCondition},
		"unconditioned read, other table": {[]string{"dynamodb:GetItem"}, []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-12"}, RuleLeadingKeysCondition},
		"streams of own table":            {[]string{"dynamodb:Query"}, []string{own + "/*"}, RuleLeadingKeysCondition},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &iam.Statement{Effect: iam.Allow, Action: tc.actions, Resource: tc.resources}
			f := sl.LintStatement(st, "1")
			switch {
			case tc.want == "" && f != nil:
				t.Fatalf("finding %+v, want none", f)
			case tc.want != "" && (f == nil || f.Rule != tc.want):
				t.Fatalf("finding %+v, want rule %s", f, tc.want)
			}
		})
	}
}

// TestTablesApart: no table of a profile belongs to two tenants — neither
// a shared table that is some tenant's per-tenant table, nor one table two
// per-tenant formats name for two tenants.
func TestTablesApart(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:123456789012:table/"
	tests := map[string]struct {
		tables  []string
		pattern string
		want    string // substring of the error ("" = accepted)
	}{
		"a shared table is tenant admin's": {[]string{arn + "tvm-demo-admin", arn + "tvm-demo-{tenant}"}, `^[a-z0-9]{1,16}$`,
			`table_arns[1]: names the table ` + arn + `tvm-demo-admin for tenant "admin", which table_arns[0] shares with every tenant`},
		"the pattern admits no such tenant": {[]string{arn + "tvm-demo-admin", arn + "tvm-demo-{tenant}"}, `^[0-9]{1,16}$`, ""},
		"the shared table is named apart":   {[]string{arn + "tvm-demo", arn + "tvm-demo-{tenant}"}, `^[a-z0-9]{1,16}$`, ""},
		"an archive format": {[]string{arn + "t-{tenant}", arn + "t-{tenant}-archive"}, `^[a-z0-9-]{1,16}$`,
			`table_arns[1]: and table_arns[0] can name one table for two tenants (ids that differ by "-archive"`},
		"an archive format, ids without '-'": {[]string{arn + "t-{tenant}", arn + "t-{tenant}-archive"}, `^[a-z0-9]{1,16}$`, ""},
		"formats apart before the tenant":    {[]string{arn + "orders-{tenant}", arn + "invoices-{tenant}"}, `^[a-z0-9-]{1,16}$`, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Target.Bind(settings{TableARNs: tc.tables, LeadingKeyFormat: DefaultLeadingKeyFormat})
			if err != nil {
				t.Fatal(err)
			}
			p, err := tenant.Compile(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			err = b.CheckTenants(p)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckTenants = %v, want %q", err, tc.want)
			}
		})
	}
}
