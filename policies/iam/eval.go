package iam

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
)

// Evaluate decides req against in the way AWS does.
//
// When in.Resource is non-empty the request is decided on those
// resource-based (trust) policies alone: an applicable Deny wins, then an
// applicable Allow allows, otherwise the request is implicitly denied.
//
// Otherwise: (1) an applicable Deny in any identity or session policy is an
// explicit deny; (2) some identity-based policy must allow, else implicit
// deny (Kind IdentityPolicy); (3) when in.Session is non-empty some session
// policy must allow too, else implicit deny (Kind SessionPolicy). The
// effective permissions are the intersection of the two.
//
// A statement applies when its Action/NotAction, Resource/NotResource,
// Principal/NotPrincipal (resource policies) and every condition match. A
// condition whose operator is unknown (possible only for hand-built
// policies; Parse rejects them), or whose operator has no ForAllValues /
// ForAnyValue qualifier while the request holds several values for its key
// (a result AWS does not define), makes an Allow inapplicable and a Deny
// applicable, so evaluation fails closed.
func Evaluate(req Request, in Input) Decision {
	ev := evaluator{req: req, ctx: newContext(req.Context)}
	if len(in.Resource) > 0 {
		return ev.resourceOnly(in.Resource)
	}
	if d, ok := ev.explicitDeny(in.Identity, IdentityPolicy); ok {
		return d
	}
	if d, ok := ev.explicitDeny(in.Session, SessionPolicy); ok {
		return d
	}
	idAllow, idMiss := ev.findAllow(in.Identity)
	if idAllow == nil {
		return ev.implicitDeny(IdentityPolicy, idMiss)
	}
	if len(in.Session) == 0 {
		return ev.allowed(IdentityPolicy, idAllow, "")
	}
	sAllow, sMiss := ev.findAllow(in.Session)
	if sAllow == nil {
		return ev.implicitDeny(SessionPolicy, sMiss)
	}
	return ev.allowed(SessionPolicy, sAllow, fmt.Sprintf("; the identity-based policy allows it by %s", idAllow))
}

// DenialMessage returns AWS's AccessDenied message for a denied decision,
// e.g. "User: arn:aws:sts::123456789012:assumed-role/R/S is not authorized to
// perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T
// because no session policy allows the dynamodb:Query action". It returns ""
// for an allowed decision.
func (d Decision) DenialMessage(req Request) string {
	head := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", req.Principal, req.Action, req.Resource)
	kind := d.Kind
	if kind == "" {
		kind = IdentityPolicy
	}
	switch d.Outcome {
	case ExplicitDeny:
		return fmt.Sprintf("%s with an explicit deny in %s %s", head, article(kind), kind)
	case ImplicitDeny:
		return fmt.Sprintf("%s because no %s allows the %s action", head, kind, req.Action)
	default:
		return ""
	}
}

func article(k PolicyKind) string {
	if strings.HasPrefix(string(k), "identity") {
		return "an"
	}
	return "a"
}

// hit identifies one statement of one policy.
type hit struct {
	policy *Policy
	index  int
}

func (h *hit) String() string {
	s := fmt.Sprintf("statement %d", h.index)
	if sid := h.policy.Statements[h.index].Sid; sid != "" {
		s += fmt.Sprintf(" (Sid %q)", sid)
	}
	return s + fmt.Sprintf(" of policy %q", h.policy.Name)
}

// miss records a statement whose action and resource matched but whose
// condition did not, to explain an implicit deny.
type miss struct {
	hit
	cond Condition
}

type evaluator struct {
	req Request
	ctx reqContext
}

func (ev *evaluator) explicitDeny(pols []*Policy, kind PolicyKind) (Decision, bool) {
	for _, p := range pols {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect != Deny {
				continue
			}
			if ok, _ := ev.applies(p, st); ok {
				h := &hit{policy: p, index: i}
				return Decision{
					Outcome:   ExplicitDeny,
					Kind:      kind,
					Policy:    p.Name,
					Statement: i,
					Sid:       st.Sid,
					Reason:    fmt.Sprintf("explicit deny: %s (%s) matches %s on %s", h, kind, ev.req.Action, ev.req.Resource),
				}, true
			}
		}
	}
	return Decision{}, false
}

// findAllow returns the first applicable Allow statement, or the first
// statement that failed only on a condition.
func (ev *evaluator) findAllow(pols []*Policy) (*hit, *miss) {
	var first *miss
	for _, p := range pols {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect != Allow {
				continue
			}
			ok, failed := ev.applies(p, st)
			if ok {
				return &hit{policy: p, index: i}, nil
			}
			if failed != nil && first == nil {
				first = &miss{hit: hit{policy: p, index: i}, cond: *failed}
			}
		}
	}
	return nil, first
}

func (ev *evaluator) implicitDeny(kind PolicyKind, m *miss) Decision {
	d := Decision{
		Outcome:   ImplicitDeny,
		Kind:      kind,
		Statement: -1,
		Reason:    fmt.Sprintf("implicit deny: no %s allows %s on %s", kind, ev.req.Action, ev.req.Resource),
	}
	if m != nil {
		d.Reason += fmt.Sprintf(" (%s matches the action and resource but its condition %s on %s is false)",
			&m.hit, m.cond.Operator, m.cond.Key)
	}
	return d
}

func (ev *evaluator) allowed(kind PolicyKind, h *hit, extra string) Decision {
	st := &h.policy.Statements[h.index]
	return Decision{
		Outcome:   Allowed,
		Kind:      kind,
		Policy:    h.policy.Name,
		Statement: h.index,
		Sid:       st.Sid,
		Reason:    fmt.Sprintf("allowed by %s (%s)%s", h, kind, extra),
	}
}

func (ev *evaluator) resourceOnly(pols []*Policy) Decision {
	if d, ok := ev.explicitDeny(pols, ResourcePolicy); ok {
		return d
	}
	allow, m := ev.findAllow(pols)
	if allow == nil {
		return ev.implicitDeny(ResourcePolicy, m)
	}
	return ev.allowed(ResourcePolicy, allow, "")
}

// applies reports whether st applies to the request. When the action,
// resource and principal match but a condition does not, failed names it.
func (ev *evaluator) applies(p *Policy, st *Statement) (ok bool, failed *Condition) {
	vars := p.Version == Version2012
	if !ev.matchesAction(st) || !ev.matchesResource(st, vars) || !ev.matchesPrincipal(st) {
		return false, nil
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		res, valid := ev.condition(c, vars)
		if !valid {
			// Undefined condition (unknown operator, or a single-valued
			// operator on several request values): fail closed.
			return st.Effect == Deny, c
		}
		if !res {
			return false, c
		}
	}
	return true, nil
}

func (ev *evaluator) matchesAction(st *Statement) bool {
	if st.NotAction != nil {
		for _, a := range st.NotAction {
			if MatchAction(a, ev.req.Action) {
				return false
			}
		}
		return true
	}
	for _, a := range st.Action {
		if MatchAction(a, ev.req.Action) {
			return true
		}
	}
	return false
}

func (ev *evaluator) matchesResource(st *Statement, vars bool) bool {
	switch {
	case st.NotResource != nil:
		for _, r := range st.NotResource {
			if ev.resourceMatches(r, vars) {
				return false
			}
		}
		return true
	case st.Resource != nil:
		for _, r := range st.Resource {
			if ev.resourceMatches(r, vars) {
				return true
			}
		}
		return false
	default:
		// Trust policies have no Resource: the role itself is the resource.
		return true
	}
}

// resourceMatches matches one Resource entry; policy variables are expanded
// only in the resource part of the ARN (after the fifth colon).
func (ev *evaluator) resourceMatches(pattern string, vars bool) bool {
	if pattern == "*" {
		return true
	}
	if !vars || !strings.Contains(pattern, "${") {
		return MatchResource(pattern, ev.req.Resource)
	}
	head, tail := pattern, ""
	if parts := strings.SplitN(pattern, ":", 6); len(parts) == 6 {
		tail = parts[5]
		head = pattern[:len(pattern)-len(tail)]
	}
	g := compileWildcard(head)
	tg, ok := expand(tail, ev.ctx, true, true)
	if !ok {
		return false
	}
	return matchARN(append(g, tg...), ev.req.Resource)
}

func (ev *evaluator) matchesPrincipal(st *Statement) bool {
	switch {
	case st.Principal != nil:
		return principalMatches(st.Principal, ev.req.Principal)
	case st.NotPrincipal != nil:
		return !principalMatches(st.NotPrincipal, ev.req.Principal)
	default:
		return true
	}
}

// principalMatches matches a Principal block against a caller: "*", an
// exact ARN, an account ID or account root ARN (any principal of that
// account), a role ARN (any session of that role), a service or a federated
// provider.
func principalMatches(p *Principal, caller string) bool {
	if p.Wildcard {
		return true
	}
	acct := arnAccount(caller)
	for _, a := range p.AWS {
		switch {
		case a == caller:
			return true
		case isAccountID(a):
			if a == acct {
				return true
			}
		case strings.HasPrefix(a, "arn:") && strings.HasSuffix(a, ":root"):
			if acct != "" && arnAccount(a) == acct {
				return true
			}
		case sessionOfRole(caller, a):
			return true
		}
	}
	for _, s := range p.Service {
		if s == caller {
			return true
		}
	}
	for _, f := range p.Federated {
		if f == caller {
			return true
		}
	}
	return false
}

// arnAccount returns the account field of an ARN, or "".
func arnAccount(arn string) string {
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
func (ev *evaluator) condition(c *Condition, vars bool) (result, valid bool) {
	op, msg := parseOperator(c.Operator)
	if msg != "" {
		return false, false
	}
	reqVals, present := ev.ctx.lookup(c.Key)
	if op.family == famNull {
		isNull := !present || len(reqVals) == 0
		for _, v := range c.Values {
			switch strings.ToLower(v) {
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
		case op.ifExists:
			return true, true
		case op.set == setForAll:
			return true, true
		case op.set == setForAny:
			return false, true
		default:
			return op.negated, true
		}
	}
	pvs := ev.policyValues(op, c.Values, vars)
	switch op.set {
	case setForAll:
		// Every request value passes; true for an empty set.
		for _, rv := range reqVals {
			if !ev.valuePasses(op, pvs, rv) {
				return false, true
			}
		}
		return true, true
	case setForAny:
		for _, rv := range reqVals {
			if ev.valuePasses(op, pvs, rv) {
				return true, true
			}
		}
		return false, true
	default:
		if len(reqVals) > 1 {
			// A single-valued operator met a key with several request
			// values. AWS says multivalued keys "require a condition set
			// operator" and documents no result for the bare form
			// ("Single-valued vs. multivalued context keys"), so the
			// condition is undefined and fails closed like an unknown
			// operator: an Allow does not apply, a Deny does.
			return false, false
		}
		if len(reqVals) == 0 {
			// An empty set: no value matches, so a positive operator is
			// false and a negated one (NOR) true, as for an absent key.
			return op.negated, true
		}
		return ev.valuePasses(op, pvs, reqVals[0]), true
	}
}

// policyValue is one policy value prepared for comparison; ok is false when
// a policy variable in it could not be resolved.
type policyValue struct {
	raw string
	g   glob
	ok  bool
}

func (ev *evaluator) policyValues(op operator, vals []string, vars bool) []policyValue {
	out := make([]policyValue, len(vals))
	for i, v := range vals {
		pv := policyValue{raw: v, ok: true}
		switch op.family {
		case famString:
			pv.g, pv.ok = expand(v, ev.ctx, vars, op.compare == cmpLike)
		case famArn:
			pv.g, pv.ok = expand(v, ev.ctx, vars, true)
		case famBool:
			if vars && strings.Contains(v, "${") {
				var g glob
				if g, pv.ok = expand(v, ev.ctx, true, false); pv.ok {
					pv.raw = g.literal()
				}
			}
		}
		out[i] = pv
	}
	return out
}

// valuePasses reports whether one request value satisfies the operator
// against the policy values: for a positive operator it matches at least one
// (OR); for a negated operator it matches none (NOR). A policy value with
// an unresolved variable matches nothing, and makes a negated operator fail,
// so an unresolvable variable never widens access.
func (ev *evaluator) valuePasses(op operator, pvs []policyValue, rv string) bool {
	for i := range pvs {
		pv := &pvs[i]
		if !pv.ok {
			if op.negated {
				return false
			}
			continue
		}
		if compareValue(op, pv, rv) {
			return !op.negated
		}
	}
	return op.negated
}

// compareValue applies the operator's positive comparison.
func compareValue(op operator, pv *policyValue, rv string) bool {
	switch op.family {
	case famString:
		switch op.compare {
		case cmpEqualsIgnoreCase:
			return pv.g.match(rv, true) // no wildcards: literal, case-folded
		default:
			return pv.g.match(rv, false)
		}
	case famArn:
		return matchARN(pv.g, rv)
	case famNumeric:
		a, ok1 := parseNumber(rv)
		b, ok2 := parseNumber(pv.raw)
		return ok1 && ok2 && ordered(op.compare, cmpFloat(a, b))
	case famDate:
		a, ok1 := parseDate(rv)
		b, ok2 := parseDate(pv.raw)
		return ok1 && ok2 && ordered(op.compare, a.Compare(b))
	case famBool:
		return strings.EqualFold(rv, pv.raw)
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(pv.raw)
		return err == nil && bytes.Equal(b, []byte(rv))
	case famIP:
		addr, err := netip.ParseAddr(rv)
		if err != nil {
			return false
		}
		pf, ok := parseCIDR(pv.raw)
		return ok && pf.Contains(addr.Unmap())
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
