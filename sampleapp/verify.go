package sampleapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Expectation is what a row expects.
type Expectation struct {
	Outcome Outcome
	// Items, when Outcome is Allowed, are the exact items expected, in any
	// order.
	Items []Item
	// Code, when set, must equal the result's code (e.g. "401 invalid_tenant").
	Code string
}

// String renders the expectation like Result.Summary.
func (x Expectation) String() string {
	switch x.Outcome {
	case Allowed:
		return "allowed, " + plural(len(x.Items), "item")
	case Denied:
		return "denied (AccessDeniedException)"
	case Done:
		return "done"
	}
	if x.Code != "" {
		return fmt.Sprintf("%s (%s)", x.Outcome, x.Code)
	}
	return string(x.Outcome)
}

// Matches reports whether r is what x expects.
func (x Expectation) Matches(r Result) bool {
	if r.Outcome != x.Outcome {
		return false
	}
	switch x.Outcome {
	case Allowed:
		got := slices.Clone(r.Items)
		want := slices.Clone(x.Items)
		cmpItem := func(a, b Item) int { return strings.Compare(a.String(), b.String()) }
		slices.SortFunc(got, cmpItem)
		slices.SortFunc(want, cmpItem)
		return slices.Equal(got, want)
	case Denied:
		return r.Code == "AccessDeniedException"
	}
	return x.Code == "" || r.Code == x.Code
}

// Row is one line of the verify table.
type Row struct {
	N          int      `json:"n"`
	Experiment string   `json:"experiment"`
	Seed       bool     `json:"from_seed"` // one of the blog post's experiments
	Expected   string   `json:"expected"`
	Actual     string   `json:"actual"`
	Pass       bool     `json:"pass"`
	Items      []string `json:"items,omitempty"`
	Code       string   `json:"code,omitempty"`
	Message    string   `json:"message,omitempty"`
}

// Verdict is "PASS" or "FAIL".
func (r Row) Verdict() string {
	if r.Pass {
		return "PASS"
	}
	return "FAIL"
}

// Report is the result of Verify.
type Report struct {
	Rows []Row `json:"rows"`
	// OK is true when every row passed.
	OK bool `json:"ok"`
	// Note explains the GSI result the seed's blog post is about.
	Note string `json:"note"`
}

type experiment struct {
	name   string
	seed   bool
	id     Identity
	op     op
	expect Expectation
}

func (e *Env) experiments() []experiment {
	c := e.Config
	own := Identity{Profile: c.Profile}
	noGrant := Identity{Profile: c.NoGrantProfile}
	vendNoGrant := Identity{Tenant: "1", Profile: c.NoGrantProfile}
	t1, t2 := Identity{Tenant: "1", Profile: c.Profile}, Identity{Tenant: "2", Profile: c.Profile}
	i1, i2, i3 := SeedItems[0], SeedItems[1], SeedItems[2]
	allow := func(items ...Item) Expectation { return Expectation{Outcome: Allowed, Items: items} }
	deny := Expectation{Outcome: Denied}
	q := func(id Identity, tenant string, gsi bool, x Expectation) experiment {
		where := "table"
		if gsi {
			where = "GSI " + c.Index
		}
		return experiment{
			name: fmt.Sprintf("%s: Query %s %s", id, where, LeadingKey(tenant)),
			seed: true, id: id, op: queryOp(tenant, gsi), expect: x,
		}
	}
	rows := []experiment{
		q(own, "1", false, allow(i1)),
		q(own, "2", false, allow(i2, i3)),
		q(own, "1", true, allow(i1, i3)),
		q(own, "2", true, allow(i2)),
		q(noGrant, "1", false, deny),
		q(noGrant, "1", true, deny),
		q(vendNoGrant, "1", false, deny),
		q(vendNoGrant, "1", true, deny),
		q(t1, "1", false, allow(i1)),
		q(t1, "2", false, deny),
		q(t2, "2", false, allow(i2, i3)),
		q(t2, "1", false, deny),
		q(t1, "1", true, allow(i1, i3)),
		q(t1, "2", true, deny),
		q(t2, "2", true, allow(i2)),
		q(t2, "1", true, deny),
		{name: fmt.Sprintf("%s: Scan table", t1), id: t1, op: scanOp, expect: deny},
		{name: fmt.Sprintf("%s: GetItem %s", t1, i2), id: t1, op: getItemOp(i2), expect: deny},
		{name: fmt.Sprintf("%s: BatchGetItem %s + %s", t1, i1, i2), id: t1, op: batchGetOp(i1, i2), expect: deny},
		{name: fmt.Sprintf("%s: GetItem %s", t1, i1), id: t1, op: getItemOp(i1), expect: allow(i1)},
		{name: fmt.Sprintf("%s: GetItem %s", t2, i3), id: t2, op: getItemOp(i3), expect: allow(i3)},
		{name: "broker: token for tenant *", id: Identity{Tenant: "*", Profile: c.Profile}, op: nil,
			expect: Expectation{Outcome: Refused, Code: "401 invalid_tenant"}},
	}
	rows = append(rows, e.modelExperiments()...) // silo, bridge, ABAC: verify_models.go
	return rows
}

// Verify runs the seed's experiments and the extra ones against the stack
// described by c and returns the report. The error is for set-up failures
// (configuration, AWS configuration); a failed row is in the report.
func Verify(ctx context.Context, c Config) (Report, error) {
	env, err := NewEnv(ctx, c)
	if err != nil {
		return Report{}, err
	}
	return env.Verify(ctx), nil
}

// Verify runs every experiment against e.
func (e *Env) Verify(ctx context.Context) Report {
	rep := Report{OK: true}
	for _, x := range e.experiments() {
		rep.add(x.name, x.seed, x.expect, e.run(ctx, x.id, x.op))
	}
	rep.Note = e.note()
	e.verifyS3(ctx, &rep)
	e.verifyOps(ctx, &rep) // block list and revocation: verify_ops.go
	return rep
}

// add appends the row of an experiment expecting x whose result is r.
func (rep *Report) add(name string, seed bool, x Expectation, r Result) {
	row := Row{
		N: len(rep.Rows) + 1, Experiment: name, Seed: seed, Expected: x.String(), Actual: r.Summary(),
		Pass: x.Matches(r), Code: r.Code, Message: r.Message,
	}
	for _, it := range r.Items {
		row.Items = append(row.Items, it.String())
	}
	rep.OK = rep.OK && row.Pass
	rep.Rows = append(rep.Rows, row)
}

func (e *Env) note() string {
	c := e.Config
	return fmt.Sprintf("The seed's subtle point: through the GSI %q, tenant 1 sees %s, an item tenant 2 owns on the table "+
		"(PK %s), because on an index dynamodb:LeadingKeys is the index's partition key (PK1 = %s). "+
		"Isolation follows the key of what is queried: design index keys so that they carry the owning tenant, "+
		"or keep tenant-crossing indexes out of tenant sessions.",
		c.Index, SeedItems[2], SeedItems[2].PK, SeedItems[2].PK1)
}

// WriteTable renders the report as an aligned table followed by the note and
// the overall verdict. Messages of unexpected results are listed below the
// table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\texperiment\texpected\tactual\tverdict")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", row.N, row.Experiment, row.Expected, row.Actual, row.Verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, row := range r.Rows {
		if !row.Pass {
			fmt.Fprintf(&b, "row %d: %s", row.N, row.Actual)
			if len(row.Items) > 0 {
				fmt.Fprintf(&b, " [%s]", strings.Join(row.Items, ", "))
			}
			if row.Message != "" {
				fmt.Fprintf(&b, ": %s", row.Message)
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "\n%s\n\n", wrap(r.Note, 100))
	passed := 0
	for _, row := range r.Rows {
		if row.Pass {
			passed++
		}
	}
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: %d of %d rows as expected\n", verdict, passed, len(r.Rows))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// wrap breaks s into lines of at most width bytes at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
