// Package auth verifies the JWT presented to the broker and derives the
// caller's identity and tenant from it.
//
// # Wire format
//
// The token arrives in the Authorization header, either as
//
//	Authorization: Bearer <jwt>      (scheme case-insensitive)
//	Authorization: <jwt>             (what AWS SDKs send to a container-credentials endpoint)
//
// The JWT is a compact JWS (three base64url segments). It must be signed with
// an allowed algorithm by a key from the configured source (a JWK Set URL,
// OIDC discovery from the configured issuer, a JWK Set file, PEM public keys
// or, for development only, an HMAC secret), and carry exp, the configured
// iss, one of the configured audiences, the subject claim and the tenant
// claim. Keys are never fetched from the token's iss, jku or x5u.
//
// Every failure is an *errs.Error of kind errs.KindUnauthenticated with code
// invalid_token (the message names the failure class, never the token) or
// invalid_tenant, or of kind errs.KindHeaderTooLarge with code
// request_too_large for an oversized header.
//
// # Verified-token cache
//
// Unless auth.token_cache.disabled is set, a token that verified and
// yielded a valid identity is remembered (its claims, keyed by the SHA-256
// of the exact token; tokencache.go) until its exp — never longer, and
// without the leeway — and only while the key source still holds the key
// that verified it: a repeated token skips the signature check, never the
// tenant, subject and scope checks. Failures are never cached.
//
// # Concurrency
//
// A *Verifier is safe for concurrent use. A remote JWK Set is refreshed in
// the background by a goroutine owned by the context given to New; Close (or
// cancelling that context) stops it.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/auth/claimpath"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/jsondup"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Identity is what a verified token says about its caller.
type Identity struct {
	Subject  string
	Tenant   string // validated against the tenant pattern
	Issuer   string
	Audience []string
	IssuedAt time.Time // zero when the token has no iat
	Expiry   time.Time
	ID       string   // jti, "" when absent
	Scopes   []string // from "scope" (space separated) or "scp" (string or array)
}

// Options are optional dependencies of New.
type Options struct {
	// HTTPClient fetches the JWK Set and the OIDC discovery document;
	// default a client with a 10s timeout. Responses are capped at 1 MiB.
	HTTPClient *http.Client
	// Logger receives key refresh failures; default slog.Default().
	Logger *slog.Logger
	// Clock returns the current time for exp/nbf/iat checks; default time.Now.
	Clock func() time.Time
}

// fetchTimeout bounds one fetch of a JWK Set or discovery document, and the
// wait for the unknown-kid refresh limiter.
const fetchTimeout = 10 * time.Second

// Verifier verifies tokens. Create it with New.
type Verifier struct {
	parser       *jwt.Parser
	src          keySource
	tenantClaim  claimpath.Path
	subjectClaim claimpath.Path
	pattern      *tenant.Pattern
	maxBytes     int
	algorithms   []string
	now          func() time.Time
	tokens       *tokenCache // nil when auth.token_cache.disabled
	issuer       string
	audiences    []string
	cancel       context.CancelFunc
	closeOnce    sync.Once
}

// New validates cfg (after filling defaults on a copy), loads the keys and
// returns a Verifier. For a remote JWK Set (jwks_url or discovery) the first
// fetch must succeed; ctx owns the background refresh goroutine, which stops
// when ctx is cancelled or Close is called.
func New(ctx context.Context, cfg config.Auth, opts Options) (*Verifier, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid configuration: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	client := limitedClient(opts.HTTPClient)
	ctx, cancel := context.WithCancel(ctx)
	src, err := newKeySource(ctx, &cfg, client, opts.Logger)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("auth: %w", err)
	}
	v, err := newVerifier(&cfg, src, opts.Clock)
	if err != nil {
		cancel()
		return nil, err
	}
	v.cancel = cancel
	return v, nil
}

// newVerifier builds a Verifier on a key source without validating the
// configuration (tests use it to exercise misconfigurations).
func newVerifier(cfg *config.Auth, src keySource, clock func() time.Time) (*Verifier, error) {
	pattern, err := tenant.Compile(cfg.TenantPattern)
	if err != nil {
		return nil, fmt.Errorf("auth: tenant_pattern: %w", err)
	}
	tenantClaim, err := claimpath.Parse(cfg.TenantClaim)
	if err != nil {
		return nil, fmt.Errorf("auth: tenant_claim: %w", err)
	}
	subjectClaim, err := claimpath.Parse(cfg.SubjectClaim)
	if err != nil {
		return nil, fmt.Errorf("auth: subject_claim: %w", err)
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audiences...), // any one of them (jwt v5.3)
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithJSONNumber(),
	}
	if clock != nil {
		popts = append(popts, jwt.WithTimeFunc(clock))
	} else {
		clock = time.Now
	}
	var tokens *tokenCache
	if !cfg.TokenCache.Disabled {
		entries := cfg.TokenCache.MaxEntries
		if entries <= 0 {
			entries = config.DefaultTokenCacheEntries
		}
		if tokens, err = newTokenCache(entries); err != nil {
			return nil, err
		}
	}
	return &Verifier{
		now:          clock,
		tokens:       tokens,
		parser:       jwt.NewParser(popts...),
		src:          src,
		tenantClaim:  tenantClaim,
		subjectClaim: subjectClaim,
		pattern:      pattern,
		maxBytes:     cfg.MaxTokenBytes,
		algorithms:   append([]string(nil), cfg.Algorithms...),
		issuer:       cfg.Issuer,
		audiences:    append([]string(nil), cfg.Audiences...),
		cancel:       func() {},
	}, nil
}

// Verify takes the raw Authorization header value ("Bearer <jwt>" or
// "<jwt>") and returns the identity, or an *errs.Error: invalid_token or
// invalid_tenant (errs.KindUnauthenticated), or request_too_large
// (errs.KindHeaderTooLarge) for an oversized header.
// ctx bounds a key refresh triggered by an unknown kid.
func (v *Verifier) Verify(ctx context.Context, authorization string) (*Identity, error) {
	raw, err := extractToken(authorization, v.maxBytes)
	if err != nil {
		return nil, err
	}
	if id, hit, err := v.remembered(ctx, raw); hit {
		return id, err
	}
	if err := v.noRepeatedMembers(raw); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	var used verifiedKeys
	token, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc(ctx, &used))
	if err != nil {
		return nil, v.classify(token, err)
	}
	id, err := v.identity(claims)
	if err == nil && v.tokens != nil {
		v.tokens.put(raw, claims, &used, id.Expiry, v.now())
	}
	return id, err
}

// VerifyCached answers from the verified-token cache: for a token it holds
// (the exact bytes of a token that passed every check of Verify, whose key
// is still in the key set, before its exp), the identity rebuilt from its
// claims — the tenant and subject checks run again — and hit true. hit is
// false when the cache is off, the header holds no token or the cache does
// not hold it: the token needs Verify. A hit checks no signature, which is
// why the broker's pre-auth limits, there to bound the cost of
// verification, do not count it.
func (v *Verifier) VerifyCached(ctx context.Context, authorization string) (id *Identity, hit bool, err error) {
	if v.tokens == nil {
		return nil, false, nil
	}
	raw, err := extractToken(authorization, v.maxBytes)
	if err != nil {
		return nil, false, nil
	}
	return v.remembered(ctx, raw)
}

// remembered is VerifyCached for an extracted token.
func (v *Verifier) remembered(ctx context.Context, raw string) (id *Identity, hit bool, err error) {
	if v.tokens == nil {
		return nil, false, nil
	}
	claims, ok := v.tokens.get(ctx, v, raw, v.now())
	if !ok {
		return nil, false, nil
	}
	id, err = v.identity(claims)
	return id, true, err
}

// noRepeatedMembers refuses a token whose header or payload names a member
// twice, at any depth ({"alg":"none","alg":"RS256"}): a JSON decoder keeps
// the last, another reader of the same token may keep the first. Names are
// compared exactly (jsondup.Exact), as the claims are decoded into a map. A
// segment that does not decode is left to the parser, which refuses it.
func (v *Verifier) noRepeatedMembers(raw string) error {
	header, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	for _, seg := range [...]struct{ name, text string }{{"header", header}, {"payload", payload}} {
		data, err := v.parser.DecodeSegment(seg.text)
		if err != nil {
			continue
		}
		if dup, found, _ := jsondup.First(data, jsondup.Exact); found {
			return errs.InvalidToken("malformed token", fmt.Errorf("the JWT %s names member %s more than once", seg.name, loggable(dup)))
		}
	}
	return nil
}

// keyfunc returns the verification key(s) for a token: keys from the
// configured source only, filtered by selectKeys. It records them in used.
func (v *Verifier) keyfunc(ctx context.Context, used *verifiedKeys) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 4.1.11: no extension is understood here, so refuse.
			return nil, errCritical
		}
		alg := t.Method.Alg()
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, errMalformedKID
		}
		cands, err := v.src.lookup(ctx, kid, hasKID)
		if err != nil {
			return nil, err
		}
		keys := selectKeys(alg, cands)
		*used = verifiedKeys{kid: kid, hasKID: hasKID, alg: alg, keys: keys}
		switch len(keys) {
		case 0:
			return nil, fmt.Errorf("%w for alg %s", errNoCompatibleKey, alg)
		case 1:
			return keys[0], nil
		default:
			return jwt.VerificationKeySet{Keys: keys}, nil
		}
	}
}

// selectKeys returns the candidates that may verify a token of alg: those
// whose JWK alg and use allow it and whose type and parameters fit alg (so
// an HS256 token can never be checked against an RSA public key used as an
// HMAC secret).
func selectKeys(alg string, cands []candidate) []jwt.VerificationKey {
	var keys []jwt.VerificationKey
	for _, c := range cands {
		if c.alg != "" && c.alg != alg {
			continue
		}
		if c.use != "" && c.use != "sig" {
			continue
		}
		if compatible(alg, c.key) {
			keys = append(keys, c.key)
		}
	}
	return keys
}

var (
	errMalformedKID    = errors.New("kid header is not a string")
	errCritical        = errors.New("crit header present: no JWS extension is supported")
	errNoCompatibleKey = errors.New("no key of a matching type")
	errUnknownKID      = errors.New("unknown kid")
)

// tokenFailures names the failure classes of a token after the malformed
// and algorithm checks, in the order classify tries them.
var tokenFailures = []struct {
	errs []error
	msg  string
}{
	{[]error{errUnknownKID}, "unknown signing key"},
	{[]error{errNoCompatibleKey}, "no matching signing key"},
	{[]error{jwt.ErrTokenSignatureInvalid}, "signature invalid"},
	{[]error{jwt.ErrTokenUnverifiable}, "signing key unavailable"},
	{[]error{jwt.ErrInvalidType}, "malformed token"}, // a registered claim of the wrong JSON type
	{[]error{jwt.ErrTokenExpired}, "token expired"},
	{[]error{jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued}, "token not yet valid"},
	{[]error{jwt.ErrTokenRequiredClaimMissing}, "missing required claim"},
	{[]error{jwt.ErrTokenInvalidIssuer}, "invalid issuer"},
	{[]error{jwt.ErrTokenInvalidAudience}, "invalid audience"},
	{[]error{jwt.ErrTokenInvalidClaims}, "invalid claims"},
}

// classify maps a jwt error to the public invalid_token error. The cause
// keeps the library error for logs; the message names the class only.
func (v *Verifier) classify(token *jwt.Token, err error) *errs.Error {
	switch {
	case isAny(err, jwt.ErrTokenMalformed, errMalformedKID, errCritical):
		return errs.InvalidToken("malformed token", err)
	case token != nil && (token.Method == nil || !slices.Contains(v.algorithms, token.Method.Alg())):
		// Unknown, missing or disallowed alg (including "none").
		return errs.InvalidToken("algorithm not allowed", err)
	}
	for _, f := range tokenFailures {
		if isAny(err, f.errs...) {
			return errs.InvalidToken(f.msg, v.detail(token, err))
		}
	}
	return errs.InvalidToken("invalid token", err)
}

// maxLoggedValue bounds a claim value quoted in a logged cause.
const maxLoggedValue = 128

// detail adds to a wrong issuer or audience what was expected and what
// came, for the log only (the public message stays generic): the values are
// quoted, truncated and stripped of control characters by loggable.
func (v *Verifier) detail(token *jwt.Token, err error) error {
	var claims jwt.MapClaims
	if token != nil {
		claims, _ = token.Claims.(jwt.MapClaims)
	}
	switch {
	case claims == nil:
		return err
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: iss is %s, want %s", err, loggable(claims["iss"]), loggable(v.issuer))
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: aud is %s, want one of %s", err, loggable(claims["aud"]), loggable(v.audiences))
	}
	return err
}

// loggable renders a claim value for a log line: strings quoted (Go
// syntax, so control characters are escaped) and cut to maxLoggedValue
// characters, arrays as at most 5 such strings, anything else by its JSON
// type.
func loggable(val any) string {
	switch t := val.(type) {
	case string:
		if r := []rune(t); len(r) > maxLoggedValue {
			return strconv.Quote(string(r[:maxLoggedValue])) + "…"
		}
		return strconv.Quote(t)
	case []string:
		return loggable(toAny(t))
	case []any:
		parts := make([]string, 0, min(len(t), 5))
		for i, e := range t {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("… (%d in all)", len(t)))
				break
			}
			parts = append(parts, loggable(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "a JSON " + jsonType(val)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// isAny reports whether err matches any of targets (errors.Is).
func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// Ready returns nil when at least one verification key is loaded, else a
// not_ready *errs.Error.
func (v *Verifier) Ready(ctx context.Context) error {
	n, err := v.src.count(ctx)
	if err != nil || n == 0 {
		if err == nil {
			err = errors.New("no verification keys loaded")
		}
		return errs.NotReady("verification keys not loaded", err)
	}
	return nil
}

// Close stops the background key refresh. It is idempotent.
func (v *Verifier) Close() {
	v.closeOnce.Do(v.cancel)
}

// bearerScheme is the Authorization scheme, compared case-insensitively.
const bearerScheme = "bearer"

// The classes of a byte in a compact JWS (extractToken): base64url, the
// segment separator, anything else.
const (
	byteOther = iota
	byteBase64URL
	byteDot
)

// tokenByte is the class of every byte value: a table, as extractToken
// reads every byte of every token the broker is sent.
var tokenByte = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '.':
			t[c] = byteDot
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			t[c] = byteBase64URL
		}
	}
	return t
}()

// extractToken returns the JWT from an Authorization header value.
func extractToken(h string, maxBytes int) (string, error) {
	if len(h) > maxBytes {
		return "", errs.New(errs.KindHeaderTooLarge, errs.CodeRequestTooLarge, "authorization header too large")
	}
	if h == "" || strings.EqualFold(h, bearerScheme) {
		return "", errs.InvalidToken("missing bearer token", nil)
	}
	tok := h
	if scheme, rest, ok := strings.Cut(h, " "); ok {
		if !strings.EqualFold(scheme, bearerScheme) {
			return "", errs.InvalidToken("unsupported authorization scheme", nil)
		}
		if rest == "" {
			return "", errs.InvalidToken("missing bearer token", nil)
		}
		tok = rest
	}
	dots := 0
	for i := 0; i < len(tok); i++ {
		switch tokenByte[tok[i]] {
		case byteDot:
			dots++
		case byteOther:
			// Whitespace, CR/LF, padding or any other byte.
			return "", errs.InvalidToken("malformed token", errors.New("token contains a character outside base64url"))
		}
	}
	if dots != 2 {
		return "", errs.InvalidToken("malformed token", errors.New("token does not have three segments"))
	}
	return tok, nil
}
