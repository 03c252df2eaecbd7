// Package revoke cuts a tenant off from the credentials it already holds.
//
// Temporary credentials cannot be recalled, but IAM evaluates a session's
// requests against its role's policies as they are now, and every session
// carries aws:TokenIssueTime. AWS's own "revoke active sessions" attaches
// to the role a Deny on every action for sessions issued before a cut-off
// (DateLessThan aws:TokenIssueTime). This package renders that Deny scoped
// to one tenant's sessions, so the other tenants sharing the role keep
// working:
//
//   - by session tag, when a profile sets a tag whose value is exactly
//     {tenant}: StringEquals aws:PrincipalTag/<key> = the tenant id;
//   - otherwise by session name, which the broker builds so that one
//     tenant's names never match another's (profiles.SessionNamePattern):
//     StringLike aws:userid = "*:t-<tenant>@<profile>" (per-tenant sessions)
//     or "*:t-<tenant>@*" (per-subject). aws:userid is "<role id>:<session
//     name>" for a role session; the policy is attached to the role, so only
//     that role's sessions are evaluated against it, and neither part holds
//     a ':' — the "*" before it is the role id.
//
// # Wire format
//
// One inline policy per role the tenant's profiles use (every profile of
// the configuration: a profile that no longer admits the tenant may still
// have live sessions of it), named
//
//	tvm-revoke@<tenant part>@<cut-off as 20060102T150405Z>
//
// (the tenant part as in session names, so it holds no '@'), holding
//
//	{"Version":"2012-10-17","Statement":[
//	  {"Sid":"TvmRevokeByName","Effect":"Deny","Action":"*","Resource":"*",
//	   "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-30T21:54:38Z"},
//	                "StringLike":{"aws:userid":["*:t-4@read"]}}},
//	  {"Sid":"TvmRevokeByTag1","Effect":"Deny","Action":"*","Resource":"*",
//	   "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-30T21:54:38Z"},
//	                "StringEquals":{"aws:PrincipalTag/tenant":"4"}}}]}
//
// rendered with encoding/json. A revocation matches nothing once every
// session issued before its cut-off has expired: at most 12 hours (STS's
// longest session) later, when List reports it expired and it can be
// removed.
//
// # Quota
//
// IAM allows 10,240 characters (whitespace not counted) of inline
// policies per role, all of them together (iam.MaxRoleInlinePolicySize).
// Apply reads the role's inline policies first and refuses, before
// writing, a revocation that would exceed it, naming the expired
// revocations that could be removed; IAM itself would answer LimitExceeded.
// A revocation of one profile kind is about 250 characters, so a role
// holds some thirty at once besides its own policies.
//
// # Concurrency
//
// Plans are values; Apply, List and Remove call IAM through the given
// port, one call at a time.
package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Names and formats.
const (
	// PolicyPrefix starts the name of every revocation policy.
	PolicyPrefix = "tvm-revoke@"
	// CutoffLayout is the cut-off's form in a policy name.
	CutoffLayout = "20060102T150405Z"
	// maxPolicyName is IAM's limit on a policy name.
	maxPolicyName = 128
	// tenantRoom is the room left for the tenant part in a policy name.
	tenantRoom = maxPolicyName - len(PolicyPrefix) - len("@") - len(CutoffLayout)
	// Lifetime is how long after its cut-off a revocation can still match
	// a session: the longest session STS issues.
	Lifetime = stsrules.MaxDuration
)

// PolicyName returns the name of tenantID's revocation at cutoff.
func PolicyName(tenantID string, cutoff time.Time) string {
	return PolicyPrefix + profiles.TenantNamePart(tenantID, tenantRoom) + "@" + cutoff.UTC().Format(CutoffLayout)
}

// ParsePolicyName returns the tenant part and the cut-off of a revocation
// policy's name; ok is false for any other policy.
func ParsePolicyName(name string) (tenantPart string, cutoff time.Time, ok bool) {
	rest, found := strings.CutPrefix(name, PolicyPrefix)
	if !found {
		return "", time.Time{}, false
	}
	i := strings.LastIndexByte(rest, '@')
	if i <= 0 {
		return "", time.Time{}, false
	}
	t, err := time.Parse(CutoffLayout, rest[i+1:])
	if err != nil {
		return "", time.Time{}, false
	}
	return rest[:i], t.UTC(), true
}

// Plan is the revocation of one tenant's sessions issued before Cutoff.
type Plan struct {
	Tenant string
	Cutoff time.Time // whole seconds, UTC
	Roles  []RolePlan
}

// RolePlan is the revocation policy of one role.
type RolePlan struct {
	RoleARN  string
	RoleName string
	// Profiles are the profiles assuming the role.
	Profiles []string
	// ByTag and ByName say how each profile's sessions are recognised
	// (profile names).
	ByTag, ByName []string
	PolicyName    string
	// Document is the policy, compact JSON.
	Document string
}

// Size is the document's size as IAM counts it.
func (r RolePlan) Size() int { return iam.PolicySize(r.Document) }

// Cutoff returns the whole second a revocation asked for t uses: t itself
// when it is a whole second, else the next one. Rounding down would spare
// the sessions issued earlier in t's second, which are before t (an
// operator copying a log record's time means to deny the session it names).
func Cutoff(t time.Time) time.Time {
	c := t.UTC().Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c
}

// NewPlan renders the revocation of tenantID's sessions issued before
// cutoff (rounded up to a whole second: Cutoff) on every role of cfg's
// profiles. The tenant must be one the configuration's tenant pattern
// admits.
func NewPlan(cfg *config.Config, tenantID string, cutoff time.Time) (*Plan, error) {
	pattern, err := tenant.Compile(cfg.Auth.TenantPattern)
	if err != nil {
		return nil, fmt.Errorf("auth.tenant_pattern: %w", err)
	}
	if err := pattern.Check(tenantID); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", tenantID, err)
	}
	p := &Plan{Tenant: tenantID, Cutoff: Cutoff(cutoff)}
	byRole := map[string]*roleScope{}
	var order []string
	for i := range cfg.Profiles {
		pc := &cfg.Profiles[i]
		rs, ok := byRole[pc.RoleARN]
		if !ok {
			rs = &roleScope{tags: map[string]string{}}
			byRole[pc.RoleARN] = rs
			order = append(order, pc.RoleARN)
		}
		rs.add(pc, tenantID)
	}
	for _, arn := range order {
		name, err := rolepolicy.RoleName(arn)
		if err != nil {
			return nil, err
		}
		rs := byRole[arn]
		doc, err := rs.document(p.Cutoff)
		if err != nil {
			return nil, err
		}
		p.Roles = append(p.Roles, RolePlan{RoleARN: arn, RoleName: name, Profiles: rs.profiles, ByTag: rs.byTag, ByName: rs.byName,
			PolicyName: PolicyName(tenantID, p.Cutoff), Document: doc})
	}
	return p, nil
}

// roleScope gathers how the sessions of one tenant on one role are
// recognised.
type roleScope struct {
	profiles, byTag, byName []string
	names                   []string          // aws:userid patterns
	tags                    map[string]string // tag key -> value
}

func (rs *roleScope) add(pc *config.Profile, tenantID string) {
	rs.profiles = append(rs.profiles, pc.Name)
	ts := profiles.SessionsOf(pc, tenantID)
	if len(ts.TagKeys) > 0 {
		rs.byTag = append(rs.byTag, pc.Name)
		rs.tags[ts.TagKeys[0]] = ts.TagValue
		return
	}
	rs.byName = append(rs.byName, pc.Name)
	if p := "*:" + ts.NamePattern; !slices.Contains(rs.names, p) {
		rs.names = append(rs.names, p)
	}
}

// statement is one policy statement, its members in IAM's usual order.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    string                    `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

// document renders the role's revocation policy.
func (rs *roleScope) document(cutoff time.Time) (string, error) {
	deny := func(sid, op string, cond map[string]any) statement {
		return statement{Sid: sid, Effect: "Deny", Action: "*", Resource: "*", Condition: map[string]map[string]any{
			"DateLessThan": {"aws:TokenIssueTime": cutoff.Format(time.RFC3339)},
			op:             cond,
		}}
	}
	d := document{Version: iam.Version2012}
	if len(rs.names) > 0 {
		d.Statement = append(d.Statement, deny("TvmRevokeByName", "StringLike", map[string]any{"aws:userid": rs.names}))
	}
	for i, k := range slices.Sorted(maps.Keys(rs.tags)) {
		d.Statement = append(d.Statement, deny(fmt.Sprintf("TvmRevokeByTag%d", i+1), "StringEquals",
			map[string]any{"aws:PrincipalTag/" + k: rs.tags[k]}))
	}
	data, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	if _, err := iam.Parse("revocation", data); err != nil { // never: a guard against a rendering bug
		return "", fmt.Errorf("revoke: rendered an invalid policy: %w", err)
	}
	return string(data), nil
}

// IAM is the part of the IAM API revocations need, with plain types
// (the binary adapts *iam.Client to it). GetRolePolicy returns the
// document decoded (IAM answers it URL-encoded).
type IAM interface {
	ListRolePolicies(ctx context.Context, roleName string) ([]string, error)
	GetRolePolicy(ctx context.Context, roleName, policyName string) (string, error)
	PutRolePolicy(ctx context.Context, roleName, policyName, document string) error
	DeleteRolePolicy(ctx context.Context, roleName, policyName string) error
}

// ErrQuota is wrapped by Apply's error for a role whose inline policies
// would exceed IAM's quota.
var ErrQuota = errors.New("the role's inline policies would exceed IAM's 10,240-character quota")
