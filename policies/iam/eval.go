package iam

import (
	"bytes"
	"iter"
	"net/netip"
	"slices"
	"strings"
)

// Evaluate decides req against the identity-based and session policies of
// in, the way AWS does for a session: (1) an applicable Deny in any
// identity or session policy is an explicit deny; (2) some identity-based
// policy must allow, else implicit deny (Kind IdentityPolicy); (3) when
// in.Session is non-empty some session policy must allow too, else
// implicit deny (Kind SessionPolicy). The effective permissions are the
// intersection of the two. The condition keys are req.Context alone; a
// Session carries the principal's own keys (see Session.Evaluate).
//
// A statement applies when its Action/NotAction, Resource/NotResource,
// Principal/NotPrincipal (resource policies) and every condition match. A
// condition whose operator is unknown (possible only for hand-built
// policies; Parse rejects them), or whose operator has no ForAllValues /
// ForAnyValue qualifier while the request holds several values for its key
// (a result AWS does not define), makes an Allow inapplicable and a Deny
// applicable, so evaluation fails closed.
func Evaluate(req Request, in Input) Decision {
	ev := evaluator{principal: req.Principal, action: req.Action, resource: req.Resource, ctx: req.Context}
	return ev.identity(in.Identity, in.Session)
}

// EvaluateResourcePolicy decides req on resource-based policies alone (a
// role's trust policy, a bucket policy): an applicable Deny wins, then an
// applicable Allow allows, otherwise the request is implicitly denied.
// Decision.Grant tells how the strongest allowing statement names the
// caller; Session.EvaluateWithResource combines it with the caller's own
// policies as AWS does.
func EvaluateResourcePolicy(req Request, policies []*Policy) Decision {
	ev := evaluator{principal: req.Principal, action: req.Action, resource: req.Resource, ctx: req.Context}
	return ev.resourceOnly(policies)
}

// evaluator holds one request while it is decided.
type evaluator struct {
	principal, action, resource string
	ctx                         map[string][]string
	sess                        *Session // nil for Evaluate
	// unknown, when set, names the condition keys whose values are not
	// known (Session.EvaluatePossible): a condition on one, or naming one
	// in a policy variable, may hold in an Allow and may fail in a Deny.
	unknown func(key string) bool
}

// hit identifies one statement of one policy.
type hit struct {
	policy *Policy
	index  int
}

// miss records a statement whose action and resource matched but whose
// condition did not, to explain an implicit deny.
type miss struct {
	hit
	cond int
}

func (ev *evaluator) decision(o Outcome, k PolicyKind, by hit) Decision {
	d := Decision{Outcome: o, Kind: k, Statement: -1, by: by,
		principal: ev.principal, action: ev.action, resource: ev.resource}
	if by.policy != nil {
		d.Policy = by.policy.Name
		d.Statement = by.index
		d.Sid = by.policy.Statements[by.index].Sid
	}
	d.Reason = reason(o, k)
	return d
}

func (ev *evaluator) implicitDeny(k PolicyKind, m miss) Decision {
	d := ev.decision(ImplicitDeny, k, hit{})
	d.miss = m
	return d
}

// identity decides on identity-based and session policies (Evaluate).
func (ev *evaluator) identity(identity, session []*Policy) Decision {
	if h, ok := ev.explicitDeny(identity); ok {
		return ev.decision(ExplicitDeny, IdentityPolicy, h)
	}
	if h, ok := ev.explicitDeny(session); ok {
		return ev.decision(ExplicitDeny, SessionPolicy, h)
	}
	idAllow, idMiss := ev.findAllow(identity)
	if idAllow.policy == nil {
		return ev.implicitDeny(IdentityPolicy, idMiss)
	}
	if len(session) == 0 {
		return ev.decision(Allowed, IdentityPolicy, idAllow)
	}
	sAllow, sMiss := ev.findAllow(session)
	if sAllow.policy == nil {
		return ev.implicitDeny(SessionPolicy, sMiss)
	}
	d := ev.decision(Allowed, SessionPolicy, sAllow)
	d.also = idAllow
	return d
}

func (ev *evaluator) resourceOnly(pols []*Policy) Decision {
	if h, ok := ev.explicitDeny(pols); ok {
		return ev.decision(ExplicitDeny, ResourcePolicy, h)
	}
	h, g, m := ev.strongestGrant(pols)
	if g == GrantNone {
		return ev.implicitDeny(ResourcePolicy, m)
	}
	d := ev.decision(Allowed, ResourcePolicy, h)
	d.Grant = g
	return d
}

// statementsOf yields every statement of pols (nil policies skipped) whose
// effect is e, with where it stands.
func statementsOf(pols []*Policy, e Effect) iter.Seq2[hit, *Statement] {
	return func(yield func(hit, *Statement) bool) {
		for _, p := range pols {
			if p == nil {
				continue
			}
			for i := range p.Statements {
				if st := &p.Statements[i]; st.Effect == e && !yield(hit{policy: p, index: i}, st) {
					return
				}
			}
		}
	}
}

// note records h as the first statement that failed only on condition
// failed (-1: it did not), unless one is recorded already.
func (m *miss) note(h hit, failed int) {
	if failed >= 0 && m.policy == nil {
		*m = miss{hit: h, cond: failed}
	}
}

func (ev *evaluator) explicitDeny(pols []*Policy) (hit, bool) {
	for h, st := range statementsOf(pols, Deny) {
		if ok, _ := ev.applies(h.policy, st); ok {
			return h, true
		}
	}
	return hit{}, false
}

// findAllow returns the first applicable Allow statement, or the first
// statement that failed only on a condition.
func (ev *evaluator) findAllow(pols []*Policy) (hit, miss) {
	first := miss{cond: -1}
	for h, st := range statementsOf(pols, Allow) {
		ok, failed := ev.applies(h.policy, st)
		if ok {
			return h, miss{cond: -1}
		}
		first.note(h, failed)
	}
	return hit{}, first
}

// strongestGrant returns the applicable Allow statement of resource-based
// policies that names the caller most directly.
func (ev *evaluator) strongestGrant(pols []*Policy) (hit, Grant, miss) {
	var best hit
	grant := GrantNone
	first := miss{cond: -1}
	for h, st := range statementsOf(pols, Allow) {
		ok, failed := ev.applies(h.policy, st)
		if !ok {
			first.note(h, failed)
			continue
		}
		if g := ev.grantOf(st); g > grant {
			best, grant = h, g
		}
	}
	return best, grant, first
}

// applies reports whether st applies to the request. When the action,
// resource and principal match but a condition does not, failed is that
// condition's index (else -1).
func (ev *evaluator) applies(p *Policy, st *Statement) (ok bool, failed int) {
	c := st.matcher(p.Version)
	if !ev.matchesAction(c) || !ev.matchesResource(c, st) || !ev.matchesPrincipal(st) {
		return false, -1
	}
	for i := range c.conds {
		if ev.unknown != nil && ev.condUnknown(&c.conds[i]) {
			// Some value of an unknown key may satisfy the condition, and
			// some may not: an Allow may apply, a Deny may not.
			if st.Effect == Allow {
				continue
			}
			return false, i
		}
		res, valid := ev.condition(&c.conds[i])
		if !valid {
			// Undefined condition (unknown operator, or a single-valued
			// operator on several request values): fail closed when
			// enforcing; when asking what is possible, an Allow may apply
			// and a Deny may not.
			if ev.unknown != nil {
				if st.Effect == Allow {
					continue
				}
				return false, i
			}
			return st.Effect == Deny, i
		}
		if !res {
			return false, i
		}
	}
	return true, -1
}

// condUnknown reports whether a condition's outcome depends on an unknown
// key: its own key, or a key a policy variable in its values names.
func (ev *evaluator) condUnknown(c *compiledCond) bool {
	if ev.unknown(c.key) {
		return true
	}
	for i := range c.vals {
		if c.vals[i].dynamic && slices.ContainsFunc(variableKeys(c.vals[i].raw), ev.unknown) {
			return true
		}
	}
	return false
}

func (ev *evaluator) matchesAction(c *compiled) bool {
	if c.notActions != nil {
		for i := range c.notActions {
			if c.notActions[i].match(ev.action, true) {
				return false
			}
		}
		return true
	}
	for i := range c.actions {
		if c.actions[i].match(ev.action, true) {
			return true
		}
	}
	return false
}

func (ev *evaluator) matchesResource(c *compiled, st *Statement) bool {
	// When asking what is possible, an entry whose variable names an
	// unknown key may match whatever makes an Allow apply and a Deny not:
	// any resource in an Allow's Resource and a Deny's NotResource, none
	// in a Deny's Resource and an Allow's NotResource.
	switch {
	case st.NotResource != nil:
		for i := range c.notResources {
			if ev.resourceMatches(&c.notResources[i], st.Effect == Deny) {
				return false
			}
		}
		return true
	case st.Resource != nil:
		for i := range c.resources {
			if ev.resourceMatches(&c.resources[i], st.Effect == Allow) {
				return true
			}
		}
		return false
	default:
		// Trust policies have no Resource: the role itself is the resource.
		return true
	}
}

// resourceMatches matches one Resource entry. An entry whose variable has
// no value matches nothing (IAM User Guide, "Policy variables with no
// value"), so in NotResource it excludes nothing. A variable naming an
// unknown key (EvaluatePossible) matches any run of characters when wide,
// else nothing.
func (ev *evaluator) resourceMatches(r *resourcePattern, wide bool) bool {
	switch {
	case r.all:
		return true
	case !r.vars:
		return r.arn.match(ev.resource)
	}
	tg, ok := ev.expandWide(r.tail, true, wide)
	if !ok {
		return false
	}
	g := append(append(make(glob, 0, len(r.head)+len(tg)), r.head...), tg...)
	p := compileARN(g)
	return p.match(ev.resource)
}

func (ev *evaluator) matchesPrincipal(st *Statement) bool {
	switch {
	case st.Principal != nil:
		return principalGrant(st.Principal, ev.principal) != GrantNone
	case st.NotPrincipal != nil:
		return principalGrant(st.NotPrincipal, ev.principal) == GrantNone
	default:
		return true
	}
}

// grantOf is how an applicable Allow statement names the caller.
func (ev *evaluator) grantOf(st *Statement) Grant {
	if st.Principal != nil {
		return principalGrant(st.Principal, ev.principal)
	}
	// NotPrincipal, or no principal at all (hand-built): no direct grant.
	return GrantAccount
}

// principalGrant matches a Principal block against a caller: "*", an exact
// ARN, a service or a federated provider name the caller itself; an
// account ID or account root ARN names its account; a role ARN names the
// sessions of that role.
func principalGrant(p *Principal, caller string) Grant {
	if p.Wildcard {
		return GrantPrincipal
	}
	best := GrantNone
	acct := ARNAccount(caller)
	for _, a := range p.AWS {
		switch {
		case a == caller:
			return GrantPrincipal
		case isAccountID(a):
			if a == acct {
				best = max(best, GrantAccount)
			}
		case strings.HasPrefix(a, "arn:") && strings.HasSuffix(a, ":root"):
			if acct != "" && ARNAccount(a) == acct {
				best = max(best, GrantAccount)
			}
		case sessionOfRole(caller, a):
			best = max(best, GrantRole)
		}
	}
	for _, s := range p.Service {
		if s == caller {
			return GrantPrincipal
		}
	}
	for _, f := range p.Federated {
		if f == caller {
			return GrantPrincipal
		}
	}
	return best
}

// ARNAccount returns the account field of an ARN
// (arn:partition:service:region:account:resource), or "" when arn is not
// one. It is the one such parser of the project.
func ARNAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// sessionOfRole reports whether caller is a session
// (arn:aws:sts::A:assumed-role/R/S) of the role ARN (arn:aws:iam::A:role/path/R).
func sessionOfRole(caller, roleARN string) bool {
	cp := strings.SplitN(caller, ":", 6)
	rp := strings.SplitN(roleARN, ":", 6)
	if len(cp) != 6 || len(rp) != 6 || cp[2] != "sts" || rp[2] != "iam" || cp[1] != rp[1] || cp[4] != rp[4] {
		return false
	}
	sess, ok := strings.CutPrefix(cp[5], "assumed-role/")
	if !ok {
		return false
	}
	role, _, _ := strings.Cut(sess, "/")
	rpath, ok := strings.CutPrefix(rp[5], "role/")
	if !ok {
		return false
	}
	return role != "" && (rpath == role || strings.HasSuffix(rpath, "/"+role))
}

// condition evaluates one condition. valid is false when the condition has
// no defined result: an unknown operator, or an operator without
// ForAllValues/ForAnyValue on a key with more than one request value.
func (ev *evaluator) condition(c *compiledCond) (result, valid bool) {
	if !c.valid {
		return false, false
	}
	op := c.op
	reqVals, present := ev.lookup(c.key)
	// A key whose values are all empty strings resolves to a null data set
	// for Null and the set operators: "You can prevent missing context keys
	// or context keys with empty values from evaluating to true by
	// including a Null condition operator ... with a value of false" (IAM
	// User Guide, "Multivalued context key examples").
	nullSet := !present || reqVals.empty()
	if op.family == famNull {
		isNull := nullSet
		for i := range c.vals {
			switch strings.ToLower(c.vals[i].raw) {
			case "true":
				if isNull {
					return true, true
				}
			case "false":
				if !isNull {
					return true, true
				}
			}
		}
		return false, true
	}
	if !present {
		switch {
		case op.ifExists, op.set == setForAll:
			return true, true
		case op.set == setForAny:
			return false, true
		default:
			return op.negated, true
		}
	}
	switch op.set {
	case setForAll:
		// Every request value passes; true for a null data set.
		if nullSet {
			return true, true
		}
		for i := 0; i < reqVals.len(); i++ {
			if !ev.valuePasses(c, reqVals.at(i)) {
				return false, true
			}
		}
		return true, true
	case setForAny:
		if nullSet {
			return false, true
		}
		for i := 0; i < reqVals.len(); i++ {
			if ev.valuePasses(c, reqVals.at(i)) {
				return true, true
			}
		}
		return false, true
	}
	switch reqVals.len() {
	case 0:
		// An empty set: no value matches, so a positive operator is
		// false and a negated one (NOR) true, as for an absent key.
		return op.negated, true
	case 1:
		return ev.valuePasses(c, reqVals.at(0)), true
	default:
		// A single-valued operator met a key with several request
		// values. AWS says multivalued keys "require a condition set
		// operator" and documents no result for the bare form
		// ("Single-valued vs. multivalued context keys"), so the
		// condition is undefined and fails closed like an unknown
		// operator: an Allow does not apply, a Deny does.
		return false, false
	}
}

// valuePasses reports whether one request value satisfies the operator
// against the policy values: for a positive operator it matches at least
// one (OR); for a negated operator it matches none (NOR). A policy value
// whose variable has no value is "effectively null. There is no equal or
// like value" (IAM User Guide, "Policy variables with no value"): it
// matches nothing, so a positive operator is not satisfied by it and a
// negated operator is ("Inverted condition operators like StringNotEquals
// or StringNotLike do match against a null value").
func (ev *evaluator) valuePasses(c *compiledCond, rv string) bool {
	for i := range c.vals {
		if ev.valueMatches(c.op, &c.vals[i], rv) {
			return !c.op.negated
		}
	}
	return c.op.negated
}

// valueMatches applies the operator's positive comparison to one policy value.
func (ev *evaluator) valueMatches(op operator, pv *condValue, rv string) bool {
	if pv.dynamic {
		return ev.dynamicMatches(op, pv.raw, rv)
	}
	if !pv.ok {
		return false
	}
	switch op.family {
	case famString:
		return pv.pat.match(rv, op.compare == cmpEqualsIgnoreCase)
	case famArn:
		return pv.arn.match(rv)
	case famNumeric:
		a, ok := parseNumber(rv)
		return ok && ordered(op.compare, cmpFloat(a, pv.num))
	case famDate:
		a, ok := parseDate(rv)
		return ok && ordered(op.compare, a.Compare(pv.date))
	case famBool:
		return strings.EqualFold(rv, pv.raw)
	case famBinary:
		return bytes.Equal(pv.bin, []byte(rv))
	case famIP:
		addr, err := netip.ParseAddr(rv)
		return err == nil && pv.cidr.Contains(addr.Unmap())
	}
	return false
}

// dynamicMatches compares a request value with a policy value that holds
// policy variables, expanded against this request.
func (ev *evaluator) dynamicMatches(op operator, raw, rv string) bool {
	switch op.family {
	case famString:
		g, ok := ev.expand(raw, op.compare == cmpLike)
		if !ok {
			return false
		}
		p := newPattern(g)
		return p.match(rv, op.compare == cmpEqualsIgnoreCase)
	case famArn:
		g, ok := ev.expand(raw, true)
		if !ok {
			return false
		}
		p := compileARN(g)
		return p.match(rv)
	case famBool:
		g, ok := ev.expand(raw, false)
		return ok && strings.EqualFold(rv, g.literal())
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ordered maps a three-way comparison (request vs policy) to the operator.
func ordered(c opCompare, r int) bool {
	switch c {
	case cmpEquals:
		return r == 0
	case cmpLessThan:
		return r < 0
	case cmpLessThanEquals:
		return r <= 0
	case cmpGreaterThan:
		return r > 0
	case cmpGreaterThanEquals:
		return r >= 0
	}
	return false
}
