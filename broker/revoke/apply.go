package revoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/policies/iam"
)

// Result is the outcome of one role's part of Apply or Remove.
type Result struct {
	RoleARN, PolicyName string
	// Size is the revocation's size, Total the role's inline policies
	// together afterwards (Apply).
	Size, Total int
	Err         error
}

// Apply attaches each role's revocation policy (replacing one of the same
// name: applying a plan twice is harmless), after checking the role's
// inline-policy quota. It goes on with the other roles when one fails; the
// error joins every failure.
func Apply(ctx context.Context, api IAM, p *Plan, now time.Time) ([]Result, error) {
	var out []Result
	var errs []error
	for _, r := range p.Roles {
		res := Result{RoleARN: r.RoleARN, PolicyName: r.PolicyName, Size: r.Size()}
		res.Total, res.Err = applyRole(ctx, api, r, now)
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("role %s: %w", r.RoleARN, res.Err))
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

// applyRole checks the quota and puts r's policy; it returns the role's
// inline policies' total size afterwards.
func applyRole(ctx context.Context, api IAM, r RolePlan, now time.Time) (int, error) {
	names, err := api.ListRolePolicies(ctx, r.RoleName)
	if err != nil {
		return 0, fmt.Errorf("ListRolePolicies: %w", err)
	}
	total := r.Size()
	var expired []string
	for _, n := range names {
		if n == r.PolicyName {
			continue // replaced
		}
		doc, err := api.GetRolePolicy(ctx, r.RoleName, n)
		if err != nil {
			return 0, fmt.Errorf("GetRolePolicy %s: %w", n, err)
		}
		total += iam.PolicySize(doc)
		if _, cutoff, ok := ParsePolicyName(n); ok && Expired(cutoff, now) {
			expired = append(expired, n)
		}
	}
	if total > iam.MaxRoleInlinePolicySize {
		hint := "no revocation on it has expired yet (each expires 12 hours after its cut-off); attach this one as a managed policy, or remove older revocations of the same tenant, which a later cut-off covers"
		if len(expired) > 0 {
			hint = fmt.Sprintf("%d expired revocations can go: tvm-broker revoke --remove --expired (%s)", len(expired), strings.Join(expired, ", "))
		}
		return 0, fmt.Errorf("%w: %d characters with this one (%d): %s", ErrQuota, total, r.Size(), hint)
	}
	if err := api.PutRolePolicy(ctx, r.RoleName, r.PolicyName, r.Document); err != nil {
		return 0, fmt.Errorf("PutRolePolicy %s: %w", r.PolicyName, err)
	}
	return total, nil
}

// Expired reports whether a revocation with cutoff can no longer match a
// session at now: every session issued before it has expired.
func Expired(cutoff, now time.Time) bool { return !now.Before(cutoff.Add(Lifetime)) }

// Revocation is a revocation policy found on a role.
type Revocation struct {
	RoleARN, RoleName, PolicyName string
	// TenantPart is the tenant's part of the name (the tenant id itself
	// unless it had to be shortened).
	TenantPart string
	Cutoff     time.Time
	Size       int
	// Expired: every session it could match has expired.
	Expired bool
	// SupersededBy names a revocation of the same tenant on the same role
	// with a later cut-off, which denies every session this one does.
	SupersededBy string
}

// Role names a role to look at.
type Role struct{ ARN, Name string }

// List returns the revocation policies on roles, of tenantID only unless
// it is empty, oldest first within each role.
func List(ctx context.Context, api IAM, roles []Role, tenantID string, now time.Time) ([]Revocation, error) {
	var out []Revocation
	for _, role := range roles {
		names, err := api.ListRolePolicies(ctx, role.Name)
		if err != nil {
			return nil, fmt.Errorf("role %s: ListRolePolicies: %w", role.ARN, err)
		}
		var found []Revocation
		for _, n := range names {
			part, cutoff, ok := ParsePolicyName(n)
			if !ok || (tenantID != "" && !matchesTenant(part, tenantID)) {
				continue
			}
			doc, err := api.GetRolePolicy(ctx, role.Name, n)
			if err != nil {
				return nil, fmt.Errorf("role %s: GetRolePolicy %s: %w", role.ARN, n, err)
			}
			found = append(found, Revocation{RoleARN: role.ARN, RoleName: role.Name, PolicyName: n, TenantPart: part,
				Cutoff: cutoff, Size: iam.PolicySize(doc), Expired: Expired(cutoff, now)})
		}
		slices.SortFunc(found, func(a, b Revocation) int { return a.Cutoff.Compare(b.Cutoff) })
		for i := range found {
			for j := len(found) - 1; j > i; j-- {
				if found[j].TenantPart == found[i].TenantPart && found[j].Cutoff.After(found[i].Cutoff) {
					found[i].SupersededBy = found[j].PolicyName
					break
				}
			}
		}
		out = append(out, found...)
	}
	return out, nil
}

// matchesTenant reports whether a policy name's tenant part is tenantID's.
func matchesTenant(part, tenantID string) bool {
	return part == profiles.TenantNamePart(tenantID, tenantRoom)
}

// Remove deletes the revocations; it goes on when one fails and joins
// the errors.
func Remove(ctx context.Context, api IAM, revs []Revocation) ([]Result, error) {
	var out []Result
	var errs []error
	for _, r := range revs {
		res := Result{RoleARN: r.RoleARN, PolicyName: r.PolicyName, Size: r.Size}
		if err := api.DeleteRolePolicy(ctx, r.RoleName, r.PolicyName); err != nil {
			res.Err = fmt.Errorf("DeleteRolePolicy %s: %w", r.PolicyName, err)
			errs = append(errs, fmt.Errorf("role %s: %w", r.RoleARN, res.Err))
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
