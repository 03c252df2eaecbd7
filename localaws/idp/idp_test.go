package idp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func newServer(t *testing.T, now func() time.Time) (*Provider, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	p, err := New(Options{Issuer: "http://" + srv.Listener.Addr().String(), Key: testKey, Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

func mint(t *testing.T, srv *httptest.Server, body string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(srv.URL+TokenPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestDiscoveryJWKSAndMint(t *testing.T) {
	p, srv := newServer(t, nil)
	var disc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(get(t, srv.URL+DiscoveryPath), &disc); err != nil {
		t.Fatal(err)
	}
	if disc.Issuer != srv.URL || disc.JWKSURI != srv.URL+JWKSPath || len(disc.Algs) != 1 || disc.Algs[0] != "RS256" {
		t.Errorf("discovery %+v", disc)
	}
	kf, err := keyfunc.NewJWKSetJSON(get(t, disc.JWKSURI))
	if err != nil {
		t.Fatal(err)
	}
	status, out := mint(t, srv, `{"tenant":"1","subject":"alice","ttl_seconds":600,"claims":{"scope":"read"}}`)
	if status != 200 {
		t.Fatalf("mint: %d %v", status, out)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(srv.URL), jwt.WithAudience(DefaultAudience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt()).ParseWithClaims(out["token"], claims, kf.Keyfunc)
	if err != nil || !tok.Valid {
		t.Fatalf("verify: %v", err)
	}
	if tok.Header["kid"] != p.KeyID() || claims["sub"] != "alice" || claims[TenantClaim] != "1" || claims["scope"] != "read" || claims["jti"] == "" {
		t.Errorf("header %v claims %v", tok.Header, claims)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if exp.Sub(iat.Time) != 10*time.Minute {
		t.Errorf("ttl %v", exp.Sub(iat.Time))
	}
	if at, err := time.Parse(time.RFC3339, out["expires_at"]); err != nil || !at.Equal(exp.Time) {
		t.Errorf("expires_at %q vs exp %v", out["expires_at"], exp)
	}
}

func TestMintErrors(t *testing.T) {
	_, srv := newServer(t, nil)
	cases := map[string]string{
		"no subject":     `{"tenant":"1"}`,
		"unknown field":  `{"subject":"a","colour":"blue"}`,
		"reserved claim": `{"subject":"a","claims":{"iss":"evil"}}`,
		"ttl too long":   `{"subject":"a","ttl_seconds":86401}`,
		"negative ttl":   `{"subject":"a","ttl_seconds":-5}`,
		"not json":       `{`,
		"two objects":    `{"subject":"a"}{"subject":"b"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if status, out := mint(t, srv, body); status != 400 || out["error"] != "invalid_request" {
				t.Errorf("%d %v", status, out)
			}
		})
	}
	// The dev IdP mints what it is asked, even a wildcard tenant.
	if status, _ := mint(t, srv, `{"tenant":"*","subject":"mallory"}`); status != 200 {
		t.Errorf("wildcard tenant refused: %d", status)
	}
}

func TestLoopbackGuard(t *testing.T) {
	p, err := New(Options{Issuer: "http://127.0.0.1:4566", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		remote, host string
		want         int
	}{
		"ipv4 loopback":       {"127.0.0.1:5555", "127.0.0.1:4566", 200},
		"other loopback":      {"127.0.0.2:5555", "localhost:4566", 200},
		"ipv6 loopback":       {"[::1]:5555", "[::1]:4566", 200},
		"dot localhost":       {"127.0.0.1:5555", "tvm.localhost", 200},
		"remote client":       {"10.0.0.5:5555", "127.0.0.1:4566", 403},
		"dns rebinding":       {"127.0.0.1:5555", "evil.example.com:4566", 403},
		"rebinding no port":   {"127.0.0.1:5555", "evil.example.com", 403},
		"localhost lookalike": {"127.0.0.1:5555", "localhost.evil.com", 403},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(`{"subject":"a","tenant":"1"}`))
			r.RemoteAddr, r.Host = c.remote, c.host
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("status %d, want %d: %s", w.Code, c.want, w.Body)
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	p, _ := New(Options{Issuer: "http://127.0.0.1:4566/", Key: testKey})
	if p.Issuer() != "http://127.0.0.1:4566" {
		t.Errorf("issuer %q", p.Issuer())
	}
	cases := map[string]struct {
		method, path string
		want         int
	}{
		"post jwks":  {http.MethodPost, JWKSPath, 405},
		"get token":  {http.MethodGet, TokenPath, 405},
		"head disc":  {http.MethodHead, DiscoveryPath, 200},
		"other path": {http.MethodGet, "/.well-known/other", 404},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
			if w.Code != c.want {
				t.Errorf("status %d, want %d", w.Code, c.want)
			}
		})
	}
}

func TestNewAndKeys(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:4566", "ftp://x", "http://x/?q=1"} {
		if _, err := New(Options{Issuer: bad, Key: testKey}); err == nil {
			t.Errorf("issuer %q accepted", bad)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := New(Options{Issuer: "http://x", Key: small}); err == nil {
		t.Error("1024-bit key accepted")
	}
	dir := t.TempDir()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(testKey)
	files := map[string]struct {
		data []byte
		ok   bool
	}{
		"pkcs1.pem": {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)}), true},
		"pkcs8.pem": {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), true},
		"cert.pem":  {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), false},
		"junk.pem":  {[]byte("not pem"), false},
	}
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, f.data, 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKey(path)
			if (err == nil) != f.ok {
				t.Fatalf("LoadKey: %v", err)
			}
			if f.ok && !k.Equal(testKey) {
				t.Error("different key loaded")
			}
		})
	}
	// The same key always yields the same kid.
	a, _ := New(Options{Issuer: "http://a", Key: testKey})
	b, _ := New(Options{Issuer: "http://b", Key: testKey})
	if a.KeyID() != b.KeyID() || a.KeyID() == "" {
		t.Error("kid is not a stable thumbprint")
	}
}

func FuzzIsLoopbackHost(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1:80", "[::1]:1", "evil.com", "localhost.evil.com", "", "[", "a.localhost."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if IsLoopbackHost(host) {
			h := strings.ToLower(host)
			if !strings.Contains(h, "localhost") && !strings.Contains(h, "127.") && !strings.Contains(h, ":") {
				t.Fatalf("%q considered loopback", host)
			}
		}
	})
}

func BenchmarkMint(b *testing.B) {
	p, _ := New(Options{Issuer: "http://127.0.0.1:4566", Key: testKey})
	for b.Loop() {
		if _, _, err := p.Mint(MintRequest{Tenant: "1", Subject: "alice"}); err != nil {
			b.Fatal(err)
		}
	}
}
