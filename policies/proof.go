package policies

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Isolation names what keeps a tenant's session away from other tenants'
// resources.
type Isolation string

// Isolation models.
const (
	// IsolationSessionPolicy: the session policy the template renders for
	// the tenant isolates; the role's policies, when known, are intersected
	// with it. The default.
	IsolationSessionPolicy Isolation = "session-policy"
	// IsolationSessionTags: the role's own policies isolate, through the
	// session tags the broker sets (aws:PrincipalTag/<key>); a template, if
	// any, narrows further. The role's policies must be known.
	IsolationSessionTags Isolation = "session-tags"
)

// Role is the role a profile's sessions assume, as the proof sees it.
type Role struct {
	// ARN is the role's ARN: it gives the session's principal keys. Empty
	// means a placeholder, arn:aws:iam::000000000000:role/tvm-proof.
	ARN string
	// ID is the role's unique id (AROA...), as IAM reports it; empty means
	// a synthetic id derived from ARN.
	ID string
	// Known says Policies are the role's identity-based policies as
	// deployed (possibly none). When false the role's policies are
	// unknown: the proof assumes a role that allows everything, so that
	// the session policy alone decides.
	Known    bool
	Policies []*iam.Policy
	// Tags are the role's own tags, which the session carries as
	// aws:PrincipalTag/<key> unless a session tag of the same key (in any
	// case) overrides them.
	Tags []iam.Tag
	// TagsKnown says Tags are the role's tags as deployed (read through
	// IAM). When false, a principal tag the session tags do not set may be
	// anything: the proof's denial rows hold whatever its value.
	TagsKnown bool
}

// SessionShape is what the broker puts into a tenant's session besides
// the policy: its name, its tags and its source identity, for a caller
// (subject) of the tenant. The proof builds each tenant's session for the
// two ProofSubjects: a key whose value differs between them is chosen by
// whoever the token names, so the denial rows hold whatever its value.
type SessionShape struct {
	// Name returns the RoleSessionName of the session of tenant and
	// subject; nil means "t-<tenant>".
	Name func(tenant, subject string) string
	// Tags returns the session tags of the session of tenant and subject;
	// nil means none.
	Tags func(tenant, subject string) []iam.Tag
	// SourceIdentity returns the source identity of subject's sessions;
	// nil means none.
	SourceIdentity func(subject string) string
}

// ProofSubjects are the two sample callers of the proof's sessions: the
// first one's session is evaluated, the second shows which of its keys
// the caller chooses.
var ProofSubjects = [2]string{"tvm-proof-subject", "tvm-proof-subject-2"}

// ProofSpec says what to prove: the template rendered for two sample
// tenants with a profile's bindings — or, for session-tags isolation, the
// role's policies with each tenant's tags — keeps each tenant to its own
// resources.
type ProofSpec struct {
	// Template renders the session policy; nil only for session-tags
	// isolation without a session policy.
	Template *Template
	// Bindings are the profile's target bindings; they must cover the
	// template's Targets.
	Bindings []Binding
	// Tenants are the two sample tenants (zero = tenant.ProofTenants). They
	// must differ and be ids the tenant pattern accepts.
	Tenants [2]string
	// More are further pairs of sample tenants, each proven as Tenants
	// are (each tenant of a pair against the other): ids the tenant pattern
	// accepts that the two samples do not represent — two ids differing
	// only in letter case (tenant.Pattern.CaseTwins: a case-insensitive
	// comparison would merge them), a tenant a policy singles out by name
	// (a condition on its tag), paired with a sample tenant.
	More [][2]string
	// Isolation is the profile's isolation model (zero = session-policy).
	Isolation Isolation
	// Role is the role the sessions assume (zero = unknown, allow-all).
	Role Role
	// Session describes the tenant sessions the broker creates.
	Session SessionShape
	// Region is aws:RequestedRegion for a request whose resource ARN names
	// no region; "" means DefaultProofRegion.
	Region string
	// Time is the time of the proof's requests (aws:CurrentTime,
	// aws:EpochTime, and aws:TokenIssueTime: the session was just issued);
	// zero means now.
	Time time.Time
}

// DefaultProofRegion is aws:RequestedRegion for regionless resources when
// ProofSpec.Region is empty.
const DefaultProofRegion = "us-east-1"

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
	// Template names the template proved; "" when the session had no
	// session policy (session-tags isolation), and Role names the role.
	Template string
	Role     string
	Row      ProofRow
	Failed   int // failing rows in total
}

// Error implements error.
func (e *ProofError) Error() string {
	subject := fmt.Sprintf("template %q", e.Template)
	if e.Template == "" {
		subject = fmt.Sprintf("role %q (no session policy)", e.Role)
	}
	// Row names hold validated tenant ids (no quotes), so they are not re-quoted.
	msg := fmt.Sprintf("policies: isolation proof of %s failed at row [%s] (%s): want %s, got %s, decided by %s",
		subject, e.Row.Name, describeRequest(e.Row), e.Row.Want, e.Row.Got, e.Row.Statement)
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

// allowAll is the role policy of a role whose policies are unknown: allow
// everything, so that the session policy alone decides.
var allowAll = func() *iam.Policy {
	p, err := iam.Parse("assumed allow-all role policy", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		panic(err)
	}
	return p
}()

// placeholderRole is the role of a ProofSpec whose Role.ARN is empty.
const placeholderRole = "arn:aws:iam::000000000000:role/tvm-proof"

// Prober evaluates a battery's requests for one tenant's session. It is
// the one place that builds the proof's evaluation input: the role's
// policies (or an allow-all role), the session policy, and the condition
// keys a real request of the session carries (see GlobalKeys).
type Prober struct {
	tenant    string
	session   *iam.Policy // nil: no session policy
	sess      iam.Session // the tenant's session
	grants    iam.Session // Allow statements without conditions, unconditional Denies, for Granted
	roleKnown bool
	region    string
	known     knownKeys // the keys whose values the rows know
	roleTags  []iam.Tag // the principal tags of a session without session tags
	rows      []ProofRow
	reqs      []ProofRequest // the request of each row
}

// Tenant returns the tenant whose session is evaluated.
func (p *Prober) Tenant() string { return p.tenant }

// Session returns the parsed session policy (nil when the session has
// none: session-tags isolation without a template).
func (p *Prober) Session() *iam.Policy { return p.session }

// Account returns the session's aws:PrincipalAccount: the role's account.
// A battery whose resource ARNs name no account (S3's) passes it as
// ProofRequest.Account, taking the profile's resources to be in the role's
// account.
func (p *Prober) Account() string {
	if p.sess.Account != "" {
		return p.sess.Account
	}
	if parts := strings.SplitN(p.sess.PrincipalARN, ":", 6); len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// Policies returns every policy that decides the session's requests: the
// session policy, if any, then the role's policies, when known.
func (p *Prober) Policies() []*iam.Policy {
	var out []*iam.Policy
	if p.session != nil {
		out = append(out, p.session)
	}
	if p.roleKnown {
		out = append(out, p.sess.Identity...)
	}
	return out
}

// ConditionValues returns the values that conditions on key
// (case-insensitively; Null conditions aside) in the Allow statements of
// the policies deciding the session (Policies) name, in policy order
// without repeats, each as the sessions the proof evaluates resolve it
// (Resolve: a variable's default, a role tag's value, are constants too).
// A battery probes the values that are not its own tenant's: a constant
// one there (a shared partition key, a shared prefix) would be reachable
// by every tenant.
func (p *Prober) ConditionValues(key string) []string {
	var out []string
	for _, pol := range p.Policies() {
		for _, st := range pol.Statements {
			if st.Effect != iam.Allow {
				continue
			}
			for _, c := range st.Conditions {
				if !strings.EqualFold(c.Key, key) || strings.EqualFold(c.Operator, "Null") {
					continue
				}
				for _, v := range c.Values {
					for _, r := range p.Resolve(pol, v) {
						if !slices.Contains(out, r) {
							out = append(out, r)
						}
					}
				}
			}
		}
	}
	return out
}

// Resolve returns the values a policy value or resource of pol takes in
// the sessions the proof evaluates for the tenant: its own, and one
// without its session tags (the role's own tags only) — policy variables
// substituted (iam.Session.Substitute; in a "2012-10-17" policy, else they
// are literal text). A variable whose key a request chooses (see
// knownKeys) or that has no value leaves that session's value out: the
// rows decide such grants request by request.
func (p *Prober) Resolve(pol *iam.Policy, text string) []string {
	if pol.Version != iam.Version2012 || !strings.Contains(text, "${") {
		return []string{text}
	}
	unknown := func(k string) bool { return !p.known.has(k, ProofRequest{}) }
	untagged := p.sess
	untagged.Tags = p.roleTags
	var out []string
	for _, s := range []*iam.Session{&p.sess, &untagged} {
		if v, ok := s.Substitute(text, unknown); ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Granted reports whether the profile grants action on resource: whether
// the policies that say what the profile grants — the session policy when
// the session has one (what the template promises), else the role's
// policies — name them in an Allow statement, conditions aside, policy
// variables resolved for this session. Batteries make an own-tenant row
// for each resource form a profile grants, and none for those it does not
// (a table-only profile gets no index rows); the row itself is then
// evaluated against the role's policies too, so a role as deployed that
// lacks what the template grants fails it.
func (p *Prober) Granted(action, resource string) bool {
	return p.grants.Evaluate(action, resource, nil).Allowed()
}

// GrantedActions returns the names of c's actions the profile grants
// somewhere (any resource, conditions aside): those the session policy
// names when the session has one, else those the role's policies name.
func (p *Prober) GrantedActions(c *Catalogue) map[string]bool {
	if p.session != nil {
		return c.GrantedBy(p.session)
	}
	out := map[string]bool{}
	for _, pol := range p.sess.Identity {
		maps.Copy(out, c.GrantedBy(pol))
	}
	return out
}

// ProofRequest is one request of a battery.
type ProofRequest struct {
	// Name describes the row; the tenant is prefixed to it.
	Name     string
	Action   string // full action, "service:Name"
	Resource string
	// Account is the account owning the resource (aws:ResourceAccount);
	// "" means the account field of Resource.
	Account string
	// Key and Values set one request condition key (Values nil = absent).
	Key    string
	Values []string
	// Context holds further request condition keys (s3:prefix and
	// s3:delimiter, say). Keys the session owns (aws:PrincipalTag/..., see
	// iam.Session) cannot be set here.
	Context map[string][]string
	// Absent names condition keys a request of this action never carries
	// (s3:prefix on an object action): known to be absent, where any other
	// key the request does not set may hold any value (see knownKeys).
	Absent []string
	// WithoutTags evaluates the request for a session of the same role
	// without the profile's session tags (one assumed directly, by an
	// administrator say): it carries the role's own tags only.
	WithoutTags bool
	Want        iam.Outcome
}

// Check evaluates r and records the row. A row that wants the request
// denied must be denied whatever the condition keys the request does not
// fix take (iam.Session.EvaluatePossible; see knownKeys): the caller
// chooses where it calls from, when, through which service, with which
// request parameters. A row that wants it allowed is evaluated with the
// realistic keys (GlobalKeys), and passes too when some values of the
// unknown keys allow it: a template narrowed to a VPC endpoint or an
// address range grants its tenant something.
func (p *Prober) Check(r ProofRequest) {
	ctx := make(map[string][]string, len(r.Context)+3)
	maps.Copy(ctx, r.Context)
	if r.Key != "" && r.Values != nil {
		ctx[r.Key] = r.Values
	}
	p.requestKeys(ctx, r)
	s := &p.sess
	if r.WithoutTags {
		untagged := p.sess
		untagged.Tags = p.roleTags
		s = &untagged
	}
	unknown := func(key string) bool { return !p.known.has(key, r) }
	var d iam.Decision
	if r.Want == iam.Allowed {
		if d = s.Evaluate(r.Action, r.Resource, ctx); !d.Allowed() {
			if maybe := s.EvaluatePossible(r.Action, r.Resource, ctx, unknown); maybe.Allowed() {
				d = maybe
			}
		}
	} else {
		d = s.EvaluatePossible(r.Action, r.Resource, ctx, unknown)
	}
	p.reqs = append(p.reqs, r)
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

// requestKeys adds the per-request global keys to ctx, unless the battery
// set them: aws:RequestedRegion (the resource's region, else the spec's)
// and aws:ResourceAccount (the resource's account).
func (p *Prober) requestKeys(ctx map[string][]string, r ProofRequest) {
	parts := strings.SplitN(r.Resource, ":", 6)
	region, account := p.region, r.Account
	if len(parts) == 6 {
		if parts[3] != "" {
			region = parts[3]
		}
		if account == "" {
			account = parts[4]
		}
	}
	setDefault := func(k, v string) {
		if _, ok := ctx[k]; !ok && v != "" {
			ctx[k] = []string{v}
		}
	}
	setDefault("aws:RequestedRegion", region)
	setDefault("aws:ResourceAccount", account)
}

// untaggedRows repeats every row recorded so far for a session without
// the profile's session tags, wanting it denied: under session-tags
// isolation a session without the tags must reach nothing — neither the
// tenant's resources, nor any other row's (a variable's default value,
// ${aws:PrincipalTag/tenant, 'x'}, would hand it tenant x's).
func (p *Prober) untaggedRows() {
	reqs := slices.Clone(p.reqs)
	for _, r := range reqs {
		if r.WithoutTags {
			continue
		}
		r.Name += ", session without tags"
		r.WithoutTags, r.Want = true, iam.ImplicitDeny
		p.Check(r)
	}
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
	if d.Assumed != "" {
		s += ", for some value of " + d.Assumed
	}
	return s
}

// Prove runs, for each of the two sample tenants, the proof battery of
// every binding on the tenant's session: its session policy (the template
// rendered for the tenant, unless session-tags isolation runs without one)
// and the role's policies (an allow-all role when they are unknown), with
// the condition keys a real request carries (GlobalKeys). The tenant must
// reach its own resources with every action the profile grants, and never
// the other tenant's, nor anything a key-less request would reach (see
// each target's battery). Under session-tags isolation every own-tenant
// row is repeated for a session without the tags, which must be denied.
//
// Prove does not lint: it is an independent check of what the policies
// actually allow. It returns the report together with a *ProofError when
// any row fails; other errors (bad spec, render failure) come without a
// report.
func Prove(spec ProofSpec) (*ProofReport, error) {
	tenants, err := checkSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("policies: prove: %w", err)
	}
	env := newProofEnv(spec)
	report := &ProofReport{OK: true}
	pairs := [][2]string{tenants}
	for _, pair := range spec.More {
		if !slices.Contains(pairs, pair) {
			pairs = append(pairs, pair)
		}
	}
	for pair, self := range pairRange(len(pairs)) {
		own, other := pairs[pair][self], pairs[pair][1-self]
		var session *iam.Policy
		if spec.Template != nil {
			r, _, err := spec.Template.renderFor(own, spec.Bindings)
			if err != nil {
				return nil, fmt.Errorf("policies: prove: %w", err)
			}
			if session, err = iam.Parse("session policy", r.JSON); err != nil {
				return nil, fmt.Errorf("policies: prove: template %q rendered for tenant %q: %w", spec.Template.Name(), own, err)
			}
		}
		p := env.prober(own, session)
		for _, b := range spec.Bindings {
			if err := b.Prove(p, own, other); err != nil {
				return nil, fmt.Errorf("policies: prove: target %s: %w", b.Target().Name(), err)
			}
		}
		if spec.Isolation == IsolationSessionTags {
			p.untaggedRows()
		}
		report.Rows = append(report.Rows, p.rows...)
	}
	return report, report.firstFailure(spec)
}

// pairRange yields (pair, self) for each of n pairs of sample tenants and
// each of the pair's two tenants.
func pairRange(n int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for pair := range n {
			for self := range 2 {
				if !yield(pair, self) {
					return
				}
			}
		}
	}
}

// firstFailure marks the report failed and returns a *ProofError for its
// first failing row, if any.
func (r *ProofReport) firstFailure(spec ProofSpec) error {
	failed, first := 0, -1
	for i := range r.Rows {
		if !r.Rows[i].OK {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return nil
	}
	r.OK = false
	e := &ProofError{Role: spec.Role.ARN, Row: r.Rows[first], Failed: failed}
	if spec.Template != nil {
		e.Template = spec.Template.Name()
	}
	return e
}

// checkSpec validates spec and returns its two tenants.
func checkSpec(spec ProofSpec) ([2]string, error) {
	tenants := spec.Tenants
	if tenants == ([2]string{}) {
		tenants = tenant.ProofTenants
	}
	switch {
	case spec.Isolation != "" && spec.Isolation != IsolationSessionPolicy && spec.Isolation != IsolationSessionTags:
		return tenants, fmt.Errorf("unknown isolation %q", spec.Isolation)
	case spec.Template == nil && spec.Isolation != IsolationSessionTags:
		return tenants, errors.New("no template")
	case spec.Isolation == IsolationSessionTags && !spec.Role.Known:
		return tenants, errors.New("session-tags isolation rests on the role's policies, which are unknown: nothing to prove")
	case len(spec.Bindings) == 0:
		return tenants, errors.New("no target bindings")
	case tenants[0] == tenants[1]:
		return tenants, errors.New("the two sample tenants must differ")
	}
	if err := CheckBindings(spec.Template, spec.Bindings); err != nil {
		return tenants, err
	}
	for _, pair := range append([][2]string{tenants}, spec.More...) {
		if pair[0] == pair[1] {
			return tenants, errors.New("the two sample tenants of a pair must differ")
		}
		for _, tn := range pair {
			if err := tenant.CheckRunes(tn); err != nil {
				return tenants, fmt.Errorf("sample tenant: %w", err)
			}
		}
	}
	return tenants, nil
}

// CheckBindings reports whether bindings bind every target t uses (none
// when t is nil), each once.
func CheckBindings(t *Template, bindings []Binding) error {
	bound := map[string]bool{}
	for _, b := range bindings {
		name := b.Target().Name()
		if bound[name] {
			return fmt.Errorf("target %s is bound twice", name)
		}
		bound[name] = true
	}
	if t == nil {
		return nil
	}
	for _, tg := range t.Targets() {
		if !bound[tg.Name()] {
			return fmt.Errorf("template %q uses target %s, which the profile does not configure", t.Name(), tg.Name())
		}
	}
	return nil
}
