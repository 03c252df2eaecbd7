package vend

import (
	"context"

	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/policies/tenant"
)

// A configuration reload (tvm-broker serve on SIGHUP) compiles a new
// profile set and hands it to Swap; requests that started before keep the
// set they started with through Pin. The cache survives: its keys carry
// each profile's fingerprint, so an unchanged profile keeps its cached
// sessions and a changed one never serves a set made for its former self.

// profileState is the profile set a Vendor (or a Pinned view) vends with.
// It is immutable.
type profileState struct {
	set            *profiles.Set
	defaultProfile string
	pattern        *tenant.Pattern
}

func newProfileState(set *profiles.Set) *profileState {
	return &profileState{set: set, defaultProfile: set.Default(), pattern: set.Pattern()}
}

// Profiles returns the profile set Vend uses now.
func (v *Vendor) Profiles() *profiles.Set { return v.cur.Load().set }

// Swap makes set (a compiled, proved profile set, as for New) the one Vend
// uses from now on, and drops the cached credentials of every profile of
// the previous set that set lacks or whose fingerprint changed. It returns
// how many entries it dropped per such profile (a profile with nothing
// cached has 0). Views from Pin keep the set they were pinned to.
func (v *Vendor) Swap(set *profiles.Set) map[string]int {
	old := v.cur.Swap(newProfileState(set)).set
	dropped := map[string]int{}
	for _, name := range old.Names() {
		prev, _ := old.Profile(name)
		if next, ok := set.Profile(name); ok && next.Fingerprint() == prev.Fingerprint() {
			continue
		}
		dropped[name] = 0
		if v.cache != nil {
			dropped[name] = v.cache.PurgeProfile(name)
		}
	}
	return dropped
}

// PurgeTenant drops every cached set and AccessDenied answer of tenant, in
// every profile, and returns how many it dropped: for a tenant that is
// blocked (refused before vending, so nothing is served meanwhile) or
// unblocked (so that it gets fresh sessions, issued after any revocation
// cut-off, not the ones it held before the block).
func (v *Vendor) PurgeTenant(tenant string) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.PurgeTenant(tenant)
}

// Pinned is a view of a Vendor that vends with the profile set current
// when Pin was called, sharing the Vendor's cache, single flights and
// lifetime (Close). A configuration generation pins its set, so its
// in-flight requests finish with the profiles they started with.
type Pinned struct {
	v  *Vendor
	st *profileState
}

// Pin returns a view vending with the current profile set.
func (v *Vendor) Pin() *Pinned { return &Pinned{v: v, st: v.cur.Load()} }

// View returns a view vending with set (compiled and proved, as for New),
// whether or not it is current: a reload builds the next configuration's
// handler on it before Swap makes set current.
func (v *Vendor) View(set *profiles.Set) *Pinned { return &Pinned{v: v, st: newProfileState(set)} }

// Vend is Vendor.Vend with the pinned profile set.
func (p *Pinned) Vend(ctx context.Context, req Request) (*Credentials, error) {
	return p.v.vend(ctx, p.st, req)
}
