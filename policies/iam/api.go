// Package iam parses AWS IAM policy documents and evaluates requests against
// them the way AWS does: an explicit Deny in any policy wins, the
// identity-based policies must allow, session policies (when the session has
// any) must allow too, and resource-based policies (a role's trust policy)
// add or require an Allow depending on whom they name and from which account.
//
// # Entry points
//
//   - Session.Evaluate: a request by a role session or an IAM user, with its
//     identity and session policies, session tags, source identity and the
//     other global condition keys the session carries. This is what every
//     enforcing endpoint and every simulation calls.
//   - Session.EvaluateWithResource: the same request against a resource that
//     has resource-based policies (sts:AssumeRole against a role's trust
//     policy), combined as AWS combines them within one account and across
//     accounts.
//   - Evaluate: the plain intersection of identity and session policies for a
//     hand-built Request (no session keys beyond Request.Context).
//   - EvaluateResourcePolicy: resource-based policies alone.
//
// A Decision carries the outcome, the kind of policy that decided, the
// deciding statement and a constant one-line Reason; Explain formats the
// detailed explanation only when asked for, and Message AWS's AccessDenied
// text.
//
// # Wire format
//
// A policy is the JSON document IAM and STS accept: {"Version", "Id",
// "Statement"}, where Statement is one object or an array of them, each with
// "Sid", "Effect" ("Allow" or "Deny"), "Action" or "NotAction",
// "Resource" or "NotResource" (identity and session policies) or
// "Principal" or "NotPrincipal" (trust and other resource-based policies),
// and "Condition": {operator: {key: value(s)}}. Action, Resource and
// condition values are a string or an array; condition values may also be
// JSON booleans or numbers. Parsing is strict: invalid or trailing JSON,
// duplicate or unknown keys, an unknown condition operator, a value the
// operator cannot use, all are a *ParseError worded for STS's
// MalformedPolicyDocument message. Every pattern (actions, resources,
// wildcard condition values, numbers, dates, CIDRs) is compiled once, at
// parse time. Policy variables (${aws:username}, ${aws:PrincipalTag/k}, any
// context key, ${key, 'default'}, ${*} ${?} ${$}) are expanded only in
// "Version": "2012-10-17" documents, in the resource part of a Resource ARN
// and in String, Arn and Bool condition values. A variable whose key has no
// single value makes a Resource entry match nothing, a positive operator's
// value match nothing, and a negated operator's value match nothing either,
// so that a negated operator is satisfied (IAM User Guide, "Policy variables
// with no value").
//
// Request context values are strings: dates in ISO 8601 or epoch seconds,
// IP addresses in text form, BinaryEquals keys as the raw bytes (the policy
// holds their base64). A key mapped to an empty slice is present with an
// empty value set, which Null treats as null and ForAllValues as vacuously
// true. A key with several values needs ForAllValues or ForAnyValue: AWS
// defines no result for a bare operator on it, so evaluation fails closed
// (an Allow with such a condition does not apply, a Deny does).
//
// # Concurrency
//
// The package has no HTTP in it and no global state; every function is safe
// for concurrent use. A *Policy returned by a Parse function may be shared
// by goroutines and must not be modified: its compiled patterns are kept
// beside the exported fields (a statement whose slices were replaced is
// recompiled on each use, one edited in place is not noticed). Hand-built
// policies work too and are compiled on each evaluation.
package iam

// Effect is a statement's effect.
type Effect string

// Statement effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is a parsed IAM policy document.
type Policy struct {
	// Name labels the policy in decisions ("session policy", "role policy ReadTable").
	Name       string
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy. String-or-array fields are
// normalised to slices; a field that was absent is nil.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principal // resource-based (trust) policies only
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	// Conditions are sorted by operator then key for deterministic output.
	Conditions []Condition

	// compiled holds the statement's patterns, compiled by Parse.
	compiled *compiled
}

// Principal is a statement's Principal block. Wildcard is true for "*".
type Principal struct {
	Wildcard  bool
	AWS       []string
	Service   []string
	Federated []string
}

// Condition is one operator/key pair of a Condition block with its values.
type Condition struct {
	Operator string // as written, e.g. "ForAllValues:StringEquals"
	Key      string // as written, e.g. "dynamodb:LeadingKeys"
	Values   []string
}

// Request is the context AWS builds for one authorization check.
type Request struct {
	Principal string // caller ARN, e.g. arn:aws:sts::123456789012:assumed-role/R/S
	Action    string // service:Action, e.g. dynamodb:Query
	Resource  string // ARN of the resource
	// Context holds condition keys. Key names match case-insensitively.
	// A key that is absent from the map is absent from the request; a key
	// mapped to an empty slice is present with an empty value set.
	Context map[string][]string
}

// Outcome is the result of an evaluation.
type Outcome string

// Evaluation outcomes.
const (
	Allowed      Outcome = "Allow"
	ExplicitDeny Outcome = "ExplicitDeny"
	ImplicitDeny Outcome = "ImplicitDeny"
)

// PolicyKind says which kind of policy decided.
type PolicyKind string

// Policy kinds, worded as AWS words them in AccessDenied messages.
const (
	IdentityPolicy PolicyKind = "identity-based policy"
	SessionPolicy  PolicyKind = "session policy"
	ResourcePolicy PolicyKind = "resource-based policy"
)

// Grant says how an allowing resource-based policy names the caller, which
// decides whether the caller's other policies must allow too (IAM User
// Guide, "Policy evaluation logic": resource-based policies within one
// account).
type Grant uint8

// Grants, from the weakest to the strongest.
const (
	// GrantNone: no resource-based statement allows the request.
	GrantNone Grant = iota
	// GrantAccount: the statement names the caller's account ("ACCOUNT",
	// arn:aws:iam::ACCOUNT:root) or excludes others with NotPrincipal: the
	// account delegates to its IAM policies, which must allow too.
	GrantAccount
	// GrantRole: the statement names the role of the caller's session: an
	// implicit deny in the session's session policies still applies, the
	// role's identity-based policies need not allow.
	GrantRole
	// GrantPrincipal: the statement names the caller itself (its user or
	// assumed-role session ARN, a service, or "*"): within one account no
	// other policy needs to allow.
	GrantPrincipal
)

// String returns the grant's name.
func (g Grant) String() string {
	switch g {
	case GrantAccount:
		return "account"
	case GrantRole:
		return "role"
	case GrantPrincipal:
		return "principal"
	default:
		return "none"
	}
}

// Decision is the result of an evaluation, with what decided it.
type Decision struct {
	Outcome Outcome
	// Kind is the kind of policy that decided: for an explicit deny the
	// policy holding the Deny; for an implicit deny the first kind that
	// failed to allow; for an allow, the last kind checked.
	Kind PolicyKind
	// Policy, Statement and Sid name the deciding statement; Statement is -1
	// when no statement decided (implicit deny).
	Policy    string
	Statement int
	Sid       string
	// Reason sums the decision up in one constant line (no formatting cost);
	// Explain gives the detailed explanation.
	Reason string
	// Grant is how the allowing resource-based statement named the caller
	// (EvaluateResourcePolicy, Session.EvaluateWithResource).
	Grant Grant
	// Assumed names, for an allow by Session.EvaluatePossible, the unknown
	// condition keys whose conditions in the allowing statements the
	// request's own values do not satisfy, comma-separated: the request is
	// allowed for some other values of them. (A string keeps Decision
	// comparable.)
	Assumed string

	// What was asked, for Message and Explain.
	principal, action, resource string
	// by is the deciding statement; also the identity-based statement that
	// allowed alongside it; miss the first statement that matched the
	// action and resource but failed on a condition (implicit deny).
	by, also hit
	miss     miss
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

// Input is what Evaluate checks a request against.
type Input struct {
	// Identity holds the role's (or user's) identity-based policies.
	Identity []*Policy
	// Session holds the session policies (inline plus managed). Empty means
	// the session has no session policy, so the identity policies alone decide.
	Session []*Policy
}
