package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/auth/claimpath"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/policies/tenant"
)

// FuzzTenantClaim: for any JSON claim value, tenantFromClaims either refuses
// it with invalid_tenant or returns exactly the string the claim holds, and
// that string matches the pattern; a number is never accepted.
func FuzzTenantClaim(f *testing.F) {
	for _, seed := range []string{
		`"acme"`, `"*"`, `"?"`, `"\""`, `"$"`, `"/"`, `"a\u0000b"`, `"a\nb"`, `""`, `42`, `-1`, `1.5`,
		`1e3`, `true`, `null`, `["acme"]`, `{"id":"acme"}`, `"Tenant#1"`, `"${aws:username}"`,
		`"` + strings.Repeat("a", 64) + `"`, `"` + strings.Repeat("a", 65) + `"`, `"k"`, `"\u212a"`, `"é"`, `7`, `7.0`, `1e2`, `-0`,
	} {
		f.Add([]byte(seed))
	}
	pattern, err := tenant.Compile(config.DefaultTenantPattern)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var val any
		if err := dec.Decode(&val); err != nil {
			return
		}
		got, err := tenantFromClaims(map[string]any{"tenant_id": val}, claimpath.MustParse("tenant_id"), pattern)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.CodeInvalidTenant || e.Kind != errs.KindUnauthenticated {
				t.Fatalf("refusal %v is not an unauthenticated invalid_tenant", err)
			}
			return
		}
		if !pattern.MatchString(got) {
			t.Fatalf("accepted tenant %q does not match the pattern", got)
		}
		switch v := val.(type) {
		case string:
			if got != v {
				t.Fatalf("tenant %q differs from the claim %q", got, v)
			}
		default:
			t.Fatalf("accepted a claim of type %T", val)
		}
	})
}

// FuzzVerifyHeader: any Authorization value yields an identity only for a
// validly signed token, and otherwise an *errs.Error; it never panics.
func FuzzVerifyHeader(f *testing.F) {
	keys(f)
	good := sign(f, jwt.SigningMethodRS256, "rsa", rsaKey, claims())
	for _, seed := range []string{"", "Bearer", "Bearer " + good, good, "bearer  " + good, "Basic x", "a.b.c", "..", good + "\r\n",
		"Bearer " + strings.Repeat("a", 9000)} {
		f.Add(seed)
	}
	cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{"unused"}}
	cfg.SetDefaults()
	v, err := newVerifier(&cfg, &staticSource{keys: []staticKey{{kid: "rsa", key: &rsaKey.PublicKey}}}, clock)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, err := v.Verify(context.Background(), header)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *errs.Error", err)
			}
			if e.Message != "" && strings.Contains(header, ".") && len(header) > 10 && strings.Contains(e.Message, header) {
				t.Fatal("message echoes the header")
			}
			return
		}
		if id.Tenant != "acme" || id.Subject != "alice" {
			t.Fatalf("unexpected identity %+v", id)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	cfg := config.Auth{Issuer: testIssuer, Audiences: []string{testAudience}, PublicKeyFiles: []string{"unused"},
		TokenCache: config.TokenCache{Disabled: true}} // every iteration verifies the signature
	cfg.SetDefaults()
	for name, bb := range asymmetricKeys(b) {
		b.Run(name, func(b *testing.B) {
			v, err := newVerifier(&cfg, &staticSource{keys: []staticKey{{kid: "k", key: bb.verify}}}, clock)
			if err != nil {
				b.Fatal(err)
			}
			header := "Bearer " + sign(b, bb.method, "k", bb.sign, claims())
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestExtractTokenBytes: a one-byte change anywhere in a well-formed token
// is accepted by extractToken exactly when the byte is base64url (or a dot,
// changing the segment count).
func TestExtractTokenBytes(t *testing.T) {
	const tok = "aaaa.bbbb.cccc"
	for c := range 256 {
		b := []byte(tok)
		b[1] = byte(c)
		_, err := extractToken("Bearer "+string(b), 1<<10)
		base64url := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		if (err == nil) != base64url {
			t.Errorf("byte %#x: err %v, base64url %v", c, err, base64url)
		}
	}
}
