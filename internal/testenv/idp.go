package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/localaws/idp"
)

// Defaults of the tokens IdP.Token signs.
const (
	DefaultSubject  = "alice"
	DefaultTenant   = "1"
	DefaultTokenTTL = 10 * time.Minute
)

// IdP is the project's one identity provider for tests: the local AWS's dev
// OpenID Connect provider (localaws/idp) served on a loopback httptest
// server, so its URL is the issuer and it publishes discovery
// (/.well-known/openid-configuration), the JWK Set (/.well-known/jwks.json)
// and the loopback mint endpoint (POST /idp/token). Token signs tokens with
// any claims, for the cases the mint endpoint refuses to make (expired,
// foreign issuer, no tenant, ...). An IdP is safe for concurrent use.
type IdP struct {
	// URL is the issuer and the base of the provider's endpoints.
	URL string
	p   *idp.Provider
	key *rsa.PrivateKey
	now func() time.Time
	// client's idle connections are closed with the server.
	client *http.Client
}

// StartIdP starts an IdP with a fresh RSA key until t ends. clock, when not
// nil, is the provider's clock and the time Token stamps tokens with.
func StartIdP(t testing.TB, clock func() time.Time) *IdP {
	t.Helper()
	if clock == nil {
		clock = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	p, err := idp.New(idp.Options{Issuer: url, Key: key, Clock: clock})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return &IdP{URL: url, p: p, key: key, now: clock, client: srv.Client()}
}

// JWKSURL returns the URL of the provider's JWK Set.
func (p *IdP) JWKSURL() string { return p.URL + idp.JWKSPath }

// KeyID returns the kid of the provider's signing key.
func (p *IdP) KeyID() string { return p.p.KeyID() }

// PublicKey returns the provider's verification key.
func (p *IdP) PublicKey() *rsa.PublicKey { return p.p.PublicKey() }

// JWKSFile writes the provider's JWK Set to a file in t's temporary
// directory and returns its path (for a jwks_file configuration).
func (p *IdP) JWKSFile(t testing.TB) string {
	t.Helper()
	res, err := p.client.Get(p.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	jwks, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", p.JWKSURL(), res.StatusCode, err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Claims returns the default claims of a token: iss (the IdP), aud
// (idp.DefaultAudience), sub DefaultSubject, tenant_id DefaultTenant, iat
// and nbf now, exp DefaultTokenTTL later, and a jti.
func (p *IdP) Claims() jwt.MapClaims {
	now := p.now()
	return jwt.MapClaims{
		"iss": p.URL, "aud": idp.DefaultAudience, "sub": DefaultSubject, idp.TenantClaim: DefaultTenant,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(DefaultTokenTTL).Unix(), "jti": "testenv",
	}
}

// Token returns a token signed by the provider's key (RS256, its kid) with
// the default claims (Claims) changed by override: a key set to nil is
// removed, any other value replaces or adds the claim.
func (p *IdP) Token(t testing.TB, override jwt.MapClaims) string {
	t.Helper()
	return p.Sign(t, p.with(override))
}

// Sign returns a token with exactly claims, signed by the provider's key
// (RS256, its kid).
func (p *IdP) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return SignToken(t, jwt.SigningMethodRS256, p.key, p.KeyID(), claims)
}

// with returns the default claims changed by override.
func (p *IdP) with(override jwt.MapClaims) jwt.MapClaims {
	claims := p.Claims()
	for k, v := range override {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	return claims
}

// ForeignToken returns a token like Token's but signed by key, which the
// provider does not publish, under the provider's kid.
func (p *IdP) ForeignToken(t testing.TB, key *rsa.PrivateKey, override jwt.MapClaims) string {
	t.Helper()
	return SignToken(t, jwt.SigningMethodRS256, key, p.KeyID(), p.with(override))
}

// Verify checks that token was signed by the provider and returns its
// claims. It checks the signature and the time claims only.
func (p *IdP) Verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(p.now)).
		ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return p.PublicKey(), nil })
	if err != nil {
		return nil, errors.Join(errors.New("testenv: token not signed by the IdP"), err)
	}
	return claims, nil
}

// SignToken signs claims with key by method, with kid in the header when it
// is not empty.
func SignToken(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
