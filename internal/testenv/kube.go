package testenv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/localaws/idp"
)

// Paths a kube-apiserver serves for service-account issuer discovery
// (ServiceAccountIssuerDiscovery, GA in Kubernetes 1.21).
const (
	KubeDiscoveryPath = "/.well-known/openid-configuration"
	KubeJWKSPath      = "/openid/v1/jwks"
)

// KubeIssuer is a Kubernetes service-account token issuer for tests: it
// serves, over https on loopback, the discovery document and JWK Set a
// kube-apiserver (or EKS's OIDC endpoint) publishes, and signs tokens shaped
// exactly like the kubelet-projected ones (Token). Its URL is the issuer.
// A KubeIssuer is safe for concurrent use.
type KubeIssuer struct {
	// URL is the issuer: https://127.0.0.1:PORT.
	URL string
	// CAFile is a PEM file holding the certificate the issuer serves, for a
	// client (a broker process: SSL_CERT_FILE) that must trust it.
	CAFile string
	key    *rsa.PrivateKey
	kid    string
	srv    *httptest.Server
}

// StartKubeIssuer starts a KubeIssuer with a fresh RSA key until t ends.
func StartKubeIssuer(t testing.TB) *KubeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	// The kube-apiserver's key id: the unpadded base64url SHA-256 of the
	// public key's PKIX encoding.
	k := &KubeIssuer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:])}
	k.srv = httptest.NewTLSServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	k.URL = k.srv.URL
	k.CAFile = filepath.Join(t.TempDir(), "kube-issuer-ca.crt")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw})
	if err := os.WriteFile(k.CAFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// Client returns an HTTP client that trusts the issuer's certificate.
func (k *KubeIssuer) Client() *http.Client { return k.srv.Client() }

// KeyID returns the kid of the issuer's signing key.
func (k *KubeIssuer) KeyID() string { return k.kid }

func (k *KubeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	var doc any
	switch r.URL.Path {
	case KubeDiscoveryPath:
		doc = map[string]any{
			"issuer":                                k.URL,
			"jwks_uri":                              k.URL + KubeJWKSPath,
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
	case KubeJWKSPath:
		doc = map[string]any{"keys": []map[string]string{idp.JWK(&k.key.PublicKey, k.kid)}}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// ServiceAccountToken describes a projected service-account token.
type ServiceAccountToken struct {
	// Namespace and ServiceAccount name the pod's service account.
	Namespace, ServiceAccount string
	// Audiences is the projected volume's audience (one, as a projected
	// volume has; more for a TokenRequest).
	Audiences []string
	// IssuedAt defaults to now; TTL (expirationSeconds) to one hour.
	IssuedAt time.Time
	TTL      time.Duration
	// WarnAfter, when set, adds kubernetes.io.warnafter, as on a token
	// whose expiry the API server extended.
	WarnAfter time.Time
}

// Claims returns the claims of the token s describes, as a kubelet-projected
// token carries them (Kubernetes 1.30+: with jti and the node): iss, sub
// system:serviceaccount:<ns>:<sa>, aud (an array), iat = nbf, exp, jti, and
// kubernetes.io {namespace, pod {name, uid}, serviceaccount {name, uid},
// node {name, uid}, warnafter when set}.
func (k *KubeIssuer) Claims(s ServiceAccountToken) jwt.MapClaims {
	iat := s.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	kube := map[string]any{
		"namespace":      s.Namespace,
		"pod":            map[string]any{"name": s.ServiceAccount + "-7d9f8b6c5d-x2x9z", "uid": randomUID()},
		"serviceaccount": map[string]any{"name": s.ServiceAccount, "uid": randomUID()},
		"node":           map[string]any{"name": "ip-10-0-1-23.ec2.internal", "uid": randomUID()},
	}
	if !s.WarnAfter.IsZero() {
		kube["warnafter"] = s.WarnAfter.Unix()
	}
	return jwt.MapClaims{
		"iss":           k.URL,
		"sub":           "system:serviceaccount:" + s.Namespace + ":" + s.ServiceAccount,
		"aud":           append([]string(nil), s.Audiences...),
		"iat":           iat.Unix(),
		"nbf":           iat.Unix(),
		"exp":           iat.Add(ttl).Unix(),
		"jti":           randomUID(),
		"kubernetes.io": kube,
	}
}

// Token signs the claims of s (Claims) as the API server does: RS256, a
// header of exactly {"alg":"RS256","kid":KID} (no "typ").
func (k *KubeIssuer) Token(t testing.TB, s ServiceAccountToken) string {
	t.Helper()
	return k.Sign(t, k.Claims(s))
}

// Sign signs claims with the issuer's key and a Kubernetes-shaped header.
func (k *KubeIssuer) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "kid": k.kid}) + "." + enc(claims)
	sig, err := jwt.SigningMethodRS256.Sign(signing, k.key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// PublicKey returns the issuer's verification key.
func (k *KubeIssuer) PublicKey() crypto.PublicKey { return &k.key.PublicKey }

// randomUID returns a random RFC 4122 version 4 UUID, as Kubernetes UIDs are.
func randomUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
