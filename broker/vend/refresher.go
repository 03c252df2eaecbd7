package vend

import (
	"context"
	"time"
)

// The background refresher. Refresh-ahead on a cache hit only fires when a
// request arrives between a set's refresh time and its serving floor; but a
// tenant's clients hold the set the broker gave them until their SDKs'
// expiry window, and so come back together just when the cached set has
// dropped below the floor: every renewal missed the cache, and an STS
// outage then failed every busy tenant at once (the replica simulation
// showed it, simulation_test.go). The refresher, a goroutine owned by the
// Vendor, looks every refreshScanEvery for sets that are due, still
// servable and in use (credCache.claimDue), and renews them in the
// background, at most maxBackgroundRefreshes at a time, through the same
// refresh as a hit's: the renewal then finds a fresh set, and through an
// outage a busy tenant is served until the set fetched before it runs out.

// startRefresher starts the Vendor's background refresher on ticks (nil:
// a ticker of refreshScanEvery); Close stops it and waits for it.
func (v *Vendor) startRefresher(ticks <-chan time.Time) {
	v.refresherDone = make(chan struct{})
	var stop func()
	if ticks == nil {
		t := time.NewTicker(refreshScanEvery)
		ticks, stop = t.C, t.Stop
	}
	go func() {
		defer close(v.refresherDone)
		if stop != nil {
			defer stop()
		}
		for {
			select {
			case <-v.ctx.Done():
				return
			case <-ticks:
				v.refreshDue()
			}
		}
	}()
}

// refreshDue starts the background refresh of every set due for one, as
// many as free refresh slots allow.
func (v *Vendor) refreshDue() {
	free := cap(v.refreshSlots) - len(v.refreshSlots)
	if free <= 0 || v.closed.Load() {
		return
	}
	for _, e := range v.cache.claimDue(v.now(), free) {
		p, ok := v.profiles.Profile(e.key.Profile)
		if !ok { // cannot happen: the profile set is immutable
			v.cache.endRefresh(e, false)
			continue
		}
		v.startRefresh(e, p)
	}
}

// acquireSlot takes one of the maxBackgroundRefreshes refresh slots, or
// reports false when ctx ends first.
func (v *Vendor) acquireSlot(ctx context.Context) bool {
	select {
	case v.refreshSlots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (v *Vendor) releaseSlot() { <-v.refreshSlots }
