package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/metrics"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

// benchSTS answers every AssumeRole with distinct one-hour credentials.
type benchSTS struct{ n atomic.Int64 }

func (s *benchSTS) AssumeRole(_ context.Context, in *vend.AssumeRoleInput) (*vend.AssumeRoleOutput, error) {
	n := s.n.Add(1)
	return &vend.AssumeRoleOutput{
		AccessKeyID:     fmt.Sprintf("ASIABENCH%011d", n),
		SecretAccessKey: fmt.Sprintf("bench-secret-%028d", n),
		SessionToken:    fmt.Sprintf("bench-session-token-%0400d", n),
		Expiration:      time.Now().Add(in.Duration),
		AssumedRoleARN:  "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/" + in.RoleSessionName,
		Size:            vend.SessionSize{PackedPolicyPercent: 7, TokenUtilizationPercent: vend.SizeNotReported},
	}, nil
}

// fullStack is the broker's real handler in process: the real verifier
// (a JWK Set file of a test IdP), the real vending core over benchSTS, the
// metrics and a JSON logger writing to io.Discard.
type fullStack struct {
	e     *echo.Echo
	idp   *testenv.IdP
	token string
}

func newFullStack(b *testing.B, tokenCache int) *fullStack {
	b.Helper()
	p := testenv.StartIdP(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	acfg := config.Auth{Issuer: p.URL, Audiences: []string{"tvm-broker"}, JWKSFile: p.JWKSFile(b), TenantClaim: "tenant_id"}
	acfg.TokenCache.MaxEntries = tokenCache
	acfg.TokenCache.Disabled = tokenCache == 0
	verifier, err := auth.New(ctx, acfg, auth.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(verifier.Close)
	cfg := &config.Config{Profiles: []config.Profile{{
		Name: "read", RoleARN: "arn:aws:iam::123456789012:role/tvm-tenant-read", Template: "dynamodb-read",
		TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"},
	}}}
	cfg.SetDefaults()
	templates, err := policies.LoadTemplates("", targets.All())
	if err != nil {
		b.Fatal(err)
	}
	set, err := profiles.Compile(cfg, templates, profiles.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New([]string{"read"})
	vendor, err := vend.New(set, &benchSTS{}, vend.Options{Observer: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(vendor.Close)
	e, err := New(Options{
		Verifier: verifier, Vendor: vendor, Metrics: m, DefaultProfile: "read",
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RateLimit: RateLimitOptions{PerTenant: Rate{RPS: 1e9, Burst: 1e9}, PerSubject: Rate{RPS: 1e9, Burst: 1e9}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return &fullStack{e: e, idp: p, token: p.Token(b, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})}
}

// serve sends one GET /v1/credentials with the stack's token and fails b
// unless it is answered 200.
func (s *fullStack) serve(b *testing.B, r *http.Request) {
	w := httptest.NewRecorder()
	s.e.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

// BenchmarkCachedVendHTTP is the full cached HTTP path in process: every
// middleware, the verifier (RS256, or its verified-token cache), the rate
// limiter, a credential cache hit, the audit record and the JSON answer.
// "bare" is the load harness's baseline handler on the same token and key:
// Echo verifying the token with golang-jwt and answering its subject.
func BenchmarkCachedVendHTTP(b *testing.B) {
	for _, bc := range []struct {
		name       string
		tokenCache int
	}{{"verify", 0}, {"token-cache", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			s := newFullStack(b, bc.tokenCache)
			req := func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, RouteCredentials, nil)
				r.Header.Set(echo.HeaderAuthorization, "Bearer "+s.token)
				return r
			}
			s.serve(b, req()) // fill the caches
			b.ReportAllocs()
			for b.Loop() {
				s.serve(b, req())
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		p := testenv.StartIdP(b, nil)
		token := p.Token(b, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
		key := p.PublicKey()
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(p.URL),
			jwt.WithAudience("tvm-broker"), jwt.WithExpirationRequired())
		e := echo.New()
		e.GET(RouteCredentials, func(c echo.Context) error {
			claims := jwt.MapClaims{}
			raw := c.Request().Header.Get(echo.HeaderAuthorization)[len("Bearer "):]
			if _, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
				return c.JSON(http.StatusUnauthorized, map[string]string{"code": "invalid_token"})
			}
			return c.JSON(http.StatusOK, map[string]any{"sub": claims["sub"]})
		})
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, RouteCredentials, nil)
			r.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
