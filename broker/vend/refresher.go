package vend

import (
	"context"
	"sync"
	"time"

	"github.com/tvmkit/tvm/broker/profiles"
)

// The background refresher. Refresh-ahead on a cache hit only fires when a
// request arrives between a set's refresh time and its serving floor; but a
// tenant's clients hold the set the broker gave them until their SDKs'
// expiry window, and so come back together just when the cached set has
// dropped below the floor: every renewal missed the cache, and an STS
// outage then failed every busy tenant at once (the replica simulation
// showed it, simulation_test.go). The refresher — goroutines owned by the
// Vendor: a scanner and maxBackgroundRefreshes workers — looks every
// refreshScanEvery for sets that are due, still servable and in use
// (credCache.claimDue), queues them (at most maxQueuedRefreshes) and renews
// them through the same refresh as a hit's, at most maxBackgroundRefreshes
// at a time: the renewal then finds a fresh set, and through an outage a
// busy tenant is served until the set fetched before it runs out.

// maxQueuedRefreshes bounds the sets waiting for a refresh worker; a scan
// claims no more than the queue holds (the rest wait for the next scan).
const maxQueuedRefreshes = 4096

// queuedRefresh is one set claimed for a background refresh.
type queuedRefresh struct {
	e *entry
	p *profiles.Profile
}

// startRefresher starts the Vendor's background refresher on ticks (nil:
// a ticker of refreshScanEvery); Close stops it and waits for it.
func (v *Vendor) startRefresher(ticks <-chan time.Time) {
	v.refreshQueue = make(chan queuedRefresh, maxQueuedRefreshes)
	v.refresherDone = make(chan struct{})
	var stop func()
	if ticks == nil {
		t := time.NewTicker(refreshScanEvery)
		ticks, stop = t.C, t.Stop
	}
	var workers sync.WaitGroup
	for range maxBackgroundRefreshes {
		workers.Add(1)
		go func() {
			defer workers.Done()
			v.refreshWorker()
		}()
	}
	go func() {
		defer close(v.refresherDone)
		defer v.drainQueue()
		defer workers.Wait()
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

// refreshWorker renews queued sets until the Vendor closes.
func (v *Vendor) refreshWorker() {
	for {
		select {
		case <-v.ctx.Done():
			return
		case r := <-v.refreshQueue:
			v.refresh(r.e, r.p)
		}
	}
}

// drainQueue releases the sets still queued when the Vendor closes.
func (v *Vendor) drainQueue() {
	for {
		select {
		case r := <-v.refreshQueue:
			v.cache.endRefresh(r.e, false)
			v.wg.Done()
		default:
			return
		}
	}
}

// refreshDue queues the background refresh of every set due for one, as
// many as the queue has room for. Each is tracked (v.wg) from the moment it
// is queued, so that waiting for background work includes it.
func (v *Vendor) refreshDue() {
	room := cap(v.refreshQueue) - len(v.refreshQueue)
	if room <= 0 || v.closed.Load() {
		return
	}
	st := v.cur.Load()
	for _, e := range v.cache.claimDue(v.now(), room) {
		// The profile as it is now: a set cached for a former version of
		// it (a reload changed its fingerprint), or for a tenant it no
		// longer serves (allowed_tenants, the tenant pattern: neither is in
		// the fingerprint), is not renewed, since nobody may be served it.
		p, ok := st.set.Profile(e.key.Profile)
		if !ok || p.Fingerprint() != e.key.Fingerprint || !p.Allows(e.key.Tenant) ||
			st.pattern.Check(e.key.Tenant) != nil || !v.track() { // or closed meanwhile
			v.cache.endRefresh(e, false)
			continue
		}
		v.refreshQueue <- queuedRefresh{e: e, p: p}
	}
}

// acquireSlot takes one of the maxBackgroundRefreshes refresh slots (which
// hits' refreshes share with the workers), or reports false when ctx ends
// first.
func (v *Vendor) acquireSlot(ctx context.Context) bool {
	select {
	case v.refreshSlots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (v *Vendor) releaseSlot() { <-v.refreshSlots }
