package policies

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Target is an isolation target: a kind of AWS resource whose tenant
// isolation a session policy expresses (DynamoDB partition keys, say). A
// target brings its IAM action catalogue, the template placeholders it
// fills, its statement lint rules, and — through the Binding it compiles
// from a profile's settings — its placeholder values and its proof battery.
//
// The generic parts of this package (templates, rendering, the lint and
// proof drivers) name no service: everything service-specific comes through
// a Target. Package policies/targets holds the registered targets.
//
// A Target must be immutable and safe for concurrent use.
type Target interface {
	// Name identifies the target in configuration and messages, e.g.
	// "dynamodb".
	Name() string
	// Catalogue is the target's IAM action catalogue.
	Catalogue() *Catalogue
	// Placeholders are the template placeholders the target fills.
	Placeholders() []Placeholder
	// Rules lists the ids of the target's statement lint rules, in the
	// order LintStatement checks them.
	Rules() []string
	// LintStatement checks one Allow statement of a template or rendered
	// policy that uses the target; nil means it passes. The generic rules
	// run after it (unknown-action: actions of no target, "*", NotAction;
	// resource-scope: resources outside the profile, NotResource), so a
	// target checks only what is its own; LintNot reports NotAction and
	// NotResource reaching its actions under its own rule id.
	LintStatement(st *iam.Statement) *Finding
	// Bind validates a profile's settings for the target (decoded through
	// s) and compiles them once into a Binding. Problems are *SettingError
	// values (several may be joined with errors.Join).
	Bind(s Settings) (Binding, error)
}

// Binding is a Target bound to one profile's settings: the compiled,
// immutable value that renders and proves that profile. It must be safe for
// concurrent use.
type Binding interface {
	// Target returns the target bound.
	Target() Target
	// Values returns the target's placeholder values for tenant, an id the
	// tenant pattern has accepted.
	Values(tenant string) (Values, error)
	// CheckTenants reports whether every id p admits can be served: values
	// within their limits and characters the target's resources accept.
	// Start-up calls it once per profile; Values may then rely on it.
	CheckTenants(p *tenant.Pattern) error
	// Prove runs the target's proof battery on p (the session of tenant
	// own: its session policy, the role's policies, its keys) against the
	// sample tenant other. Rows follow the grants: an own-tenant row for
	// each action and resource form the profile grants (p.Granted,
	// p.GrantedActions), denial rows for each granted action against the
	// other tenant's resource forms, for every other value the policies'
	// conditions on the target's isolating key name (p.ConditionValues),
	// and the target's hazards whatever is granted; a profile that grants
	// its tenant nothing on the target gets a failing own-tenant row. A
	// battery whose resource ARNs name no account passes p.Account as
	// ProofRequest.Account. An error means the battery could not run (not
	// a failing row).
	Prove(p *Prober, own, other string) error
}

// Settings is a profile's configuration for one target. Decode fills v, a
// pointer to the target's settings struct (with yaml field tags), strictly:
// an unknown key is an error.
type Settings interface {
	Decode(v any) error
}

// SettingError is a problem with one field of a target's settings; Field is
// relative to the target's settings, e.g. "table_arns[0]".
type SettingError struct {
	Field, Problem string
}

// Error implements error as "field: problem".
func (e *SettingError) Error() string { return e.Field + ": " + e.Problem }

// SettingProblems collects the problems found in settings (a target's
// Bind, an extra grant), each a *SettingError. The zero value is empty.
type SettingProblems struct {
	errs []error
}

// Add records the problem err with field.
func (p *SettingProblems) Add(field string, err error) {
	p.errs = append(p.errs, &SettingError{Field: field, Problem: err.Error()})
}

// Addf records a problem with field, formatted.
func (p *SettingProblems) Addf(field, format string, args ...any) {
	p.errs = append(p.errs, &SettingError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Err returns the problems joined with errors.Join; nil when there is none.
func (p *SettingProblems) Err() error { return errors.Join(p.errs...) }

// CheckList checks the list setting field: at least one item ("at least
// one <what> is required"), and each item valid (check's error is a
// problem of field[i]).
func (p *SettingProblems) CheckList(field, what string, items []string, check func(string) error) {
	if len(items) == 0 {
		p.Addf(field, "at least one %s is required", what)
	}
	for i, item := range items {
		if err := check(item); err != nil {
			p.Add(fmt.Sprintf("%s[%d]", field, i), err)
		}
	}
}

// ParseList parses the list setting field as CheckList checks it, each
// item with parse, and each listed once (the parsed values compared:
// "duplicate <what>"). It returns the values of the items without a
// problem, in order.
func ParseList[T comparable](p *SettingProblems, field, what string, items []string, parse func(string) (T, error)) []T {
	var out []T
	p.CheckList(field, what, items, func(item string) error {
		v, err := parse(item)
		switch {
		case err != nil:
			return err
		case slices.Contains(out, v):
			return fmt.Errorf("duplicate %s", what)
		}
		out = append(out, v)
		return nil
	})
	return out
}

// Placeholder is a template placeholder a Target fills.
type Placeholder struct {
	// Name is the whole JSON string of the placeholder, e.g. "{{leading_key}}".
	Name string
	// List is true for a list value: spliced into an enclosing array, an
	// array elsewhere.
	List bool
	// Required marks the isolating placeholders (a partition key, the
	// tenant's own tables): a template that uses the target must use at
	// least one of them.
	Required bool
	// Sample is the symbolic value (string, or []string for a list) that
	// templates are linted with at load, before any tenant exists.
	Sample any
}

// Values maps placeholder names to their values for one rendering: a
// string, or a []string for a list placeholder.
type Values map[string]any

// Finding is one statement lint finding of a Target.
type Finding struct {
	Rule   string // one of the target's Rules
	Detail string // what is wrong
	Text   string // the offending text (an action, resource, operator, value...)
}

// Action is one IAM action of a target's service.
type Action struct {
	// Name is the action without its service prefix, e.g. "GetItem".
	Name string
	// Keyed is true when the action's requests carry the target's
	// isolating condition key (a partition key, say); a key-less
	// action cannot be restricted to one tenant.
	Keyed bool
	// Write is true when the action modifies data.
	Write bool
}

// Catalogue is the action list of one IAM service. It is immutable.
type Catalogue struct {
	service string
	actions []Action       // sorted by name
	byLower map[string]int // "service:name" in lower case -> index
	bypass  []string       // services that reach the target's data past its isolation
}

// NewCatalogue returns the catalogue of service (the IAM prefix, e.g.
// "dynamodb"); actions must be sorted by name.
func NewCatalogue(service string, actions []Action) *Catalogue {
	c := &Catalogue{service: service, actions: actions, byLower: make(map[string]int, len(actions))}
	for i, a := range actions {
		c.byLower[strings.ToLower(service+":"+a.Name)] = i
	}
	return c
}

// Service returns the IAM service prefix.
func (c *Catalogue) Service() string { return c.service }

// WithBypass returns a copy of c naming services (IAM prefixes) whose
// actions reach the target's data without its isolation — DynamoDB
// Accelerator ("dax") reads tables with the cluster's role and enforces no
// dynamodb:LeadingKeys. No tenant session may have their actions, not even
// as an unproven extra grant (CheckExtraGrant).
func (c *Catalogue) WithBypass(services ...string) *Catalogue {
	out := *c
	out.bypass = append(slices.Clone(c.bypass), services...)
	return &out
}

// Bypass returns the services of WithBypass. The slice must not be
// modified.
func (c *Catalogue) Bypass() []string { return c.bypass }

// Actions returns every action, sorted by name. The slice must not be
// modified.
func (c *Catalogue) Actions() []Action { return c.actions }

// Full returns "service:name".
func (c *Catalogue) Full(name string) string { return c.service + ":" + name }

// Lookup returns the action called name (without the service prefix).
func (c *Catalogue) Lookup(name string) (Action, bool) {
	i, ok := c.byLower[strings.ToLower(c.service+":"+name)]
	if !ok {
		return Action{}, false
	}
	return c.actions[i], true
}

// Expand returns the actions an action pattern of a policy matches, in
// catalogue order. A pattern without wildcards is looked up directly.
func (c *Catalogue) Expand(pattern string) []Action {
	if !strings.ContainsAny(pattern, "*?") {
		if i, ok := c.byLower[strings.ToLower(pattern)]; ok {
			return []Action{c.actions[i]}
		}
		return nil
	}
	var out []Action
	for _, a := range c.actions {
		if iam.MatchAction(pattern, c.Full(a.Name)) {
			out = append(out, a)
		}
	}
	return out
}

// CouldMatch reports whether an action pattern's service part matches the
// catalogue's service, so that an unknown action name in it may be one of
// its actions.
func (c *Catalogue) CouldMatch(pattern string) bool {
	i := strings.IndexByte(pattern, ':')
	if i < 0 {
		return strings.Contains(pattern, "*")
	}
	return iam.MatchAction(pattern[:i]+":x", c.service+":x")
}

// Granted returns the actions a statement names through Action (wildcards
// expanded) or NotAction (every action it does not exclude), in catalogue
// order. The statement's effect is not considered.
func (c *Catalogue) Granted(st *iam.Statement) []Action {
	var out []Action
	if st.NotAction != nil {
		for _, a := range c.actions {
			if !matchesAny(st.NotAction, c.Full(a.Name)) {
				out = append(out, a)
			}
		}
		return out
	}
	granted := map[string]bool{}
	for _, p := range st.Action {
		for _, a := range c.Expand(p) {
			granted[a.Name] = true
		}
	}
	for _, a := range c.actions {
		if granted[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

// GrantedBy returns the names of the actions some Allow statement of p
// grants.
func (c *Catalogue) GrantedBy(p *iam.Policy) map[string]bool {
	out := map[string]bool{}
	for i := range p.Statements {
		if p.Statements[i].Effect != iam.Allow {
			continue
		}
		for _, a := range c.Granted(&p.Statements[i]) {
			out[a.Name] = true
		}
	}
	return out
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if iam.MatchAction(p, action) {
			return true
		}
	}
	return false
}
