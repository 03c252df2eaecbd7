package policies_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

func TestProveShipped(t *testing.T) {
	s := mustLoad(t)
	second := "arn:aws:dynamodb:eu-west-1:123456789012:table/tvm-demo-2"
	tests := map[string]struct {
		template string
		spec     policies.ProofSpec
		rows     int
	}{
		// Own: Query on table and index, GetItem, BatchGetItem; other key:
		// the same four; a mixed batch; Scan on table and index; Query,
		// GetItem and BatchGetItem without a key; DeleteTable; GetRecords;
		// each of the three reads with the own key on a table the profile
		// does not name and on the table in another account.
		"read defaults": {template: "dynamodb-read", spec: policies.ProofSpec{Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)}, rows: 2 * (16 + 3*2)},
		// + five writes: own, other key, without a key, on the two tables
		// outside the profile; a mixed BatchWriteItem.
		"readwrite defaults": {template: "dynamodb-readwrite", spec: policies.ProofSpec{Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)}, rows: 2 * (16 + 5*3 + 1 + 8*2)},
		"two tables, custom format and tenants": {template: "dynamodb-read", spec: policies.ProofSpec{
			Bindings: bind(t, "org:{tenant}", demoTable, second), Tenants: [2]string{"acme", "acme2"},
		}, rows: 2 * (2*16 + 3*2)},
		// Own: 3 reads (Query also on the index), Scan on table and index,
		// DescribeTable; the other tenant's table: each read with either key,
		// Query on its index, Query without a key, Scan on table and index,
		// DescribeTable; DeleteTable and GetRecords on both tables; each of
		// the five actions on the two tables outside the profile.
		"silo read": {template: "dynamodb-silo-read", spec: policies.ProofSpec{Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, siloTable)}, rows: 2 * (22 + 5*2)},
		// + five writes: own, and on the other table with either key, and
		// on the two tables outside the profile.
		"silo readwrite": {template: "dynamodb-silo-readwrite", spec: policies.ProofSpec{Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, siloTable)}, rows: 2 * (22 + 5*3 + 10*2)},
		// Silo rows without the own Scan and DescribeTable rows (3 fewer),
		// plus the other key on the own table (3), a mixed batch, a key-less
		// Query and a Scan there.
		"bridge read": {template: "dynamodb-read", spec: policies.ProofSpec{Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, siloTable)}, rows: 2 * (22 - 3 + 6 + 3*2)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.spec.Template = mustGet(t, s, tc.template)
			rep, err := policies.Prove(tc.spec)
			if err != nil {
				t.Fatalf("Prove: %v", err)
			}
			if !rep.OK || len(rep.Rows) != tc.rows {
				t.Fatalf("report OK=%v with %d rows, want OK with %d", rep.OK, len(rep.Rows), tc.rows)
			}
			allowed := 0
			for _, row := range rep.Rows {
				if !row.OK || row.Got != row.Want && (row.Got == iam.Allowed || row.Want == iam.Allowed) {
					t.Errorf("row %q: want %s got %s", row.Name, row.Want, row.Got)
				}
				if row.Got == iam.Allowed {
					allowed++
					if row.Statement == "" || !strings.Contains(row.Statement, "statement 0") {
						t.Errorf("row %q: allowed without naming the statement: %q", row.Name, row.Statement)
					}
				}
			}
			if allowed == 0 || allowed == len(rep.Rows) {
				t.Errorf("%d of %d rows allowed: the battery must mix allows and denies", allowed, len(rep.Rows))
			}
		})
	}
}

// leakyStatement builds a statement; cond "" means none.
func leakyStatement(sid, actions, resources, cond string) string {
	st := `{"Sid":"` + sid + `","Effect":"Allow","Action":` + actions + `,"Resource":` + resources
	if cond != "" {
		st += `,"Condition":` + cond
	}
	return st + "}"
}

const (
	tmplResources = `["{{table_arns}}","{{index_arns}}"]`
	tmplGuarded   = `{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}`
	tmplNoNull    = `{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]}}`
	tmplRead      = `["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"]`
)

// TestProveLeaky feeds deliberately leaky templates (bypassing the linter)
// to Prove and checks each is refused with the first failing row named.
func TestProveLeaky(t *testing.T) {
	tests := map[string]struct {
		doc     string
		tables  []string // the profile's tables; demoTable when empty
		wantRow string
	}{
		"Scan allowed without the Null guard": {
			doc:     policy(leakyStatement("Read", `["dynamodb:Query","dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Scan"]`, tmplResources, tmplNoNull)),
			wantRow: `tenant "1": Scan table`,
		},
		"Scan allowed in a second statement": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Scan", `"dynamodb:Scan"`, tmplResources, "")),
			wantRow: `tenant "1": Scan table`,
		},
		"StringLike with a wildcard": {
			doc: policy(leakyStatement("Read", tmplRead, tmplResources,
				`{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#1*"]},"Null":{"dynamodb:LeadingKeys":"false"}}`)),
			wantRow: `tenant "1": Query other tenant's key on table`,
		},
		"missing Null guard": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplNoNull)),
			wantRow: `tenant "1": Query without LeadingKeys`,
		},
		"unconditioned GetItem": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Get", `"dynamodb:GetItem"`, `"*"`, "")),
			wantRow: `tenant "1": GetItem other tenant's key`,
		},
		"ForAnyValue lets a mixed batch through": {
			doc: policy(leakyStatement("Read", tmplRead, tmplResources,
				`{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}`)),
			wantRow: `tenant "1": BatchGetItem mixing own and other tenant's keys`,
		},
		"ForAnyValue lets a mixed PartiQL SELECT through (WHERE PK IN [...])": {
			doc: policy(leakyStatement("Read", `["dynamodb:PartiQLSelect"]`, tmplResources,
				`{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}`)),
			wantRow: `tenant "1": PartiQLSelect mixing own and other tenant's keys`,
		},
		"ForAnyValue lets a mixed BatchWriteItem through on the own table (bridge)": {
			doc: policy(leakyStatement("Write", `["dynamodb:BatchWriteItem"]`, tmplResources,
				`{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}`)),
			tables:  []string{siloTable},
			wantRow: `tenant "1": BatchWriteItem mixing own and other tenant's keys on own table`,
		},
		"unconditioned PutItem": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Put", `"dynamodb:PutItem"`, tmplResources, "")),
			wantRow: `tenant "1": PutItem other tenant's key`,
		},
		"table wildcard grants streams": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Streams", `"dynamodb:GetRecords"`, `"arn:aws:dynamodb:*:*:table/*"`, "")),
			wantRow: `tenant "1": GetRecords on stream`,
		},
		"unconditioned PartiQLSelect": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("PartiQL", `"dynamodb:PartiQL*"`, tmplResources, "")),
			wantRow: `tenant "1": PartiQLSelect other tenant's key`,
		},
		"unconditioned table export": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Export", `"dynamodb:Export*"`, `"{{table_arns}}"`, "")),
			wantRow: `tenant "1": ExportTableToPointInTime`,
		},
		"NotAction grants a key-less action": {
			doc: policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded),
				`{"Sid":"Not","Effect":"Allow","NotAction":["dynamodb:*Item","dynamodb:Query","dynamodb:Scan","dynamodb:DeleteTable","dynamodb:GetRecords","dynamodb:PartiQL*"],"Resource":"{{table_arns}}"}`),
			wantRow: `tenant "1": AssociateTableReplica`,
		},
		"a constant key every tenant can reach": {
			doc: policy(leakyStatement("Read", tmplRead, tmplResources,
				`{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#admin"]},"Null":{"dynamodb:LeadingKeys":"false"}}`)),
			wantRow: `tenant "1": Query key "Tenant#admin" named by the policy`,
		},
		"DeleteTable": {
			doc:     policy(leakyStatement("Read", tmplRead, tmplResources, tmplGuarded), leakyStatement("Drop", `"dynamodb:DeleteTable"`, `"{{table_arns}}"`, "")),
			wantRow: `tenant "1": DeleteTable`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tpl, err := policies.ParseTemplateUnlinted("leaky", []byte(tc.doc), targets.All())
			if err != nil {
				t.Fatalf("parseTemplate: %v", err)
			}
			tables := tc.tables
			if len(tables) == 0 {
				tables = []string{demoTable}
			}
			rep, err := policies.Prove(policies.ProofSpec{Template: tpl, Bindings: bind(t, dynamodb.DefaultLeadingKeyFormat, tables...)})
			var pe *policies.ProofError
			if !errors.As(err, &pe) {
				t.Fatalf("Prove err = %v, want *ProofError", err)
			}
			if pe.Row.Name != tc.wantRow {
				t.Fatalf("failing row %q, want %q (%v)", pe.Row.Name, tc.wantRow, err)
			}
			if rep == nil || rep.OK || pe.Row.OK {
				t.Fatalf("report = %+v, want a failed report", rep)
			}
			msg := err.Error()
			for _, want := range []string{`"leaky"`, tc.wantRow, "want " + string(pe.Row.Want), "got " + string(pe.Row.Got)} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() %q lacks %q", msg, want)
				}
			}
			if pe.Row.Got == iam.Allowed && !strings.Contains(pe.Row.Statement, "statement") {
				t.Errorf("a leaking row must name the allowing statement, got %q", pe.Row.Statement)
			}
		})
	}
}

func TestProveSpecErrors(t *testing.T) {
	tpl := mustGet(t, mustLoad(t), "dynamodb-read")
	b := bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable)
	tests := map[string]policies.ProofSpec{
		"no template":      {Bindings: b},
		"no bindings":      {Template: tpl},
		"same tenants":     {Template: tpl, Bindings: b, Tenants: [2]string{"a", "a"}},
		"invalid tenant":   {Template: tpl, Bindings: b, Tenants: [2]string{"a", "*"}},
		"target not bound": {Template: tpl, Bindings: []policies.Binding{fakeBinding{}}},
		"bound twice":      {Template: tpl, Bindings: append(b, b...)},
		"bound twice, no template": {Isolation: policies.IsolationSessionTags, Role: policies.Role{Known: true},
			Bindings: append(b, b...)},
		"unknown isolation":               {Template: tpl, Bindings: b, Isolation: "tags"},
		"session-tags, role unknown":      {Isolation: policies.IsolationSessionTags, Bindings: b},
		"session-policy without template": {Isolation: policies.IsolationSessionPolicy, Role: policies.Role{Known: true}, Bindings: b},
	}
	for name, spec := range tests {
		t.Run(name, func(t *testing.T) {
			rep, err := policies.Prove(spec)
			var pe *policies.ProofError
			if err == nil || errors.As(err, &pe) || rep != nil {
				t.Fatalf("Prove = %v, %v; want a spec error without a report", rep, err)
			}
		})
	}
}

// TestProveTwoTargets: a profile binding two targets runs both batteries on
// one rendered policy, and a failing row of either is reported.
func TestProveTwoTargets(t *testing.T) {
	known := append(append([]policies.Target(nil), targets.All()...), fakeTarget{})
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"%s"},` +
		`{"Effect":"Allow","Action":` + tmplRead + `,"Resource":["{{table_arns}}","{{index_arns}}"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	bindings := append(bind(t, dynamodb.DefaultLeadingKeyFormat, demoTable), fakeBinding{})
	good, err := policies.ParseTemplate("two", "test", []byte(strings.Replace(doc, "%s", fakePlaceholder, 1)), known)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := policies.Prove(policies.ProofSpec{Template: good, Bindings: bindings})
	if err != nil || len(rep.Rows) != 2*(16+3*2+2) {
		t.Fatalf("Prove = %v rows, %v; want 48 passing rows", rep, err)
	}
	leaky, err := policies.ParseTemplate("leaky", "test", []byte(strings.Replace(doc, `"%s"`, `["`+fakePlaceholder+`","arn:aws:s3:::bucket/*"]`, 1)), known)
	if err != nil {
		t.Fatal(err)
	}
	_, err = policies.Prove(policies.ProofSpec{Template: leaky, Bindings: bindings, Tenants: tenant.ProofTenants})
	var pe *policies.ProofError
	if !errors.As(err, &pe) || pe.Row.Name != `tenant "1": GetObject other prefix` || !strings.Contains(err.Error(), "(s3:GetObject on arn:aws:s3:::bucket/12/x)") {
		t.Fatalf("Prove err = %v, want the other-prefix row", err)
	}
}

// TestProofErrorMessage pins the message the README quotes.
func TestProofErrorMessage(t *testing.T) {
	row := policies.ProofRow{Name: `tenant "1": Query other tenant's key on table`, Action: "dynamodb:Query", Resource: demoTable,
		Key: dynamodb.LeadingKeysKey, Values: []string{"Tenant#12"}, Want: iam.ImplicitDeny, Got: iam.Allowed,
		Statement: `session policy statement 0 (Sid "Leaky")`}
	err := &policies.ProofError{Template: "leaky", Row: row, Failed: 1}
	want := `policies: isolation proof of template "leaky" failed at row [tenant "1": Query other tenant's key on table] ` +
		`(dynamodb:Query on ` + demoTable + `, LeadingKeys [Tenant#12]): want ImplicitDeny, got Allow, decided by session policy statement 0 (Sid "Leaky")`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	row.Values = nil
	if got := (&policies.ProofError{Template: "x", Row: row}).Error(); !strings.Contains(got, "LeadingKeys absent") {
		t.Errorf("absent key: %s", got)
	}
}

// BenchmarkProve measures one profile's start-up proof: pooled, silo and
// bridge batteries, with the role unknown.
func BenchmarkProve(b *testing.B) {
	s := mustLoad(b)
	for name, tc := range map[string]struct{ template, table string }{
		"pooled": {"dynamodb-readwrite", demoTable},
		"silo":   {"dynamodb-silo-readwrite", siloTable},
		"bridge": {"dynamodb-readwrite", siloTable},
	} {
		spec := policies.ProofSpec{Template: mustGet(b, s, tc.template), Bindings: bind(b, dynamodb.DefaultLeadingKeyFormat, tc.table)}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := policies.Prove(spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// valuesBinding is a DynamoDB-placeholder binding whose battery records
// what Prober.ConditionValues reports for key.
type valuesBinding struct {
	rawBinding
	key string
	got *[]string
}

func (b valuesBinding) Prove(p *policies.Prober, _, _ string) error {
	*b.got = p.ConditionValues(b.key)
	p.Check(policies.ProofRequest{Name: "Query own key", Action: "dynamodb:Query", Resource: demoTable,
		Key: dynamodb.LeadingKeysKey, Values: []string{"Tenant#" + p.Tenant()}, Want: iam.Allowed})
	return nil
}

// TestConditionValues: the values the session's Allow statements name for
// a condition key, from the session and the role's policies, in order,
// once each, without Null conditions, Deny statements or values holding a
// policy variable.
func TestConditionValues(t *testing.T) {
	tpl, err := policies.ParseTemplate("t", "test", []byte(policy(
		`{"Effect":"Allow","Action":"dynamodb:Query","Resource":"{{table_arns}}","Condition":{`+
			`"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#shared"]},"Null":{"dynamodb:LeadingKeys":"false"}}}`,
		`{"Effect":"Deny","Action":"dynamodb:Query","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":"Tenant#denied"}}}`)),
		targets.All())
	if err != nil {
		t.Fatal(err)
	}
	role, err := iam.Parse("role", []byte(policy(`{"Effect":"Allow","Action":"dynamodb:Query","Resource":"*","Condition":{`+
		`"ForAllValues:StringEquals":{"DynamoDB:leadingkeys":["Tenant#${aws:PrincipalTag/tenant}","Tenant#shared","Tenant#role"]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	b := valuesBinding{rawBinding: raw("Tenant#1", demoTable)[0].(rawBinding), key: dynamodb.LeadingKeysKey, got: &got}
	// The rows fail (the session has no tag): only the values matter here.
	var pe *policies.ProofError
	if _, err := policies.Prove(policies.ProofSpec{Template: tpl, Bindings: []policies.Binding{b},
		Role: policies.Role{Known: true, Policies: []*iam.Policy{role}}}); err != nil && !errors.As(err, &pe) {
		t.Fatal(err)
	}
	if want := []string{"Tenant#1", "Tenant#shared", "Tenant#role"}; !slices.Equal(got, want) {
		t.Errorf("ConditionValues = %q, want %q", got, want)
	}
}
