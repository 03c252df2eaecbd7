package vend

import (
	"container/heap"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
)

// The replica simulation (issue 12): how many AssumeRole calls per second
// R broker replicas behind a Service make for T tenants. Each replica is a
// real Vendor with its own cache, on one simulated clock, over a counting
// fake STS. Each client behaves like an AWS SDK's container-credentials
// provider: it asks the broker for credentials, keeps them until its expiry
// window (5 minutes before they expire) and asks again, each time through
// a replica picked at random (a new connection through kube-proxy). Pod
// tokens, when modelled, are rotated by the kubelet at 80% of their
// lifetime and cap the session the broker vends.
//
// Every input is deterministic: the clock, the start times and the
// replica choices come from a seeded generator, and the simulation waits
// for each Vendor's background refreshes after every request. The one
// random input it does not control is the Vendor's own refresh jitter (a
// uniform delay of up to a quarter of the refresh lead above the serving
// floor, from math/rand/v2), so results vary by a fraction of a percent
// between runs and the assertions carry tolerances derived from the model
// below, never from timing.
//
// Each replica runs its background refresher (refresher.go) every
// refreshScanEvery of simulated time, as the binary does; one scenario runs
// without it, to show what it changes: the share of requests that miss the
// cache (the "misses" column).
//
// The model (deploy/kubernetes/README.md, "Replicas and STS"): each replica
// assumes each (tenant, profile, duration) key at most once per interval
//
//	I = D − min(refresh_before, D/2)        (refreshed ahead in the background)
//
// so T keys on R replicas cost at most T·R / I AssumeRole/s (upperBound),
// reached when every replica sees every key several times per interval. A
// key seen by fewer replicas costs less; a tenant with one client costs
// exactly one call per client renewal, T·C / (D − client window)
// (sparseRate), whatever R.

// simScenario is one simulated deployment.
type simScenario struct {
	name             string
	replicas         int
	tenants          int
	clientsPerTenant int
	session          time.Duration // requested session duration D
	refreshBefore    time.Duration // cache.refresh_before (default 15m)
	clientWindow     time.Duration // the SDKs' expiry window = cache.client_window (default 5m)
	tokenTTL         time.Duration // projected token lifetime; 0: tokens never cap the session
	hours            int
	together         bool // every client starts at 0 (a cold start) instead of spread over D
	noRefresher      bool // without the background refresher (refresher.go): refresh-ahead on hits only
	seed             uint64
}

// simResult is what a run measured.
type simResult struct {
	requests int
	// calls are the AssumeRole calls in the steady window: from one
	// session duration after the start to the end.
	calls  int
	window time.Duration
	// mean is calls per second over the steady window; peakMinute the
	// largest number of calls in one minute of the steady window, per
	// second; startPeakMinute the same over the whole run, the start
	// included; peakSecond the largest number in one second of the whole
	// run.
	mean, peakMinute, startPeakMinute float64
	peakSecond                        int
	// starts are the clients' start times, since the start of the run.
	starts []time.Duration
	// steadyRequests are the requests of the steady window, and misses
	// those of them that the cache did not answer (AssumeRole on the
	// request's path).
	steadyRequests, misses int
}

// countingSTS is the STS of one simulated replica: it answers every
// AssumeRole with credentials valid for the requested duration from the
// simulated now and reports each call. It is the one place the simulation
// depends on the Vendor's STS port.
func countingSTS(now func() time.Time, record func()) STS {
	return stsFunc(func(_ context.Context, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		record()
		return &AssumeRoleOutput{
			AccessKeyID: "ASIASIMULATED0000001", SecretAccessKey: "simulated-secret",
			SessionToken: "simulated-session-token", Expiration: now().Add(in.Duration),
			AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/" + in.RoleSessionName,
			Size:           SessionSize{PackedPolicyPercent: SizeNotReported, TokenUtilizationPercent: SizeNotReported},
		}, nil
	})
}

type stsFunc func(context.Context, *AssumeRoleInput) (*AssumeRoleOutput, error)

func (f stsFunc) AssumeRole(ctx context.Context, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
	return f(ctx, in)
}

// simClient is one client process: its tenant and the time of its next
// request.
type simClient struct {
	tenant, subject string
	start, next     time.Time
}

// simQueue orders clients by their next request (then by index, so that
// equal times are served in a fixed order).
type simQueue []*simClient

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].next.Equal(q[j].next) {
		return q[i].next.Before(q[j].next)
	}
	return q[i].subject < q[j].subject
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simClient)) }
func (q *simQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// simulate runs sc and returns what it measured.
func simulate(t *testing.T, sc simScenario) simResult {
	t.Helper()
	clock := newClock()
	epoch := clock.Now()
	var (
		mu    sync.Mutex
		calls []time.Duration // since epoch
	)
	record := func() {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, clock.Now().Sub(epoch))
	}
	replicas := simReplicas(t, sc, clock, record)
	rng := rand.New(rand.NewPCG(sc.seed, 0x7c3b))
	q := simClients(sc, epoch, rng)
	end := epoch.Add(time.Duration(sc.hours) * time.Hour)
	res := simResult{}
	for _, c := range q {
		res.starts = append(res.starts, c.start.Sub(epoch))
	}
	nextScan := epoch.Add(refreshScanEvery)
	for q.Len() > 0 {
		c := heap.Pop(&q).(*simClient)
		if c.next.After(end) {
			continue
		}
		// The replicas' background refreshers look every refreshScanEvery.
		for ; !sc.noRefresher && !nextScan.After(c.next); nextScan = nextScan.Add(refreshScanEvery) {
			clock.Advance(nextScan.Sub(clock.Now()))
			for _, v := range replicas {
				v.refreshDue()
				v.wg.Wait()
			}
		}
		clock.Advance(c.next.Sub(clock.Now()))
		v := replicas[rng.IntN(len(replicas))]
		creds, err := v.Vend(t.Context(), Request{Tenant: c.tenant, Subject: c.subject, Duration: sc.session, NotAfter: c.tokenExpiry(sc, c.next)})
		v.wg.Wait() // the background refresh the request may have started
		if err != nil {
			t.Fatalf("%s: Vend at %s: %v", sc.name, c.next.Sub(epoch), err)
		}
		res.requests++
		if c.next.Sub(epoch) >= sc.session {
			res.steadyRequests++
			if !creds.CacheHit {
				res.misses++
			}
		}
		// The SDK treats the set as expired clientWindow early.
		next := creds.Expiration.Add(-sc.clientWindow)
		if !next.After(c.next) {
			t.Fatalf("%s: served a set expiring at %s at %s: inside the client window", sc.name, creds.Expiration, c.next)
		}
		c.next = next
		heap.Push(&q, c)
	}
	return measure(calls, sc.session, end.Sub(epoch), res)
}

// simReplicas returns the replicas: Vendors over the one-profile
// configuration of sc, sharing the clock, each with its own cache and STS.
func simReplicas(t *testing.T, sc simScenario, clock *testClock, record func()) []*Vendor {
	t.Helper()
	cfg := &config.Config{
		DefaultProfile: "read",
		Profiles: []config.Profile{{Name: "read", RoleARN: testRoleARN, Template: "dynamodb-read",
			TableARNs: []string{testTableARN}, DefaultDuration: sc.session, MaxDuration: max(sc.session, time.Hour)}},
	}
	set := compile(t, cfg)
	out := make([]*Vendor, sc.replicas)
	for i := range out {
		v, err := New(set, countingSTS(clock.Now, record), Options{
			Clock:  clock.Now,
			Logger: slog.New(slog.DiscardHandler),
			// simulate drives the refresher on the simulated clock.
			RefreshTicks: make(chan time.Time),
			Cache:        CacheOptions{RefreshBefore: sc.refreshBefore, ClientWindow: sc.clientWindow, MaxEntries: 4 * sc.tenants},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		out[i] = v
	}
	return out
}

// simClients returns the clients, each starting at 0 (together) or at a
// random time within the first session duration.
func simClients(sc simScenario, epoch time.Time, rng *rand.Rand) simQueue {
	q := simQueue{}
	for tn := range sc.tenants {
		for c := range sc.clientsPerTenant {
			start := epoch
			if !sc.together {
				start = epoch.Add(time.Duration(rng.Int64N(int64(sc.session))).Truncate(time.Second))
			}
			q = append(q, &simClient{
				tenant:  fmt.Sprintf("t%05d", tn),
				subject: fmt.Sprintf("system:serviceaccount:t%05d:app-%03d", tn, c),
				start:   start, next: start,
			})
		}
	}
	heap.Init(&q)
	return q
}

// tokenExpiry returns the expiry of the client's projected token at now:
// the kubelet issued it at the pod's start and replaces it once it is
// older than 80% of its lifetime. Zero when tokens are not modelled.
func (c *simClient) tokenExpiry(sc simScenario, now time.Time) time.Time {
	if sc.tokenTTL == 0 {
		return time.Time{}
	}
	rotate := sc.tokenTTL * 8 / 10
	issued := c.start.Add(now.Sub(c.start) / rotate * rotate)
	return issued.Add(sc.tokenTTL)
}

// measure computes the mean and the minute peak over the steady window
// (after one session duration) and the peaks over the whole run.
func measure(calls []time.Duration, session, run time.Duration, res simResult) simResult {
	perSecond := map[int64]int{}
	perMinute := map[int64]int{}
	for _, c := range calls {
		perSecond[int64(c/time.Second)]++
		perMinute[int64(c/time.Minute)]++
		if c >= session {
			res.calls++
		}
	}
	for _, n := range perSecond {
		res.peakSecond = max(res.peakSecond, n)
	}
	steady, all := 0, 0
	for m, n := range perMinute {
		all = max(all, n)
		if time.Duration(m)*time.Minute >= session {
			steady = max(steady, n)
		}
	}
	res.peakMinute, res.startPeakMinute = float64(steady)/60, float64(all)/60
	res.window = run - session
	res.mean = float64(res.calls) / res.window.Seconds()
	return res
}

// refreshInterval is I = D − min(refresh_before, D/2).
func refreshInterval(d, refreshBefore time.Duration) time.Duration {
	return d - min(refreshBefore, d/2)
}

// upperBound is T·R / I AssumeRole/s: every replica refreshes every key
// once per interval. With pod tokens that cap sessions, a tenant has a key
// per session duration its tokens' remaining lifetimes (20% to 100% of
// their lifetime, the kubelet rotating them at 80%) allow, each with its
// own interval.
func upperBound(sc simScenario) float64 {
	perTenant := 0.0
	for _, d := range sessionDurations(sc) {
		perTenant += 1 / refreshInterval(d, sc.refreshBefore).Seconds()
	}
	return float64(sc.tenants*sc.replicas) * perTenant
}

// sessionDurations are the session durations the broker vends in sc: the
// requested one, or with pod tokens every cut capToToken makes.
func sessionDurations(sc simScenario) []time.Duration {
	if sc.tokenTTL == 0 {
		return []time.Duration{sc.session}
	}
	var out []time.Duration
	for d := capToToken(sc.session, sc.tokenTTL/5); d <= capToToken(sc.session, sc.tokenTTL); d += config.MinSessionDuration {
		out = append(out, d)
	}
	return out
}

// sparseRate is T·C / (D − client window): every client request misses.
func sparseRate(sc simScenario) float64 {
	return float64(sc.tenants*sc.clientsPerTenant) / (sc.session - sc.clientWindow).Seconds()
}

// simScale multiplies the simulated tenants of TestReplicaSimulation, to
// check the model at larger scales than make test affords:
//
//	go test -run TestReplicaSimulation -v ./broker/vend -args -sim.scale=40
var simScale = flag.Int("sim.scale", 1, "multiply the tenants of the replica simulation")

// TestReplicaSimulation runs the scenarios and checks each against the
// model: never above the upper bound; one client per tenant costs exactly
// one call per renewal whatever the replica count; busy tenants approach
// the bound; the rate scales with tenants and replicas; short pod tokens
// split sessions and cost more. It logs the table the README's sizing
// section is built from (go test -run TestReplicaSimulation -v ./broker/vend).
func TestReplicaSimulation(t *testing.T) {
	base := simScenario{replicas: 3, tenants: 50 * *simScale, clientsPerTenant: 10, session: time.Hour,
		refreshBefore: config.DefaultRefreshBefore, clientWindow: config.DefaultClientWindow, hours: 5, seed: 1}
	with := func(name string, f func(*simScenario)) simScenario {
		sc := base
		sc.name = name
		f(&sc)
		return sc
	}
	scenarios := []simScenario{
		with("busy, 3 replicas, 1h", func(*simScenario) {}),
		with("busy, 3 replicas, 1h, 4x tenants", func(sc *simScenario) { sc.tenants *= 4 }),
		with("busy, 1 replica, 1h", func(sc *simScenario) { sc.replicas = 1 }),
		with("busy, 6 replicas, 1h", func(sc *simScenario) { sc.replicas = 6 }),
		with("busy, 3 replicas, 15m", func(sc *simScenario) { sc.session = 15 * time.Minute; sc.tenants /= 2 }),
		with("one client, 3 replicas, 1h", func(sc *simScenario) { sc.clientsPerTenant = 1 }),
		with("one client, 6 replicas, 1h", func(sc *simScenario) { sc.clientsPerTenant = 1; sc.replicas = 6 }),
		with("busy, 3 replicas, 1h, 1h tokens", func(sc *simScenario) { sc.tokenTTL = time.Hour; sc.tenants /= 2 }),
		with("busy, 3 replicas, 1h, 6h tokens", func(sc *simScenario) { sc.tokenTTL = 6 * time.Hour }),
		with("busy, 3 replicas, 1h, cold start", func(sc *simScenario) { sc.together = true }),
		with("busy, 3 replicas, 1h, no background refresher", func(sc *simScenario) { sc.noRefresher = true }),
	}
	results := map[string]simResult{}
	var mu sync.Mutex
	t.Run("scenarios", func(t *testing.T) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				r := simulate(t, sc)
				// Never above the bound (a call per key per replica per
				// interval); a key's first interval may be cut by the
				// window's start: 2% slack.
				if r.mean > upperBound(sc)*1.02 {
					t.Errorf("mean %.3f AssumeRole/s above the bound %.3f", r.mean, upperBound(sc))
				}
				mu.Lock()
				defer mu.Unlock()
				results[sc.name] = r
			})
		}
	})
	if t.Failed() {
		return
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-46s %3s %4s %3s %4s %8s %8s %9s %10s %8s %6s %7s\n",
		"scenario", "R", "T", "C", "D", "bound/s", "mean/s", "peak/min", "start/min", "start/1s", "calls", "misses")
	for _, sc := range scenarios {
		r := results[sc.name]
		fmt.Fprintf(&table, "%-46s %3d %4d %3d %4s %8.3f %8.3f %9.3f %10.3f %8d %6d %6.1f%%\n", sc.name, sc.replicas, sc.tenants,
			sc.clientsPerTenant, shortDuration(sc.session), upperBound(sc), r.mean, r.peakMinute, r.startPeakMinute, r.peakSecond, r.calls,
			r.missShare()*100)
	}
	t.Logf("AssumeRole/s over %d simulated hours: mean and peak minute after the first session duration; "+
		"peak minute and second from the start:\n%s", base.hours, table.String())
	checkSimulation(t, scenarios, results)
}

// checkSimulation checks the relations the sizing guidance relies on.
func checkSimulation(t *testing.T, scenarios []simScenario, results map[string]simResult) {
	t.Helper()
	sc := map[string]simScenario{}
	for _, s := range scenarios {
		sc[s.name] = s
	}
	within := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s: %.3f, want %.3f ± %.0f%%", what, got, want, tol*100)
		}
	}
	// One client per tenant: every request misses, so the calls are
	// exactly the clients' renewals, one per D − window from each start,
	// for any replica count.
	for _, name := range []string{"one client, 3 replicas, 1h", "one client, 6 replicas, 1h"} {
		s, r := sc[name], results[name]
		want := 0
		for _, start := range r.starts {
			for at := start; at <= time.Duration(s.hours)*time.Hour; at += s.session - s.clientWindow {
				if at >= s.session {
					want++
				}
			}
		}
		if r.calls != want {
			t.Errorf("%s: %d calls, want exactly the %d renewals", name, r.calls, want)
		}
		within(name+": mean vs T·C/(D−window)", r.mean, sparseRate(s), 0.1)
	}
	// Busy tenants: every replica sees every key several times per
	// interval, so the rate nears the bound. What is left: the refresh
	// jitter, and the wait for the first request after the refresh time —
	// clients renew when the set they hold nears its expiry, so a tenant's
	// clients bunch into a few instants per interval.
	for _, name := range []string{"busy, 3 replicas, 1h", "busy, 1 replica, 1h", "busy, 6 replicas, 1h", "busy, 3 replicas, 15m"} {
		if r, b := results[name].mean, upperBound(sc[name]); r < 0.65*b {
			t.Errorf("%s: mean %.3f below 65%% of the bound %.3f", name, r, b)
		}
	}
	// Linear in tenants and replicas.
	within("4x tenants", results["busy, 3 replicas, 1h, 4x tenants"].mean, 4*results["busy, 3 replicas, 1h"].mean, 0.1)
	// More replicas, more calls; at most in proportion, plus the calls of
	// the requests that miss the cache, which one replica (its refresher
	// sees every request of a tenant) all but never has.
	r1, r3, r6 := results["busy, 1 replica, 1h"].mean, results["busy, 3 replicas, 1h"].mean, results["busy, 6 replicas, 1h"].mean
	if slack := 1.02 + results["busy, 6 replicas, 1h"].missShare(); !(r1 < r3 && r3 < r6 && r6 <= 6*slack*r1) {
		t.Errorf("1, 3, 6 replicas: %.3f, %.3f, %.3f AssumeRole/s; want increasing, 6 at most 6 times 1 (×%.3f for misses)", r1, r3, r6, slack)
	}
	perTenant := func(name string) float64 { return results[name].mean / float64(sc[name].tenants) }
	within("15m vs 1h sessions, per tenant", perTenant("busy, 3 replicas, 15m"),
		perTenant("busy, 3 replicas, 1h")*refreshInterval(time.Hour, config.DefaultRefreshBefore).Seconds()/
			refreshInterval(15*time.Minute, config.DefaultRefreshBefore).Seconds(), 0.15)
	// Pod tokens of 1h cap 1h sessions to 15–45 minutes, split each tenant
	// into several keys and cost more; tokens of 6h (rotated after 4.8h,
	// so at least 1.2h left) do not cap 1h sessions.
	if capped, free := perTenant("busy, 3 replicas, 1h, 1h tokens"), perTenant("busy, 3 replicas, 1h"); capped < 2*free {
		t.Errorf("1h tokens: %.5f AssumeRole/s per tenant, want well above the uncapped %.5f", capped, free)
	}
	within("6h tokens", results["busy, 3 replicas, 1h, 6h tokens"].mean, results["busy, 3 replicas, 1h"].mean, 0.1)
	// The background refresher: a busy tenant's clients, which all renew at
	// their SDKs' expiry window, find a fresh set instead of all missing the
	// cache at once (what made an STS outage fail every busy tenant at the
	// same moment).
	with, without := results["busy, 3 replicas, 1h"].missShare(), results["busy, 3 replicas, 1h, no background refresher"].missShare()
	if !(with < 0.05 && without > 0.10 && with < without/4) {
		t.Errorf("renewals missing the cache: %.1f%% with the background refresher, %.1f%% without; want under 5%% and a quarter of without",
			with*100, without*100)
	}
	for _, name := range []string{"busy, 3 replicas, 1h, 4x tenants", "busy, 1 replica, 1h", "busy, 6 replicas, 1h", "busy, 3 replicas, 15m"} {
		if m := results[name].missShare(); m > 0.10 {
			t.Errorf("%s: %.1f%% of the requests missed the cache, want under 10%%", name, m*100)
		}
	}
	// A cold start assumes every key on every replica at once.
	cold, coldSc := results["busy, 3 replicas, 1h, cold start"], sc["busy, 3 replicas, 1h, cold start"]
	if want := coldSc.tenants * coldSc.replicas; float64(cold.peakSecond) < 0.95*float64(want) {
		t.Errorf("cold start: peak %d calls in a second, want about T·R = %d", cold.peakSecond, want)
	}
}

// missShare is the share of steady-window requests that missed the cache.
func (r simResult) missShare() float64 {
	if r.steadyRequests == 0 {
		return 0
	}
	return float64(r.misses) / float64(r.steadyRequests)
}

func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// BenchmarkCacheMemoryPerEntry measures the heap a cached credential set
// costs, with a session token of 1,000 bytes (STS does not fix its size;
// session policies and tags make it longer): the sizing guidance's
// cache.max_entries × bytes per entry.
func BenchmarkCacheMemoryPerEntry(b *testing.B) {
	const entries = 50_000
	token := strings.Repeat("t", 1000)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := newCredCache(entries, newFreshness(CacheOptions{RefreshBefore: 15 * time.Minute, ClientWindow: 5 * time.Minute}),
			func() time.Time { return now })
		if err != nil {
			b.Fatal(err)
		}
		for i := range entries {
			tenant := fmt.Sprintf("tenant-%06d", i)
			c.store(cacheKey{Profile: "read", Tenant: tenant, Duration: time.Hour}, &Credentials{
				AccessKeyID: fmt.Sprintf("ASIA%016d", i), SecretAccessKey: strings.Repeat("s", 40),
				SessionToken: token[:999] + string(rune('a'+i%26)), Expiration: now.Add(time.Hour), AccountID: "123456789012",
				Tenant: tenant, Profile: "read", SessionName: "t-" + tenant + "-read", PolicyHash: strings.Repeat("h", 64), PolicySize: 407,
			}, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/entries, "bytes/entry")
		runtime.KeepAlive(c)
	}
}
