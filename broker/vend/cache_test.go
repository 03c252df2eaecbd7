package vend

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		if n == 2 {
			return nil, apiErr("AccessDenied", "revoked?", 400)
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
	h.sts.respond = func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) {
		return nil, apiErr("InternalFailure", "oops", 500)
	}
	h.clock.Advance(50 * time.Minute)
	mustVend(t, h.v, readReq("acme"))
	h.waitBackground()
	h.clock.Advance(5 * time.Minute) // 5 min left: below the floor
	_, err := h.v.Vend(context.Background(), readReq("acme"))
	wantErr(t, err, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable)
}

func TestLRUBound(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) { o.Cache.MaxEntries = 3 })
	for _, tenant := range []string{"t1", "t2", "t3", "t4", "t5"} {
		mustVend(t, h.v, readReq(tenant))
	}
	if size := h.v.cache.len(); size != 3 {
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
	h := newHarness(t, nil, func(o *Options) { o.Cache.Disabled = true })
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
	wantErr(t, err, errs.KindNotReady, errs.CodeNotReady)
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
	h.v.cache.deny(key, errs.New(errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "denied"), 0)
	_, err := h.v.fill(key, mustProfile(t, h.v, "read"), 0)
	wantErr(t, err, errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied)
	if n := h.sts.calls.Load(); n != 0 {
		t.Errorf("AssumeRole calls = %d, want 0", n)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := map[string]struct {
		mod  func(*Options)
		want string
	}{
		"negative max entries":         {func(o *Options) { o.Cache.MaxEntries = -1 }, "Cache.MaxEntries"},
		"negative refresh before":      {func(o *Options) { o.Cache.RefreshBefore = -time.Second }, "Cache.RefreshBefore"},
		"negative client window":       {func(o *Options) { o.Cache.ClientWindow = -time.Second }, "Cache.ClientWindow"},
		"client window over a session": {func(o *Options) { o.Cache.ClientWindow = 14 * time.Minute }, "Cache.ClientWindow"},
		"negative timeout":             {func(o *Options) { o.STS.Timeout = -time.Second }, "STS.Timeout"},
		"negative max attempts":        {func(o *Options) { o.STS.MaxAttempts = -1 }, "STS.MaxAttempts"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var o Options
			tc.mod(&o)
			_, err := New(compile(t, baseConfig()), &fakeSTS{clock: newClock()}, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOptionDefaults(t *testing.T) {
	c, err := CacheOptions{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := CacheOptions{MaxEntries: config.DefaultCacheMaxEntries, RefreshBefore: config.DefaultRefreshBefore, ClientWindow: config.DefaultClientWindow}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("CacheOptions defaults (-want +got):\n%s", diff)
	}
	s, err := STSOptions{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(STSOptions{Timeout: config.DefaultSTSTimeout, MaxAttempts: config.DefaultSTSMaxAttempts}, s); diff != "" {
		t.Errorf("STSOptions defaults (-want +got):\n%s", diff)
	}
	set := CacheOptions{Disabled: true, MaxEntries: 7, RefreshBefore: 20 * time.Minute, ClientWindow: 2 * time.Minute}
	if got, err := set.withDefaults(); err != nil || got != set {
		t.Errorf("withDefaults(%+v) = %+v, %v; want it unchanged", set, got, err)
	}
}

func TestFreshness(t *testing.T) {
	f := newFreshness(CacheOptions{RefreshBefore: 15 * time.Minute, ClientWindow: 5 * time.Minute})
	now := newClock().Now()
	t.Run("servable", func(t *testing.T) {
		for left, want := range map[time.Duration]bool{
			time.Hour: true, 6 * time.Minute: true, 6*time.Minute - time.Second: false, 0: false, -time.Hour: false,
		} {
			if got := f.servable(now.Add(left), now); got != want {
				t.Errorf("servable with %v left = %v, want %v", left, got, want)
			}
		}
	})
	t.Run("refresh time", func(t *testing.T) {
		tests := map[string]struct {
			life           time.Duration
			earliest, last time.Duration // bounds of the refresh time, before expiry
		}{
			// lead = 15 min; jitter < (15-6)/4 min.
			"one hour": {time.Hour, 15 * time.Minute, 15*time.Minute - 9*time.Minute/4},
			// lead = half the life (7.5 min); jitter < (7.5-6)/4 min.
			"fifteen minutes": {15 * time.Minute, 15 * time.Minute / 2, 15*time.Minute/2 - 90*time.Second/4},
			// lead (6 min) at the floor: no jitter.
			"twelve minutes": {12 * time.Minute, 6 * time.Minute, 6 * time.Minute},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				exp := now.Add(tc.life)
				for range 200 {
					before := exp.Sub(f.refreshAt(exp, now))
					if before > tc.earliest || before < tc.last {
						t.Fatalf("refresh %v before expiry, want in [%v, %v]", before, tc.last, tc.earliest)
					}
				}
			})
		}
	})
}

func TestEntryRules(t *testing.T) {
	clock := newClock()
	now := clock.Now()
	f := newFreshness(CacheOptions{RefreshBefore: 15 * time.Minute, ClientWindow: 5 * time.Minute})
	creds := &Credentials{Expiration: now.Add(time.Hour)}
	denied := errs.New(errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "denied")
	tests := map[string]struct {
		e                              entry
		servable, refreshDue, deniedOK bool
	}{
		"fresh set":               {entry{creds: creds, refreshAt: now.Add(time.Minute)}, true, false, false},
		"set due for refresh":     {entry{creds: creds, refreshAt: now}, true, true, false},
		"set already refreshing":  {entry{creds: creds, refreshAt: now, refreshing: true}, true, false, false},
		"set inside the floor":    {entry{creds: &Credentials{Expiration: now.Add(5 * time.Minute)}}, false, true, false},
		"live negative entry":     {entry{denied: denied, deniedUntil: now.Add(time.Second)}, false, false, true},
		"expired negative entry":  {entry{denied: denied, deniedUntil: now}, false, false, false},
		"negative entry, no time": {entry{denied: denied}, false, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := [3]bool{tc.e.servable(f, now), tc.e.refreshDue(now), tc.e.deniedLive(now)}
			if want := [3]bool{tc.servable, tc.refreshDue, tc.deniedOK}; got != want {
				t.Errorf("servable, refreshDue, deniedLive = %v, want %v", got, want)
			}
		})
	}
}

// newTestCache returns a cache over clock with the default freshness rules.
func newTestCache(t *testing.T, clock *testClock, maxEntries int) *credCache {
	t.Helper()
	o, err := CacheOptions{MaxEntries: maxEntries}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCredCache(o.MaxEntries, newFreshness(o), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheServeClaimsOneRefresh(t *testing.T) {
	clock := newClock()
	c := newTestCache(t, clock, 10)
	key := cacheKey{Profile: "read", Tenant: "acme", Duration: time.Hour}
	c.store(key, &Credentials{AccessKeyID: "A", Expiration: clock.Now().Add(time.Hour)}, 0)
	if a := c.serve(key); a.creds == nil || a.refresh != nil {
		t.Fatalf("fresh set: %+v, want a hit without a refresh", a)
	}
	clock.Advance(50 * time.Minute)
	a := c.serve(key)
	if a.creds == nil || a.refresh == nil {
		t.Fatalf("set due for refresh: %+v, want a hit claiming the refresh", a)
	}
	if b := c.serve(key); b.creds == nil || b.refresh != nil || c.peek(key).refresh != nil {
		t.Fatal("a second hit claimed the refresh again")
	}
	c.endRefresh(a.refresh, true)
	if b := c.serve(key); b.refresh != nil {
		t.Fatal("refresh claimed again right after a failure")
	}
	clock.Advance(refreshRetry)
	if b := c.serve(key); b.refresh == nil {
		t.Fatal("refresh not claimed refreshRetry after a failure")
	}
	// A returned set is a copy.
	a.creds.AccessKeyID = "mutated"
	if got := c.peek(key).creds.AccessKeyID; got != "A" {
		t.Errorf("cached key id = %q after a caller mutated its copy", got)
	}
}

func TestCacheDenyKeepsServableSet(t *testing.T) {
	clock := newClock()
	c := newTestCache(t, clock, 10)
	key := cacheKey{Profile: "read", Tenant: "acme", Duration: time.Hour}
	denied := errs.New(errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "denied")
	c.store(key, &Credentials{AccessKeyID: "A", Expiration: clock.Now().Add(time.Hour)}, 0)
	c.deny(key, denied, 0)
	if a := c.serve(key); a.creds == nil || a.denied != nil {
		t.Fatalf("after a denied refresh: %+v, want the still-valid set", a)
	}
	clock.Advance(55 * time.Minute) // inside the floor: the set is no longer servable
	c.deny(key, denied, 0)
	if a := c.serve(key); a.creds != nil || a.denied == nil || a.denied.Code != errs.CodeUpstreamAccessDenied {
		t.Fatalf("after a denial with no servable set: %+v, want the negative entry", a)
	}
	clock.Advance(negativeTTL)
	if a := c.serve(key); a.hit() {
		t.Fatalf("negative entry answered after negativeTTL: %+v", a)
	}
}

func TestCacheEvictedEntryStaysForgotten(t *testing.T) {
	clock := newClock()
	c := newTestCache(t, clock, 1)
	a := cacheKey{Profile: "read", Tenant: "a", Duration: time.Hour}
	b := cacheKey{Profile: "read", Tenant: "b", Duration: time.Hour}
	c.store(a, &Credentials{AccessKeyID: "A1", Expiration: clock.Now().Add(time.Hour)}, 0)
	clock.Advance(50 * time.Minute)
	claimed := c.serve(a).refresh
	if claimed == nil {
		t.Fatal("no refresh claimed")
	}
	c.store(b, &Credentials{AccessKeyID: "B1", Expiration: clock.Now().Add(time.Hour)}, 0) // evicts a
	c.replace(claimed, &Credentials{AccessKeyID: "A2", Expiration: clock.Now().Add(time.Hour)})
	c.endRefresh(claimed, false)
	if got := c.peek(a); got.hit() {
		t.Errorf("evicted entry came back through its refresh: %+v", got)
	}
	if got := c.peek(b); got.creds == nil || got.creds.AccessKeyID != "B1" {
		t.Errorf("b = %+v, want B1", got)
	}
	// Still cached: the refresh replaces the set.
	claimed = nil
	clock.Advance(50 * time.Minute)
	if claimed = c.serve(b).refresh; claimed == nil {
		t.Fatal("no refresh claimed for b")
	}
	c.replace(claimed, &Credentials{AccessKeyID: "B2", Expiration: clock.Now().Add(time.Hour)})
	if got := c.peek(b); got.creds == nil || got.creds.AccessKeyID != "B2" {
		t.Errorf("b after its refresh = %+v, want B2", got)
	}
}

func TestCachePurge(t *testing.T) {
	clock := newClock()
	keys := []cacheKey{
		{Profile: "read", Tenant: "acme", Duration: time.Hour},
		{Profile: "read", Tenant: "globex", Duration: time.Hour},
		{Profile: "user", Tenant: "acme", Subject: "alice", Duration: time.Hour},
		{Profile: "user", Tenant: "acme", Subject: "bob", Duration: 2 * time.Hour},
		{Profile: "user", Tenant: "globex", Subject: "carol", Duration: time.Hour},
	}
	tests := map[string]struct {
		purge     func(*credCache) int
		wantCount int
		wantLeft  []cacheKey
	}{
		"tenant":            {func(c *credCache) int { return c.PurgeTenant("acme") }, 3, []cacheKey{keys[1], keys[4]}},
		"profile":           {func(c *credCache) int { return c.PurgeProfile("user") }, 3, []cacheKey{keys[0], keys[1]}},
		"unknown tenant":    {func(c *credCache) int { return c.PurgeTenant("initech") }, 0, keys},
		"profile, not name": {func(c *credCache) int { return c.PurgeProfile("acme") }, 0, keys},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, clock, 10)
			for i, k := range keys {
				if i == 3 {
					c.deny(k, errs.New(errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "denied"), 0)
					continue
				}
				c.store(k, &Credentials{AccessKeyID: k.String(), Expiration: clock.Now().Add(time.Hour)}, 0)
			}
			if n := tc.purge(c); n != tc.wantCount {
				t.Errorf("purged %d entries, want %d", n, tc.wantCount)
			}
			var left []cacheKey
			for _, k := range keys {
				if c.peek(k).hit() {
					left = append(left, k)
				}
			}
			if diff := cmp.Diff(tc.wantLeft, left); diff != "" || c.len() != len(tc.wantLeft) {
				t.Errorf("entries left (-want +got):\n%s(len %d)", diff, c.len())
			}
		})
	}
}

func TestPurgedEntryStaysForgotten(t *testing.T) {
	clock := newClock()
	c := newTestCache(t, clock, 10)
	key := cacheKey{Profile: "read", Tenant: "acme", Duration: time.Hour}
	c.store(key, &Credentials{AccessKeyID: "A1", Expiration: clock.Now().Add(time.Hour)}, 0)
	clock.Advance(50 * time.Minute)
	claimed := c.serve(key).refresh
	if claimed == nil {
		t.Fatal("no refresh claimed")
	}
	c.PurgeTenant("acme")
	c.replace(claimed, &Credentials{AccessKeyID: "A2", Expiration: clock.Now().Add(time.Hour)})
	if got := c.peek(key); got.hit() {
		t.Errorf("purged entry came back through its refresh: %+v", got)
	}
}
