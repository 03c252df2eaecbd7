package policies

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/tenant"
)

// ProofSpec says what to prove: the template rendered for two sample
// tenants with a profile's bindings keeps each tenant to its own resources.
type ProofSpec struct {
	Template *Template
	// Bindings are the profile's target bindings; they must cover the
	// template's Targets.
	Bindings []Binding
	// Tenants are the two sample tenants (zero = tenant.ProofTenants). They
	// must differ and be ids the tenant pattern accepts.
	Tenants [2]string
}

// ProofRow is one evaluated request of a proof battery.
type ProofRow struct {
	Name     string // e.g. `tenant "1": Query other tenant's key on index`
	Tenant   string // the tenant whose session policy is evaluated
	Action   string
	Resource string
	// Key is the condition key the row sets, with its service prefix
	// ("" = none); Values its values (nil = the key is absent).
	Key       string
	Values    []string
	Want, Got iam.Outcome
	OK        bool
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
	msg := fmt.Sprintf("policies: isolation proof of template %q failed at row [%s] (%s): want %s, got %s, decided by %s",
		e.Template, e.Row.Name, describeRequest(e.Row), e.Row.Want, e.Row.Got, e.Row.Statement)
	if e.Failed > 1 {
		msg += fmt.Sprintf(" (and %d more failing rows)", e.Failed-1)
	}
	return msg
}

// describeRequest renders "ACTION on RESOURCE, KEY [v1, v2]" with the key's
// name after its service prefix.
func describeRequest(r ProofRow) string {
	s := r.Action + " on " + r.Resource
	if r.Key == "" {
		return s
	}
	_, short, ok := strings.Cut(r.Key, ":")
	if !ok {
		short = r.Key
	}
	if r.Values == nil {
		return s + ", " + short + " absent"
	}
	return s + ", " + short + " [" + strings.Join(r.Values, ", ") + "]"
}

// proofIdentity is the role policy of the proof session: allow everything,
// so the session policy alone decides.
var proofIdentity = func() *iam.Policy {
	p, err := iam.Parse("role policy", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		panic(err)
	}
	return p
}()

// Prober evaluates a battery's requests against one tenant's rendered
// session policy. It is the one place that builds the proof's evaluation
// input: the role's policies, the session policy and the request's global
// condition keys.
type Prober struct {
	tenant  string
	session *iam.Policy
	in      iam.Input
	rows    []ProofRow
}

func newProber(tenantID string, session *iam.Policy) *Prober {
	return &Prober{
		tenant:  tenantID,
		session: session,
		in:      iam.Input{Identity: []*iam.Policy{proofIdentity}, Session: []*iam.Policy{session}},
	}
}

// Tenant returns the tenant whose policy is evaluated.
func (p *Prober) Tenant() string { return p.tenant }

// Session returns the parsed session policy.
func (p *Prober) Session() *iam.Policy { return p.session }

// ProofRequest is one request of a battery.
type ProofRequest struct {
	// Name describes the row; the tenant is prefixed to it.
	Name     string
	Action   string // full action, "service:Name"
	Resource string
	// Account is the account of the session's principal (the resource's).
	Account string
	// Key and Values set one request condition key (Values nil = absent).
	Key    string
	Values []string
	Want   iam.Outcome
}

// Check evaluates r and records the row.
func (p *Prober) Check(r ProofRequest) {
	ctx := map[string][]string{}
	if r.Key != "" && r.Values != nil {
		ctx[r.Key] = r.Values
	}
	req := iam.Request{
		Principal: fmt.Sprintf("arn:aws:sts::%s:assumed-role/tvm-proof/t-%s", r.Account, p.tenant),
		Action:    r.Action,
		Resource:  r.Resource,
		Context:   ctx,
	}
	d := iam.Evaluate(req, p.in)
	p.rows = append(p.rows, ProofRow{
		Name:      fmt.Sprintf("tenant %q: %s", p.tenant, r.Name),
		Tenant:    p.tenant,
		Action:    r.Action,
		Resource:  r.Resource,
		Key:       r.Key,
		Values:    r.Values,
		Want:      r.Want,
		Got:       d.Outcome,
		OK:        d.Allowed() == (r.Want == iam.Allowed),
		Statement: describeDecision(d),
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

// Prove renders spec.Template for both sample tenants and runs, on each
// rendered policy as the session policy of an allow-all role, the proof
// battery of every binding: the tenant reaches its own resources and never
// the other tenant's, nor anything a key-less request would reach (see each
// target's battery).
//
// Prove does not lint: it is an independent check of what the policy
// actually allows. It returns the report together with a *ProofError when
// any row fails; other errors (bad spec, render failure) come without a
// report.
func Prove(spec ProofSpec) (*ProofReport, error) {
	tenants, err := checkSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("policies: prove: %w", err)
	}
	report := &ProofReport{OK: true}
	for self := range 2 {
		own, other := tenants[self], tenants[1-self]
		r, _, err := spec.Template.renderFor(own, spec.Bindings)
		if err != nil {
			return nil, fmt.Errorf("policies: prove: %w", err)
		}
		session, err := iam.Parse("session policy", r.JSON)
		if err != nil {
			return nil, fmt.Errorf("policies: prove: template %q rendered for tenant %q: %w", spec.Template.Name(), own, err)
		}
		p := newProber(own, session)
		for _, b := range spec.Bindings {
			if err := b.Prove(p, own, other); err != nil {
				return nil, fmt.Errorf("policies: prove: target %s: %w", b.Target().Name(), err)
			}
		}
		report.Rows = append(report.Rows, p.rows...)
	}
	failed, first := 0, -1
	for i := range report.Rows {
		if !report.Rows[i].OK {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	if first >= 0 {
		report.OK = false
		return report, &ProofError{Template: spec.Template.Name(), Row: report.Rows[first], Failed: failed}
	}
	return report, nil
}

// checkSpec validates spec and returns its two tenants.
func checkSpec(spec ProofSpec) ([2]string, error) {
	tenants := spec.Tenants
	if tenants == ([2]string{}) {
		tenants = tenant.ProofTenants
	}
	switch {
	case spec.Template == nil:
		return tenants, errors.New("no template")
	case len(spec.Bindings) == 0:
		return tenants, errors.New("no target bindings")
	case tenants[0] == tenants[1]:
		return tenants, errors.New("the two sample tenants must differ")
	}
	if err := CheckBindings(spec.Template, spec.Bindings); err != nil {
		return tenants, err
	}
	for _, tn := range tenants {
		if err := tenant.CheckRunes(tn); err != nil {
			return tenants, fmt.Errorf("sample tenant: %w", err)
		}
	}
	return tenants, nil
}

// CheckBindings reports whether bindings bind every target t uses, each
// once.
func CheckBindings(t *Template, bindings []Binding) error {
	bound := map[string]bool{}
	for _, b := range bindings {
		name := b.Target().Name()
		if bound[name] {
			return fmt.Errorf("target %s is bound twice", name)
		}
		bound[name] = true
	}
	for _, tg := range t.Targets() {
		if !bound[tg.Name()] {
			return fmt.Errorf("template %q uses target %s, which the profile does not configure", t.Name(), tg.Name())
		}
	}
	return nil
}
