package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/pemblock"
)

// minRSABits is the smallest RSA modulus accepted for verification.
const minRSABits = 2048

// maxFetchBytes caps a JWK Set or discovery response.
const maxFetchBytes = 1 << 20

// candidate is a verification key with the JWK metadata that constrains it.
type candidate struct {
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
	alg string // JWK "alg", "" when unconstrained
	use string // JWK "use", "" when unconstrained
}

// keySource yields verification keys from the configured source only.
type keySource interface {
	// lookup returns the candidate keys for a token's kid (hasKID false:
	// the token has no kid). An unknown kid is errUnknownKID.
	lookup(ctx context.Context, kid string, hasKID bool) ([]candidate, error)
	// count returns how many keys are loaded.
	count(ctx context.Context) (int, error)
}

func newKeySource(ctx context.Context, cfg *config.Auth, client *http.Client, log *slog.Logger) (keySource, error) {
	switch {
	case cfg.JWKSURL != "":
		return newRemoteJWKS(ctx, cfg, cfg.JWKSURL, client, log)
	case cfg.Discovery:
		u, err := discover(ctx, cfg.Issuer, client)
		if err != nil {
			return nil, err
		}
		return newRemoteJWKS(ctx, cfg, u, client, log)
	case cfg.JWKSFile != "":
		return loadJWKSFile(cfg.JWKSFile)
	case len(cfg.PublicKeyFiles) > 0:
		return loadPEMFiles(cfg.PublicKeyFiles)
	case cfg.HMACSecret != "":
		return &staticSource{keys: []staticKey{{key: []byte(cfg.HMACSecret)}}}, nil
	}
	return nil, errors.New("no key source configured")
}

// jwksSource reads a JWK Set storage: a remote one (refreshed in the
// background and, rate-limited, on an unknown kid) or a file's.
type jwksSource struct{ store jwkset.Storage }

func newRemoteJWKS(ctx context.Context, cfg *config.Auth, u string, client *http.Client, log *slog.Logger) (*jwksSource, error) {
	noErrorFirst := false // the first fetch must succeed: fail closed at start
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{u}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               fetchTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorFirst,
		// Bounds both the wait for the limiter and the refresh fetch; with a
		// limit interval above it, an unknown kid arriving while the limiter
		// is exhausted fails at once instead of queueing.
		RateLimitWaitMax: fetchTimeout,
		RefreshErrorHandlerFunc: func(u string) func(ctx context.Context, err error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWK Set refresh failed", "url", u, "error", err)
			}
		},
		RefreshInterval:   cfg.JWKSRefresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.JWKSRefreshRateLimit), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("JWK Set %s: %w", u, err)
	}
	return &jwksSource{store: kf.Storage()}, nil
}

func loadJWKSFile(path string) (*jwksSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwks_file: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("jwks_file %s: empty file", path)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks_file %s: not a JWK Set: %w", path, err)
	}
	store, err := set.ToStorage()
	if err != nil {
		return nil, fmt.Errorf("jwks_file %s: %w", path, err)
	}
	src := &jwksSource{store: store}
	if n, _ := src.count(context.Background()); n == 0 {
		return nil, fmt.Errorf("jwks_file %s: no keys", path)
	}
	return src, nil
}

func (s *jwksSource) lookup(ctx context.Context, kid string, hasKID bool) ([]candidate, error) {
	var jwks []jwkset.JWK
	if hasKID {
		jwk, err := s.store.KeyRead(ctx, kid)
		if err != nil {
			// Not found, even after the rate-limited refresh (or the limiter
			// refused one): the cause says which.
			return nil, fmt.Errorf("%w: %w", errUnknownKID, err)
		}
		jwks = append(jwks, jwk)
	} else {
		all, err := s.store.KeyReadAll(ctx)
		if err != nil {
			return nil, err
		}
		jwks = all
	}
	out := make([]candidate, 0, len(jwks))
	for _, j := range jwks {
		m := j.Marshal()
		key := j.Key()
		if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
			key = pk.Public()
		}
		out = append(out, candidate{key: key, alg: string(m.ALG), use: string(m.USE)})
	}
	return out, nil
}

func (s *jwksSource) count(ctx context.Context) (int, error) {
	all, err := s.store.KeyReadAll(ctx)
	return len(all), err
}

// staticKey is a key loaded once at start; kid "" matches no token kid.
type staticKey struct {
	kid string
	key any
}

// staticSource holds PEM public keys or an HMAC secret. A token whose kid
// names a key gets that key; any other token gets every key.
type staticSource struct{ keys []staticKey }

func (s *staticSource) lookup(_ context.Context, kid string, hasKID bool) ([]candidate, error) {
	if hasKID {
		for _, k := range s.keys {
			if k.kid != "" && k.kid == kid {
				return []candidate{{key: k.key}}, nil
			}
		}
	}
	out := make([]candidate, len(s.keys))
	for i, k := range s.keys {
		out[i] = candidate{key: k.key}
	}
	return out, nil
}

func (s *staticSource) count(context.Context) (int, error) { return len(s.keys), nil }

// loadPEMFiles reads PEM public keys; a key's kid is its file name without
// the extension (files with several blocks get "name", "name-2", ...).
func loadPEMFiles(paths []string) (*staticSource, error) {
	src := &staticSource{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("public_key_files: %w", err)
		}
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		blocks, _ := pemblock.Split(data)
		for i, block := range blocks {
			key, err := parsePublicKey(block)
			if err != nil {
				return nil, fmt.Errorf("public_key_files %s: %w", p, err)
			}
			kid := base
			if i > 0 {
				kid = fmt.Sprintf("%s-%d", base, i+1)
			}
			src.keys = append(src.keys, staticKey{kid: kid, key: key})
		}
		if len(blocks) == 0 {
			return nil, fmt.Errorf("public_key_files %s: no PEM block", p)
		}
	}
	return src, nil
}

func parsePublicKey(block *pem.Block) (any, error) {
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key (private keys are refused)", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, at least %d required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T", key)
	}
	return key, nil
}

// compatible reports whether key can verify alg: the key type (and curve or
// size) must match the algorithm family. This is what stops an HS256 token
// from being checked with an RSA public key used as an HMAC secret.
func compatible(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() >= minRSABits && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"))
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return len(k) >= config.MinHMACSecretBytes && strings.HasPrefix(alg, "HS")
	}
	return false
}

// discover fetches <issuer>/.well-known/openid-configuration and returns its
// jwks_uri after checking that its issuer is exactly the configured one.
func discover(ctx context.Context, issuer string, client *http.Client) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: %s answered HTTP %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery: document issuer %q does not equal the configured issuer %q", doc.Issuer, issuer)
	}
	if err := config.CheckURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri %q: %w", doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}

// limitedClient returns a copy of c (default: 10s timeout) whose responses
// are capped at maxFetchBytes.
func limitedClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: fetchTimeout}
	}
	cp := *c
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = limitTransport{base: base}
	return &cp
}

type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxFetchBytes+1), c: resp.Body}
	return resp, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

var errTooLarge = fmt.Errorf("response larger than %d bytes", maxFetchBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxFetchBytes {
		return 0, errTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// CheckKeys loads cfg's key source as New does, but without the network,
// and says in one line what it checked: a jwks_file is read and must hold
// at least one usable key, public_key_files must each hold PEM public
// keys, an hmac_secret must be set; a jwks_url or discovery is not fetched
// (the line says so, naming the URL). `tvm-broker check`, the CI gate, runs
// it, so that a key file serve would refuse fails the check too.
func CheckKeys(cfg config.Auth) (string, error) {
	cfg.SetDefaults()
	switch {
	case cfg.JWKSURL != "":
		return fmt.Sprintf("jwks_url %s: not fetched (check uses no network; serve fetches it at start and must succeed)", cfg.JWKSURL), nil
	case cfg.Discovery:
		return fmt.Sprintf("discovery from %s: not fetched (check uses no network; serve reads it at start and must succeed)", cfg.Issuer), nil
	case cfg.JWKSFile != "":
		src, err := loadJWKSFile(cfg.JWKSFile)
		if err != nil {
			return "", err
		}
		n, _ := src.count(context.Background())
		return fmt.Sprintf("jwks_file %s: %d keys loaded", cfg.JWKSFile, n), nil
	case len(cfg.PublicKeyFiles) > 0:
		src, err := loadPEMFiles(cfg.PublicKeyFiles)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("public_key_files: %d keys loaded from %d files", len(src.keys), len(cfg.PublicKeyFiles)), nil
	case cfg.HMACSecret != "":
		return "hmac_secret: set (development only)", nil
	}
	return "", errors.New("auth: no key source configured")
}
