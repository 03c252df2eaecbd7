package vend

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
)

// refresherHarness is a harness whose background refresher the test ticks.
type refresherHarness struct {
	*harness
	ticks chan time.Time
}

func newRefresherHarness(t *testing.T) *refresherHarness {
	t.Helper()
	ticks := make(chan time.Time)
	return &refresherHarness{harness: newHarness(t, nil, func(o *Options) { o.RefreshTicks = ticks }), ticks: ticks}
}

// scan makes the refresher look once and waits for the refreshes it
// started: the second tick is taken only after the first scan returned.
func (h *refresherHarness) scan() {
	h.ticks <- h.clock.Now()
	h.ticks <- h.clock.Now()
	h.waitBackground()
}

func (h *refresherHarness) vend(t *testing.T, tenant string) *Credentials {
	t.Helper()
	c, err := h.v.Vend(t.Context(), readReq(tenant))
	if err != nil {
		t.Fatalf("Vend %s: %v", tenant, err)
	}
	return c
}

// TestRefresherRenewsSetsInUse: a set served from the cache is renewed in
// the background once due, with no request needed; a set only its first
// requester saw is not; the next request is a hit on the new set.
func TestRefresherRenewsSetsInUse(t *testing.T) {
	h := newRefresherHarness(t)
	busy := h.vend(t, "busy")
	h.vend(t, "busy") // a hit: the set is in use
	h.vend(t, "once") // never asked again
	if n := h.sts.calls.Load(); n != 2 {
		t.Fatalf("AssumeRole calls = %d, want 2", n)
	}
	h.scan() // nothing due yet
	if n := h.sts.calls.Load(); n != 2 {
		t.Fatalf("AssumeRole calls before the refresh time = %d, want 2", n)
	}
	h.clock.Advance(48 * time.Minute) // past refresh_before (15 min) and its jitter, above the 6 min floor
	h.scan()
	if n := h.sts.calls.Load(); n != 3 {
		t.Fatalf("AssumeRole calls after the scan = %d, want 3 (busy renewed, once left alone)", n)
	}
	c := h.vend(t, "busy")
	if !c.CacheHit || c.AccessKeyID == busy.AccessKeyID || !c.Expiration.After(busy.Expiration) {
		t.Errorf("after the refresh: hit %v, key %s (was %s), expiry %v: want a hit on the renewed set", c.CacheHit, c.AccessKeyID, busy.AccessKeyID, c.Expiration)
	}
	h.scan() // the renewed set is not due
	if n := h.sts.calls.Load(); n != 3 {
		t.Errorf("AssumeRole calls = %d, want 3", n)
	}
}

// TestRefresherKeepsServingThroughOutage: a busy tenant's set renewed
// before an STS outage is served through it, until that set reaches the
// floor; the renewal that failed is retried, not served.
func TestRefresherKeepsServingThroughOutage(t *testing.T) {
	h := newRefresherHarness(t)
	h.vend(t, "acme")
	h.vend(t, "acme")
	h.clock.Advance(48 * time.Minute)
	h.scan() // renewed: expires 1 h from now
	var down atomic.Bool
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		if down.Load() {
			return nil, &UpstreamError{Network: true, Err: errors.New("connection refused")}
		}
		return h.sts.success(n, in), nil
	}
	down.Store(true)
	// The clients come back at the old set's expiry window: 7 min later.
	h.clock.Advance(7 * time.Minute)
	if c := h.vend(t, "acme"); !c.CacheHit {
		t.Error("not served from the cache during the outage")
	}
	// The renewed set is due again 45 min after it was fetched; the scan's
	// refresh fails and the set is still served.
	h.clock.Advance(40 * time.Minute)
	h.scan()
	if c := h.vend(t, "acme"); !c.CacheHit {
		t.Error("not served after a failed background refresh")
	}
	// At the floor (6 min before expiry) nothing is served.
	h.clock.Advance(8 * time.Minute)
	if _, err := h.v.Vend(t.Context(), readReq("acme")); err == nil {
		t.Error("served a set below the floor")
	}
}

// TestRefresherBounded: one scan queues every set that is due, and at most
// maxBackgroundRefreshes AssumeRole calls run at once.
func TestRefresherBounded(t *testing.T) {
	h := newRefresherHarness(t)
	const tenants = 3 * maxBackgroundRefreshes
	for i := range tenants {
		h.vend(t, fmt.Sprintf("t%02d", i))
		h.vend(t, fmt.Sprintf("t%02d", i))
	}
	h.clock.Advance(48 * time.Minute)
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	h.sts.respond = func(ctx context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return h.sts.success(n, in), nil
	}
	before := h.sts.calls.Load()
	h.ticks <- h.clock.Now() // queues all 24
	for inFlight.Load() < maxBackgroundRefreshes {
		time.Sleep(time.Millisecond) // the workers take the first ones
	}
	close(release)
	h.waitBackground()
	if p := peak.Load(); p > maxBackgroundRefreshes {
		t.Errorf("%d AssumeRole calls at once, want at most %d", p, maxBackgroundRefreshes)
	}
	if n := h.sts.calls.Load() - before; n != tenants {
		t.Errorf("refreshes after one scan = %d, want all %d", n, tenants)
	}
}

// TestRefresherStopsOnClose: Close stops the refresher goroutine (the
// package's goleak check sees any left) with its real ticker.
func TestRefresherStopsOnClose(t *testing.T) {
	v, err := New(compile(t, baseConfig()), &fakeSTS{clock: newClock()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v.Close()
	select {
	case <-v.refresherDone:
	default:
		t.Error("the refresher still runs after Close")
	}
}

// TestRefresherSkipsTenantsNoLongerServed: after a reload that keeps a
// profile's fingerprint but no longer serves a tenant (allowed_tenants,
// the tenant pattern), the refresher makes no session for that tenant's
// set in use: nobody can be served it.
func TestRefresherSkipsTenantsNoLongerServed(t *testing.T) {
	userReq := Request{Tenant: "acme", Subject: "alice", Profile: "user", Scopes: []string{"tvm:write"}}
	tests := map[string]struct {
		req    Request
		reload func(*config.Config)
		due    time.Duration // past the set's refresh time, above the floor
		served bool          // the tenant is still served: its set is renewed
	}{
		"still served (control)":       {userReq, func(*config.Config) {}, 20 * time.Minute, true},
		"removed from allowed_tenants": {userReq, func(c *config.Config) { c.Profiles[1].AllowedTenants = []string{"globex"} }, 20 * time.Minute, false},
		"refused by the tenant pattern": {readReq("acme"), func(c *config.Config) {
			c.Auth.TenantPattern = "^[0-9g-z][A-Za-z0-9_-]{0,63}$"
			c.Profiles[1].AllowedTenants = []string{"globex"}
		}, 48 * time.Minute, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newRefresherHarness(t)
			for range 2 { // a hit: the set is in use
				if _, err := h.v.Vend(t.Context(), tc.req); err != nil {
					t.Fatal(err)
				}
			}
			next := baseConfig()
			tc.reload(next)
			if dropped := h.v.Swap(compile(t, next)); len(dropped) != 0 {
				t.Fatalf("dropped = %v: the reload must keep the fingerprints", dropped)
			}
			if _, err := h.v.Vend(t.Context(), tc.req); (err == nil) != tc.served {
				t.Fatalf("Vend after the reload: %v, want served %v", err, tc.served)
			}
			h.clock.Advance(tc.due)
			h.scan()
			want := map[bool]int64{false: 1, true: 2}[tc.served]
			if n := h.sts.calls.Load(); n != want {
				t.Errorf("AssumeRole calls = %d, want %d (renewed only while the tenant is served)", n, want)
			}
		})
	}
}
