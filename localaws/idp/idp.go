// Package idp is the local AWS's development OpenID Connect issuer: it
// publishes a discovery document and a JWKS, and mints RS256 test tokens for
// any tenant and subject on a loopback-only endpoint.
//
// Wire format:
//
//	GET  /.well-known/openid-configuration -> {"issuer":ISSUER,"jwks_uri":ISSUER/.well-known/jwks.json,...}
//	GET  /.well-known/jwks.json            -> {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":...,"n":...,"e":...}]}
//	POST /idp/token {"tenant":"1","subject":"alice","audience":"tvm-broker","ttl_seconds":900,"claims":{...}}
//	     -> 200 {"token":"<jwt>","expires_at":"RFC3339"}
//
// Minted tokens carry iss, sub, aud, iat, nbf, exp, jti and the tenant in
// tenant_id (omitted when tenant is empty), plus the extra claims, which may
// not redefine those. The mint endpoint answers only when the client address
// is a loopback address and the Host header names a loopback host (a DNS
// rebinding guard). It mints whatever tenant it is asked for, even "*":
// refusing bad tenants is the broker's job. Errors are
// {"error":CODE,"message":TEXT}.
//
// A Provider is immutable after New and safe for concurrent use.
package idp

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Paths served by a Provider.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
	TokenPath     = "/idp/token"
)

// Defaults.
const (
	DefaultAudience = "tvm-broker"
	DefaultTTL      = 15 * time.Minute
	MaxTTL          = 24 * time.Hour
	TenantClaim     = "tenant_id"
	maxMintBody     = 64 << 10
	rsaBits         = 2048
)

// Options configures a Provider.
type Options struct {
	// Issuer is the iss of minted tokens and the base of the published URLs,
	// e.g. http://127.0.0.1:4566. Required.
	Issuer string
	// Key signs tokens; nil generates a fresh 2048-bit key.
	Key *rsa.PrivateKey
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives one line per minted token (never the token); nil discards.
	Logger *slog.Logger
}

// Provider is the dev identity provider.
type Provider struct {
	issuer string
	key    *rsa.PrivateKey
	kid    string
	now    func() time.Time
	log    *slog.Logger
	jwks   []byte
	disc   []byte
}

// New returns a provider for opts.Issuer.
func New(opts Options) (*Provider, error) {
	u, err := url.Parse(opts.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("idp: issuer %q must be an absolute http(s) URL without query or fragment", opts.Issuer)
	}
	p := &Provider{issuer: strings.TrimSuffix(opts.Issuer, "/"), key: opts.Key, now: opts.Clock, log: opts.Logger}
	if p.key == nil {
		if p.key, err = rsa.GenerateKey(rand.Reader, rsaBits); err != nil {
			return nil, fmt.Errorf("idp: generate key: %w", err)
		}
	}
	if p.key.N.BitLen() < rsaBits {
		return nil, fmt.Errorf("idp: RSA key has %d bits, need at least %d", p.key.N.BitLen(), rsaBits)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	jwk := JWK(&p.key.PublicKey, "")
	// RFC 7638 thumbprint: members in lexicographic order, no whitespace.
	thumb, _ := json.Marshal(struct {
		E   string `json:"e"`
		Kty string `json:"kty"`
		N   string `json:"n"`
	}{jwk["e"], "RSA", jwk["n"]})
	sum := sha256.Sum256(thumb)
	p.kid = b64(sum[:])
	jwk["kid"] = p.kid
	p.jwks, _ = json.Marshal(map[string]any{"keys": []map[string]string{jwk}})
	p.disc, _ = json.Marshal(map[string]any{
		"issuer":                                p.issuer,
		"jwks_uri":                              p.issuer + JWKSPath,
		"token_endpoint":                        p.issuer + TokenPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claims_supported":                      []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", TenantClaim},
	})
	return p, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWK returns the public JWK of the RS256 signing key pub: kty RSA, use
// sig, alg RS256, kid, and the modulus and exponent n and e (unpadded
// base64url, RFC 7518 section 6.3.1), as JWK Sets publish it.
func JWK(pub *rsa.PublicKey, kid string) map[string]string {
	return map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// KeyID returns the kid of the signing key (its RFC 7638 thumbprint).
func (p *Provider) KeyID() string { return p.kid }

// PublicKey returns the verification key.
func (p *Provider) PublicKey() *rsa.PublicKey { return &p.key.PublicKey }

// LoadKey reads an RSA private key from a PEM file (PKCS #1 "RSA PRIVATE
// KEY" or PKCS #8 "PRIVATE KEY").
func LoadKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	return ParseKey(data)
}

// ParseKey decodes an RSA private key from PEM.
func ParseKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("idp: key file holds no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("idp: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("idp: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("idp: key is %T, want RSA", k)
		}
		return rk, nil
	default:
		return nil, fmt.Errorf("idp: unsupported PEM block %q", block.Type)
	}
}

// MintRequest is the body of POST /idp/token.
type MintRequest struct {
	Tenant     string         `json:"tenant"`
	Subject    string         `json:"subject"`
	Audience   string         `json:"audience,omitempty"`
	TTLSeconds int64          `json:"ttl_seconds,omitempty"`
	Claims     map[string]any `json:"claims,omitempty"`
}

// MintResponse is the answer of POST /idp/token.
type MintResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

var reserved = map[string]bool{"iss": true, "sub": true, "aud": true, "iat": true, "nbf": true, "exp": true, "jti": true, TenantClaim: true}

// Mint signs a token for req. Errors describe the bad field.
func (p *Provider) Mint(req MintRequest) (token string, expires time.Time, err error) {
	if req.Subject == "" {
		return "", time.Time{}, errors.New("subject is required")
	}
	ttl := DefaultTTL
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 1 || req.TTLSeconds > int64(MaxTTL/time.Second) {
			return "", time.Time{}, fmt.Errorf("ttl_seconds must be between 1 and %d", int64(MaxTTL/time.Second))
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	aud := req.Audience
	if aud == "" {
		aud = DefaultAudience
	}
	claims := jwt.MapClaims{}
	for k, v := range req.Claims {
		if reserved[k] {
			return "", time.Time{}, fmt.Errorf("claims may not set %q: use the dedicated field", k)
		}
		claims[k] = v
	}
	now := p.now().Truncate(time.Second)
	exp := now.Add(ttl)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, err
	}
	claims["iss"] = p.issuer
	claims["sub"] = req.Subject
	claims["aud"] = aud
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Unix()
	claims["exp"] = exp.Unix()
	claims["jti"] = hex.EncodeToString(jti[:])
	if req.Tenant != "" {
		claims[TenantClaim] = req.Tenant
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = p.kid
	signed, err := t.SignedString(p.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign: %w", err)
	}
	return signed, exp, nil
}

// IsRequest reports whether r is for the provider.
func IsRequest(r *http.Request) bool {
	switch r.URL.Path {
	case DiscoveryPath, JWKSPath, TokenPath:
		return true
	}
	return false
}

// ServeHTTP serves discovery, JWKS and the mint endpoint.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case DiscoveryPath, JWKSPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		body := p.disc
		if r.URL.Path == JWKSPath {
			body = p.jwks
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, http.StatusOK, body)
	case TokenPath:
		p.serveMint(w, r)
	default:
		writeErr(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func (p *Provider) serveMint(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if !IsLoopbackRequest(r) {
		p.log.Warn("idp mint refused: not a loopback request", "remote", r.RemoteAddr)
		writeErr(w, http.StatusForbidden, "forbidden", "the mint endpoint answers loopback clients addressing a loopback host only")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMintBody+1))
	if err != nil || len(body) > maxMintBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "request_too_large", "request body too large or unreadable")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req MintRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeErr(w, http.StatusBadRequest, "invalid_request", "body must be one JSON object with tenant, subject, audience, ttl_seconds, claims")
		return
	}
	tok, exp, err := p.Mint(req)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	p.log.Info("idp token minted", "tenant", req.Tenant, "subject", req.Subject, "audience", req.Audience,
		"expires_at", exp.UTC().Format(time.RFC3339))
	out, _ := json.Marshal(MintResponse{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// IsLoopbackRequest reports whether r comes from a loopback address and its
// Host header names a loopback host ("localhost", *.localhost or a loopback
// IP literal), so a browser page that rebinds a DNS name to 127.0.0.1
// cannot use it.
func IsLoopbackRequest(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	return IsLoopbackHost(r.Host)
}

// IsLoopbackHost reports whether a Host header value (with or without a
// port) names a loopback host.
func IsLoopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	writeJSON(w, status, body)
}
