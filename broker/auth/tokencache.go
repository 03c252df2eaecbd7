package auth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenCache is the verified-token cache: the claims of tokens that
// verified (signature, algorithm, iss, aud, exp, nbf, iat) and yielded a
// valid identity, keyed by the SHA-256 of the exact token bytes. It never
// holds a token, only its hash. An entry is served only
//
//   - before the token's exp (not exp + leeway: the cache never accepts a
//     token longer than verification would), and
//   - while every key the token was verified against is still what the key
//     source returns for the token's kid and alg (a key that left the JWK
//     Set, or was replaced under its kid, drops the entry).
//
// Failures are never cached. The caller derives the identity from the
// cached claims on every request, so the tenant, subject and scope checks
// still run each time. Safe for concurrent use (the LRU locks; entries and
// their claims are never modified once stored).
type tokenCache struct {
	lru *lru.Cache[[sha256.Size]byte, *tokenEntry]
}

// tokenEntry is one verified token.
type tokenEntry struct {
	claims jwt.MapClaims // read-only once stored
	exp    time.Time
	kid    string
	hasKID bool
	alg    string
	// keys are the keys the token was verified against (one, or every key
	// of a verification key set: which of them signed is not known).
	keys []jwt.VerificationKey
}

func newTokenCache(entries int) (*tokenCache, error) {
	l, err := lru.New[[sha256.Size]byte, *tokenEntry](entries)
	if err != nil {
		return nil, fmt.Errorf("auth: token cache: %w", err)
	}
	return &tokenCache{lru: l}, nil
}

// verifiedKeys records the key(s) a keyfunc handed to the parser, so that
// a successful verification can be cached with them.
type verifiedKeys struct {
	kid    string
	hasKID bool
	alg    string
	keys   []jwt.VerificationKey
}

// get returns the cached claims of raw when its entry is still servable at
// now: before exp and with its verification keys still in the key source
// (looked up as a verification would). A stale entry is removed.
func (c *tokenCache) get(ctx context.Context, v *Verifier, raw string, now time.Time) (jwt.MapClaims, bool) {
	sum := sha256.Sum256([]byte(raw))
	e, ok := c.lru.Get(sum)
	if !ok {
		return nil, false
	}
	if !now.Before(e.exp) || !v.keysStillHeld(ctx, e) {
		c.lru.Remove(sum)
		return nil, false
	}
	return e.claims, true
}

// put caches the claims of raw, verified against used, until exp.
func (c *tokenCache) put(raw string, claims jwt.MapClaims, used *verifiedKeys, exp, now time.Time) {
	if len(used.keys) == 0 || !now.Before(exp) {
		return
	}
	c.lru.Add(sha256.Sum256([]byte(raw)), &tokenEntry{
		claims: claims, exp: exp, kid: used.kid, hasKID: used.hasKID, alg: used.alg, keys: used.keys,
	})
}

// keysStillHeld reports whether every key e was verified against is still
// among the keys the key source yields for e's kid and alg, selected by the
// one rule verifications use (selectKeys).
func (v *Verifier) keysStillHeld(ctx context.Context, e *tokenEntry) bool {
	cands, err := v.src.lookup(ctx, e.kid, e.hasKID)
	if err != nil {
		return false
	}
	current := selectKeys(e.alg, cands)
	for _, k := range e.keys {
		if !slices.ContainsFunc(current, func(c jwt.VerificationKey) bool { return sameKey(k, c) }) {
			return false
		}
	}
	return true
}

// sameKey reports whether a and b are the same verification key: equal
// public keys (a JWK Set refresh makes new values for the same keys), or
// equal HMAC secrets (compared in constant time). Keys are never compared
// with ==: an ed25519.PublicKey is a slice, and == on two of them in
// interfaces panics.
func sameKey(a, b jwt.VerificationKey) bool {
	if as, ok := a.([]byte); ok {
		bs, ok := b.([]byte)
		return ok && subtle.ConstantTimeCompare(as, bs) == 1
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
