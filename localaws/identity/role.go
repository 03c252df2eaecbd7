package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
)

// Role is an IAM role. Its identity fields are fixed; its inline policies
// change through PutInlinePolicy and DeleteInlinePolicy, safely under
// concurrency, and every session of the role is evaluated against the
// role's current policies (so a Deny put on the role reaches sessions
// issued before it: revocation by aws:TokenIssueTime).
type Role struct {
	Name               string
	Path               string // "/" unless configured
	Account            string
	ARN                string // arn:aws:iam::ACCOUNT:role/PATHNAME
	ID                 string // AROA...
	CreateDate         time.Time
	MaxSessionDuration time.Duration
	Trust              *iam.Policy
	// TrustDocument is the trust policy as configured (JSON).
	TrustDocument string

	mu    sync.Mutex // serialises writers; readers load state
	state atomic.Pointer[roleState]
}

// InlinePolicy is a role's (or user's) inline policy: its name, the
// document as given and the parsed policy.
type InlinePolicy struct {
	Name     string
	Document string
	Policy   *iam.Policy
}

// roleState is one immutable version of a role's policies.
type roleState struct {
	inline   []InlinePolicy
	attached []*ManagedPolicy
	// policies is what sessions are evaluated against: the inline
	// policies, then the default version of each attached policy.
	policies []*iam.Policy
}

func newRoleState(inline []InlinePolicy, attached []*ManagedPolicy) *roleState {
	st := &roleState{inline: inline, attached: attached}
	for _, p := range inline {
		st.policies = append(st.policies, p.Policy)
	}
	for _, m := range attached {
		st.policies = append(st.policies, m.Default().Policy)
	}
	return st
}

// Policies returns the role's current identity-based policies. The slice
// must not be modified.
func (r *Role) Policies() []*iam.Policy { return r.state.Load().policies }

// InlinePolicies returns the role's inline policies in the order they were
// added.
func (r *Role) InlinePolicies() []InlinePolicy { return slices.Clone(r.state.Load().inline) }

// AttachedPolicies returns the managed policies attached to the role.
func (r *Role) AttachedPolicies() []*ManagedPolicy { return slices.Clone(r.state.Load().attached) }

// InlinePolicy returns the named inline policy.
func (r *Role) InlinePolicy(name string) (InlinePolicy, bool) {
	for _, p := range r.state.Load().inline {
		if p.Name == name {
			return p, true
		}
	}
	return InlinePolicy{}, false
}

// MaxInlinePolicySize is IAM's quota on the total size of a role's inline
// policies, counted without whitespace (iam.MaxRoleInlinePolicySize, its
// one home).
const MaxInlinePolicySize = iam.MaxRoleInlinePolicySize

// Role policy errors.
var (
	// ErrNoSuchPolicy: the role has no inline policy of that name.
	ErrNoSuchPolicy = errors.New("identity: no such inline policy")
	// ErrPolicySize: the role's inline policies would exceed MaxInlinePolicySize.
	ErrPolicySize = errors.New("identity: inline policies exceed the size quota")
)

// PutInlinePolicy adds or replaces the named inline policy. doc must be a
// valid identity-based policy (*iam.ParseError otherwise); the role's
// inline policies together must stay within MaxInlinePolicySize
// (ErrPolicySize).
func (r *Role) PutInlinePolicy(name, doc string) error {
	if !policyNameR.MatchString(name) {
		return fmt.Errorf("identity: policy name %q: must be 1 to 128 of [\\w+=,.@-]", name)
	}
	pol, err := iam.Parse("role policy "+name, []byte(doc))
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	inline := make([]InlinePolicy, 0, len(cur.inline)+1)
	replaced := false
	for _, p := range cur.inline {
		if p.Name == name {
			p, replaced = InlinePolicy{Name: name, Document: doc, Policy: pol}, true
		}
		inline = append(inline, p)
	}
	if !replaced {
		inline = append(inline, InlinePolicy{Name: name, Document: doc, Policy: pol})
	}
	size := 0
	for _, p := range inline {
		size += iam.PolicySize(p.Document)
	}
	if size > MaxInlinePolicySize {
		return ErrPolicySize
	}
	r.state.Store(newRoleState(inline, cur.attached))
	return nil
}

// DeleteInlinePolicy removes the named inline policy (ErrNoSuchPolicy if
// the role has none of that name).
func (r *Role) DeleteInlinePolicy(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	i := slices.IndexFunc(cur.inline, func(p InlinePolicy) bool { return p.Name == name })
	if i < 0 {
		return ErrNoSuchPolicy
	}
	r.state.Store(newRoleState(slices.Delete(slices.Clone(cur.inline), i, i+1), cur.attached))
	return nil
}

// ManagedPolicy is a customer managed policy of an account, with its
// versions. Managed policies are fixed after New.
type ManagedPolicy struct {
	Name        string
	Path        string
	ARN         string // arn:aws:iam::ACCOUNT:policy/PATHNAME
	ID          string // ANPA...
	Description string
	CreateDate  time.Time
	Versions    []PolicyVersion // oldest first
	// DefaultVersionID names the version sessions are evaluated against.
	DefaultVersionID string
	// AttachmentCount is the number of roles the policy is attached to.
	AttachmentCount int
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID         string // v1, v2, ...
	Document   string
	Policy     *iam.Policy
	CreateDate time.Time
}

// Default returns the default version.
func (m *ManagedPolicy) Default() PolicyVersion {
	v, _ := m.Version(m.DefaultVersionID)
	return v
}

// Version returns the version with the given id.
func (m *ManagedPolicy) Version(id string) (PolicyVersion, bool) {
	for _, v := range m.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return PolicyVersion{}, false
}

// normalizePath validates an IAM path ("/", "/division/team/") and
// returns "/" for "".
func normalizePath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !pathRE.MatchString(p) {
		return "", fmt.Errorf("%q must start and end with / (1 to 512 of [!-~])", p)
	}
	return p, nil
}

// pathName joins a path and a name as IAM ARNs do: "/" + "r" -> "r",
// "/team/" + "r" -> "team/r".
func pathName(path, name string) string {
	return strings.TrimPrefix(path, "/") + name
}
