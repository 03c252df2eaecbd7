package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiIxIn0.c2lnbmF0dXJl"

// fakeBroker answers /v1/credentials with the responses in order (the last
// one repeats) and records what it was sent.
type fakeBroker struct {
	t         *testing.T
	srv       *httptest.Server
	mu        sync.Mutex
	responses []fakeResponse
	calls     int
	auth      []string
	queries   []url.Values
}

type fakeResponse struct {
	status int
	header map[string]string
	body   any // marshalled to JSON unless a string
}

func newFakeBroker(t *testing.T, responses ...fakeResponse) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{t: t, responses: responses}
	fb.srv = httptest.NewServer(http.HandlerFunc(fb.serve))
	t.Cleanup(fb.srv.Close)
	return fb
}

func (fb *fakeBroker) serve(w http.ResponseWriter, r *http.Request) {
	fb.mu.Lock()
	i := min(fb.calls, len(fb.responses)-1)
	fb.calls++
	fb.auth = append(fb.auth, r.Header.Get("Authorization"))
	fb.queries = append(fb.queries, r.URL.Query())
	resp := fb.responses[i]
	fb.mu.Unlock()
	if r.URL.Path != CredentialsPath || r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	if s, ok := resp.body.(string); ok {
		_, _ = w.Write([]byte(s))
		return
	}
	_ = json.NewEncoder(w).Encode(resp.body)
}

func (fb *fakeBroker) Calls() int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.calls
}

func credsBody(exp time.Time) map[string]any {
	return map[string]any{
		"Version": 1, "AccessKeyId": "ASIATESTKEY000000001", "SecretAccessKey": "secret",
		"SessionToken": "session", "Token": "session", "Expiration": exp.UTC().Format(time.RFC3339),
		"AccountId": "123456789012", "Tenant": "1", "Profile": "read",
	}
}

func okResponse(exp time.Time) fakeResponse {
	return fakeResponse{status: 200, body: credsBody(exp)}
}

func errResponse(status int, code, msg string, header map[string]string) fakeResponse {
	return fakeResponse{status: status, header: header, body: map[string]string{"code": code, "message": msg}}
}

// sleeps records the waits a Provider asks for without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func TestRetrieve(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	fb := newFakeBroker(t, okResponse(exp))
	p := New(fb.srv.URL, StaticToken(testJWT), func(o *Options) {
		o.Profile = "read"
		o.Duration = 20 * time.Minute
	})
	got, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	want := aws.Credentials{
		AccessKeyID: "ASIATESTKEY000000001", SecretAccessKey: "secret", SessionToken: "session",
		Source: ProviderSource, CanExpire: true, Expires: exp, AccountID: "123456789012",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Bearer " + testJWT}, fb.auth); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}
	wantQuery := url.Values{"profile": {"read"}, "duration": {"1200"}}
	if diff := cmp.Diff(wantQuery, fb.queries[0]); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestRetrieveTokenField(t *testing.T) {
	// A container-credentials style answer carries Token, not SessionToken.
	body := credsBody(time.Now().Add(time.Hour))
	delete(body, "SessionToken")
	body["Token"] = "container-token"
	fb := newFakeBroker(t, fakeResponse{status: 200, body: body})
	got, err := New(fb.srv.URL, StaticToken(testJWT)).Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if got.SessionToken != "container-token" {
		t.Errorf("SessionToken = %q, want container-token", got.SessionToken)
	}
}

func TestRetrievePathPrefix(t *testing.T) {
	fb := newFakeBroker(t, okResponse(time.Now().Add(time.Hour)))
	for name, u := range map[string]string{
		"bare":          fb.srv.URL,
		"trailingSlash": fb.srv.URL + "/",
		"fullPath":      fb.srv.URL + CredentialsPath,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(u, StaticToken(testJWT)).Retrieve(context.Background()); err != nil {
				t.Fatalf("Retrieve(%s): %v", u, err)
			}
		})
	}
}

func TestCachedOneBrokerCall(t *testing.T) {
	fb := newFakeBroker(t, okResponse(time.Now().Add(time.Hour)))
	cache := NewCached(fb.srv.URL, StaticToken(testJWT))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			c, err := cache.Retrieve(context.Background())
			if err == nil && c.AccessKeyID != "ASIATESTKEY000000001" {
				err = fmt.Errorf("wrong key id %q", c.AccessKeyID)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := fb.Calls(); got != 1 {
		t.Errorf("broker calls = %d, want 1", got)
	}
}

func TestCachedRefresh(t *testing.T) {
	for name, tc := range map[string]struct {
		ttl       time.Duration
		wantCalls int
	}{
		"outsideWindow": {ttl: time.Hour, wantCalls: 1},
		// Expiry within the 5-minute window (even after 20% jitter: 4m):
		// every Retrieve must go back to the broker.
		"insideWindow": {ttl: 3 * time.Minute, wantCalls: 3},
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, okResponse(time.Now().Add(tc.ttl)))
			cache := NewCached(fb.srv.URL, StaticToken(testJWT))
			for range 3 {
				if _, err := cache.Retrieve(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := fb.Calls(); got != tc.wantCalls {
				t.Errorf("broker calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := okResponse(now.Add(time.Hour))
	type check func(t *testing.T, waits []time.Duration)
	exact := func(want ...time.Duration) check {
		return func(t *testing.T, waits []time.Duration) {
			t.Helper()
			if diff := cmp.Diff(want, waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		}
	}
	for name, tc := range map[string]struct {
		responses   []fakeResponse
		maxAttempts int
		wantCalls   int
		wantStatus  int // 0 = success
		waits       check
	}{
		"retryAfterSeconds": {
			responses: []fakeResponse{
				errResponse(503, "upstream_throttled", "STS throttled", map[string]string{"Retry-After": "2"}),
				errResponse(429, "rate_limited", "slow down", map[string]string{"Retry-After": "1"}),
				ok,
			},
			wantCalls: 3,
			waits:     exact(2*time.Second, time.Second),
		},
		"retryAfterHTTPDate": {
			responses: []fakeResponse{
				errResponse(429, "rate_limited", "slow down",
					map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}),
				ok,
			},
			wantCalls: 2,
			waits:     exact(3 * time.Second),
		},
		"backoffWithJitter": {
			responses: []fakeResponse{
				errResponse(504, "upstream_timeout", "request timed out", nil),
				{status: 502, body: "<html>bad gateway</html>"}, // a proxy in front of the broker
				ok,
			},
			wantCalls: 3,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 2 {
					t.Fatalf("waits = %v, want 2", waits)
				}
				for i, w := range waits {
					hi := DefaultBaseBackoff << i
					if w < hi/2 || w > hi {
						t.Errorf("wait %d = %s, want within [%s, %s]", i, w, hi/2, hi)
					}
				}
			},
		},
		"exhausted": {
			responses:  []fakeResponse{errResponse(503, "upstream_unavailable", "down", map[string]string{"Retry-After": "1"})},
			wantCalls:  3,
			wantStatus: 503,
			waits:      exact(time.Second, time.Second),
		},
		"retryAfterBeyondCap": {
			responses:  []fakeResponse{errResponse(429, "rate_limited", "slow down", map[string]string{"Retry-After": "3600"}), ok},
			wantCalls:  1,
			wantStatus: 429,
			waits:      exact(),
		},
		// A configuration fault stays until an operator acts: one call.
		"misconfiguredNotRetried": {
			responses:  []fakeResponse{errResponse(500, "broker_misconfigured", "STS does not accept the broker's own AWS credentials", nil), ok},
			wantCalls:  1,
			wantStatus: 500,
			waits:      exact(),
		},
		"internalErrorNotRetried": {
			responses:  []fakeResponse{errResponse(500, "internal_error", "internal error", nil), ok},
			wantCalls:  1,
			wantStatus: 500,
			waits:      exact(),
		},
		"upstreamRefusalNotRetried": {
			responses:  []fakeResponse{errResponse(502, "upstream_invalid", "bad answer", nil), ok},
			wantCalls:  1,
			wantStatus: 502,
			waits:      exact(),
		},
		"retryAfterMarksRetryable": {
			responses: []fakeResponse{
				{status: 503, body: "busy", header: map[string]string{"Retry-After": "1"}},
				ok,
			},
			wantCalls: 2,
			waits:     exact(time.Second),
		},
		"clientErrorNotRetried": {
			responses:  []fakeResponse{errResponse(400, "invalid_request", "bad duration", nil), ok},
			wantCalls:  1,
			wantStatus: 400,
			waits:      exact(),
		},
		"singleAttempt": {
			responses:   []fakeResponse{errResponse(503, "upstream_unavailable", "down", nil), ok},
			maxAttempts: 1,
			wantCalls:   1,
			wantStatus:  503,
			waits:       exact(),
		},
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, tc.responses...)
			var s sleeps
			p := New(fb.srv.URL, StaticToken(testJWT), func(o *Options) {
				o.Sleep = s.Sleep
				o.MaxAttempts = tc.maxAttempts
			})
			p.now = func() time.Time { return now }
			_, err := p.Retrieve(context.Background())
			if got := fb.Calls(); got != tc.wantCalls {
				t.Errorf("broker calls = %d, want %d", got, tc.wantCalls)
			}
			tc.waits(t, s.d)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Retrieve: %v", err)
				}
				return
			}
			var be *BrokerError
			if !errors.As(err, &be) || be.Status != tc.wantStatus {
				t.Fatalf("err = %v, want *BrokerError with status %d", err, tc.wantStatus)
			}
		})
	}
}

// failingClient fails every request with a network error.
type failingClient struct{ calls atomic.Int32 }

func (f *failingClient) Do(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, &url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: errors.New("connection refused")}
}

func TestUnreachableRetried(t *testing.T) {
	fc := &failingClient{}
	var s sleeps
	p := New("http://127.0.0.1:1", StaticToken(testJWT), func(o *Options) {
		o.HTTPClient = fc
		o.Sleep = s.Sleep
		o.MaxAttempts = 4
	})
	_, err := p.Retrieve(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	if got := fc.calls.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if len(s.d) != 3 {
		t.Errorf("waits = %v, want 3", s.d)
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	var s sleeps
	p := New(srv.URL, StaticToken(testJWT), func(o *Options) {
		o.Timeout = 20 * time.Millisecond
		o.MaxAttempts = 2
		o.Sleep = s.Sleep
	})
	_, err := p.Retrieve(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want *UnreachableError wrapping context.DeadlineExceeded", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

func TestCancelledContextNotRetried(t *testing.T) {
	fc := &failingClient{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := New("http://127.0.0.1:1", StaticToken(testJWT), func(o *Options) { o.HTTPClient = fc })
	if _, err := p.Retrieve(ctx); err == nil {
		t.Fatal("Retrieve succeeded with a cancelled context")
	}
	if got := fc.calls.Load(); got > 1 {
		t.Errorf("attempts = %d, want at most 1", got)
	}
}

func TestErrorClasses(t *testing.T) {
	for name, tc := range map[string]struct {
		resp     fakeResponse
		check    func(error) bool
		wantCode string
		wantMsg  string
	}{
		"invalidToken": {
			resp: errResponse(401, "invalid_token", "token expired", nil),
			check: func(err error) bool {
				var e *InvalidTokenError
				return errors.As(err, &e) && e.Code == "invalid_token" && e.Message == "token expired"
			},
		},
		"invalidTenant": {
			resp: errResponse(401, "invalid_tenant", "tenant claim fails the pattern", nil),
			check: func(err error) bool {
				var e *InvalidTokenError
				return errors.As(err, &e) && e.Code == "invalid_tenant"
			},
		},
		"forbidden": {
			resp: errResponse(403, "forbidden", "profile not permitted", nil),
			check: func(err error) bool {
				var e *ForbiddenError
				return errors.As(err, &e) && e.Code == "forbidden" && e.Message == "profile not permitted"
			},
		},
		"notFound": {
			resp: errResponse(404, "profile_not_found", "no such profile", nil),
			check: func(err error) bool {
				var e *BrokerError
				return errors.As(err, &e) && e.Status == 404 && e.Code == "profile_not_found" && !e.Temporary()
			},
		},
		"upstream": {
			resp: errResponse(502, "upstream_access_denied", "STS refused AssumeRole", nil),
			check: func(err error) bool {
				var e *BrokerError
				return errors.As(err, &e) && e.Status == 502 && e.Code == "upstream_access_denied" && !e.Temporary()
			},
		},
		"nonJSONError": {
			resp: fakeResponse{status: 500, body: "<html>oops</html>"},
			check: func(err error) bool {
				var e *BrokerError
				return errors.As(err, &e) && e.Status == 500 && e.Code == "" && e.Message == "Internal Server Error"
			},
		},
		"echoedTokenScrubbed": {
			resp: errResponse(401, "invalid_token", "bad token "+testJWT, nil),
			check: func(err error) bool {
				var e *InvalidTokenError
				return errors.As(err, &e) && e.Message == "bad token [redacted]"
			},
		},
		"echoedTokenInCodeScrubbed": {
			resp: errResponse(500, "bad:"+testJWT, "", nil),
			check: func(err error) bool {
				var e *BrokerError
				return errors.As(err, &e) && e.Code == "bad:[redacted]"
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, tc.resp)
			p := New(fb.srv.URL, StaticToken(testJWT), func(o *Options) { o.MaxAttempts = 1 })
			_, err := p.Retrieve(context.Background())
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %#v (%v): wrong class or fields", err, err)
			}
			if strings.Contains(err.Error(), testJWT) {
				t.Errorf("error message contains the token: %v", err)
			}
		})
	}
}

// TestRedirectNotFollowed: no redirect is followed, whatever the client. A
// caller's own *http.Client (needed to trust a private CA) used to follow
// Go's default policy, which keeps Authorization for the same host name, so
// a 307 from https://broker to http://broker sent the JWT in clear past
// ValidateBrokerURL's https rule.
func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Bool
	var leaked atomic.Value
	target := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		followed.Store(true)
		leaked.Store(r.Header.Get("Authorization"))
	}))
	defer target.Close()
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+CredentialsPath, http.StatusTemporaryRedirect)
	})
	plain := httptest.NewServer(redirect)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(redirect)
	defer tlsSrv.Close()
	for name, tc := range map[string]struct {
		url    string
		client HTTPClient
	}{
		"defaultClient": {url: plain.URL},
		// tlsSrv.Client() trusts the test CA and has Go's default redirect
		// policy, like a caller's client for a private CA.
		"callersClientHTTPSToHTTP": {url: tlsSrv.URL, client: tlsSrv.Client()},
		"callersClientWithTimeout": {url: tlsSrv.URL, client: &http.Client{Transport: tlsSrv.Client().Transport, Timeout: time.Minute}},
	} {
		t.Run(name, func(t *testing.T) {
			followed.Store(false)
			leaked.Store("")
			_, err := New(tc.url, StaticToken(testJWT), func(o *Options) { o.HTTPClient = tc.client }).Retrieve(context.Background())
			var be *BrokerError
			if !errors.As(err, &be) || be.Status != http.StatusTemporaryRedirect {
				t.Fatalf("err = %v, want *BrokerError 307", err)
			}
			if followed.Load() {
				t.Errorf("redirect was followed (Authorization sent: %t): the token left for another URL", leaked.Load() != "")
			}
		})
	}
}

func TestInvalidCredentialsRefused(t *testing.T) {
	future := time.Now().Add(time.Hour)
	without := func(keys ...string) map[string]any {
		b := credsBody(future)
		for _, k := range keys {
			delete(b, k)
		}
		return b
	}
	for name, body := range map[string]any{
		"empty":          map[string]any{},
		"noKeyID":        without("AccessKeyId"),
		"noSecret":       without("SecretAccessKey"),
		"noSessionToken": without("SessionToken", "Token"),
		"noExpiration":   without("Expiration"),
		"expired":        credsBody(time.Now().Add(-time.Minute)),
		"emptyStrings": map[string]any{"AccessKeyId": "", "SecretAccessKey": "", "SessionToken": "",
			"Expiration": future.Format(time.RFC3339)},
		"notJSON": "AccessKeyId=ASIA",
		"array":   []any{credsBody(future)},
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, fakeResponse{status: 200, body: body})
			c, err := New(fb.srv.URL, StaticToken(testJWT)).Retrieve(context.Background())
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("err = %v, want ErrInvalidResponse", err)
			}
			if c.HasKeys() {
				t.Errorf("credentials returned with the error: %+v", c)
			}
			if fb.Calls() != 1 {
				t.Errorf("broker calls = %d, want 1 (no retry of a bad answer)", fb.Calls())
			}
		})
	}
}

func TestBrokerURLValidation(t *testing.T) {
	orig := lookupHost
	t.Cleanup(func() { lookupHost = orig })
	lookupHost = func(string) ([]string, error) { return []string{"127.0.0.1", "::1"}, nil } // a typical /etc/hosts
	for name, tc := range map[string]struct {
		url      string
		insecure bool
		ok       bool
	}{
		"loopbackV4":        {url: "http://127.0.0.1:8080", ok: true},
		"loopbackV4Range":   {url: "http://127.8.9.10:8080", ok: true},
		"loopbackV6":        {url: "http://[::1]:8080", ok: true},
		"localhost":         {url: "http://localhost:8080", ok: true},
		"localhostUpper":    {url: "http://LOCALHOST:8080/prefix", ok: true},
		"httpsAnywhere":     {url: "https://broker.example.com", ok: true},
		"httpRemote":        {url: "http://broker.example.com"},
		"httpPrivateIP":     {url: "http://10.0.0.5:8080"},
		"httpLookalike":     {url: "http://localhost.example.com"},
		"httpLoopbackLabel": {url: "http://127.0.0.1.nip.io"},
		"httpRemoteAllowed": {url: "http://broker.internal:8080", insecure: true, ok: true},
		"ftp":               {url: "ftp://127.0.0.1"},
		"noHost":            {url: "http:///v1/credentials"},
		"relative":          {url: "/v1/credentials"},
		"userinfo":          {url: "https://user:pass@broker.example.com"},
		"query":             {url: "https://broker.example.com/?x=1"},
		"garbage":           {url: "http://[::1"},
	} {
		t.Run(name, func(t *testing.T) {
			p := New(tc.url, StaticToken(testJWT), func(o *Options) { o.AllowInsecureHTTP = tc.insecure })
			if got := p.Err() == nil; got != tc.ok {
				t.Fatalf("New(%q).Err() = %v, want ok=%v", tc.url, p.Err(), tc.ok)
			}
			if !tc.ok {
				if _, err := p.Retrieve(context.Background()); err == nil {
					t.Error("Retrieve succeeded with an invalid URL")
				}
				if strings.Contains(p.Err().Error(), "pass") {
					t.Errorf("error leaks the URL password: %v", p.Err())
				}
			}
		})
	}
}

// TestLocalhostMustResolveToLoopback: like aws-sdk-go-v2's isAllowedHost,
// plain http to "localhost" is allowed only when every address the name
// resolves to is a loopback address.
func TestLocalhostMustResolveToLoopback(t *testing.T) {
	orig := lookupHost
	t.Cleanup(func() { lookupHost = orig })
	for name, tc := range map[string]struct {
		addrs   []string
		err     error
		ok      bool
		wantErr string
	}{
		"loopbackOnly": {addrs: []string{"127.0.0.1", "::1"}, ok: true},
		"oneRemote":    {addrs: []string{"127.0.0.1", "10.1.2.3"}, wantErr: "loopback host"},
		"remoteOnly":   {addrs: []string{"192.0.2.7"}, wantErr: "loopback host"},
		"notAnIP":      {addrs: []string{"fe80::1%eth0"}, wantErr: "loopback host"},
		"noAddress":    {addrs: nil, wantErr: "loopback host"},
		"lookupFails":  {err: errors.New("no such host"), wantErr: "resolving localhost: no such host"},
	} {
		t.Run(name, func(t *testing.T) {
			var looked []string
			lookupHost = func(host string) ([]string, error) {
				looked = append(looked, host)
				return tc.addrs, tc.err
			}
			err := New("http://localhost:8080", StaticToken(testJWT)).Err()
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Err() = %v, want ok=%v or an error containing %q", err, tc.ok, tc.wantErr)
			}
			if diff := cmp.Diff([]string{"localhost"}, looked); diff != "" {
				t.Errorf("lookups (-want +got):\n%s", diff)
			}
			// Opting in skips the check; https never needs it.
			looked = nil
			if err := New("http://localhost:8080", StaticToken(testJWT), func(o *Options) { o.AllowInsecureHTTP = true }).Err(); err != nil {
				t.Errorf("AllowInsecureHTTP: %v", err)
			}
			if err := New("https://localhost:8443", StaticToken(testJWT)).Err(); err != nil {
				t.Errorf("https: %v", err)
			}
			if len(looked) != 0 {
				t.Errorf("lookups without plain http: %v", looked)
			}
		})
	}
	// Other names are never looked up: DNS cannot make them loopback.
	lookupHost = func(string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	if err := New("http://tvm.localtest.me:8080", StaticToken(testJWT)).Err(); err == nil {
		t.Error("a name resolving to 127.0.0.1 was accepted for plain http")
	}
}

func TestNilTokenSource(t *testing.T) {
	if err := New("http://127.0.0.1:8080", nil).Err(); err == nil {
		t.Fatal("New accepted a nil TokenSource")
	}
}

func TestBackoffCapped(t *testing.T) {
	p := New("http://127.0.0.1:1", StaticToken(testJWT), func(o *Options) {
		o.MaxAttempts = 100
		o.MaxBackoff = 3 * time.Second
	})
	unreachable := &UnreachableError{Err: errors.New("refused")}
	for attempt := 1; attempt < 100; attempt++ {
		d, ok := p.retryDelay(context.Background(), unreachable, attempt)
		if !ok || d < DefaultBaseBackoff/2 || d > 3*time.Second {
			t.Fatalf("attempt %d: delay %s, retry %v", attempt, d, ok)
		}
	}
	if _, ok := p.retryDelay(context.Background(), unreachable, 100); ok {
		t.Error("retry after the last attempt")
	}
}

func TestBadTokenNotSent(t *testing.T) {
	for name, ts := range map[string]TokenSource{
		"empty":   StaticToken(""),
		"newline": StaticToken("abc\ndef"),
		"cr":      StaticToken("abc\rdef"),
		"failing": TokenFunc(func(context.Context) (string, error) { return "", errors.New("idp down") }),
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, okResponse(time.Now().Add(time.Hour)))
			if _, err := New(fb.srv.URL, ts).Retrieve(context.Background()); err == nil {
				t.Fatal("Retrieve succeeded")
			}
			if fb.Calls() != 0 {
				t.Errorf("broker called %d times with a bad token", fb.Calls())
			}
		})
	}
}

func TestTokenFileRotation(t *testing.T) {
	fb := newFakeBroker(t, okResponse(time.Now().Add(time.Hour)))
	path := filepath.Join(t.TempDir(), "token")
	write := func(tok string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	write("token-one", base)
	p := New(fb.srv.URL, FileToken(path))
	for range 2 {
		if _, err := p.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	write("token-two", base.Add(time.Second)) // same size, new mtime
	if _, err := p.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Replace the file (new inode) keeping size and mtime: still noticed.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("token-tri\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, base.Add(time.Second), base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Rewritten in place within one timestamp tick (coarse-mtime file
	// systems): same inode, size and mtime. The SDKs re-read the file on
	// every retrieval, and so must FileToken.
	write("token-for", base.Add(time.Second))
	if _, err := p.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"Bearer token-one", "Bearer token-one", "Bearer token-two", "Bearer token-tri", "Bearer token-for"}
	if diff := cmp.Diff(want, fb.auth); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
}

func TestFileToken(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		want    string
		wantErr bool
	}{
		"plain":          {content: "abc", want: "abc"},
		"trailingLF":     {content: "abc\n", want: "abc"},
		"trailingCRLF":   {content: "abc\r\n", want: "abc"},
		"twoNewlines":    {content: "abc\n\n", wantErr: true},
		"inner LF":       {content: "ab\ncd", wantErr: true},
		"inner CR":       {content: "ab\rcd", wantErr: true},
		"empty":          {content: "", wantErr: true},
		"onlyNewline":    {content: "\n", wantErr: true},
		"controlChar":    {content: "ab\x00cd", wantErr: true},
		"tooLarge":       {content: strings.Repeat("a", maxTokenFileBytes+1), wantErr: true},
		"largestAllowed": {content: strings.Repeat("a", maxTokenFileBytes), want: strings.Repeat("a", maxTokenFileBytes)},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := FileToken(path).Token(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Token() error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Token() = %q, want %q", got, tc.want)
			}
			if secret := strings.TrimSpace(tc.content); err != nil && secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error message contains the token: %v", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, err := FileToken(filepath.Join(t.TempDir(), "none")).Token(context.Background()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want os.ErrNotExist", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, tc := range map[string]struct {
		in   string
		want time.Duration
	}{
		"empty":       {"", 0},
		"seconds":     {"7", 7 * time.Second},
		"spaces":      {" 7 ", 7 * time.Second},
		"zero":        {"0", 0},
		"negative":    {"-3", 0},
		"huge":        {"99999999999", 24 * time.Hour},
		"httpDate":    {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		"pastDate":    {now.Add(-time.Minute).Format(http.TimeFormat), 0},
		"garbage":     {"soon", 0},
		"fractional":  {"1.5", 0},
		"rfc850Date":  {now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT"), time.Minute},
		"overflowInt": {"999999999999999999999999", 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "-1", "120", "Fri, 02 Jan 2026 03:04:05 GMT", "x", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %s", s, d)
		}
	})
}

// FuzzParseCredentials: any broker answer is either complete, unexpired
// credentials or an error — never empty credentials as success.
func FuzzParseCredentials(f *testing.F) {
	seed, _ := json.Marshal(credsBody(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	f.Add(seed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","Expiration":"2001-01-01T00:00:00Z"}`))
	f.Add([]byte(`null`))
	p := New("http://127.0.0.1:1", StaticToken(testJWT))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.now = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := p.parseCredentials(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("error %v does not wrap ErrInvalidResponse", err)
			}
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || !c.CanExpire || !c.Expires.After(now) {
			t.Fatalf("incomplete credentials accepted: %+v", c)
		}
	})
}

func BenchmarkCachedRetrieve(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(credsBody(time.Now().Add(time.Hour)))
	}))
	defer srv.Close()
	cache := NewCached(srv.URL, StaticToken(testJWT))
	ctx := context.Background()
	for b.Loop() {
		if _, err := cache.Retrieve(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRetrieve(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(credsBody(time.Now().Add(time.Hour)))
	}))
	defer srv.Close()
	p := New(srv.URL, StaticToken(testJWT))
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Retrieve(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTrimToken: a token read from a file is either refused or sendable as
// one header value, and differs from the file only by one trailing newline.
func FuzzTrimToken(f *testing.F) {
	for _, s := range []string{"abc", "abc\n", "abc\r\n", "a\nb", "\n", "", "abc\n\n", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := trimToken(s)
		if err != nil {
			return
		}
		if tok == "" || strings.ContainsAny(tok, "\r\n") {
			t.Fatalf("trimToken(%q) = %q accepted", s, tok)
		}
		if tok != s && tok+"\n" != s && tok+"\r\n" != s {
			t.Fatalf("trimToken(%q) = %q changed more than one newline", s, tok)
		}
	})
}

// TestBrokerErrorTemporary: the client retries what the broker marks
// retryable (its code, or Retry-After), and a gateway failure from a proxy
// in front of it; nothing else.
func TestBrokerErrorTemporary(t *testing.T) {
	for name, tc := range map[string]struct {
		e    BrokerError
		want bool
	}{
		"rate limited":            {BrokerError{Status: 429, Code: "rate_limited", RetryAfter: time.Second}, true},
		"rate limited, no header": {BrokerError{Status: 429, Code: "rate_limited"}, true},
		"throttled":               {BrokerError{Status: 503, Code: "upstream_throttled", RetryAfter: time.Second}, true},
		"unavailable":             {BrokerError{Status: 503, Code: "upstream_unavailable"}, true},
		"not ready":               {BrokerError{Status: 503, Code: "not_ready"}, true},
		"overloaded":              {BrokerError{Status: 503, Code: "overloaded"}, true},
		"timeout":                 {BrokerError{Status: 504, Code: "upstream_timeout"}, true},
		"misconfigured":           {BrokerError{Status: 500, Code: "broker_misconfigured"}, false},
		"internal":                {BrokerError{Status: 500, Code: "internal_error"}, false},
		"access denied":           {BrokerError{Status: 502, Code: "upstream_access_denied"}, false},
		"policy invalid":          {BrokerError{Status: 502, Code: "upstream_policy_invalid"}, false},
		"unknown code":            {BrokerError{Status: 503, Code: "something_new"}, false},
		"unknown code, header":    {BrokerError{Status: 503, Code: "something_new", RetryAfter: time.Second}, true},
		// API Gateway's throttling answer: 429, no code, no Retry-After.
		"proxy 429":            {BrokerError{Status: 429}, true},
		"proxy 502":            {BrokerError{Status: 502}, true},
		"proxy 503":            {BrokerError{Status: 503}, true},
		"proxy 504":            {BrokerError{Status: 504}, true},
		"proxy 500":            {BrokerError{Status: 500}, false},
		"bad request":          {BrokerError{Status: 400, Code: "invalid_request"}, false},
		"4xx with Retry-After": {BrokerError{Status: 404, Code: "not_found", RetryAfter: time.Second}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.e.Temporary(); got != tc.want {
				t.Errorf("Temporary() = %v, want %v", got, tc.want)
			}
		})
	}
}
