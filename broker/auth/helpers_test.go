package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testIssuer   = "https://idp.example.com"
	testAudience = "tvm-broker"
)

// now is the fixed clock of every test.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return now }

// Test keys, generated once.
var (
	keysOnce                  sync.Once
	rsaKey, rsaKey2, rsaOther *rsa.PrivateKey
	ecKey                     *ecdsa.PrivateKey
	edKey                     ed25519.PrivateKey
	rsaPublicPEM, ecPublicPEM []byte
	edPublicPEM               []byte
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaOther, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		if err != nil {
			panic(err)
		}
		rsaPublicPEM = pemPublic(&rsaKey.PublicKey)
		ecPublicPEM = pemPublic(&ecKey.PublicKey)
		edPublicPEM = pemPublic(edKey.Public())
	})
}

func pemPublic(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid, alg string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": alg, "use": "sig",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]string {
	e, err := pub.ECDH()
	if err != nil {
		panic(err)
	}
	pt := e.Bytes() // 0x04 || X || Y
	return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}
}

func edJWK(kid string, pub ed25519.PublicKey) map[string]string {
	return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(pub)}
}

// jwksServer serves a mutable JWK Set and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []map[string]string
	hits atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// claims returns valid claims for tenant "acme", subject "alice".
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       testIssuer,
		"sub":       "alice",
		"aud":       []string{testAudience},
		"iat":       now.Add(-time.Minute).Unix(),
		"nbf":       now.Add(-time.Minute).Unix(),
		"exp":       now.Add(10 * time.Minute).Unix(),
		"jti":       "id-1",
		"tenant_id": "acme",
	}
}

// with returns claims() changed by f.
func with(f func(c jwt.MapClaims)) jwt.MapClaims {
	c := claims()
	f(c)
	return c
}

func sign(t testing.TB, method jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	return testenv.SignToken(t, method, key, kid, c)
}

// testKey is a signing method with the key that signs and the key that
// verifies its tokens.
type testKey struct {
	method       jwt.SigningMethod
	sign, verify any
}

// asymmetricKeys are the test keys of every asymmetric algorithm family the
// verifier supports, by algorithm.
func asymmetricKeys(t testing.TB) map[string]testKey {
	keys(t)
	return map[string]testKey{
		"RS256": {jwt.SigningMethodRS256, rsaKey, &rsaKey.PublicKey},
		"ES256": {jwt.SigningMethodES256, ecKey, &ecKey.PublicKey},
		"EdDSA": {jwt.SigningMethodEdDSA, edKey, edKey.Public()},
	}
}
