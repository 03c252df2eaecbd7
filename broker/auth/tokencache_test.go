package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

// movingClock is a clock the test advances.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movingClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// memoryJWKS returns a JWK Set source whose keys the test changes, holding
// the RSA test key under kid "rsa-1" (RS256, use sig).
func memoryJWKS(t testing.TB) (*jwksSource, jwkset.Storage) {
	t.Helper()
	keys(t)
	store := jwkset.NewMemoryStorage()
	writeJWK(t, store, "rsa-1", &rsaKey.PublicKey)
	return &jwksSource{store: store}, store
}

func writeJWK(t testing.TB, store jwkset.Storage, kid string, key any) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatal(err)
	}
}

// cacheVerifiers returns a verifier with the token cache and one without,
// on the same source, configuration and clock.
func cacheVerifiers(t testing.TB, src keySource, clk func() time.Time) (cached, uncached *Verifier) {
	t.Helper()
	cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{"unused"}}
	cfg.SetDefaults()
	var err error
	if cached, err = newVerifier(&cfg, src, clk); err != nil {
		t.Fatal(err)
	}
	cfg.TokenCache.Disabled = true
	if uncached, err = newVerifier(&cfg, src, clk); err != nil {
		t.Fatal(err)
	}
	if cached.tokens == nil || uncached.tokens != nil {
		t.Fatal("token cache not enabled by default, or not disabled by token_cache.disabled")
	}
	return cached, uncached
}

// cachedHit reports whether the verifier's cache would serve token now
// (VerifyCached, as the broker's handler asks it).
func cachedHit(v *Verifier, token string) bool {
	_, hit, _ := v.VerifyCached(context.Background(), "Bearer "+token)
	return hit
}

// TestVerifyCached: VerifyCached answers only for a token that verified,
// with the identity Verify gave, and never verifies itself.
func TestVerifyCached(t *testing.T) {
	src, _ := memoryJWKS(t)
	cached, uncached := cacheVerifiers(t, src, clock)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	forged := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey2, claims())
	miss := func(v *Verifier, header, why string) {
		t.Helper()
		if id, hit, err := v.VerifyCached(context.Background(), header); hit || id != nil || err != nil {
			t.Errorf("%s: VerifyCached = %v, %v, %v; want a miss", why, id, hit, err)
		}
	}
	miss(cached, "Bearer "+token, "never verified")
	want, err := cached.Verify(context.Background(), "Bearer "+token)
	if err != nil {
		t.Fatal(err)
	}
	for _, header := range []string{"Bearer " + token, token} {
		id, hit, err := cached.VerifyCached(context.Background(), header)
		if !hit || err != nil || id.Tenant != want.Tenant || id.Subject != want.Subject || !id.Expiry.Equal(want.Expiry) {
			t.Errorf("VerifyCached(%.10q…) = %+v, %v, %v; want %+v", header, id, hit, err, want)
		}
	}
	if _, err := cached.Verify(context.Background(), forged); err == nil {
		t.Fatal("forged token verified")
	}
	miss(cached, "Bearer "+forged, "failed verification")
	miss(cached, "Bearer "+token+"x", "one byte more")
	miss(cached, "", "no header")
	miss(cached, "Basic "+token, "another scheme")
	if _, err := uncached.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	miss(uncached, "Bearer "+token, "token_cache disabled")
}

// sameOutcome fails t unless both verifiers answer token alike: the same
// identity, or errors of the same code and message.
func sameOutcome(t *testing.T, cached, uncached *Verifier, token string) error {
	t.Helper()
	idC, errC := cached.Verify(context.Background(), token)
	idU, errU := uncached.Verify(context.Background(), token)
	switch {
	case (errC == nil) != (errU == nil):
		t.Fatalf("cached verifier: %v, uncached: %v", errC, errU)
	case errC != nil:
		var ec, eu *errs.Error
		if !errors.As(errC, &ec) || !errors.As(errU, &eu) || ec.Code != eu.Code || ec.Message != eu.Message {
			t.Fatalf("cached verifier: %v, uncached: %v", errC, errU)
		}
	case idC.Tenant != idU.Tenant || idC.Subject != idU.Subject || !idC.Expiry.Equal(idU.Expiry):
		t.Fatalf("cached identity %+v, uncached %+v", idC, idU)
	}
	return errC
}

func TestTokenCacheNeverPastExpiry(t *testing.T) {
	src, _ := memoryJWKS(t)
	clk := &movingClock{t: now}
	cached, uncached := cacheVerifiers(t, src, clk.Now)
	exp := now.Add(10 * time.Minute)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())

	steps := []struct {
		at       time.Time
		wantHit  bool // the cache serves the token at this time
		wantErrs string
	}{
		{now, false, ""}, // first use: verified, then cached
		{now.Add(time.Minute), true, ""},
		{exp.Add(-time.Second), true, ""},
		{exp, false, ""}, // exp reached: the cache drops it; verification still allows the leeway
		{exp.Add(config.DefaultLeeway - time.Second), false, ""},
		{exp.Add(config.DefaultLeeway + time.Second), false, "token expired"},
		{exp.Add(time.Hour), false, "token expired"},
	}
	for _, s := range steps {
		t.Run(s.at.Sub(now).String(), func(t *testing.T) {
			clk.Set(s.at)
			if got := cachedHit(cached, token); got != s.wantHit {
				t.Fatalf("cache hit = %v, want %v", got, s.wantHit)
			}
			err := sameOutcome(t, cached, uncached, token)
			switch {
			case s.wantErrs == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case s.wantErrs != "":
				checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, s.wantErrs)
			}
		})
	}
}

func TestTokenCacheKeyLeftTheSet(t *testing.T) {
	tests := map[string]struct {
		change  func(t *testing.T, store jwkset.Storage)
		wantMsg string
	}{
		"key removed": {func(t *testing.T, store jwkset.Storage) {
			if ok, err := store.KeyDelete(context.Background(), "rsa-1"); !ok || err != nil {
				t.Fatalf("KeyDelete: %v %v", ok, err)
			}
			writeJWK(t, store, "rsa-2", &rsaKey2.PublicKey)
		}, "unknown signing key"},
		"kid now names another key": {func(t *testing.T, store jwkset.Storage) {
			if err := store.KeyReplaceAll(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			writeJWK(t, store, "rsa-1", &rsaKey2.PublicKey)
		}, "signature invalid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src, store := memoryJWKS(t)
			cached, uncached := cacheVerifiers(t, src, clock)
			token := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
			for range 2 {
				if _, err := cached.Verify(context.Background(), token); err != nil {
					t.Fatal(err)
				}
			}
			if !cachedHit(cached, token) {
				t.Fatal("token not cached")
			}
			tc.change(t, store)
			if cachedHit(cached, token) {
				t.Fatal("cache serves a token whose key left the set")
			}
			err := sameOutcome(t, cached, uncached, token)
			checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, tc.wantMsg)
		})
	}
}

func TestTokenCacheKeySetRefreshKeepsEntries(t *testing.T) {
	// A refresh that brings the same key back as a new value keeps serving.
	src, store := memoryJWKS(t)
	cached, _ := cacheVerifiers(t, src, clock)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	if _, err := cached.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if err := store.KeyReplaceAll(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	writeJWK(t, store, "rsa-1", &rsaKey.PublicKey)
	if !cachedHit(cached, token) {
		t.Error("the same key under the same kid dropped the entry")
	}
}

func TestTokenCacheOneByteChanged(t *testing.T) {
	src, _ := memoryJWKS(t)
	cached, uncached := cacheVerifiers(t, src, clock)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	if _, err := cached.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	// The last character of a segment may carry unused base64 bits, which a
	// lenient decoder ignores: the verifiers must still agree there.
	segmentEnd := map[int]bool{len(token) - 1: true}
	for i := range token {
		if i+1 < len(token) && token[i+1] == '.' {
			segmentEnd[i] = true
		}
	}
	accepted := 0
	for i := range token {
		for _, r := range []byte{'A', 'b', '0', '-', '_', '.', '~'} {
			if token[i] == r {
				continue
			}
			mutated := token[:i] + string(r) + token[i+1:]
			if cachedHit(cached, mutated) {
				t.Fatalf("byte %d changed to %q: served from the cache", i, r)
			}
			err := sameOutcome(t, cached, uncached, mutated)
			if err == nil {
				if !segmentEnd[i] {
					t.Fatalf("byte %d changed to %q: accepted", i, r)
				}
				accepted++ // the same signed bytes: verified, and cached under its own hash
			}
		}
	}
	if n := cached.tokens.lru.Len(); n != 1+accepted {
		t.Errorf("cache holds %d entries, want the original and the %d variants that verified", n, accepted)
	}
}

func TestTokenCacheOnlySuccesses(t *testing.T) {
	src, _ := memoryJWKS(t)
	cached, _ := cacheVerifiers(t, src, clock)
	bad := map[string]string{
		"tenant fails the pattern": sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["tenant_id"] = "a*" })),
		"no subject":               sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { delete(c, "sub") })),
		"wrong audience":           sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["aud"] = "x" })),
		"foreign key":              sign(t, jwt.SigningMethodRS256, "rsa-1", rsaOther, claims()),
		"expired":                  sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
	}
	for name, token := range bad {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				if _, err := cached.Verify(context.Background(), token); err == nil {
					t.Fatal("accepted")
				}
			}
			if cachedHit(cached, token) {
				t.Fatal("a failed verification was cached")
			}
		})
	}
	if n := cached.tokens.lru.Len(); n != 0 {
		t.Errorf("cache holds %d entries after failures only", n)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	src, _ := memoryJWKS(t)
	cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{"unused"},
		TokenCache: config.TokenCache{MaxEntries: 3}}
	cfg.SetDefaults()
	v, err := newVerifier(&cfg, src, clock)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range 5 {
		tok := sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, with(func(c jwt.MapClaims) { c["jti"] = strings.Repeat("x", i+1) }))
		tokens = append(tokens, tok)
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.tokens.lru.Len(); n != 3 {
		t.Errorf("cache holds %d entries, want 3", n)
	}
	if cachedHit(v, tokens[0]) || !cachedHit(v, tokens[4]) {
		t.Error("the least recently used token was not the one evicted")
	}
}

// FuzzTokenCacheMutation changes a cached token and checks that the cached
// verifier answers exactly as an uncached one, never from the cache.
func FuzzTokenCacheMutation(f *testing.F) {
	f.Add(10, byte('A'))
	f.Add(-1, byte('.'))
	src, _ := memoryJWKS(f)
	cached, uncached := cacheVerifiers(f, src, clock)
	token := sign(f, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	if _, err := cached.Verify(context.Background(), token); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pos int, b byte) {
		if pos < 0 || pos >= len(token) || token[pos] == b {
			return
		}
		mutated := token[:pos] + string(b) + token[pos+1:]
		if cachedHit(cached, mutated) {
			t.Fatal("a changed token was served from the cache")
		}
		sameOutcome(t, cached, uncached, mutated)
	})
}

// BenchmarkVerifyTokenCache is a verified-token cache hit: the hash of the
// token, the LRU lookup, the key-set check and the identity (tenant,
// subject, scopes) from the cached claims. BenchmarkVerify/RS256 is the
// same token verified.
func BenchmarkVerifyTokenCache(b *testing.B) {
	src, _ := memoryJWKS(b)
	v, _ := cacheVerifiers(b, src, clock)
	header := "Bearer " + sign(b, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims())
	ctx := context.Background()
	if _, err := v.Verify(ctx, header); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, header); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenCacheMemoryPerEntry measures the heap one cached token
// costs (claims as the dev IdP mints them: iss, sub, aud, iat, nbf, exp,
// jti, tenant_id).
func BenchmarkTokenCacheMemoryPerEntry(b *testing.B) {
	const entries = 20_000
	keys(b)
	used := &verifiedKeys{kid: "rsa-1", hasKID: true, alg: "RS256", keys: []jwt.VerificationKey{&rsaKey.PublicKey}}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := newTokenCache(entries)
		if err != nil {
			b.Fatal(err)
		}
		for i := range entries {
			// The parser's claims: json.Number values (WithJSONNumber).
			claims := jwt.MapClaims{
				"iss": "http://127.0.0.1:4566", "sub": "user-" + strconv.Itoa(i), "aud": "tvm-broker",
				"iat": json.Number("1764540000"), "nbf": json.Number("1764540000"), "exp": json.Number("1764547200"),
				"jti": fmt.Sprintf("%032x", i), "tenant_id": strconv.Itoa(i),
			}
			c.put(fmt.Sprintf("token-%d", i), claims, used, now.Add(time.Hour), now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/entries, "bytes/entry")
		runtime.KeepAlive(c)
	}
}

// TestTokenCacheEveryKeyType: a token of every supported key type is served
// from the cache on its second use (the key comparison of keysStillHeld
// handles each key type's Go representation).
func TestTokenCacheEveryKeyType(t *testing.T) {
	hmac := []byte(strings.Repeat("s", config.MinHMACSecretBytes))
	tests := asymmetricKeys(t)
	tests["HS256"] = testKey{jwt.SigningMethodHS256, hmac, hmac}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := &staticSource{keys: []staticKey{{kid: "k", key: tc.verify}}}
			cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{"unused"},
				Algorithms: []string{tc.method.Alg()}}
			cfg.SetDefaults()
			v, err := newVerifier(&cfg, src, clock)
			if err != nil {
				t.Fatal(err)
			}
			token := sign(t, tc.method, "k", tc.sign, claims())
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Fatal(err)
			}
			if !cachedHit(v, token) {
				t.Fatal("a verified token is not served from the cache")
			}
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Fatalf("second use refused: %v", err)
			}
		})
	}
}
