package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/blocklist"
	"github.com/tvmkit/tvm/broker/errs"
)

// doFrom sends a GET /v1/credentials with the token from the peer address
// remote (host:port) and extra headers.
func (h *harness) doFrom(remote, token string, extra http.Header) *httptest.ResponseRecorder {
	hr := httptest.NewRequest(http.MethodGet, "/v1/credentials", nil)
	hr.RemoteAddr = remote
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range extra {
		hr.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, hr)
	return rec
}

func preAuth(t *testing.T, o PreAuthOptions) *PreAuth {
	t.Helper()
	p, err := NewPreAuth(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreAuthShedsInvalidTokenFlood: a flood of invalid tokens from one
// address is verified only up to the bucket and then refused with 429
// before verification, while valid tokens, from that address or another,
// are served: a verified token gives its token back.
func TestPreAuthShedsInvalidTokenFlood(t *testing.T) {
	const burst, flood = 5, 200
	h := newHarness(t, func(o *Options) {
		o.PreAuth = preAuth(t, PreAuthOptions{PerClient: Rate{RPS: 1, Burst: burst}})
	})
	statuses := map[int]int{}
	for i := range flood {
		statuses[h.doFrom("203.0.113.9:4000", fmt.Sprintf("forged-%d", i), nil).Code]++
	}
	if want := map[int]int{401: burst, 429: flood - burst}; !cmp.Equal(statuses, want) {
		t.Errorf("flood statuses = %v, want %v", statuses, want)
	}
	if h.verifier.calls != burst {
		t.Errorf("%d verifications for the flood, want %d (the rest refused before verifying)", h.verifier.calls, burst)
	}
	// Another address is not affected; valid tokens from it never spend its bucket.
	for i := range 3 * burst {
		if rec := h.doFrom("198.51.100.7:5000", goodToken, nil); rec.Code != 200 {
			t.Fatalf("valid request %d from another address: %d %s", i, rec.Code, rec.Body)
		}
	}
	// The flooding address is refused even with a valid token until its bucket refills...
	rec := h.doFrom("203.0.113.9:4001", goodToken, nil)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" || decodeObject(t, rec)["code"] != errs.CodeRateLimited {
		t.Errorf("valid token from the flooding address: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// ... and is served once it has.
	h.clock.Advance(time.Second)
	if rec := h.doFrom("203.0.113.9:4002", goodToken, nil); rec.Code != 200 {
		t.Errorf("after a second: %d %s", rec.Code, rec.Body)
	}
	if got := counterValues(t, h.metrics, "tvm_rate_limited_total", "scope"); got["client"] != flood-burst+1 {
		t.Errorf("tvm_rate_limited_total{scope=client} = %v, want %d", got["client"], flood-burst+1)
	}
}

// TestPreAuthValidTokensNotLimited: a verified token gives its token back,
// so any number of valid requests from one address pass.
func TestPreAuthValidTokensNotLimited(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.PreAuth = preAuth(t, PreAuthOptions{PerClient: Rate{RPS: 1, Burst: 1}}) })
	for i := range 50 {
		if rec := h.doFrom("192.0.2.10:1", goodToken, nil); rec.Code != 200 {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	// A missing token costs too.
	if a, b := h.doFrom("192.0.2.10:1", "", nil).Code, h.doFrom("192.0.2.10:1", "", nil).Code; a != 401 || b != 429 {
		t.Errorf("missing tokens: %d then %d, want 401 then 429", a, b)
	}
}

// blockingVerifier holds every verification until release is closed.
type blockingVerifier struct {
	fakeVerifier
	started chan struct{}
	release chan struct{}
}

func (b *blockingVerifier) Verify(ctx context.Context, h string) (*auth.Identity, error) {
	b.started <- struct{}{}
	<-b.release
	return b.fakeVerifier.Verify(ctx, h)
}

// TestPreAuthCapsConcurrentVerifications: with every slot taken, a request
// is shed with 503 overloaded, before verifying.
func TestPreAuthCapsConcurrentVerifications(t *testing.T) {
	const slots = 3
	bv := &blockingVerifier{started: make(chan struct{}, slots), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) {
		o.PreAuth = preAuth(t, PreAuthOptions{MaxConcurrent: slots})
		o.Verifier = bv
	})
	bv.ids = h.verifier.ids
	var wg sync.WaitGroup
	codes := make(chan int, slots)
	for i := range slots {
		wg.Go(func() { codes <- h.doFrom(fmt.Sprintf("192.0.2.%d:1", i), goodToken, nil).Code })
	}
	for range slots {
		<-bv.started
	}
	rec := h.doFrom("192.0.2.99:1", goodToken, nil)
	if rec.Code != 503 || decodeObject(t, rec)["code"] != errs.CodeOverloaded || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("request over the cap: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	close(bv.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request within the cap answered %d", c)
		}
	}
	if got := counterValues(t, h.metrics, "tvm_overloaded_total", "scope"); got["verification"] != 1 {
		t.Errorf("tvm_overloaded_total = %v", got)
	}
	// The slots are free again.
	bv.started = make(chan struct{}, 1)
	if rec := h.doFrom("192.0.2.99:1", goodToken, nil); rec.Code != 200 {
		t.Errorf("after the release: %d", rec.Code)
	}
}

// TestPreAuthClientAddress: X-Forwarded-For counts only from a trusted
// proxy; IPv6 clients share their /64.
func TestPreAuthClientAddress(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	tests := map[string]struct {
		trusted []netip.Prefix
		// two requests with a forged token, from (peer, X-Forwarded-For)
		first, second [2]string
		wantSecond    int // 401: distinct buckets; 429: the same one
	}{
		"no proxy trusted: the header is ignored": {nil, [2]string{"10.1.1.1:1", "203.0.113.1"}, [2]string{"10.1.1.1:2", "203.0.113.2"}, 429},
		"trusted proxy: the forwarded address":    {[]netip.Prefix{proxy}, [2]string{"10.1.1.1:1", "203.0.113.1"}, [2]string{"10.1.1.1:2", "203.0.113.2"}, 401},
		"trusted proxy, same client":              {[]netip.Prefix{proxy}, [2]string{"10.1.1.1:1", "203.0.113.1"}, [2]string{"10.2.2.2:2", "203.0.113.1"}, 429},
		"untrusted peer cannot pick its address":  {[]netip.Prefix{proxy}, [2]string{"198.51.100.1:1", "203.0.113.1"}, [2]string{"198.51.100.1:2", "203.0.113.2"}, 429},
		"spoofed left entries skipped":            {[]netip.Prefix{proxy}, [2]string{"10.1.1.1:1", "1.1.1.1, 203.0.113.1"}, [2]string{"10.1.1.1:2", "2.2.2.2, 203.0.113.1"}, 429},
		"IPv6 /64 shares a bucket":                {nil, [2]string{"[2001:db8:1:2::1]:1", ""}, [2]string{"[2001:db8:1:2:ffff::9]:1", ""}, 429},
		"IPv6 other /64":                          {nil, [2]string{"[2001:db8:1:2::1]:1", ""}, [2]string{"[2001:db8:1:3::1]:1", ""}, 401},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) {
				o.PreAuth = preAuth(t, PreAuthOptions{PerClient: Rate{RPS: 1, Burst: 1}})
				o.Server.TrustedProxies = tc.trusted
			})
			xff := func(v string) http.Header {
				if v == "" {
					return nil
				}
				return http.Header{"X-Forwarded-For": {v}}
			}
			if c := h.doFrom(tc.first[0], "forged", xff(tc.first[1])).Code; c != 401 {
				t.Fatalf("first: %d", c)
			}
			if c := h.doFrom(tc.second[0], "forged", xff(tc.second[1])).Code; c != tc.wantSecond {
				t.Errorf("second: %d, want %d", c, tc.wantSecond)
			}
		})
	}
}

func TestPreAuthWarnsOfUntrustedXFF(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.PreAuth = preAuth(t, PreAuthOptions{}) })
	for range 3 {
		h.doFrom("10.0.0.1:1", goodToken, http.Header{"X-Forwarded-For": {"203.0.113.1"}})
	}
	if n := len(h.logs.records(t, "a request carried X-Forwarded-For but no proxy is trusted (pre_auth.trusted_proxies): "+
		"per-client limits apply to the connection's peer, which every client behind a proxy shares")); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}

type fakeBlocks map[[2]string]blocklist.Scope

func (f fakeBlocks) Blocked(tenant, subject string) (blocklist.Scope, bool) {
	if s, ok := f[[2]string{tenant, ""}]; ok {
		return s, true
	}
	s, ok := f[[2]string{tenant, subject}]
	return s, ok
}

// TestBlocked: a blocked tenant or subject is refused with its own 403
// code after verification and before vending, audited and counted.
func TestBlocked(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Blocks = fakeBlocks{{"2", ""}: blocklist.ScopeTenant, {"1", "bob"}: blocklist.ScopeSubject}
	})
	tests := []struct {
		token  string
		status int
		code   string
	}{
		{otherTenant, 403, errs.CodeTenantBlocked},
		{bobToken, 403, errs.CodeSubjectBlocked},
		{goodToken, 200, ""},
		{badToken, 401, errs.CodeInvalidToken},
	}
	for _, tc := range tests {
		rec := h.do(req{target: "/v1/credentials", header: bearer(tc.token)})
		if rec.Code != tc.status || (tc.code != "" && decodeObject(t, rec)["code"] != tc.code) {
			t.Errorf("%.30s: %d %s, want %d %s", tc.token, rec.Code, rec.Body, tc.status, tc.code)
		}
	}
	if reqs := h.vendor.requests(); len(reqs) != 1 || reqs[0].Tenant != "1" || reqs[0].Subject != "alice" {
		t.Errorf("vended for %+v: a blocked caller reached the vendor", reqs)
	}
	audits := h.logs.records(t, "vend")
	outcomes := map[string]string{}
	for _, a := range audits {
		outcomes[fmt.Sprint(a["tenant"], "/", a["subject"])] = fmt.Sprint(a["outcome"])
	}
	if want := map[string]string{"2/carol": "tenant_blocked", "1/bob": "subject_blocked", "1/alice": "ok", "/": "invalid_token"}; !cmp.Equal(outcomes, want) {
		t.Errorf("audit outcomes = %v, want %v", outcomes, want)
	}
	if got := counterValues(t, h.metrics, "tvm_blocked_requests_total", "scope"); !cmp.Equal(got, map[string]float64{"tenant": 1, "subject": 1}) {
		t.Errorf("tvm_blocked_requests_total = %v", got)
	}
}

func TestReadyDetail(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ReadyDetail = func() any { return map[string]any{"generation": 3} } })
	rec := h.do(req{target: "/readyz"})
	got := decodeObject(t, rec)
	if rec.Code != 200 || !cmp.Equal(got, map[string]any{"status": "ready", "config": map[string]any{"generation": float64(3)}}) {
		t.Errorf("/readyz = %d %v", rec.Code, got)
	}
}

// TestPreAuthValidInFlightDoNotSpend: valid requests in flight do not hold
// their source's bucket: with a bucket of one, many concurrent valid
// requests from one address are all verified.
func TestPreAuthValidInFlightDoNotSpend(t *testing.T) {
	const n = 4
	bv := &blockingVerifier{started: make(chan struct{}, n), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) {
		o.PreAuth = preAuth(t, PreAuthOptions{PerClient: Rate{RPS: 0.001, Burst: 1}})
		o.Verifier = bv
	})
	bv.ids = h.verifier.ids
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() { codes <- h.doFrom("192.0.2.50:1", goodToken, nil).Code })
	}
	for range n {
		<-bv.started // all n are being verified at once
	}
	close(bv.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a concurrent valid request answered %d", c)
		}
	}
}

// rememberingVerifier is a blockingVerifier that answers VerifyCached for
// the tokens in known, without blocking, as *auth.Verifier answers from its
// verified-token cache.
type rememberingVerifier struct {
	*blockingVerifier
	known map[string]bool
}

func (r *rememberingVerifier) VerifyCached(ctx context.Context, h string) (*auth.Identity, bool, error) {
	if !r.known[strings.TrimPrefix(h, "Bearer ")] {
		return nil, false, nil
	}
	id, err := r.fakeVerifier.Verify(ctx, h)
	return id, true, err
}

// TestPreAuthRememberedTokens: a token the verifier remembers costs no
// verification, so the pre-auth limits do not hold it back — not with every
// verification slot taken, not from an address whose bucket is empty —
// while a token it does not remember still meets both.
func TestPreAuthRememberedTokens(t *testing.T) {
	const slots = 2
	const remembered, unknown = "remembered-token", "unknown-token"
	rv := &rememberingVerifier{
		blockingVerifier: &blockingVerifier{started: make(chan struct{}, slots), release: make(chan struct{})},
		known:            map[string]bool{remembered: true},
	}
	h := newHarness(t, func(o *Options) {
		o.PreAuth = preAuth(t, PreAuthOptions{MaxConcurrent: slots, PerClient: Rate{RPS: 1, Burst: 1}})
		o.Verifier = rv
	})
	rv.ids = map[string]*auth.Identity{remembered: {Subject: "svc", Tenant: "1"}, unknown: {Subject: "svc", Tenant: "2"}}

	// The flooding address spends its bucket on a forged token (the verifier
	// is released for that one request).
	go func() { <-rv.started; rv.release <- struct{}{} }()
	if rec := h.doFrom("203.0.113.9:1", "forged", nil); rec.Code != 401 {
		t.Fatalf("forged token: %d %s", rec.Code, rec.Body)
	}
	// Every verification slot taken.
	var wg sync.WaitGroup
	for i := range slots {
		wg.Go(func() { h.doFrom(fmt.Sprintf("192.0.2.%d:1", i), unknown, nil) })
	}
	for range slots {
		<-rv.started
	}
	tests := map[string]struct {
		remote, token string
		want          int
		code          string
	}{
		"remembered, slots taken":                  {"192.0.2.50:1", remembered, 200, ""},
		"remembered, from the empty bucket":        {"203.0.113.9:2", remembered, 200, ""},
		"not remembered, slots taken":              {"192.0.2.51:1", unknown, 503, errs.CodeOverloaded},
		"not remembered, from the empty bucket":    {"203.0.113.9:3", unknown, 429, errs.CodeRateLimited},
		"remembered but two Authorization headers": {"192.0.2.52:1", remembered, 503, errs.CodeOverloaded},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var extra http.Header
			if name == "remembered but two Authorization headers" {
				extra = http.Header{"Authorization": {"Bearer " + remembered, "Bearer " + remembered}}
			}
			rec := h.doFrom(tc.remote, tc.token, extra)
			if rec.Code != tc.want || (tc.code != "" && decodeObject(t, rec)["code"] != tc.code) {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.want, tc.code)
			}
		})
	}
	close(rv.release)
	wg.Wait()
}
