package vend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testRoleARN  = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	testTableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
)

// testClock is a manually advanced clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSTS is a programmable in-process STS port with an atomic call
// counter.
type fakeSTS struct {
	clock *testClock
	calls atomic.Int64
	// gate, when non-nil, makes every call wait until it is closed or ctx ends.
	gate chan struct{}
	// started, when non-nil, receives each call's number as it starts.
	started chan int64
	// respond, when non-nil, answers call n (1-based) instead of the default.
	respond func(ctx context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error)

	mu     sync.Mutex
	inputs []*AssumeRoleInput
}

func (f *fakeSTS) AssumeRole(ctx context.Context, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
	n := f.calls.Add(1)
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.mu.Unlock()
	if f.started != nil {
		f.started <- n
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.respond != nil {
		return f.respond(ctx, n, in)
	}
	return f.success(n, in), nil
}

// success answers call n with distinct credentials valid for the requested duration.
func (f *fakeSTS) success(n int64, in *AssumeRoleInput) *AssumeRoleOutput {
	return &AssumeRoleOutput{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%012d", n),
		SecretAccessKey: fmt.Sprintf("fake-secret-%d-zzzzzzzzzzzzzzzz", n),
		SessionToken:    fmt.Sprintf("fake-session-token-%d-yyyyyyyyyyyyyyy", n),
		Expiration:      f.clock.Now().Add(in.Duration),
		AssumedRoleARN:  "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/" + in.RoleSessionName,
		Size:            SessionSize{PackedPolicyPercent: 7, TokenUtilizationPercent: SizeNotReported},
		RequestID:       fmt.Sprintf("fake-%d", n),
	}
}

func (f *fakeSTS) lastInput(t *testing.T) *AssumeRoleInput {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.inputs) == 0 {
		t.Fatal("no AssumeRole call")
	}
	return f.inputs[len(f.inputs)-1]
}

// apiErr returns an error STS answered, as an STS port reports it: code,
// the (secret-ish) upstream message, the HTTP status and a request id.
func apiErr(code, msg string, status int) error {
	return &UpstreamError{Code: code, RequestID: "req-" + code, Status: status, Err: errors.New(msg)}
}

// mustProfile returns the Vendor's compiled profile called name.
func mustProfile(t testing.TB, v *Vendor, name string) *profiles.Profile {
	t.Helper()
	p, ok := v.Profiles().Profile(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	return p
}

// testObserver counts Observer events.
type testObserver struct {
	hits, misses atomic.Int64
	rendered     atomic.Int64
	// onMiss, when set, runs on every miss.
	onMiss func()

	mu    sync.Mutex
	codes []string
	sizes []SessionSize
}

func (o *testObserver) CacheLookup(_ string, hit bool) {
	if hit {
		o.hits.Add(1)
		return
	}
	o.misses.Add(1)
	if o.onMiss != nil {
		o.onMiss()
	}
}

func (o *testObserver) STSCall(_ string, _ time.Duration, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
}

func (o *testObserver) PolicyRendered(_ string, size int) {
	if size > 0 {
		o.rendered.Add(1)
	}
}

func (o *testObserver) SessionSize(_ string, packed, token int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sizes = append(o.sizes, SessionSize{PackedPolicyPercent: packed, TokenUtilizationPercent: token})
}

func (o *testObserver) sessionSizes() []SessionSize {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]SessionSize(nil), o.sizes...)
}

func (o *testObserver) stsCodes() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.codes...)
}

// baseConfig has a per-tenant read profile (default) and a per-subject
// profile with every AssumeRole option set.
func baseConfig() *config.Config {
	return &config.Config{
		DefaultProfile: "read",
		Profiles: []config.Profile{
			{
				Name:            "read",
				RoleARN:         testRoleARN,
				Template:        "dynamodb-read",
				TableARNs:       []string{testTableARN},
				DefaultDuration: time.Hour,
			},
			{
				Name:              "user",
				RoleARN:           "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
				Template:          "dynamodb-readwrite",
				TableARNs:         []string{testTableARN},
				LeadingKeyFormat:  "T#{tenant}",
				DefaultDuration:   30 * time.Minute,
				MaxDuration:       2 * time.Hour,
				ExternalID:        "tvm-external-id",
				SessionTags:       map[string]string{"tenant": "{tenant}", "user": "{subject}", "app": "tvm"},
				TransitiveTagKeys: []string{"tenant"},
				Sessions:          config.PerSubject,
				SourceIdentity:    true,
				AllowedTenants:    []string{"acme", "globex"},
				RequiredScope:     "tvm:write",
			},
		},
	}
}

type harness struct {
	v     *Vendor
	sts   *fakeSTS
	clock *testClock
	obs   *testObserver
	logs  *testenv.SyncBuffer
	// sleeps records the backoff waits.
	sleeps *[]time.Duration
}

func loadTemplates(t testing.TB) *policies.Set {
	t.Helper()
	set, err := policies.LoadTemplates("", targets.All())
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return set
}

// compile applies cfg's defaults and compiles its profiles, as the binary
// does before vend.New.
func compile(t testing.TB, cfg *config.Config) *profiles.Set {
	t.Helper()
	cfg.SetDefaults()
	set, err := profiles.Compile(cfg, loadTemplates(t), profiles.Options{})
	if err != nil {
		t.Fatalf("profiles.Compile: %v", err)
	}
	return set
}

// newHarness builds a Vendor over a fake STS; mutate adjusts the config,
// each of opts the Vendor's options.
func newHarness(t testing.TB, mutate func(*config.Config), opts ...func(*Options)) *harness {
	t.Helper()
	cfg := baseConfig()
	if mutate != nil {
		mutate(cfg)
	}
	clock := newClock()
	h := &harness{
		sts:    &fakeSTS{clock: clock},
		clock:  clock,
		obs:    &testObserver{},
		logs:   &testenv.SyncBuffer{},
		sleeps: new([]time.Duration),
	}
	var sleepMu sync.Mutex
	o := Options{
		// The background refresher runs only when a test drives it
		// (refresher_test.go): no ticker on a simulated clock.
		RefreshTicks: make(chan time.Time),
		Observer:     h.obs,
		Logger:       slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:        clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleepMu.Lock()
			defer sleepMu.Unlock()
			*h.sleeps = append(*h.sleeps, d)
			return ctx.Err()
		},
	}
	for _, mod := range opts {
		mod(&o)
	}
	v, err := New(compile(t, cfg), h.sts, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.v = v
	t.Cleanup(v.Close)
	return h
}

// waitBackground waits for background refreshes to finish. Only call it
// when no Vend runs concurrently.
func (h *harness) waitBackground() { h.v.wg.Wait() }

func readReq(tenant string) Request {
	return Request{Tenant: tenant, Subject: "alice@example.com"}
}
