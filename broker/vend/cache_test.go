package vend

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

func mustVend(t *testing.T, v *Vendor, req Request) *Credentials {
	t.Helper()
	c, err := v.Vend(context.Background(), req)
	if err != nil {
		t.Fatalf("Vend(%+v): %v", req, err)
	}
	return c
}

func TestCacheHit(t *testing.T) {
	h := newHarness(t, nil)
	first := mustVend(t, h.v, readReq("acme"))
	if first.CacheHit {
		t.Error("first Vend reported a cache hit")
	}
	// Per-tenant sessions are shared by the tenant's subjects.
	second := mustVend(t, h.v, Request{Tenant: "acme", Subject: "bob"})
	if !second.CacheHit || second.AccessKeyID != first.AccessKeyID {
		t.Errorf("second Vend = %+v, want a hit on the first set", second)
	}
	if n := h.sts.calls.Load(); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", n)
	}
	if h.obs.hits.Load() != 1 || h.obs.misses.Load() != 1 {
		t.Errorf("hits/misses = %d/%d, want 1/1", h.obs.hits.Load(), h.obs.misses.Load())
	}
	// A caller mutating its copy does not touch the cache.
	second.SecretAccessKey = "mutated"
	if third := mustVend(t, h.v, readReq("acme")); third.SecretAccessKey == "mutated" {
		t.Error("cached credentials share memory with a returned value")
	}
}

func TestCacheKeys(t *testing.T) {
	write := func(tenant, subject string, d time.Duration) Request {
		return Request{Tenant: tenant, Subject: subject, Profile: "user", Scopes: []string{"tvm:write"}, Duration: d}
	}
	tests := map[string]struct {
		a, b      Request
		wantCalls int64
	}{
		"same tenant, per-tenant profile":  {readReq("acme"), Request{Tenant: "acme", Subject: "bob"}, 1},
		"different tenants":                {readReq("acme"), readReq("globex"), 2},
		"default duration equals explicit": {readReq("acme"), Request{Tenant: "acme", Subject: "x", Duration: time.Hour}, 1},
		"different durations":              {readReq("acme"), Request{Tenant: "acme", Subject: "x", Duration: 900 * time.Second}, 2},
		"different profiles":               {Request{Tenant: "acme", Subject: "alice", Profile: "read"}, write("acme", "alice", 0), 2},
		"per-subject same subject":         {write("acme", "alice", 0), write("acme", "alice", 0), 1},
		"per-subject different subjects":   {write("acme", "alice", 0), write("acme", "bob", 0), 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			a := mustVend(t, h.v, tc.a)
			b := mustVend(t, h.v, tc.b)
			if n := h.sts.calls.Load(); n != tc.wantCalls {
				t.Errorf("AssumeRole calls = %d, want %d", n, tc.wantCalls)
			}
			if same := a.AccessKeyID == b.AccessKeyID; same != (tc.wantCalls == 1) {
				t.Errorf("shared credentials = %v, want %v", same, tc.wantCalls == 1)
			}
		})
	}
}

func TestSingleFlight(t *testing.T) {
	const n = 1000
	h := newHarness(t, nil)
	h.sts.gate = make(chan struct{})
	var looked sync.WaitGroup
	looked.Add(n)
	h.obs.onMiss = looked.Done

	var wg sync.WaitGroup
	keys := make([]string, n)
	errsOut := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c, err := h.v.Vend(context.Background(), Request{Tenant: "acme", Subject: fmt.Sprintf("user-%d", i)})
			errsOut[i] = err
			if err == nil {
				keys[i] = c.AccessKeyID
			}
		})
	}
	looked.Wait() // every request missed the cache before STS answers
	close(h.sts.gate)
	wg.Wait()
	for i := range n {
		if errsOut[i] != nil || keys[i] != "ASIAFAKE000000000001" {
			t.Fatalf("request %d: %q, %v", i, keys[i], errsOut[i])
		}
	}
	if got := h.sts.calls.Load(); got != 1 {
		t.Errorf("AssumeRole calls = %d, want exactly 1", got)
	}
}

func TestSingleFlightPerTenant(t *testing.T) {
	const tenants, perTenant = 10, 50
	h := newHarness(t, nil)
	h.sts.gate = make(chan struct{})
	var looked sync.WaitGroup
	looked.Add(tenants * perTenant)
	h.obs.onMiss = looked.Done
	var wg sync.WaitGroup
	for i := range tenants * perTenant {
		wg.Go(func() {
			if _, err := h.v.Vend(context.Background(), readReq(fmt.Sprintf("tenant-%d", i%tenants))); err != nil {
				t.Error(err)
			}
		})
	}
	looked.Wait()
	close(h.sts.gate)
	wg.Wait()
	if got := h.sts.calls.Load(); got != tenants {
		t.Errorf("AssumeRole calls = %d, want %d (one per tenant)", got, tenants)
	}
}

func TestCancelledWaiterDoesNotCancelSharedCall(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.gate = make(chan struct{})
	var looked sync.WaitGroup
	looked.Add(2)
	h.obs.onMiss = looked.Done

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := h.v.Vend(ctx, readReq("acme"))
		cancelled <- err
	}()
	patient := make(chan *Credentials, 1)
	go func() {
		c, err := h.v.Vend(context.Background(), readReq("acme"))
		if err != nil {
			t.Error(err)
		}
		patient <- c
	}()
	looked.Wait()
	cancel()
	// The cancelled caller returns while STS is still blocked.
	if err := <-cancelled; errs.From(err).Code != errs.CodeUpstreamUnavailable {
		t.Errorf("cancelled caller got %v", err)
	}
	close(h.sts.gate)
	if c := <-patient; c == nil || c.AccessKeyID != "ASIAFAKE000000000001" {
		t.Errorf("patient caller got %+v", c)
	}
	if got := h.sts.calls.Load(); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
}

func TestRefreshAhead(t *testing.T) {
	h := newHarness(t, nil) // 1 h sessions, refresh 15 min before expiry
	old := mustVend(t, h.v, readReq("acme"))

	// Outside the refresh window: plain hits.
	h.clock.Advance(40 * time.Minute)
	if c := mustVend(t, h.v, readReq("acme")); c.AccessKeyID != old.AccessKeyID {
		t.Fatal("set replaced before the refresh window")
	}
	h.waitBackground()
	if n := h.sts.calls.Load(); n != 1 {
		t.Fatalf("AssumeRole calls = %d before the refresh window, want 1", n)
	}

	// 10 min left: inside the window (15 min minus at most 2.25 min of jitter).
	h.clock.Advance(10 * time.Minute)
	h.sts.gate = make(chan struct{})
	for range 20 {
		c := mustVend(t, h.v, readReq("acme"))
		if c.AccessKeyID != old.AccessKeyID || !c.CacheHit {
			t.Fatalf("during the refresh got %q (hit %v), want the old set", c.AccessKeyID, c.CacheHit)
		}
	}
	close(h.sts.gate)
	h.waitBackground()
	if n := h.sts.calls.Load(); n != 2 {
		t.Fatalf("AssumeRole calls = %d, want 2 (one background refresh)", n)
	}
	c := mustVend(t, h.v, readReq("acme"))
	if c.AccessKeyID != "ASIAFAKE000000000002" || !c.CacheHit {
		t.Errorf("after the refresh got %q (hit %v), want the new set from the cache", c.AccessKeyID, c.CacheHit)
	}
	if want := h.clock.Now().Add(time.Hour); !c.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want %v", c.Expiration, want)
	}
	h.waitBackground()
	if n := h.sts.calls.Load(); n != 2 {
		t.Errorf("AssumeRole calls = %d after serving the new set, want 2", n)
	}
}

func TestNeverServeNearExpiry(t *testing.T) {
	tests := map[string]struct {
		advance time.Duration // from issue; sets live 1 h; floor = 5 min window + 1 min
		wantHit bool
	}{
		"exactly at the floor is served": {54 * time.Minute, true},
		"one second inside the floor":    {54*time.Minute + time.Second, false},
		"inside the client window":       {56 * time.Minute, false},
		"expired":                        {2 * time.Hour, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			first := mustVend(t, h.v, readReq("acme"))
			h.clock.Advance(tc.advance)
			c := mustVend(t, h.v, readReq("acme"))
			h.waitBackground()
			if left := c.Expiration.Sub(h.clock.Now()); left < config.DefaultClientWindow+config.ServingMargin {
				t.Errorf("served a set with %v left", left)
			}
			if hit := c.CacheHit && c.AccessKeyID == first.AccessKeyID; hit != tc.wantHit {
				t.Errorf("served %q (hit %v), want the cached set: %v", c.AccessKeyID, c.CacheHit, tc.wantHit)
			}
			// Either way a new set was fetched: in the background at the floor
			// (inside the refresh window), synchronously below it.
			if n := h.sts.calls.Load(); n != 2 {
				t.Errorf("AssumeRole calls = %d, want 2", n)
			}
		})
	}
}

func TestShortSessionRefreshWindow(t *testing.T) {
	// A 15-minute set refreshes at half its life (7.5 min left), above the 6-min floor.
	h := newHarness(t, nil)
	req := Request{Tenant: "acme", Subject: "a", Duration: 15 * time.Minute}
	old := mustVend(t, h.v, req)
	h.clock.Advance(8 * time.Minute) // 7 min left
	if c := mustVend(t, h.v, req); c.AccessKeyID != old.AccessKeyID {
		t.Fatal("old set not served during the refresh")
	}
	h.waitBackground()
	if n := h.sts.calls.Load(); n != 2 {
		t.Errorf("AssumeRole calls = %d, want 2", n)
	}
}

func TestFailedRefreshKeepsServing(t *testing.T) {
	h := newHarness(t, nil)
	old := mustVend(t, h.v, readReq("acme"))
	h.sts.respond = func(_ context.Context, n int64, in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		if n == 2 {
			return nil, apiErr("AccessDenied", "revoked?", smithy.FaultClient)
		}
		return h.sts.success(n, in), nil
	}
	h.clock.Advance(50 * time.Minute)
	mustVend(t, h.v, readReq("acme")) // starts the refresh, which fails
	h.waitBackground()
	for range 3 {
		c := mustVend(t, h.v, readReq("acme"))
		if c.AccessKeyID != old.AccessKeyID {
			t.Fatalf("got %q, want the still-valid set", c.AccessKeyID)
		}
	}
	h.waitBackground()
	if n := h.sts.calls.Load(); n != 2 {
		t.Fatalf("AssumeRole calls = %d, want 2 (no refresh storm after a failure)", n)
	}
	h.clock.Advance(refreshRetry)
	mustVend(t, h.v, readReq("acme")) // retries the refresh, which succeeds
	h.waitBackground()
	if c := mustVend(t, h.v, readReq("acme")); c.AccessKeyID != "ASIAFAKE000000000003" {
		t.Errorf("got %q, want the refreshed set", c.AccessKeyID)
	}
}

func TestFailedRefreshThenNearExpiryFetchesSynchronously(t *testing.T) {
	h := newHarness(t, nil)
	mustVend(t, h.v, readReq("acme"))
	h.sts.respond = func(context.Context, int64, *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		return nil, apiErr("InternalFailure", "oops", smithy.FaultServer)
	}
	h.clock.Advance(50 * time.Minute)
	mustVend(t, h.v, readReq("acme"))
	h.waitBackground()
	h.clock.Advance(5 * time.Minute) // 5 min left: below the floor
	_, err := h.v.Vend(context.Background(), readReq("acme"))
	wantErr(t, err, http.StatusServiceUnavailable, errs.CodeUpstreamUnavailable)
}

func TestLRUBound(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Cache.MaxEntries = 3 })
	for _, tenant := range []string{"t1", "t2", "t3", "t4", "t5"} {
		mustVend(t, h.v, readReq(tenant))
	}
	h.v.mu.Lock()
	size := h.v.cache.len()
	h.v.mu.Unlock()
	if size != 3 {
		t.Fatalf("cache holds %d entries, want 3", size)
	}
	mustVend(t, h.v, readReq("t5")) // recent: hit
	mustVend(t, h.v, readReq("t3")) // recent: hit
	if n := h.sts.calls.Load(); n != 5 {
		t.Fatalf("AssumeRole calls = %d, want 5", n)
	}
	mustVend(t, h.v, readReq("t1")) // evicted: miss, evicts t4
	mustVend(t, h.v, readReq("t4")) // evicted: miss
	if n := h.sts.calls.Load(); n != 7 {
		t.Errorf("AssumeRole calls = %d, want 7", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Cache.Disabled = true })
	for range 3 {
		if c := mustVend(t, h.v, readReq("acme")); c.CacheHit {
			t.Error("cache hit with the cache disabled")
		}
	}
	if n := h.sts.calls.Load(); n != 3 {
		t.Errorf("AssumeRole calls = %d, want 3", n)
	}
}

func TestCloseStopsBackgroundWork(t *testing.T) {
	h := newHarness(t, nil)
	mustVend(t, h.v, readReq("acme"))
	h.clock.Advance(50 * time.Minute)
	h.sts.gate = make(chan struct{}) // calls block until their context ends
	h.sts.started = make(chan int64, 2)
	mustVend(t, h.v, readReq("acme")) // starts the background refresh

	// A caller blocked on a shared miss is released by Close too.
	blocked := make(chan error, 1)
	go func() {
		_, err := h.v.Vend(context.Background(), readReq("globex"))
		blocked <- err
	}()
	<-h.sts.started
	<-h.sts.started // both the refresh and the shared miss are in STS
	h.v.Close()     // returns only once the refresh goroutine has exited
	if err := <-blocked; err == nil {
		t.Error("blocked caller succeeded after Close")
	}
	_, err := h.v.Vend(context.Background(), readReq("acme"))
	wantErr(t, err, http.StatusServiceUnavailable, errs.CodeNotReady)
	h.v.Close() // idempotent
}

func BenchmarkVendCacheHit(b *testing.B) {
	h := newHarness(b, nil)
	ctx := context.Background()
	req := readReq("acme")
	if _, err := h.v.Vend(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.v.Vend(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestFillHonoursNegativeEntry(t *testing.T) {
	// A flight that starts just after another stored an AccessDenied answers
	// from the negative entry instead of calling STS again.
	h := newHarness(t, nil)
	key := cacheKey{Profile: "read", Tenant: "acme", Duration: time.Hour}
	denied := errs.New(http.StatusBadGateway, errs.CodeUpstreamAccessDenied, "denied")
	h.v.mu.Lock()
	h.v.cache.put(&entry{key: key, denied: denied, deniedUntil: h.clock.Now().Add(time.Second)})
	h.v.mu.Unlock()
	_, err := h.v.fill(key, h.v.profiles["read"])
	wantErr(t, err, http.StatusBadGateway, errs.CodeUpstreamAccessDenied)
	if n := h.sts.calls.Load(); n != 0 {
		t.Errorf("AssumeRole calls = %d, want 0", n)
	}
}
