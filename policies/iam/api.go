// Package iam parses AWS IAM policy documents and evaluates requests against
// them the way AWS does for a role session: an explicit Deny in any policy
// wins, the role's identity-based policies must allow, and, when the session
// carries session policies, those must allow too.
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
// JSON booleans or numbers. Parse is strict: invalid or trailing JSON,
// duplicate or unknown keys, an unknown condition operator, a value the
// operator cannot use, all are a *ParseError worded for STS's
// MalformedPolicyDocument message. Policy variables (${aws:username},
// ${aws:PrincipalTag/k}, any context key, ${key, 'default'}, ${*} ${?} ${$})
// are expanded only in "Version": "2012-10-17" documents, in the resource
// part of a Resource ARN and in String, Arn and Bool condition values.
//
// Request context values are strings: dates in ISO 8601 or epoch seconds,
// IP addresses in text form, BinaryEquals keys as the raw bytes (the policy
// holds their base64). A key mapped to an empty slice is present with an
// empty value set, which Null treats as null and ForAllValues as vacuously
// true. A key with several values needs ForAllValues or ForAnyValue: AWS
// defines no result for a bare operator on it, so Evaluate fails closed
// (an Allow with such a condition does not apply, a Deny does).
//
// # Concurrency
//
// The package has no HTTP in it and no global state; every function is safe
// for concurrent use, and a parsed *Policy may be shared by goroutines as
// long as nobody modifies it.
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

// Decision is the result of Evaluate, with what decided it.
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
	// Reason explains the decision in one line.
	Reason string
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
	// Resource holds resource-based policies (a role's trust policy). When
	// non-empty, Evaluate decides on them alone (used for sts:AssumeRole).
	Resource []*Policy
}
