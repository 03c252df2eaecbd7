package policies

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/policies/iam"
)

// Generic statement rule ids: they apply to every Allow statement, after
// the statement rules of the targets.
const (
	// RuleUnknownAction: an Allow statement grants an action that no
	// isolation target of the template knows — another service's action,
	// sts:* or iam:*, "*", a name the target's catalogue lacks, or NotAction
	// (which grants every service it does not exclude) — and that the
	// profile does not list, on those resources, under extra_actions.
	RuleUnknownAction = "unknown-action"
	// RuleResourceScope: an Allow statement names a resource that does not
	// come from the profile: "*", a wildcard or variable in the partition,
	// service, region or account, NotResource, or (in a policy rendered for
	// a profile) a resource that lies within none of the resources the
	// profile declares.
	RuleResourceScope = "resource-scope"
)

// reservedServices may never be granted, not even as an unproven extra: a
// session that may call STS can chain into a role without a session policy,
// one that may call IAM can change its own role.
var reservedServices = []string{"sts", "iam"}

// extraActionRE is the shape of an extra action: service:Name, no wildcard.
var extraActionRE = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9]+$`)

// ExtraGrant is a profile's permission for its template to grant actions
// outside every isolation target on named resources (configuration:
// profiles[].extra_actions). Nothing proves such grants: the start-up log
// and `tvm-broker check` report each one as UNPROVEN.
type ExtraGrant struct {
	Actions   []string `yaml:"actions"`
	Resources []string `yaml:"resources"`
}

// String renders the grant as "a1, a2 on r1, r2".
func (g ExtraGrant) String() string {
	return strings.Join(g.Actions, ", ") + " on " + strings.Join(g.Resources, ", ")
}

// covers reports whether g allows action (case-insensitively) on resource
// (exactly).
func (g ExtraGrant) covers(action, resource string) bool {
	return slices.ContainsFunc(g.Actions, func(a string) bool { return strings.EqualFold(a, action) }) &&
		slices.Contains(g.Resources, resource)
}

// CheckExtraGrant checks an extra grant: at least one action, each one
// service:Name without wildcards, of no target in targets (whose actions
// are proven, never exempted) and not of STS or IAM; at least one resource,
// each a full ARN without wildcards or policy variables.
// Problems are *SettingError values (Field "actions[0]", "resources", ...)
// joined with errors.Join.
func CheckExtraGrant(g ExtraGrant, targets []Target) error {
	var p SettingProblems
	p.CheckList("actions", "action", g.Actions, func(a string) error { return checkExtraAction(a, targets) })
	p.CheckList("resources", "resource", g.Resources, checkNamedResource)
	return p.Err()
}

func checkExtraAction(a string, targets []Target) error {
	if strings.ContainsAny(a, "*?") {
		return errors.New("must name one action, without wildcards")
	}
	if !extraActionRE.MatchString(a) {
		return errors.New("must be service:Action")
	}
	svc, _, _ := strings.Cut(a, ":")
	if slices.ContainsFunc(reservedServices, func(s string) bool { return strings.EqualFold(s, svc) }) {
		return fmt.Errorf("%s actions are never allowed in a tenant session (STS chains into roles without a session policy, IAM changes roles)", svc)
	}
	for _, t := range targets {
		if strings.EqualFold(svc, t.Catalogue().Service()) {
			return fmt.Errorf("an action of the %s isolation target: templates grant it under the target's rules and proof, never unproven", t.Name())
		}
		if slices.ContainsFunc(t.Catalogue().Bypass(), func(b string) bool { return strings.EqualFold(b, svc) }) {
			return fmt.Errorf("%s reaches the data of the %s isolation target without its isolation: never allowed in a tenant session", svc, t.Name())
		}
	}
	return nil
}

func checkNamedResource(r string) error {
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return errors.New("must be a full ARN (arn:partition:service:region:account:resource)")
	}
	if strings.ContainsAny(r, "*?") || strings.Contains(r, "${") {
		return errors.New("must name one resource, without wildcards or policy variables")
	}
	return nil
}

// LintNot is the one check of NotAction and NotResource that targets'
// statement rules share: an Allow statement that uses either and thereby
// grants actions of c is refused under rule (the target's id), naming an
// action it grants (NotAction) or the resources it excludes
// (NotResource); label names the service in the message ("DynamoDB").
// The generic rules refuse both in every Allow statement anyway
// (unknown-action, resource-scope); a target reports them first, under
// its own rule, when they reach its actions.
func LintNot(st *iam.Statement, c *Catalogue, rule, label string) *Finding {
	if st.NotAction == nil && st.NotResource == nil {
		return nil
	}
	granted := c.Granted(st)
	switch {
	case len(granted) == 0:
		return nil
	case st.NotAction != nil:
		return &Finding{Rule: rule, Detail: "Allow with NotAction grants " + label + " actions (e.g. " + c.Full(granted[0].Name) + ")",
			Text: strings.Join(st.NotAction, ",")}
	default:
		return &Finding{Rule: rule, Detail: "Allow with NotResource grants " + label + " actions on resources it does not name",
			Text: strings.Join(st.NotResource, ",")}
	}
}

// scopeFinding returns a finding of one of the generic rules.
func scopeFinding(rule, detail, text string) *Finding {
	return &Finding{Rule: rule, Detail: detail, Text: text}
}

// lintScope applies the generic statement rules (unknown-action, then
// resource-scope) to one Allow statement.
func lintScope(st *iam.Statement, opts LintOptions) *Finding {
	if st.NotAction != nil {
		return scopeFinding(RuleUnknownAction, "Allow with NotAction grants the actions of every service it does not exclude",
			strings.Join(st.NotAction, ","))
	}
	for _, a := range st.Action {
		if f := judgeAction(a, st.Resource, opts.Targets, opts.Profile); f != nil {
			return f
		}
	}
	if st.NotResource != nil {
		return scopeFinding(RuleResourceScope, "Allow with NotResource allows every resource it does not name", strings.Join(st.NotResource, ","))
	}
	for _, r := range st.Resource {
		if detail := resourceShape(r); detail != "" {
			return scopeFinding(RuleResourceScope, detail, r)
		}
		if opts.Profile != nil && !opts.Profile.declares(r) {
			return scopeFinding(RuleResourceScope,
				"lies within no resource the profile declares (its target settings and extra_actions)", r)
		}
	}
	return nil
}

// judgeAction judges one action pattern of an Allow statement on
// resources: nil when a target of targets knows it, or when prof lists it
// on every one of resources under extra_actions. Without a profile (a
// template at load) an action that could be listed — one plain action name
// of another service, on named resources — is left for the profile.
func judgeAction(a string, resources []string, targets []Target, prof *LintProfile) *Finding {
	if a == "*" {
		return scopeFinding(RuleUnknownAction, `"*" grants every action of every service`, a)
	}
	svc, _, _ := strings.Cut(a, ":")
	for _, t := range targets {
		c := t.Catalogue()
		if !strings.EqualFold(svc, c.Service()) {
			continue
		}
		if len(c.Expand(a)) == 0 {
			return scopeFinding(RuleUnknownAction, "names no action of "+c.Service(), a)
		}
		return nil
	}
	outside := "an action outside the template's isolation targets (" + targetList(targets) + ")"
	if err := checkExtraAction(a, targets); err != nil {
		return scopeFinding(RuleUnknownAction, outside+": "+err.Error(), a)
	}
	if prof == nil {
		for _, r := range resources {
			if err := checkNamedResource(r); err != nil {
				return scopeFinding(RuleUnknownAction, outside+" on a resource that is not named ("+err.Error()+")", a)
			}
		}
		return nil
	}
	if len(resources) == 0 {
		return scopeFinding(RuleUnknownAction, outside+" with NotResource", a)
	}
	for _, r := range resources {
		if !slices.ContainsFunc(prof.Extra, func(g ExtraGrant) bool { return g.covers(a, r) }) {
			return scopeFinding(RuleUnknownAction, outside+", not listed on "+r+" under the profile's extra_actions", a)
		}
	}
	return nil
}

func targetList(targets []Target) string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name()
	}
	return strings.Join(names, ", ")
}

// resourceShape returns why a resource pattern can never come from a
// profile ("" when its shape is acceptable): "*", a wildcard spanning the
// first five ARN components, or a wildcard or policy variable within one
// of the partition, service, region and account.
func resourceShape(r string) string {
	if r == "*" {
		return `"*" reaches every resource of every account`
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 {
		if strings.ContainsAny(r, "*?") || strings.Contains(r, "${") {
			return "a wildcard spanning the partition, service, region or account"
		}
		return ""
	}
	names := [5]string{"ARN prefix", "partition", "service", "region", "account"}
	for i := 1; i < 5; i++ {
		if strings.ContainsAny(parts[i], "*?") || strings.Contains(parts[i], "${") {
			return "a wildcard or policy variable in the " + names[i]
		}
	}
	return ""
}

// ResourceWithin reports whether every ARN the resource pattern r matches
// is also matched by declared: the two agree exactly on the partition,
// service, region and account, neither with a wildcard there, and the
// resource part of r is included in that of declared ('*' and '?' are
// wildcards in both; a policy variable in r counts as '*'). It is
// conservative: false means "not shown to be within" — as for any two
// different patterns not valid UTF-8, whose invalid bytes the comparison
// by characters would take for one character, U+FFFD (a policy decoded
// from JSON never holds one).
func ResourceWithin(r, declared string) bool {
	if r == declared && !strings.ContainsAny(r, "*?$") {
		return true
	}
	if !utf8.ValidString(r) || !utf8.ValidString(declared) {
		return false
	}
	rp, dp := strings.SplitN(r, ":", 6), strings.SplitN(declared, ":", 6)
	if len(rp) < 6 || len(dp) < 6 {
		return false
	}
	for i := range 5 {
		if rp[i] != dp[i] || strings.ContainsAny(rp[i], "*?$") {
			return false
		}
	}
	return globIncludes([]rune(variablesAsStars(rp[5])), []rune(dp[5]))
}

// ResourceMatches reports whether the resource pattern of a policy
// matches arn, a policy variable in the pattern matching anything (as
// iam.MatchResource does for '*'): whether the pattern may name arn, for
// any session.
func ResourceMatches(pattern, arn string) bool {
	return iam.MatchResource(variablesAsStars(pattern), arn)
}

// variablesAsStars replaces every policy variable ${...} in s by '*'.
func variablesAsStars(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s[:i])
			b.WriteByte('*')
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte('*')
		s = s[i+j+1:]
	}
}

// globIncludes reports whether every string the wildcard pattern inner
// matches is matched by outer ('*' any run, '?' one character, in both).
// It is sound, and complete for the patterns policies use: outer's '*'
// absorbs any run of inner's elements, outer's '?' one literal or '?' of
// inner, and a literal only the same literal.
func globIncludes(inner, outer []rune) bool {
	// next[j] holds inc(i+1, j), cur[j] inc(i, j): inner[i:] ⊆ outer[j:].
	m := len(outer)
	next := make([]bool, m+1)
	cur := make([]bool, m+1)
	// i == len(inner): only a run of '*' remains acceptable.
	next[m] = true
	for j := m - 1; j >= 0; j-- {
		next[j] = outer[j] == '*' && next[j+1]
	}
	for i := len(inner) - 1; i >= 0; i-- {
		cur[m] = false
		for j := m - 1; j >= 0; j-- {
			switch outer[j] {
			case '*':
				cur[j] = cur[j+1] || next[j]
			case '?':
				cur[j] = inner[i] != '*' && next[j+1]
			default:
				cur[j] = inner[i] == outer[j] && next[j+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// JudgeRoleGrants judges the Allow statements of a role policy that a
// session uses without a session policy (session-tags isolation, no
// template), where the role's grants are the session's. Each action must
// be one of a bound target's (the proof covers it), or listed with the
// statement's resources in extra (unproven, reported with the profile's
// extra grants). Anything else is refused with a *LintError of rule
// unknown-action naming the policy and statement: another service's
// action, "*", sts:* or iam:*, NotAction — and an action of a registered
// target the profile does not configure (S3 statements of a role whose
// profile configures only DynamoDB): nothing would prove those grants keep
// tenants apart, so the profile must configure the target (or send a
// session policy narrowing the role).
func JudgeRoleGrants(pol *iam.Policy, bound, registered []Target, extra []ExtraGrant) error {
	prof := &LintProfile{Extra: extra}
	for i := range pol.Statements {
		st := &pol.Statements[i]
		if st.Effect != iam.Allow {
			continue
		}
		fail := func(f *Finding) error {
			return &LintError{Rule: f.Rule, Detail: f.Detail, Policy: pol.Name, Statement: i, Sid: st.Sid, Text: f.Text}
		}
		if st.NotAction != nil {
			return fail(scopeFinding(RuleUnknownAction, "Allow with NotAction grants the actions of every service it does not exclude",
				strings.Join(st.NotAction, ",")))
		}
		for _, a := range st.Action {
			f := judgeAction(a, st.Resource, bound, prof)
			if f == nil {
				continue
			}
			svc, _, _ := strings.Cut(a, ":")
			if ti := slices.IndexFunc(registered, func(t Target) bool { return strings.EqualFold(t.Catalogue().Service(), svc) }); ti >= 0 && a != "*" {
				f = scopeFinding(RuleUnknownAction, fmt.Sprintf("an action of the %s isolation target, which the profile does not configure: "+
					"configure it so that the proof covers the role's grants (or send a session policy narrowing the role)", registered[ti].Name()), a)
			}
			return fail(f)
		}
	}
	return nil
}
