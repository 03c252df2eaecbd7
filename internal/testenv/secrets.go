package testenv

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Secrets is the set of secret values a test suite handled — JWTs and
// their signatures, access key ids, secret access keys, session tokens —
// to be looked for in the logs of the processes it ran (Leaks, CheckLog).
// Values are registered directly (Add, AddToken) or recorded from the
// traffic that passes through Proxy. The zero value is ready to use; a
// Secrets is safe for concurrent use.
//
// Beyond the values registered, any text shaped like a JWT (a compact JWS
// whose header and payload are base64url JSON objects) in a log is a leak:
// no log line of the project may carry one, whoever minted it.
type Secrets struct {
	mu     sync.Mutex
	values map[string]string // value -> what it is
}

// minSecretLen is the shortest value registered: shorter ones would match
// ordinary text.
const minSecretLen = 12

// Add registers values as secrets of the kind what ("session token",
// ...); values shorter than 12 characters are ignored.
func (s *Secrets) Add(what string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]string{}
	}
	for _, v := range values {
		if len(v) >= minSecretLen {
			s.values[v] = what
		}
	}
}

// AddToken registers a JWT and its signature segment.
func (s *Secrets) AddToken(jwt string) {
	jwt = strings.TrimSpace(jwt)
	s.Add("JWT", jwt)
	if i := strings.LastIndexByte(jwt, '.'); i >= 0 {
		s.Add("JWT signature", jwt[i+1:])
	}
}

// Len returns the number of values registered.
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

// jwtShape matches a compact JWS whose header and payload are base64url
// JSON objects ("eyJ" is the encoding of `{"`).
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`)

// Leaks returns one line per secret found in log, saying what it is and
// at most its last 4 characters (never the secret itself), then one per
// JWT-shaped text; nil when there is none.
func (s *Secrets) Leaks(log string) []string {
	s.mu.Lock()
	var out []string
	for v, what := range s.values {
		if strings.Contains(log, v) {
			out = append(out, fmt.Sprintf("a %s (…%s)", what, v[len(v)-4:]))
		}
	}
	s.mu.Unlock()
	sort.Strings(out)
	for _, m := range jwtShape.FindAllString(log, 3) {
		out = append(out, fmt.Sprintf("a JWT-shaped text (…%s)", m[len(m)-4:]))
	}
	return out
}

// CheckLog fails t for every leak (Leaks) in log, the output of name.
func (s *Secrets) CheckLog(t testing.TB, name, log string) {
	t.Helper()
	for _, l := range s.Leaks(log) {
		t.Errorf("the log of %s holds %s", name, l)
	}
}

// Secret-bearing parts of traffic: JSON members and XML elements of the
// credential shapes (the broker's answer, STS's, the dev IdP's mint).
var (
	jsonSecret = regexp.MustCompile(`"(AccessKeyId|SecretAccessKey|SessionToken|Token|token|access_token|id_token)"\s*:\s*"([^"\\]+)"`)
	xmlSecret  = regexp.MustCompile(`<(AccessKeyId|SecretAccessKey|SessionToken)>([^<]+)</`)
)

// kinds names what each member or element holds.
var kinds = map[string]string{
	"AccessKeyId": "access key id", "SecretAccessKey": "secret access key", "SessionToken": "session token",
	"Token": "session token", "token": "JWT", "access_token": "JWT", "id_token": "JWT",
}

// record registers the secrets of one exchange: the request's
// Authorization (a bearer or raw JWT) and X-Amz-Security-Token, and the
// credentials in the answer body.
func (s *Secrets) record(req *http.Request, body []byte) {
	for _, a := range req.Header.Values("Authorization") {
		if scheme, rest, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "bearer") {
			a = rest
		}
		if strings.Count(a, ".") == 2 && !strings.Contains(a, " ") {
			s.AddToken(a)
		}
	}
	s.Add("session token", req.Header.Values("X-Amz-Security-Token")...)
	for _, re := range []*regexp.Regexp{jsonSecret, xmlSecret} {
		for _, m := range re.FindAllSubmatch(body, -1) {
			if what := kinds[string(m[1])]; what == "JWT" {
				s.AddToken(string(m[2]))
			} else {
				s.Add(what, string(m[2]))
			}
		}
	}
}

// maxRecorded bounds the answer body the proxy reads for secrets.
const maxRecorded = 1 << 20

// Proxy starts, for the lifetime of t, a reverse proxy on loopback to
// target (a base URL) that records the secrets of every exchange through
// it, and returns its URL. The Host header is passed on unchanged, so that
// SigV4 signatures made for the proxy's address verify. Answers of up to
// 1 MiB are read for credentials; larger ones (S3 objects) only stream.
func (s *Secrets) Proxy(t testing.TB, target string) string {
	t.Helper()
	proxyURL, setTarget := s.LateProxy(t)
	setTarget(target)
	return proxyURL
}

// LateProxy is Proxy for a target known only once the proxy's URL is: a
// server started on port 0 with the proxy's URL as its own (an issuer, say),
// whose address its ready line reports. Until setTarget is called, every
// request is answered 502.
func (s *Secrets) LateProxy(t testing.TB) (proxyURL string, setTarget func(target string)) {
	t.Helper()
	var to atomic.Pointer[url.URL]
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(to.Load())
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: s.recordResponse,
		Transport:      &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		// A refused or dropped upstream is answered 502; it is what some
		// tests provoke (a process not listening yet, an outage).
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to.Load() == nil {
			http.Error(w, "testenv: the proxy's target is not known yet", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		rp.Transport.(*http.Transport).CloseIdleConnections()
	})
	return srv.URL, func(target string) {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		to.Store(u)
	}
}

// recordResponse records the secrets of one exchange (the proxy's
// ModifyResponse): the request's, and the answer's when it is at most
// maxRecorded bytes.
func (s *Secrets) recordResponse(resp *http.Response) error {
	if resp.ContentLength > maxRecorded {
		s.record(resp.Request, nil)
		return nil
	}
	orig := resp.Body
	body, err := io.ReadAll(io.LimitReader(orig, maxRecorded+1))
	if err != nil {
		return err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), orig), orig}
	if len(body) > maxRecorded {
		body = nil // a large answer (an S3 object) holds no credentials
	}
	s.record(resp.Request, body)
	return nil
}
