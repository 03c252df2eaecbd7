package iam

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tag is a session tag (or an IAM user's tag): aws:PrincipalTag/<Key>.
// Keys match case-insensitively.
type Tag struct {
	Key, Value string
}

// Session is a principal making requests: a role session (what AssumeRole
// returns) or an IAM user with long-term keys. It carries the principal's
// policies and the global condition keys AWS puts in the context of every
// request the principal makes:
//
//	aws:PrincipalArn      PrincipalARN (the role ARN for a role session), else the role of an
//	                      assumed-role Principal (without its path), else Principal
//	aws:PrincipalAccount  Account, else the account of Principal
//	aws:PrincipalType     Type, else "AssumedRole" for an assumed-role ARN, "User" for a user ARN
//	aws:userid            UserID
//	aws:username          UserName (IAM users only)
//	aws:TokenIssueTime    TokenIssueTime in ISO 8601 (temporary credentials only)
//	aws:SourceIdentity    SourceIdentity
//	aws:PrincipalTag/<k>  Tags
//	aws:CurrentTime       RequestTime in ISO 8601, aws:EpochTime in seconds
//
// The session is the only source of these keys: a request context entry
// with one of their names is ignored (a request cannot claim a tag), except
// the two time keys when RequestTime is zero. A key whose field is empty is
// absent. Extra holds further keys of the session or its environment
// (aws:SecureTransport, aws:SourceIp, ...), consulted before the request
// context.
//
// A Session is a value: build one per request or share one; Evaluate does
// not modify it.
type Session struct {
	// Principal is the caller's ARN, as AccessDenied messages name it:
	// arn:aws:sts::ACCT:assumed-role/ROLE/NAME or arn:aws:iam::ACCT:user/NAME.
	Principal      string
	PrincipalARN   string
	Account        string
	Type           string
	UserID         string
	UserName       string
	TokenIssueTime time.Time
	SourceIdentity string
	Tags           []Tag
	RequestTime    time.Time
	Extra          map[string][]string

	// Identity holds the role's (or user's) identity-based policies.
	Identity []*Policy
	// SessionPolicies holds the session policies passed to AssumeRole; empty
	// means none, so the identity-based policies alone decide.
	SessionPolicies []*Policy
}

// Evaluate decides a request by the session: action on resource, with ctx
// holding the request's own condition keys (dynamodb:LeadingKeys, ...),
// against the session's identity and session policies (see Evaluate for
// the logic). The decision's Message names s.Principal.
func (s *Session) Evaluate(action, resource string, ctx map[string][]string) Decision {
	ev := evaluator{principal: s.Principal, action: action, resource: resource, ctx: ctx, sess: s}
	return ev.identity(s.Identity, s.SessionPolicies)
}

// EvaluatePossible decides whether some request by the session for action
// on resource, agreeing with ctx on every key unknown does not name, could
// be allowed: the condition keys for which unknown returns true (and the
// session's own keys among them) may hold any value, or none. A condition
// on such a key — or naming one in a policy variable — is taken to hold in
// an Allow statement and to fail in a Deny statement; a Resource entry
// whose variable names one matches any resource in an Allow (none in a
// Deny), a NotResource entry the other way round; a condition AWS leaves
// undefined (a single-valued operator on several request values) holds in
// an Allow and fails in a Deny. So Allowed means "allowed for some values
// of the unknown keys" (Decision.Assumed lists those the allowing
// statements test), a denial means "denied whatever they are", and
// ExplicitDeny is returned only for a Deny that applies whatever they are.
// This over-approximates what AWS may allow: a battery that wants a
// request denied asks EvaluatePossible, so that a grant opened by a key
// the caller chooses (aws:SourceIp, aws:CurrentTime, s3:delimiter, ...)
// cannot hide behind the values the battery happened to pick.
func (s *Session) EvaluatePossible(action, resource string, ctx map[string][]string, unknown func(key string) bool) Decision {
	ev := evaluator{principal: s.Principal, action: action, resource: resource, ctx: ctx, sess: s, unknown: unknown}
	d := ev.identity(s.Identity, s.SessionPolicies)
	if d.Allowed() {
		d.Assumed = strings.Join(ev.assumed(d.by, d.also), ", ")
	}
	return d
}

// Substitute returns text with its policy variables replaced by the
// session's values for their keys — the session's own keys and Extra —
// or, for a key without a single value, by the variable's default
// (${aws:PrincipalTag/team, 'x'}); ${*}, ${?} and ${$} become the literal
// character. ok is false when a variable has neither a value nor a
// default, or names a key unknown reports. It is what a policy value or
// resource means for every request of the session (in a "2012-10-17"
// policy), so that a constant hidden behind a variable can be probed.
func (s *Session) Substitute(text string, unknown func(key string) bool) (string, bool) {
	ev := evaluator{sess: s, unknown: unknown}
	g, ok := ev.expandWide(text, false, false)
	if !ok {
		return "", false
	}
	return g.literal(), true
}

// assumed returns the unknown keys that the conditions of the given
// statements had to be assumed for: those of the conditions on unknown keys
// that the request's own context does not satisfy (the key it tests, or the
// first unknown key a variable in its values names), as written, without
// repeats.
func (ev *evaluator) assumed(hits ...hit) []string {
	var out []string
	for _, h := range hits {
		if h.policy == nil {
			continue
		}
		st := &h.policy.Statements[h.index]
		conds := st.matcher(h.policy.Version).conds
		for i := range conds {
			c := &conds[i]
			if !ev.condUnknown(c) {
				continue
			}
			if res, valid := ev.condition(c); valid && res {
				continue // holds with the request's own values
			}
			key := c.key
			if !ev.unknown(key) {
				for j := range c.vals {
					if k := slices.IndexFunc(variableKeys(c.vals[j].raw), ev.unknown); k >= 0 {
						key = variableKeys(c.vals[j].raw)[k]
						break
					}
				}
			}
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, key) }) {
				out = append(out, key)
			}
		}
	}
	return out
}

// ResourcePolicies are the resource-based policies of the resource a
// request targets.
type ResourcePolicies struct {
	// Account owns the resource.
	Account string
	// Policies are the resource's resource-based policies.
	Policies []*Policy
	// Required is true when the resource-based policy must allow whatever
	// the identity-based policies say: role trust policies (and KMS key
	// policies) "must explicitly allow access for principals".
	Required bool
}

// EvaluateWithResource decides a request by the session against a
// resource that has resource-based policies, as AWS combines them ("Policy
// evaluation logic", "Cross-account policy evaluation logic"):
//
//   - an explicit Deny in any identity, session or resource-based policy
//     wins;
//   - when rp.Required, a resource-based Allow is needed in every case
//     (implicit deny, Kind ResourcePolicy);
//   - within one account, an Allow that names the caller itself
//     (GrantPrincipal) is enough; one that names the caller's role
//     (GrantRole) still needs the session policies, if any, to allow; one
//     that names the account (GrantAccount), or no Allow at all, leaves
//     the decision to the identity and session policies;
//   - across accounts, both the resource-based policy and the identity
//     (and session) policies must allow.
//
// The deciding Kind tells which policy refused; Grant how the
// resource-based policy named the caller.
func (s *Session) EvaluateWithResource(action, resource string, ctx map[string][]string, rp ResourcePolicies) Decision {
	ev := evaluator{principal: s.Principal, action: action, resource: resource, ctx: ctx, sess: s}
	if h, ok := ev.explicitDeny(s.Identity); ok {
		return ev.decision(ExplicitDeny, IdentityPolicy, h)
	}
	if h, ok := ev.explicitDeny(s.SessionPolicies); ok {
		return ev.decision(ExplicitDeny, SessionPolicy, h)
	}
	res := ev.resourceOnly(rp.Policies)
	if res.Outcome == ExplicitDeny || (rp.Required && !res.Allowed()) {
		return res
	}
	sameAccount := rp.Account != "" && rp.Account == s.account()
	if sameAccount {
		switch res.Grant {
		case GrantPrincipal:
			return res
		case GrantRole:
			if len(s.SessionPolicies) == 0 {
				return res
			}
			sAllow, sMiss := ev.findAllow(s.SessionPolicies)
			if sAllow.policy == nil {
				return ev.implicitDeny(SessionPolicy, sMiss)
			}
			res.also = sAllow
			return res
		}
	}
	id := ev.identity(s.Identity, s.SessionPolicies)
	if !id.Allowed() {
		return id
	}
	if sameAccount && res.Grant == GrantNone {
		return id
	}
	if !res.Allowed() {
		return res
	}
	res.also = id.by
	return res
}

// account returns aws:PrincipalAccount.
func (s *Session) account() string {
	if s.Account != "" {
		return s.Account
	}
	return ARNAccount(s.Principal)
}

// principalType returns aws:PrincipalType.
func (s *Session) principalType() string {
	switch {
	case s.Type != "":
		return s.Type
	case strings.Contains(s.Principal, ":assumed-role/"):
		return "AssumedRole"
	case strings.Contains(s.Principal, ":user/"):
		return "User"
	}
	return ""
}

// lookup finds a condition key: the session's own keys first, then Extra,
// then the request context.
func (ev *evaluator) lookup(key string) (values, bool) {
	if s := ev.sess; s != nil {
		if v, ok, owned := s.key(key); owned {
			return v, ok
		}
		if v, ok := lookupFold(s.Extra, key); ok {
			return v, ok
		}
	}
	return lookupFold(ev.ctx, key)
}

// principalTagPrefix is the prefix of session tag keys.
const principalTagPrefix = "aws:principaltag/"

// key answers the global keys the session owns; owned is false for any
// other key.
func (s *Session) key(key string) (v values, present, owned bool) {
	str := func(x string) (values, bool, bool) { return oneValue(x), x != "", true }
	if len(key) > len(principalTagPrefix) && strings.EqualFold(key[:len(principalTagPrefix)], principalTagPrefix) {
		name := key[len(principalTagPrefix):]
		for _, t := range s.Tags {
			if strings.EqualFold(t.Key, name) {
				return oneValue(t.Value), true, true
			}
		}
		return values{}, false, true
	}
	switch foldKey(key) {
	case "aws:principalarn":
		if s.PrincipalARN != "" {
			return str(s.PrincipalARN)
		}
		return str(roleOfSession(s.Principal))
	case "aws:principalaccount":
		return str(s.account())
	case "aws:principaltype":
		return str(s.principalType())
	case "aws:userid":
		return str(s.UserID)
	case "aws:username":
		return str(s.UserName)
	case "aws:sourceidentity":
		return str(s.SourceIdentity)
	case "aws:tokenissuetime":
		if s.TokenIssueTime.IsZero() {
			return values{}, false, true
		}
		return oneValue(s.TokenIssueTime.UTC().Format(time.RFC3339)), true, true
	case "aws:currenttime":
		if s.RequestTime.IsZero() {
			return values{}, false, false
		}
		return oneValue(s.RequestTime.UTC().Format(time.RFC3339)), true, true
	case "aws:epochtime":
		if s.RequestTime.IsZero() {
			return values{}, false, false
		}
		return oneValue(strconv.FormatInt(s.RequestTime.Unix(), 10)), true, true
	}
	return values{}, false, false
}

// sessionKeys are the lower-case names of the keys a session owns.
var sessionKeys = []string{"aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid",
	"aws:username", "aws:sourceidentity", "aws:tokenissuetime", "aws:currenttime", "aws:epochtime"}

// foldKey returns the lower-case session key name equal to key under case
// folding, or "" (without allocating, unlike strings.ToLower).
func foldKey(key string) string {
	if len(key) < 4 || !strings.EqualFold(key[:4], "aws:") {
		return ""
	}
	for _, k := range sessionKeys {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return k
		}
	}
	return ""
}

// roleOfSession returns the role ARN (without path) of an assumed-role
// session ARN, or arn unchanged.
func roleOfSession(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" {
		return arn
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	role, _, found := strings.Cut(rest, "/")
	if !ok || !found || role == "" {
		return arn
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}

// IsSessionKey reports whether a condition key is one a Session owns (see
// Session): a request context cannot set it.
func IsSessionKey(key string) bool {
	if len(key) > len(principalTagPrefix) && strings.EqualFold(key[:len(principalTagPrefix)], principalTagPrefix) {
		return true
	}
	switch foldKey(key) {
	case "", "aws:currenttime", "aws:epochtime":
		return false
	}
	return true
}
