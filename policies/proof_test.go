package policies

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies/iam"
)

func TestProveShipped(t *testing.T) {
	s := mustLoad(t)
	second := "arn:aws:dynamodb:eu-west-1:123456789012:table/tvm-demo-2"
	tests := map[string]struct {
		template string
		spec     ProofSpec
		rows     int
	}{
		"read defaults":      {template: "dynamodb-read", spec: ProofSpec{TableARNs: []string{demoTable}}, rows: 2 * 13},
		"readwrite defaults": {template: "dynamodb-readwrite", spec: ProofSpec{TableARNs: []string{demoTable}}, rows: 2 * (13 + 11)},
		"two tables, custom format and tenants": {template: "dynamodb-read", spec: ProofSpec{
			TableARNs: []string{demoTable, second}, LeadingKeyFormat: "org:{tenant}", Tenants: [2]string{"acme", "acme2"},
			Pattern: regexp.MustCompile(`[a-z0-9]+`),
		}, rows: 2 * 2 * 13},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.spec.Template = mustGet(t, s, tc.template)
			rep, err := Prove(tc.spec)
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
		"missing index ARNs": {
			doc:     policy(leakyStatement("Read", tmplRead, `["{{table_arns}}"]`, tmplGuarded)),
			wantRow: `tenant "1": Query own key on index`,
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
			tpl, err := parseTemplate("leaky", "test", []byte(tc.doc))
			if err != nil {
				t.Fatalf("parseTemplate: %v", err)
			}
			rep, err := Prove(ProofSpec{Template: tpl, TableARNs: []string{demoTable}})
			var pe *ProofError
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
	tests := map[string]ProofSpec{
		"no template":    {TableARNs: []string{demoTable}},
		"no tables":      {Template: tpl},
		"same tenants":   {Template: tpl, TableARNs: []string{demoTable}, Tenants: [2]string{"a", "a"}},
		"invalid tenant": {Template: tpl, TableARNs: []string{demoTable}, Tenants: [2]string{"a", "*"}},
		"bad format":     {Template: tpl, TableARNs: []string{demoTable}, LeadingKeyFormat: "Tenant#"},
		"bad table":      {Template: tpl, TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/*"}},
	}
	for name, spec := range tests {
		t.Run(name, func(t *testing.T) {
			rep, err := Prove(spec)
			var pe *ProofError
			if err == nil || errors.As(err, &pe) || rep != nil {
				t.Fatalf("Prove = %v, %v; want a spec error without a report", rep, err)
			}
		})
	}
}

// TestProvedKeyedActions: every keyed action is proved, either by the fixed
// rows (Query, GetItem, BatchGetItem) or by own/other rows when granted.
func TestProvedKeyedActions(t *testing.T) {
	for a := range keyedActions {
		fixed := a == "Query" || a == "GetItem" || a == "BatchGetItem"
		if !fixed && !slices.Contains(provedKeyedActions, a) {
			t.Errorf("keyed action %s gets no proof rows", a)
		}
	}
	for _, a := range provedKeyedActions {
		if !keyedActions[a] {
			t.Errorf("proved action %s is not keyed", a)
		}
	}
}
