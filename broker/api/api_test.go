package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/metrics"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Secrets the tests watch for in logs and error bodies.
const (
	goodToken    = "eyJhbGciOiJSUzI1NiJ9.good-token-payload.sig"
	bobToken     = "eyJhbGciOiJSUzI1NiJ9.bob-token-payload.sig"
	otherTenant  = "eyJhbGciOiJSUzI1NiJ9.tenant-two-payload.sig"
	badToken     = "eyJhbGciOiJub25lIn0.bad-token-payload."
	accessKeyID  = "ASIATESTACCESSKEYWXYZ"
	secretKey    = "SecretKeyThatMustNeverBeLogged0000000001"
	sessionToken = "SessionTokenThatMustNeverBeLogged000000001"
)

var (
	t0         = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	expiration = time.Date(2026, 11, 26, 8, 0, 0, 123456789, time.UTC)
)

// fakeVerifier accepts the tokens in ids, as a Bearer or raw header value.
type fakeVerifier struct {
	mu       sync.Mutex
	ids      map[string]*auth.Identity
	err      error // when set, returned for every call
	readyErr error
	calls    int
}

func (f *fakeVerifier) Verify(_ context.Context, authorization string) (*auth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if id, ok := f.ids[strings.TrimPrefix(authorization, "Bearer ")]; ok {
		return id, nil
	}
	// The cause carries the header on purpose: it must never reach a caller.
	return nil, errs.InvalidToken("token signature is invalid", errors.New("rejected "+authorization))
}

func (f *fakeVerifier) Ready(context.Context) error { return f.readyErr }

// fakeVendor records requests and answers with fn (default: good credentials).
type fakeVendor struct {
	mu   sync.Mutex
	reqs []vend.Request
	fn   func(ctx context.Context, r vend.Request) (*vend.Credentials, error)
}

func (f *fakeVendor) Vend(ctx context.Context, r vend.Request) (*vend.Credentials, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, r)
	}
	return goodCreds(r), nil
}

func (f *fakeVendor) requests() []vend.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]vend.Request(nil), f.reqs...)
}

func goodCreds(r vend.Request) *vend.Credentials {
	profile := r.Profile
	if profile == "" {
		profile = "read"
	}
	return &vend.Credentials{
		AccessKeyID: accessKeyID, SecretAccessKey: secretKey, SessionToken: sessionToken,
		Expiration: expiration, AccountID: "123456789012",
		Tenant: r.Tenant, Profile: profile, SessionName: "t-" + r.Tenant + "-0a1b2c3d",
		PolicyHash: "9f86d081884c7d65", PolicySize: 612, CacheHit: true,
	}
}

// syncBuffer is a goroutine-safe log sink that can parse its JSON records.
type syncBuffer struct{ testenv.SyncBuffer }

// records returns the JSON log records whose msg is msg.
func (b *syncBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	e        *echo.Echo
	verifier *fakeVerifier
	vendor   *fakeVendor
	logs     *syncBuffer
	metrics  *metrics.Metrics
	clock    *fakeClock
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{
		verifier: &fakeVerifier{ids: map[string]*auth.Identity{
			goodToken:   {Subject: "alice", Tenant: "1", Scopes: []string{"tvm"}},
			bobToken:    {Subject: "bob", Tenant: "1"},
			otherTenant: {Subject: "carol", Tenant: "2"},
		}},
		vendor:  &fakeVendor{},
		logs:    &syncBuffer{},
		metrics: metrics.New([]string{"read", "readwrite"}),
		clock:   &fakeClock{now: t0},
	}
	opts := Options{
		Verifier:       h.verifier,
		Vendor:         h.vendor,
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:        h.metrics,
		DefaultProfile: "read",
		Clock:          h.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

type req struct {
	method, target, body, contentType string
	header                            http.Header
}

func (h *harness) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.target, body)
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if r.contentType != "" {
		hr.Header.Set(echo.HeaderContentType, r.contentType)
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, hr)
	return rec
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func decodeObject(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, rec.Body.String())
	}
	return got
}

func TestCredentialsOK(t *testing.T) {
	wantBody := func(profile string) map[string]any {
		return map[string]any{
			"Version": float64(1), "AccessKeyId": accessKeyID, "SecretAccessKey": secretKey,
			"SessionToken": sessionToken, "Token": sessionToken, "Expiration": "2026-11-26T08:00:00Z",
			"AccountId": "123456789012", "Tenant": "1", "Profile": profile,
		}
	}
	tests := map[string]struct {
		req     req
		want    vend.Request
		profile string
	}{
		"GET bearer, defaults": {
			req:  req{target: "/v1/credentials", header: bearer(goodToken)},
			want: vend.Request{Tenant: "1", Subject: "alice", Scopes: []string{"tvm"}},
		},
		"GET raw token (container credentials)": {
			req:  req{target: "/v1/credentials", header: http.Header{"Authorization": {goodToken}}},
			want: vend.Request{Tenant: "1", Subject: "alice", Scopes: []string{"tvm"}},
		},
		"GET query parameters": {
			req:     req{target: "/v1/credentials?profile=readwrite&duration=900", header: bearer(goodToken)},
			want:    vend.Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: 900 * time.Second, Scopes: []string{"tvm"}},
			profile: "readwrite",
		},
		"POST empty body": {
			req:  req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken)},
			want: vend.Request{Tenant: "1", Subject: "alice", Scopes: []string{"tvm"}},
		},
		"POST query parameters": {
			req:     req{method: http.MethodPost, target: "/v1/credentials?profile=readwrite", header: bearer(goodToken)},
			want:    vend.Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Scopes: []string{"tvm"}},
			profile: "readwrite",
		},
		"POST JSON": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json; charset=utf-8", body: `{"profile":"readwrite","duration_seconds":1800}`},
			want:    vend.Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: 1800 * time.Second, Scopes: []string{"tvm"}},
			profile: "readwrite",
		},
		"POST JSON nulls and query mix": {
			req: req{method: http.MethodPost, target: "/v1/credentials?duration=3600", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"readwrite","duration_seconds":null}`},
			want:    vend.Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: time.Hour, Scopes: []string{"tvm"}},
			profile: "readwrite",
		},
		"POST empty JSON object": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{}`},
			want: vend.Request{Tenant: "1", Subject: "alice", Scopes: []string{"tvm"}},
		},
		"POST form": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/x-www-form-urlencoded", body: "profile=readwrite&duration=7200"},
			want:    vend.Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: 2 * time.Hour, Scopes: []string{"tvm"}},
			profile: "readwrite",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			rec := h.do(tc.req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			profile := tc.profile
			if profile == "" {
				profile = "read"
			}
			if diff := cmp.Diff(wantBody(profile), decodeObject(t, rec)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			wantHeaders := map[string]string{
				"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache",
			}
			for k, want := range wantHeaders {
				if got := rec.Header().Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("header %s = %q, want exactly %q", k, got, want)
				}
			}
			if diff := cmp.Diff([]vend.Request{tc.want}, h.vendor.requests()); diff != "" {
				t.Errorf("vend requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVendRequestCarriesTokenExpiry checks the vendor is told when the
// token expires, so that it can cap the session.
func TestVendRequestCarriesTokenExpiry(t *testing.T) {
	h := newHarness(t, nil)
	exp := t0.Add(20 * time.Minute)
	h.verifier.ids[goodToken] = &auth.Identity{Subject: "alice", Tenant: "1", Expiry: exp}
	if rec := h.do(req{target: "/v1/credentials?duration=3600", header: bearer(goodToken)}); rec.Code != 200 {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	want := []vend.Request{{Tenant: "1", Subject: "alice", Duration: time.Hour, NotAfter: exp}}
	if diff := cmp.Diff(want, h.vendor.requests()); diff != "" {
		t.Errorf("vend requests (-want +got):\n%s", diff)
	}
}

// TestCredentialsResponseFieldOrder pins the exact wire bytes of a 200.
func TestCredentialsResponseFieldOrder(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.do(req{target: "/v1/credentials", header: bearer(goodToken)})
	want := `{"Version":1,"AccessKeyId":"` + accessKeyID + `","SecretAccessKey":"` + secretKey +
		`","SessionToken":"` + sessionToken + `","Token":"` + sessionToken +
		`","Expiration":"2026-11-26T08:00:00Z","AccountId":"123456789012","Tenant":"1","Profile":"read"}`
	if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestCredentialsOmitsUnknownAccountID(t *testing.T) {
	h := newHarness(t, nil)
	h.vendor.fn = func(_ context.Context, r vend.Request) (*vend.Credentials, error) {
		c := goodCreds(r)
		c.AccountID = ""
		return c, nil
	}
	got := decodeObject(t, h.do(req{target: "/v1/credentials", header: bearer(goodToken)}))
	if _, ok := got["AccountId"]; ok {
		t.Errorf("AccountId present although unknown: %v", got)
	}
}

func TestErrors(t *testing.T) {
	vendErr := func(err error) func(context.Context, vend.Request) (*vend.Credentials, error) {
		return func(context.Context, vend.Request) (*vend.Credentials, error) { return nil, err }
	}
	tests := map[string]struct {
		req         req
		opts        func(*Options)
		verifierErr error
		vend        func(context.Context, vend.Request) (*vend.Credentials, error)
		wantStatus  int
		wantCode    string
		wantMessage string // checked when set
		retryAfter  string // expected Retry-After when set
		vendCalls   int
	}{
		"missing Authorization": {
			req:        req{target: "/v1/credentials"},
			wantStatus: 401, wantCode: errs.CodeInvalidToken, wantMessage: "missing Authorization header",
		},
		"two Authorization headers": {
			req:        req{target: "/v1/credentials", header: http.Header{"Authorization": {"Bearer " + goodToken, "Bearer " + goodToken}}},
			wantStatus: 401, wantCode: errs.CodeInvalidToken,
		},
		"rejected token": {
			req:        req{target: "/v1/credentials", header: bearer(badToken)},
			wantStatus: 401, wantCode: errs.CodeInvalidToken, wantMessage: "token signature is invalid",
		},
		"invalid tenant": {
			req:         req{target: "/v1/credentials", header: bearer(goodToken)},
			verifierErr: errs.New(errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant claim is invalid"),
			wantStatus:  401, wantCode: errs.CodeInvalidTenant,
		},
		"oversized Authorization": {
			req:         req{target: "/v1/credentials", header: bearer(goodToken)},
			verifierErr: errs.New(errs.KindHeaderTooLarge, errs.CodeRequestTooLarge, "Authorization header too large"),
			wantStatus:  431, wantCode: errs.CodeRequestTooLarge,
		},
		"verifier returns a plain error": {
			req:         req{target: "/v1/credentials", header: bearer(goodToken)},
			verifierErr: errors.New("jwks fetch failed at http://idp.internal/secret-path"),
			wantStatus:  500, wantCode: errs.CodeInternal, wantMessage: "internal error",
		},
		"unknown profile": {
			req:        req{target: "/v1/credentials?profile=nope", header: bearer(goodToken)},
			vend:       vendErr(errs.New(errs.KindNotFound, errs.CodeProfileNotFound, "no such profile")),
			wantStatus: 404, wantCode: errs.CodeProfileNotFound, vendCalls: 1,
		},
		"profile forbidden": {
			req:        req{target: "/v1/credentials?profile=readwrite", header: bearer(goodToken)},
			vend:       vendErr(errs.New(errs.KindForbidden, errs.CodeForbidden, "profile not permitted")),
			wantStatus: 403, wantCode: errs.CodeForbidden, vendCalls: 1,
		},
		"duration out of profile range": {
			req:        req{target: "/v1/credentials?duration=60", header: bearer(goodToken)},
			vend:       vendErr(errs.InvalidRequest("duration must be between 900 and 3600 seconds")),
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, vendCalls: 1,
		},
		"STS throttled": {
			req:        req{target: "/v1/credentials", header: bearer(goodToken)},
			vend:       vendErr(&errs.Error{Kind: errs.KindUpstreamThrottled, Code: errs.CodeUpstreamThrottled, Message: "STS is throttling", RetryAfter: 1500 * time.Millisecond}),
			wantStatus: 503, wantCode: errs.CodeUpstreamThrottled, retryAfter: "2", vendCalls: 1,
		},
		"STS unavailable without delay": {
			req:        req{target: "/v1/credentials", header: bearer(goodToken)},
			vend:       vendErr(errs.New(errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "STS unavailable")),
			wantStatus: 503, wantCode: errs.CodeUpstreamUnavailable, retryAfter: "1", vendCalls: 1,
		},
		"STS access denied": {
			req:        req{target: "/v1/credentials", header: bearer(goodToken)},
			vend:       vendErr(errs.Wrap(errors.New("AccessDenied: not authorized "+sessionToken), errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "STS refused AssumeRole")),
			wantStatus: 502, wantCode: errs.CodeUpstreamAccessDenied, wantMessage: "STS refused AssumeRole", vendCalls: 1,
		},
		"vendor plain error": {
			req:        req{target: "/v1/credentials", header: bearer(goodToken)},
			vend:       vendErr(errors.New("boom " + secretKey)),
			wantStatus: 500, wantCode: errs.CodeInternal, wantMessage: "internal error", vendCalls: 1,
		},
		"vendor panics": {
			req: req{target: "/v1/credentials", header: bearer(goodToken)},
			vend: func(context.Context, vend.Request) (*vend.Credentials, error) {
				panic("vendor exploded " + secretKey)
			},
			wantStatus: 500, wantCode: errs.CodeInternal, wantMessage: "internal error", vendCalls: 1,
		},
		"request timeout": {
			req:  req{target: "/v1/credentials", header: bearer(goodToken)},
			opts: func(o *Options) { o.Server.RequestTimeout = time.Millisecond },
			vend: func(ctx context.Context, _ vend.Request) (*vend.Credentials, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			wantStatus: 504, wantCode: errs.CodeUpstreamTimeout, vendCalls: 1,
		},
		"duration not a number":   {req: req{target: "/v1/credentials?duration=abc", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration zero":           {req: req{target: "/v1/credentials?duration=0", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration negative":       {req: req{target: "/v1/credentials?duration=-900", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration with plus sign": {req: req{target: "/v1/credentials?duration=%2B900", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration fractional":     {req: req{target: "/v1/credentials?duration=900.5", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration above STS max":  {req: req{target: "/v1/credentials?duration=43201", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration empty":          {req: req{target: "/v1/credentials?duration=", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"duration huge":           {req: req{target: "/v1/credentials?duration=99999999999999999999", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"profile repeated":        {req: req{target: "/v1/credentials?profile=read&profile=readwrite", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"profile empty":           {req: req{target: "/v1/credentials?profile=", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"profile with slash":      {req: req{target: "/v1/credentials?profile=..%2Fetc", header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"profile too long":        {req: req{target: "/v1/credentials?profile=" + strings.Repeat("p", 65), header: bearer(goodToken)}, wantStatus: 400, wantCode: errs.CodeInvalidRequest},
		"query with a bad escape": {
			req:        req{target: "/v1/credentials?profile=readwrite&duration=%zz", header: bearer(goodToken)},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: "malformed query string",
		},
		"query with a semicolon": {
			req:        req{target: "/v1/credentials?profile=readwrite;duration=7200", header: bearer(goodToken)},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: "malformed query string",
		},
		"unknown query parameter": {
			req:        req{target: "/v1/credentials?duraton=900", header: bearer(goodToken)},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `unknown query parameter "duraton"`,
		},
		"JSON unknown field": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"read","tenant":"2"}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `invalid JSON body: unknown field "tenant"`,
		},
		"JSON duplicate field": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"read","profile":"readwrite"}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `invalid JSON body: field "profile" given more than once`,
		},
		"JSON duplicate field in another case": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"duration_seconds":900,"profile":"read","DURATION_SECONDS":3600}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `invalid JSON body: field "duration_seconds" given more than once`,
		},
		"JSON duplicate null field": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"readwrite","profile":null}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `invalid JSON body: field "profile" given more than once`,
		},
		"JSON trailing data": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"read"}{"profile":"readwrite"}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"JSON wrong type": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"duration_seconds":"900"}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest, wantMessage: `invalid JSON body: field "duration_seconds" has the wrong type`,
		},
		"JSON fractional duration": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"duration_seconds":900.5}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"JSON duration zero": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"duration_seconds":0}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"JSON malformed": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"JSON array": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `["read"]`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"JSON and query name one parameter": {
			req: req{method: http.MethodPost, target: "/v1/credentials?profile=read", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"readwrite"}`},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"form unknown field": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/x-www-form-urlencoded", body: "profile=read&token=x"},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"form and query name one parameter": {
			req: req{method: http.MethodPost, target: "/v1/credentials?duration=900", header: bearer(goodToken),
				contentType: "application/x-www-form-urlencoded", body: "duration=900"},
			wantStatus: 400, wantCode: errs.CodeInvalidRequest,
		},
		"unsupported body type": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "text/plain", body: "profile=read"},
			wantStatus: 415, wantCode: errs.CodeInvalidRequest,
		},
		"body over the limit": {
			req: req{method: http.MethodPost, target: "/v1/credentials", header: bearer(goodToken),
				contentType: "application/json", body: `{"profile":"` + strings.Repeat("a", 200) + `"}`},
			opts:       func(o *Options) { o.Server.MaxBodyBytes = 100 },
			wantStatus: 413, wantCode: errs.CodeRequestTooLarge,
		},
		"header block over the limit": {
			req:        req{target: "/v1/credentials", header: http.Header{"Authorization": {"Bearer " + goodToken}, "X-Pad": {strings.Repeat("p", 17<<10)}}},
			wantStatus: 431, wantCode: errs.CodeRequestTooLarge, wantMessage: "request headers too large",
		},
		"many headers over the limit": {
			req: req{target: "/healthz", header: func() http.Header {
				h := http.Header{}
				for i := range 40 {
					h.Add(fmt.Sprintf("X-H%d", i), strings.Repeat("v", 100))
				}
				return h
			}()},
			opts:       func(o *Options) { o.Server.MaxHeaderBytes = 4096 },
			wantStatus: 431, wantCode: errs.CodeRequestTooLarge, wantMessage: "request headers too large",
		},
		"unknown route": {
			req:        req{target: "/v1/credential", header: bearer(goodToken)},
			wantStatus: 404, wantCode: errs.CodeNotFound, wantMessage: "no such route",
		},
		"unknown method": {
			req:        req{method: http.MethodPut, target: "/v1/credentials", header: bearer(goodToken)},
			wantStatus: 405, wantCode: errs.CodeMethodNotAllowed,
		},
		"host not allowed": {
			req:        req{target: "/v1/credentials", header: bearer(goodToken)}, // httptest Host is example.com
			opts:       func(o *Options) { o.Server.AllowedHosts = []string{"127.0.0.1", "localhost:8080"} },
			wantStatus: 403, wantCode: errs.CodeForbidden, wantMessage: "host not allowed",
		},
		"readyz without keys": {
			req:         req{target: "/readyz"},
			verifierErr: errors.New("no keys"),
			wantStatus:  503, wantCode: errs.CodeNotReady, retryAfter: "1",
		},
		"readyz with a readiness check unmet": {
			req: req{target: "/readyz"},
			opts: func(o *Options) {
				o.Readiness = []ReadinessCheck{
					func(context.Context) error { return nil },
					func(context.Context) error {
						return errs.NotReady("STS has not confirmed the broker's AWS credentials", nil)
					},
				}
			},
			wantStatus: 503, wantCode: errs.CodeNotReady, retryAfter: "1", wantMessage: "STS has not confirmed the broker's AWS credentials",
		},
		"readyz with a plain error": {
			req: req{target: "/readyz"},
			opts: func(o *Options) {
				o.Readiness = []ReadinessCheck{func(context.Context) error { return errors.New("exploded") }}
			},
			wantStatus: 503, wantCode: errs.CodeNotReady, retryAfter: "1", wantMessage: "not ready",
		},
		"broker misconfigured": {
			req: req{target: "/v1/credentials", header: bearer(goodToken)},
			vend: func(context.Context, vend.Request) (*vend.Credentials, error) {
				return nil, errs.Wrap(errors.New("SignatureDoesNotMatch: secret-path"), errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "STS does not accept the broker's own AWS credentials")
			},
			wantStatus: 500, wantCode: errs.CodeBrokerMisconfigured, vendCalls: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			h.verifier.err = tc.verifierErr
			h.verifier.readyErr = tc.verifierErr
			h.vendor.fn = tc.vend
			rec := h.do(tc.req)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body)
			}
			got := decodeObject(t, rec)
			if len(got) != 2 || got["code"] != tc.wantCode {
				t.Errorf("body = %v, want exactly code %q and a message", got, tc.wantCode)
			}
			if msg, _ := got["message"].(string); msg == "" || (tc.wantMessage != "" && msg != tc.wantMessage) {
				t.Errorf("message = %q, want %q", msg, tc.wantMessage)
			}
			if ct := rec.Header().Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
				t.Errorf("Content-Type = %q, want exactly application/json", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			wa := rec.Header().Get("WWW-Authenticate")
			if tc.wantStatus == 401 {
				if want := `Bearer error="invalid_token", error_description="`; !strings.HasPrefix(wa, want) || !strings.HasSuffix(wa, `"`) {
					t.Errorf("WWW-Authenticate = %q, want prefix %q", wa, want)
				}
			} else if wa != "" {
				t.Errorf("WWW-Authenticate = %q on a %d", wa, rec.Code)
			}
			if ra := rec.Header().Get("Retry-After"); ra != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tc.retryAfter)
			}
			// Clients retry by errs.Retryable: an answer that says when to
			// retry must carry a retryable code.
			if rec.Header().Get("Retry-After") != "" && !errs.Retryable(tc.wantCode) {
				t.Errorf("Retry-After sent with %q, which errs.Retryable says is permanent", tc.wantCode)
			}
			for _, secret := range []string{secretKey, sessionToken, goodToken, badToken, "secret-path", "exploded", "goroutine"} {
				if strings.Contains(rec.Body.String(), secret) || strings.Contains(wa, secret) {
					t.Errorf("response leaks %q: %s", secret, rec.Body)
				}
			}
			if n := len(h.vendor.requests()); n != tc.vendCalls {
				t.Errorf("vendor calls = %d, want %d", n, tc.vendCalls)
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t, nil)
	for target, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		rec := h.do(req{target: target})
		if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %q %q, want 200 %s", target, rec.Code, rec.Header().Get("Content-Type"), rec.Body, want)
		}
	}
}

func TestWWWAuthenticateDescriptionIsSafe(t *testing.T) {
	h := newHarness(t, nil)
	h.verifier.err = errs.InvalidToken("bad \"quoted\" \\ token\r\nX-Injected: 1", nil)
	rec := h.do(req{target: "/v1/credentials", header: bearer(goodToken)})
	want := `Bearer error="invalid_token", error_description="bad quoted  tokenX-Injected: 1"`
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

func TestRequestID(t *testing.T) {
	tests := map[string]struct {
		sent string
		keep bool
	}{
		"absent":            {sent: "", keep: false},
		"valid":             {sent: "req-42_a.b:c+d/e=", keep: true},
		"with spaces":       {sent: "req 42", keep: false},
		"with quote":        {sent: `req"42`, keep: false},
		"too long":          {sent: strings.Repeat("a", 129), keep: false},
		"longest":           {sent: strings.Repeat("a", 128), keep: true},
		"non-ASCII":         {sent: "réq", keep: false},
		"log injection try": {sent: `x","level":"ERROR`, keep: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			hdr := bearer(goodToken)
			if tc.sent != "" {
				hdr.Set("X-Request-Id", tc.sent)
			}
			rec := h.do(req{target: "/v1/credentials", header: hdr})
			got := rec.Header().Get("X-Request-Id")
			if tc.keep && got != tc.sent {
				t.Errorf("X-Request-Id = %q, want %q kept", got, tc.sent)
			}
			if !tc.keep && (got == tc.sent || len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "") {
				t.Errorf("X-Request-Id = %q, want a fresh 32-hex id", got)
			}
			for _, msg := range []string{"vend", "http request"} {
				recs := h.logs.records(t, msg)
				if len(recs) != 1 || recs[0]["request_id"] != got {
					t.Errorf("%q records = %v, want one with request_id %q", msg, recs, got)
				}
			}
		})
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[string]bool{}
	for range 100 {
		id := h.do(req{target: "/healthz"}).Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("request id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestHostAllowList(t *testing.T) {
	allowed := []string{"127.0.0.1", "localhost:8080", "[::1]"}
	tests := map[string]struct {
		host string
		ok   bool
	}{
		"ip without port":      {"127.0.0.1", true},
		"ip with port":         {"127.0.0.1:8080", true},
		"name with its port":   {"localhost:8080", true},
		"name case":            {"LOCALHOST:8080", true},
		"name with other port": {"localhost:9090", false},
		"name without port":    {"localhost", false},
		"ipv6 with port":       {"[::1]:8080", true},
		"rebinding name":       {"attacker.example:8080", false},
		"empty":                {"", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.Server.AllowedHosts = allowed })
			r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			r.Host = tc.host
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, r)
			if ok := rec.Code == 200; ok != tc.ok {
				t.Errorf("Host %q: status %d, want allowed=%v", tc.host, rec.Code, tc.ok)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	type step struct {
		token      string
		advance    time.Duration
		wantStatus int
		retryAfter string
	}
	tests := map[string]struct {
		limit RateLimitOptions
		steps []step
		want  map[string]float64 // tvm_rate_limited_total by scope
	}{
		"per tenant": {
			limit: RateLimitOptions{PerTenant: Rate{RPS: 1, Burst: 2}},
			steps: []step{
				{token: goodToken, wantStatus: 200},
				{token: bobToken, wantStatus: 200},
				{token: goodToken, wantStatus: 429, retryAfter: "1"},
				{token: otherTenant, wantStatus: 200}, // another tenant has its own bucket
				{token: bobToken, advance: time.Second, wantStatus: 200},
				{token: bobToken, wantStatus: 429, retryAfter: "1"},
			},
			want: map[string]float64{"tenant": 2},
		},
		"per subject": {
			limit: RateLimitOptions{PerSubject: Rate{RPS: 0.5, Burst: 1}},
			steps: []step{
				{token: goodToken, wantStatus: 200},
				{token: goodToken, wantStatus: 429, retryAfter: "2"},
				{token: bobToken, wantStatus: 200},
				{token: goodToken, advance: 2 * time.Second, wantStatus: 200},
			},
			want: map[string]float64{"subject": 1},
		},
		"subject refusal does not spend tenant tokens": {
			limit: RateLimitOptions{PerTenant: Rate{RPS: 1, Burst: 2}, PerSubject: Rate{RPS: 1, Burst: 1}},
			steps: []step{
				{token: goodToken, wantStatus: 200},
				{token: goodToken, wantStatus: 429, retryAfter: "1"},
				{token: goodToken, wantStatus: 429, retryAfter: "1"},
				{token: bobToken, wantStatus: 200}, // the tenant bucket still has its second token
				{token: bobToken, wantStatus: 429, retryAfter: "1"},
			},
			want: map[string]float64{"subject": 2, "tenant": 1},
		},
		"not limited": {
			limit: RateLimitOptions{PerTenant: Rate{RPS: 0, Burst: 1}, PerSubject: Rate{RPS: -1, Burst: 1}},
			steps: []step{{token: goodToken, wantStatus: 200}, {token: goodToken, wantStatus: 200}},
			want:  map[string]float64{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.RateLimit = tc.limit })
			for i, s := range tc.steps {
				h.clock.Advance(s.advance)
				rec := h.do(req{target: "/v1/credentials", header: bearer(s.token)})
				if rec.Code != s.wantStatus || rec.Header().Get("Retry-After") != s.retryAfter {
					t.Errorf("step %d: %d Retry-After %q, want %d %q (%s)", i, rec.Code, rec.Header().Get("Retry-After"), s.wantStatus, s.retryAfter, rec.Body)
				}
				if s.wantStatus == 429 && decodeObject(t, rec)["code"] != errs.CodeRateLimited {
					t.Errorf("step %d: body %s, want code rate_limited", i, rec.Body)
				}
			}
			if diff := cmp.Diff(tc.want, counterValues(t, h.metrics, "tvm_rate_limited_total", "scope")); diff != "" {
				t.Errorf("tvm_rate_limited_total (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLRULimiterIsBounded(t *testing.T) {
	l, err := newLRULimiter(Rate{RPS: 1, Burst: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := l.get("a")
	if !a.AllowN(t0, 1) || a.AllowN(t0, 1) {
		t.Fatal("bucket a: want one token")
	}
	l.get("b")
	l.get("a") // a becomes most recent
	l.get("c") // evicts b
	if n := l.buckets.Len(); n != 2 {
		t.Fatalf("len = %d, want 2", n)
	}
	if l.get("a") != a {
		t.Error("a was evicted although recently used")
	}
	if l.buckets.Contains("b") {
		t.Error("b (least recently used) was not evicted")
	}
}

// counterValues returns the values of counter name keyed by label.
func counterValues(t *testing.T, m *metrics.Metrics, name, label string) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] += metric.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

func TestAuditAndNoSecretsInLogs(t *testing.T) {
	h := newHarness(t, nil)
	calls := 0
	h.vendor.fn = func(_ context.Context, r vend.Request) (*vend.Credentials, error) {
		calls++
		if calls == 2 {
			return nil, errs.Wrap(errors.New("AccessDenied: not authorized to perform sts:AssumeRole"), errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "STS refused AssumeRole")
		}
		return goodCreds(r), nil
	}
	hdr := bearer(goodToken)
	hdr.Set("X-Request-Id", "audit-1")
	h.do(req{target: "/v1/credentials?profile=read&duration=900", header: hdr})
	hdr.Set("X-Request-Id", "audit-2")
	h.do(req{method: http.MethodPost, target: "/v1/credentials", header: hdr, contentType: "application/json", body: `{"profile":"readwrite"}`})
	h.do(req{target: "/v1/credentials?token=" + goodToken, header: http.Header{"X-Request-Id": {"audit-3"}, "Authorization": {badToken}}})
	h.do(req{target: "/v1/credentials?secret=" + secretKey, header: http.Header{"X-Request-Id": {"audit-4"}, "Authorization": {"Bearer " + goodToken}}})

	logs := h.logs.String()
	for _, secret := range []string{goodToken, badToken, secretKey, sessionToken, accessKeyID, "good-token-payload", "bad-token-payload"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	got := h.logs.records(t, "vend")
	for _, rec := range got {
		if _, ok := rec["duration"].(float64); !ok {
			t.Errorf("audit record without a numeric duration: %v", rec)
		}
		delete(rec, "duration")
		delete(rec, "time")
	}
	want := []map[string]any{
		{
			"level": "INFO", "msg": "vend", "request_id": "audit-1", "tenant": "1", "subject": "alice", "profile": "read",
			"policy_hash": "9f86d081884c7d65", "session_name": "t-1-0a1b2c3d", "access_key_id_last4": "WXYZ",
			"expiration": "2026-11-26T08:00:00Z", "cache_hit": true, "outcome": "ok",
		},
		{
			"level": "WARN", "msg": "vend", "request_id": "audit-2", "tenant": "1", "subject": "alice", "profile": "readwrite",
			"policy_hash": "", "session_name": "", "access_key_id_last4": "", "expiration": "", "cache_hit": false,
			"outcome": "upstream_access_denied",
		},
		{
			"level": "WARN", "msg": "vend", "request_id": "audit-3", "tenant": "", "subject": "", "profile": "read",
			"policy_hash": "", "session_name": "", "access_key_id_last4": "", "expiration": "", "cache_hit": false,
			"outcome": "invalid_token",
		},
		{
			"level": "WARN", "msg": "vend", "request_id": "audit-4", "tenant": "1", "subject": "alice", "profile": "read",
			"policy_hash": "", "session_name": "", "access_key_id_last4": "", "expiration": "", "cache_hit": false,
			"outcome": "invalid_request",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	// The access log names the route and path, never the query string.
	for _, rec := range h.logs.records(t, "http request") {
		if rec["route"] != RouteCredentials || rec["path"] != "/v1/credentials" {
			t.Errorf("access log route/path = %v/%v", rec["route"], rec["path"])
		}
	}
	// The internal cause is logged (for operators) with the request id.
	failed := h.logs.records(t, "request failed")
	if len(failed) != 3 || failed[0]["request_id"] != "audit-2" || failed[0]["code"] != "upstream_access_denied" {
		t.Errorf("request failed records = %v", failed)
	}
	wantVends := map[string]float64{"ok": 1, "upstream_access_denied": 1, "invalid_token": 1, "invalid_request": 1}
	if diff := cmp.Diff(wantVends, counterValues(t, h.metrics, "tvm_vend_total", "outcome")); diff != "" {
		t.Errorf("tvm_vend_total (-want +got):\n%s", diff)
	}
}

// TestErrorCauseLoggedNotReturned checks the operator can see why a 500
// happened while the caller cannot.
func TestErrorCauseLoggedNotReturned(t *testing.T) {
	h := newHarness(t, nil)
	h.vendor.fn = func(context.Context, vend.Request) (*vend.Credentials, error) {
		return nil, errors.New("dial tcp 10.0.0.7:443: connection refused")
	}
	rec := h.do(req{target: "/v1/credentials", header: bearer(goodToken)})
	if strings.Contains(rec.Body.String(), "10.0.0.7") {
		t.Errorf("cause returned to the caller: %s", rec.Body)
	}
	failed := h.logs.records(t, "request failed")
	if len(failed) != 1 || !strings.Contains(failed[0]["cause"].(string), "10.0.0.7") || failed[0]["level"] != "ERROR" {
		t.Errorf("request failed records = %v, want the cause at ERROR", failed)
	}
}

func TestPanicIsAuditedAsFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.vendor.fn = func(context.Context, vend.Request) (*vend.Credentials, error) { panic("vendor bug") }
	rec := h.do(req{target: "/v1/credentials", header: bearer(goodToken)})
	if rec.Code != 500 || decodeObject(t, rec)["code"] != errs.CodeInternal {
		t.Errorf("panic answered %d %s, want 500 internal_error", rec.Code, rec.Body)
	}
	recs := h.logs.records(t, "vend")
	if len(recs) != 1 || recs[0]["outcome"] != errs.CodeInternal {
		t.Errorf("vend records = %v, want one with outcome internal_error", recs)
	}
	panics := h.logs.records(t, "panic")
	if len(panics) != 1 || panics[0]["panic"] != "vendor bug" || !strings.Contains(panics[0]["stack"].(string), "goroutine") {
		t.Errorf("panic records = %v, want the panic value and stack", panics)
	}
}

// TestPanicValueIsRedacted checks a panic quoting the bearer token (here
// one not shaped like a JWT) does not carry it into the logs.
func TestPanicValueIsRedacted(t *testing.T) {
	const opaque = "opaque-bearer-token-0123456789"
	h := newHarness(t, nil)
	h.verifier.ids[opaque] = &auth.Identity{Subject: "alice", Tenant: "1"}
	h.vendor.fn = func(context.Context, vend.Request) (*vend.Credentials, error) {
		panic("cannot use token " + opaque)
	}
	rec := h.do(req{target: "/v1/credentials", header: bearer(opaque)})
	if rec.Code != 500 {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if logs := h.logs.String(); strings.Contains(logs, opaque) {
		t.Errorf("logs contain the token:\n%s", logs)
	}
	panics := h.logs.records(t, "panic")
	if len(panics) != 1 || panics[0]["panic"] != "cannot use token [REDACTED]" {
		t.Errorf("panic records = %v, want the redacted panic value", panics)
	}
}

// TestTokenInPathIsNotLogged checks the access log redacts a token sent in
// the path instead of the Authorization header.
func TestTokenInPathIsNotLogged(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.do(req{target: "/v1/credentials/" + goodToken})
	if rec.Code != 404 {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
	if logs := h.logs.String(); strings.Contains(logs, "good-token-payload") {
		t.Errorf("logs contain the token:\n%s", logs)
	}
	if recs := h.logs.records(t, "http request"); len(recs) != 1 || recs[0]["path"] != "/v1/credentials/[REDACTED]" {
		t.Errorf("access log records = %v, want the path redacted", recs)
	}
}

func TestRedact(t *testing.T) {
	jwtish := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	tests := map[string]struct {
		msg, want string
		auth      []string
	}{
		"no secret":             {msg: "token has invalid claims: token is expired", want: "token has invalid claims: token is expired"},
		"raw header":            {msg: "rejected opaque-token-value", auth: []string{"opaque-token-value"}, want: "rejected [REDACTED]"},
		"bearer header":         {msg: "rejected opaque-token-value", auth: []string{"Bearer opaque-token-value"}, want: "rejected [REDACTED]"},
		"lower-case bearer":     {msg: "rejected opaque-token-value", auth: []string{"bearer opaque-token-value"}, want: "rejected [REDACTED]"},
		"upper-case bearer":     {msg: "rejected opaque-token-value", auth: []string{"BEARER opaque-token-value"}, want: "rejected [REDACTED]"},
		"JWT shape, no header":  {msg: "cannot parse " + jwtish + " here", want: "cannot parse [REDACTED] here"},
		"short header unused":   {msg: "bad token abc", auth: []string{"abc"}, want: "bad token abc"},
		"JWT header and detail": {msg: "x " + jwtish, auth: []string{"Bearer " + jwtish}, want: "x [REDACTED]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := redact(tc.msg, tc.auth); got != tc.want {
				t.Errorf("redact = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	h.do(req{target: "/v1/credentials?profile=read", header: bearer(goodToken)})
	h.do(req{target: "/v1/credentials?profile=attacker-chosen-name", header: bearer(goodToken)})
	h.do(req{target: "/no/such/path/" + strings.Repeat("x", 10)})
	rec := h.do(req{target: "/metrics"})
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`tvm_vend_total{outcome="ok",profile="read"} 1`,
		`tvm_vend_total{outcome="ok",profile="unknown"} 1`,
		`tvm_http_requests_total{method="GET",route="/v1/credentials",status="200"} 2`,
		`tvm_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`tvm_http_request_duration_seconds_bucket{method="GET",route="/v1/credentials",le="+Inf"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, leak := range []string{"attacker-chosen-name", "/no/such/path", `tenant=`} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics contains unbounded label value %q", leak)
		}
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	tests := map[string]Options{
		"no verifier": {Vendor: &fakeVendor{}},
		"no vendor":   {Verifier: &fakeVerifier{}},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestWithoutMetrics(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Metrics = nil })
	if rec := h.do(req{target: "/v1/credentials", header: bearer(goodToken)}); rec.Code != 200 {
		t.Errorf("status = %d, want 200", rec.Code)
	}
	if rec := h.do(req{target: "/metrics"}); rec.Code != 404 {
		t.Errorf("GET /metrics without metrics = %d, want 404", rec.Code)
	}
}

// FuzzReadParams checks that any query and body either is refused with a 4xx
// *errs.Error or yields a well-formed profile and an in-range duration.
func FuzzReadParams(f *testing.F) {
	f.Add("profile=read&duration=900", "application/json", `{"profile":"readwrite"}`)
	f.Add("", "application/x-www-form-urlencoded", "profile=a&duration=43200")
	f.Add("duration=00001", "application/json", `{"duration_seconds":1e3}`)
	f.Add("profile=%00", "text/plain", "x")
	f.Add("", "application/json", `{"profile":"a","profile":"b"}`)
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/credentials", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set(echo.HeaderContentType, contentType)
		c := echo.New().NewContext(r, httptest.NewRecorder())
		p, err := readParams(c)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || statusOf(e.Kind) < 400 || statusOf(e.Kind) > 499 || e.Code != errs.CodeInvalidRequest {
				t.Fatalf("error %v is not a 4xx invalid_request", err)
			}
			return
		}
		if p.profile != "" && checkProfile(p.profile) != nil {
			t.Fatalf("accepted profile %q", p.profile)
		}
		if p.duration < 0 || p.duration > maxDurationSeconds*time.Second || p.duration%time.Second != 0 {
			t.Fatalf("accepted duration %v", p.duration)
		}
	})
}

func BenchmarkCredentials(b *testing.B) {
	e, err := New(Options{
		Verifier: &fakeVerifier{ids: map[string]*auth.Identity{goodToken: {Subject: "alice", Tenant: "1"}}},
		Vendor:   &fakeVendor{},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:  metrics.New([]string{"read"}),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/v1/credentials", nil)
		r.Header.Set("Authorization", "Bearer "+goodToken)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// TestKindStatus pins the HTTP status of every error kind: the statuses the
// README's error table documents.
func TestKindStatus(t *testing.T) {
	want := map[errs.Kind]int{
		errs.KindInternal:            500,
		errs.KindInvalidInput:        400,
		errs.KindUnsupportedMedia:    415,
		errs.KindMethodNotAllowed:    405,
		errs.KindTooLarge:            413,
		errs.KindHeaderTooLarge:      431,
		errs.KindUnauthenticated:     401,
		errs.KindForbidden:           403,
		errs.KindNotFound:            404,
		errs.KindRateLimited:         429,
		errs.KindUpstreamThrottled:   503,
		errs.KindUpstreamUnavailable: 503,
		errs.KindUpstreamDenied:      502,
		errs.KindUpstreamInvalid:     502,
		errs.KindUpstreamTimeout:     504,
		errs.KindNotReady:            503,
		errs.KindMisconfigured:       500,
		errs.KindOverloaded:          503,
	}
	for _, k := range errs.Kinds() {
		if _, mapped := kindStatus[k]; !mapped {
			t.Errorf("kind %s has no status", k)
		}
		if got := statusOf(k); got != want[k] {
			t.Errorf("statusOf(%s) = %d, want %d", k, got, want[k])
		}
	}
	if got := statusOf(errs.Kind(200)); got != 500 {
		t.Errorf("statusOf(unknown kind) = %d, want 500", got)
	}
}
