package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

// jwksAuth is a verifier configuration on a JWK Set URL.
func jwksAuth(url string) config.Auth {
	return config.Auth{
		Issuer:               testIssuer,
		Audiences:            []string{testAudience, "other-audience"},
		JWKSURL:              url,
		JWKSRefreshRateLimit: time.Hour,
	}
}

func newTestVerifier(t testing.TB, cfg config.Auth, client *http.Client) *Verifier {
	t.Helper()
	v, err := New(context.Background(), cfg, Options{HTTPClient: client, Clock: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// standardServer serves the RSA, EC and Ed25519 test keys.
func standardServer(t testing.TB) *jwksServer {
	keys(t)
	return newJWKSServer(t,
		rsaJWK("rsa-1", "RS256", &rsaKey.PublicKey),
		ecJWK("ec-1", &ecKey.PublicKey),
		edJWK("ed-1", edKey.Public().(ed25519.PublicKey)),
	)
}

func checkErr(t *testing.T, err error, kind errs.Kind, code, msg string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *errs.Error", err, err)
	}
	if e.Kind != kind || e.Code != code || e.Message != msg {
		t.Fatalf("got %s %s %q, want %s %s %q (cause: %v)", e.Kind, e.Code, e.Message, kind, code, msg, e.Cause)
	}
}

func TestVerifyRejects(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	rs := func(c jwt.MapClaims) string { return "Bearer " + sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, c) }
	none := sign(t, jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, claims())
	hsWithPEM := sign(t, jwt.SigningMethodHS256, "rsa-1", rsaPublicPEM, claims())
	valid := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	parts := strings.Split(valid, ".")
	const (
		tok = errs.CodeInvalidToken
		ten = errs.CodeInvalidTenant
		u   = errs.KindUnauthenticated
	)
	tests := map[string]struct {
		header string
		kind   errs.Kind
		code   string
		msg    string
	}{
		"missing header":          {"", u, tok, "missing bearer token"},
		"bearer without token":    {"Bearer", u, tok, "missing bearer token"},
		"bearer space only":       {"Bearer ", u, tok, "missing bearer token"},
		"other scheme":            {"Basic dXNlcjpwYXNz", u, tok, "unsupported authorization scheme"},
		"two segments":            {"Bearer " + parts[0] + "." + parts[1], u, tok, "malformed token"},
		"four segments":           {"Bearer " + valid + ".x", u, tok, "malformed token"},
		"garbage segments":        {"Bearer a.b.c", u, tok, "malformed token"},
		"double space":            {"Bearer  " + valid, u, tok, "malformed token"},
		"space inside":            {"Bearer " + parts[0] + ". " + parts[1] + "." + parts[2], u, tok, "malformed token"},
		"CRLF inside":             {"Bearer " + valid + "\r\nX-Evil: 1", u, tok, "malformed token"},
		"LF at end raw":           {valid + "\n", u, tok, "malformed token"},
		"tab inside":              {"Bearer\t" + valid, u, tok, "malformed token"},
		"padding":                 {"Bearer " + parts[0] + "=." + parts[1] + "." + parts[2], u, tok, "malformed token"},
		"alg none":                {"Bearer " + none, u, tok, "algorithm not allowed"},
		"alg none raw":            {none, u, tok, "algorithm not allowed"},
		"HS256 with RSA PEM key":  {"Bearer " + hsWithPEM, u, tok, "algorithm not allowed"},
		"RS384 not allowed":       {"Bearer " + sign(t, jwt.SigningMethodRS384, "rsa-1", rsaKey, claims()), u, tok, "algorithm not allowed"},
		"bad signature":           {"Bearer " + sign(t, jwt.SigningMethodRS256, "rsa-1", rsaOther, claims()), u, tok, "signature invalid"},
		"tampered payload":        {"Bearer " + parts[0] + "." + b64([]byte(`{"sub":"mallory"}`)) + "." + parts[2], u, tok, "signature invalid"},
		"crit header":             {"Bearer " + signHeader(t, map[string]any{"kid": "rsa-1", "crit": []string{"b64"}, "b64": false}), u, tok, "malformed token"},
		"kid not a string":        {"Bearer " + signHeader(t, map[string]any{"kid": 7}), u, tok, "malformed token"},
		"EC key for RS256 kid":    {"Bearer " + sign(t, jwt.SigningMethodRS256, "ec-1", rsaKey, claims()), u, tok, "no matching signing key"},
		"expired":                 {rs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), u, tok, "token expired"},
		"not yet valid":           {rs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), u, tok, "token not yet valid"},
		"issued in the future":    {rs(with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })), u, tok, "token not yet valid"},
		"missing exp":             {rs(with(func(c jwt.MapClaims) { delete(c, "exp") })), u, tok, "missing required claim"},
		"exp not a number":        {rs(with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), u, tok, "malformed token"},
		"wrong issuer":            {rs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })), u, tok, "invalid issuer"},
		"missing issuer":          {rs(with(func(c jwt.MapClaims) { delete(c, "iss") })), u, tok, "missing required claim"},
		"wrong audience":          {rs(with(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), u, tok, "invalid audience"},
		"missing audience":        {rs(with(func(c jwt.MapClaims) { delete(c, "aud") })), u, tok, "missing required claim"},
		"missing subject":         {rs(with(func(c jwt.MapClaims) { delete(c, "sub") })), u, tok, "invalid subject claim"},
		"empty subject":           {rs(with(func(c jwt.MapClaims) { c["sub"] = "" })), u, tok, "invalid subject claim"},
		"subject control char":    {rs(with(func(c jwt.MapClaims) { c["sub"] = "al\x00ice" })), u, tok, "invalid subject claim"},
		"subject too long":        {rs(with(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("s", 257) })), u, tok, "invalid subject claim"},
		"scope not a string":      {rs(with(func(c jwt.MapClaims) { c["scope"] = 5 })), u, tok, "invalid scope claim"},
		"scp array of numbers":    {rs(with(func(c jwt.MapClaims) { c["scp"] = []any{1} })), u, tok, "invalid scope claim"},
		"missing tenant":          {rs(with(func(c jwt.MapClaims) { delete(c, "tenant_id") })), u, ten, "tenant claim missing"},
		"tenant star":             {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "*" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant question":         {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "?" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant quote":            {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = `a"b` })), u, ten, "tenant does not match the tenant pattern"},
		"tenant dollar":           {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "${aws:username}" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant slash":            {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "a/b" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant wildcard suffix":  {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "1*" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant control char":     {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "acme\n" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant NUL":              {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "ac\x00me" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant 65 chars":         {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = strings.Repeat("a", 65) })), u, ten, "tenant does not match the tenant pattern"},
		"tenant empty":            {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = "" })), u, ten, "tenant does not match the tenant pattern"},
		"tenant float":            {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = 1.5 })), u, ten, "tenant claim is not a string"},
		"tenant exponent":         {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = json.Number("1e3") })), u, ten, "tenant claim is not a string"},
		"tenant negative integer": {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = -1 })), u, ten, "tenant claim is not a string"},
		"tenant integer":          {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = 7 })), u, ten, "tenant claim is not a string"},
		"tenant integral float":   {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = json.Number("7.0") })), u, ten, "tenant claim is not a string"},
		"tenant 1e2":              {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = json.Number("1e2") })), u, ten, "tenant claim is not a string"},
		"tenant minus zero":       {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = json.Number("-0") })), u, ten, "tenant claim is not a string"},
		"tenant number 42":        {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = json.Number("42") })), u, ten, "tenant claim is not a string"},
		"tenant bool":             {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = true })), u, ten, "tenant claim is not a string"},
		"tenant array":            {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = []string{"acme"} })), u, ten, "tenant claim is not a string"},
		"tenant object":           {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = map[string]any{"id": "acme"} })), u, ten, "tenant claim is not a string"},
		"tenant null":             {rs(with(func(c jwt.MapClaims) { c["tenant_id"] = nil })), u, ten, "tenant claim is not a string"},
		"oversized header":        {"Bearer " + strings.Repeat("a", 8192), errs.KindHeaderTooLarge, errs.CodeRequestTooLarge, "authorization header too large"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tt.header)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", id)
			}
			checkErr(t, err, tt.kind, tt.code, tt.msg)
			var e *errs.Error
			errors.As(err, &e)
			if sig := parts[2]; strings.Contains(e.Message, sig) || (len(tt.header) > 40 && strings.Contains(e.Message, tt.header[len(tt.header)-20:])) {
				t.Error("public message echoes the token")
			}
		})
	}
}

// signHeader signs claims() with RS256 and extra header fields.
func signHeader(t *testing.T, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims())
	for k, val := range hdr {
		tok.Header[k] = val
	}
	s, err := tok.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAccepts(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	want := &Identity{
		Subject:  "alice",
		Tenant:   "acme",
		Issuer:   testIssuer,
		Audience: []string{testAudience},
		IssuedAt: now.Add(-time.Minute),
		Expiry:   now.Add(10 * time.Minute),
		ID:       "id-1",
	}
	rsTok := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	tests := map[string]struct {
		header string
		want   *Identity
	}{
		"bearer RS256":      {"Bearer " + rsTok, want},
		"lowercase scheme":  {"bearer " + rsTok, want},
		"uppercase scheme":  {"BEARER " + rsTok, want},
		"raw token":         {rsTok, want},
		"ES256":             {sign(t, jwt.SigningMethodES256, "ec-1", ecKey, claims()), want},
		"EdDSA":             {sign(t, jwt.SigningMethodEdDSA, "ed-1", edKey, claims()), want},
		"no kid tries keys": {sign(t, jwt.SigningMethodRS256, "", rsaKey, claims()), want},
		"expired within leeway": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })),
			func() *Identity { w := *want; w.Expiry = now.Add(-10 * time.Second); return &w }(),
		},
		"second audience": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["aud"] = "other-audience" })),
			func() *Identity { w := *want; w.Audience = []string{"other-audience"}; return &w }(),
		},
		"digit string tenant": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["tenant_id"] = "42" })),
			func() *Identity { w := *want; w.Tenant = "42"; return &w }(),
		},
		"scopes": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) {
				c["scope"] = "read  write"
				c["scp"] = []any{"write", "admin"}
			})),
			func() *Identity { w := *want; w.Scopes = []string{"read", "write", "admin"}; return &w }(),
		},
		"scp string": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["scp"] = "a b" })),
			func() *Identity { w := *want; w.Scopes = []string{"a", "b"}; return &w }(),
		},
		"no iat no jti": {
			sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { delete(c, "iat"); delete(c, "jti") })),
			func() *Identity { w := *want; w.IssuedAt, w.ID = time.Time{}, ""; return &w }(),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.header)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if err := v.Ready(context.Background()); err != nil {
		t.Errorf("Ready() = %v", err)
	}
}

func TestTenantClaimNames(t *testing.T) {
	srv := standardServer(t)
	tests := map[string]struct {
		claimName string
		set       func(c jwt.MapClaims)
		want      string // "" = refused with invalid_tenant
	}{
		"colon name":            {"custom:tenant_id", func(c jwt.MapClaims) { c["custom:tenant_id"] = "t1" }, "t1"},
		"URL name":              {"https://example.com/tenant", func(c jwt.MapClaims) { c["https://example.com/tenant"] = "t2" }, "t2"},
		"nested path":           {"org.tenant", func(c jwt.MapClaims) { c["org"] = map[string]any{"tenant": "t3"} }, "t3"},
		"deep nested path":      {"a.b.c", func(c jwt.MapClaims) { c["a"] = map[string]any{"b": map[string]any{"c": "t4"}} }, "t4"},
		"top-level dotted name": {"org.tenant", func(c jwt.MapClaims) { c["org.tenant"] = "exact" }, "exact"},
		"top-level and nested are ambiguous": {"org.tenant", func(c jwt.MapClaims) {
			c["org.tenant"] = "exact"
			c["org"] = map[string]any{"tenant": "nested"}
		}, ""},
		"nested missing":      {"org.tenant", func(c jwt.MapClaims) { c["org"] = map[string]any{"team": "x"} }, ""},
		"nested not object":   {"org.tenant", func(c jwt.MapClaims) { c["org"] = "acme" }, ""},
		"nested wildcard":     {"org.tenant", func(c jwt.MapClaims) { c["org"] = map[string]any{"tenant": "*"} }, ""},
		"URL name not nested": {"https://example.com/tenant", func(c jwt.MapClaims) { c["https://example"] = map[string]any{"com/tenant": "t5"} }, "t5"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := jwksAuth(srv.URL)
			cfg.TenantClaim = tt.claimName
			v := newTestVerifier(t, cfg, srv.Client())
			c := claims()
			delete(c, "tenant_id")
			tt.set(c)
			id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, c))
			if tt.want == "" {
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != errs.CodeInvalidTenant {
					t.Fatalf("Verify = %v, %v; want invalid_tenant", id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Tenant != tt.want {
				t.Errorf("tenant = %q, want %q", id.Tenant, tt.want)
			}
		})
	}
}

func TestSubjectClaimNested(t *testing.T) {
	srv := standardServer(t)
	cfg := jwksAuth(srv.URL)
	cfg.SubjectClaim = "user.email"
	v := newTestVerifier(t, cfg, srv.Client())
	c := claims()
	c["user"] = map[string]any{"email": "alice@example.com"}
	id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, c))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "alice@example.com" {
		t.Errorf("subject = %q", id.Subject)
	}
}

func TestUnknownKIDRefreshesOnceThenFails(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("fetches after New = %d, want 1", got)
	}
	unknown := sign(t, jwt.SigningMethodRS256, "rsa-unknown", rsaKey2, claims())
	_, err := v.Verify(context.Background(), unknown)
	checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "unknown signing key")
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches after an unknown kid = %d, want 2 (one refresh)", got)
	}
	// The limiter is exhausted: further unknown kids fail without a fetch.
	for range 5 {
		_, err = v.Verify(context.Background(), unknown)
		checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "unknown signing key")
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches after repeated unknown kids = %d, want 2 (rate limited)", got)
	}
}

func TestKeyRotation(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	old := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("Verify(old key): %v", err)
	}
	// The IdP rotates: rsa-2 appears, rsa-1 is withdrawn.
	srv.setKeys(rsaJWK("rsa-2", "RS256", &rsaKey2.PublicKey))
	rotated := sign(t, jwt.SigningMethodRS256, "rsa-2", rsaKey2, claims())
	id, err := v.Verify(context.Background(), rotated)
	if err != nil {
		t.Fatalf("Verify(new key) after rotation: %v", err)
	}
	if id.Tenant != "acme" {
		t.Errorf("tenant = %q", id.Tenant)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2 (start + one refresh)", got)
	}
	// The refresh replaced the set: the withdrawn key no longer verifies.
	_, err = v.Verify(context.Background(), old)
	checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "unknown signing key")
}

func TestJWKAlgMismatch(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", "PS256", &rsaKey.PublicKey))
	cfg := jwksAuth(srv.URL)
	cfg.Algorithms = []string{"RS256", "PS256"}
	v := newTestVerifier(t, cfg, srv.Client())
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims()))
	checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "no matching signing key")
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodPS256, "rsa-1", rsaKey, claims())); err != nil {
		t.Errorf("Verify(PS256) = %v", err)
	}
}

func TestEncryptionKeyRefused(t *testing.T) {
	keys(t)
	k := rsaJWK("rsa-1", "", &rsaKey.PublicKey)
	k["use"] = "enc"
	delete(k, "alg")
	srv := newJWKSServer(t, k)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims()))
	checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "no matching signing key")
}

func TestNewFailsClosed(t *testing.T) {
	keys(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer down.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		_, _ = w.Write([]byte(strings.Repeat(" ", maxFetchBytes+10)))
		_, _ = w.Write([]byte(`]}`))
	}))
	defer huge.Close()
	tests := map[string]config.Auth{
		"JWKS answers 500":  jwksAuth(down.URL),
		"JWKS too large":    jwksAuth(huge.URL),
		"invalid config":    {Issuer: testIssuer, JWKSURL: down.URL},
		"missing PEM file":  {Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{filepath.Join(t.TempDir(), "none.pem")}},
		"missing JWKS file": {Issuer: testIssuer, Audiences: []string{testAudience}, JWKSFile: filepath.Join(t.TempDir(), "none.json")},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := New(context.Background(), cfg, Options{HTTPClient: down.Client()})
			if err == nil {
				v.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	keys(t)
	jwks := newJWKSServer(t, rsaJWK("rsa-1", "RS256", &rsaKey.PublicKey))
	var issuer string
	var docIssuer, jwksURI string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": docIssuer, "jwks_uri": jwksURI})
	}))
	defer idp.Close()
	issuer = idp.URL
	tests := map[string]struct {
		docIssuer, jwksURI string
		ok                 bool
	}{
		"good":            {issuer, jwks.URL, true},
		"issuer mismatch": {"https://evil.example.com", jwks.URL, false},
		"issuer slash":    {issuer + "/", jwks.URL, false},
		"jwks_uri http":   {issuer, "http://evil.example.com/jwks", false},
		"jwks_uri empty":  {issuer, "", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			docIssuer, jwksURI = tt.docIssuer, tt.jwksURI
			cfg := config.Auth{Issuer: issuer, Audiences: []string{testAudience}, Discovery: true}
			v, err := New(context.Background(), cfg, Options{HTTPClient: idp.Client(), Clock: clock})
			if !tt.ok {
				if err == nil {
					v.Close()
					t.Fatal("New succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer v.Close()
			c := claims()
			c["iss"] = issuer
			if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, c)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestStaticKeySources(t *testing.T) {
	keys(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaPath := write("rsa-main.pem", rsaPublicPEM)
	ecPath := write("ec.pem", ecPublicPEM)
	edPath := write("ed.pem", edPublicPEM)
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{
		rsaJWK("rsa-1", "RS256", &rsaKey.PublicKey), ecJWK("ec-1", &ecKey.PublicKey),
	}})
	if err != nil {
		t.Fatal(err)
	}
	jwksPath := write("jwks.json", set)
	secret := strings.Repeat("x", 32)
	pemCfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{rsaPath, ecPath, edPath}}
	fileCfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, JWKSFile: jwksPath}
	hmacCfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, HMACSecret: secret, AllowHMAC: true}
	tests := map[string]struct {
		cfg   config.Auth
		token string
		ok    bool
	}{
		"PEM RS256 by file kid":  {pemCfg, sign(t, jwt.SigningMethodRS256, "rsa-main", rsaKey, claims()), true},
		"PEM RS256 no kid":       {pemCfg, sign(t, jwt.SigningMethodRS256, "", rsaKey, claims()), true},
		"PEM RS256 foreign kid":  {pemCfg, sign(t, jwt.SigningMethodRS256, "idp-kid", rsaKey, claims()), true},
		"PEM ES256":              {pemCfg, sign(t, jwt.SigningMethodES256, "", ecKey, claims()), true},
		"PEM EdDSA":              {pemCfg, sign(t, jwt.SigningMethodEdDSA, "ed", edKey, claims()), true},
		"PEM wrong RSA key":      {pemCfg, sign(t, jwt.SigningMethodRS256, "", rsaOther, claims()), false},
		"PEM HS256 with PEM":     {pemCfg, sign(t, jwt.SigningMethodHS256, "", rsaPublicPEM, claims()), false},
		"PEM kid names EC key":   {pemCfg, sign(t, jwt.SigningMethodRS256, "ec", rsaKey, claims()), false},
		"JWKS file RS256":        {fileCfg, sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims()), true},
		"JWKS file ES256 no kid": {fileCfg, sign(t, jwt.SigningMethodES256, "", ecKey, claims()), true},
		"JWKS file unknown kid":  {fileCfg, sign(t, jwt.SigningMethodRS256, "rsa-9", rsaKey, claims()), false},
		"HMAC HS256":             {hmacCfg, sign(t, jwt.SigningMethodHS256, "", []byte(secret), claims()), true},
		"HMAC wrong secret":      {hmacCfg, sign(t, jwt.SigningMethodHS256, "", []byte(strings.Repeat("y", 32)), claims()), false},
		"HMAC RS256 refused":     {hmacCfg, sign(t, jwt.SigningMethodRS256, "", rsaKey, claims()), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := newTestVerifier(t, tt.cfg, nil)
			id, err := v.Verify(context.Background(), "Bearer "+tt.token)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Tenant != "acme" || id.Subject != "alice" {
					t.Errorf("identity = %+v", id)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.KindUnauthenticated {
				t.Fatalf("Verify = %v, %v; want an unauthenticated error", id, err)
			}
		})
	}
}

func TestPEMRefusals(t *testing.T) {
	keys(t)
	dir := t.TempDir()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"not PEM":     []byte("hello"),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		"RSA 1024":    pemPublic(&small.PublicKey),
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".pem")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{p}}
			if v, err := New(context.Background(), cfg, Options{}); err == nil {
				v.Close()
				t.Fatal("New accepted the file")
			}
		})
	}
}

// TestKeyTypeGuardsMisconfiguration shows that even with HS256 allowed next
// to a public-key source (a configuration Validate refuses), an HS256 token
// signed with the RSA public key PEM as its secret is not accepted.
func TestKeyTypeGuardsMisconfiguration(t *testing.T) {
	keys(t)
	cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256", "HS256"}}
	cfg.SetDefaults()
	block, _ := pem.Decode(rsaPublicPEM)
	key, err := parsePublicKey(block)
	if err != nil {
		t.Fatal(err)
	}
	src := &staticSource{keys: []staticKey{{kid: "rsa", key: key}}}
	v, err := newVerifier(&cfg, src, clock)
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, jwt.SigningMethodHS256, "rsa", rsaPublicPEM, claims())
	_, err = v.Verify(context.Background(), forged)
	checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "no matching signing key")
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa", rsaKey, claims())); err != nil {
		t.Errorf("Verify(RS256) = %v", err)
	}
}

func TestCompatible(t *testing.T) {
	keys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		alg  string
		key  any
		want bool
	}{
		"RS256 rsa":           {"RS256", &rsaKey.PublicKey, true},
		"PS512 rsa":           {"PS512", &rsaKey.PublicKey, true},
		"RS256 small rsa":     {"RS256", &small.PublicKey, false},
		"HS256 rsa":           {"HS256", &rsaKey.PublicKey, false},
		"HS256 pem bytes":     {"RS256", rsaPublicPEM, false},
		"ES256 p256":          {"ES256", &ecKey.PublicKey, true},
		"ES384 p256":          {"ES384", &ecKey.PublicKey, false},
		"ES384 p384":          {"ES384", &p384.PublicKey, true},
		"RS256 ec":            {"RS256", &ecKey.PublicKey, false},
		"EdDSA ed25519":       {"EdDSA", edKey.Public(), true},
		"ES256 ed25519":       {"ES256", edKey.Public(), false},
		"HS256 secret":        {"HS256", []byte(strings.Repeat("s", 32)), true},
		"HS256 short secret":  {"HS256", []byte("short"), false},
		"none anything":       {"none", []byte(strings.Repeat("s", 32)), false},
		"private key refused": {"RS256", rsaKey, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := compatible(tt.alg, tt.key); got != tt.want {
				t.Errorf("compatible(%s, %T) = %v, want %v", tt.alg, tt.key, got, tt.want)
			}
		})
	}
}

func TestReadyAndClose(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready() = %v", err)
	}
	empty := &Verifier{src: &staticSource{}}
	err := empty.Ready(context.Background())
	checkErr(t, err, errs.KindNotReady, errs.CodeNotReady, "verification keys not loaded")
	v.Close()
	v.Close() // idempotent
}

func TestCancelledContextStopsRefresh(t *testing.T) {
	srv := standardServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := jwksAuth(srv.URL)
	if _, err := New(ctx, cfg, Options{HTTPClient: srv.Client(), Clock: clock}); err != nil {
		t.Fatal(err)
	}
	cancel() // goleak in TestMain checks the refresh goroutine ends
}

// TestKeysNeverFromToken checks a token pointing at its own key set (jku,
// x5u, or an issuer that serves one) is refused without a fetch: keys come
// from the configured source only.
func TestKeysNeverFromToken(t *testing.T) {
	srv := standardServer(t)
	evil := newJWKSServer(t, rsaJWK("evil-1", "RS256", &rsaOther.PublicKey))
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	forge := func(kid string, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		for k, val := range header {
			tok.Header[k] = val
		}
		s, err := tok.SignedString(rsaOther)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := map[string]string{
		"jku, own kid":        forge("evil-1", map[string]any{"jku": evil.URL}, claims()),
		"jku, configured kid": forge("rsa-1", map[string]any{"jku": evil.URL}, claims()),
		"x5u":                 forge("evil-1", map[string]any{"x5u": evil.URL}, claims()),
		"jwk embedded":        forge("", map[string]any{"jwk": rsaJWK("evil-1", "RS256", &rsaOther.PublicKey)}, claims()),
		"iss serving keys":    forge("evil-1", nil, with(func(c jwt.MapClaims) { c["iss"] = evil.URL })),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			if id, err := v.Verify(context.Background(), "Bearer "+tok); err == nil {
				t.Fatalf("forged token accepted: %+v", id)
			}
		})
	}
	if n := evil.hits.Load(); n != 0 {
		t.Errorf("the token's key set was fetched %d times", n)
	}
}
