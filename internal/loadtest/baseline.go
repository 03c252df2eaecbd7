package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// BaselineRoute is the route the baseline answers, the broker's.
const BaselineRoute = "/v1/credentials"

// Baseline serves, on listen until ctx ends, the bare handler the broker is
// measured against: Echo with no middleware, verifying the bearer token
// with golang-jwt (RS256, ES256 or EdDSA; iss, aud and exp required, 30 s
// leeway: the broker's checks) against the JWK Set at jwksURL (keyfunc, as
// the broker), answering {"sub":…,"tenant_id":…} or 401. It vends nothing,
// logs nothing and counts nothing: what any broker must do per request.
func Baseline(ctx context.Context, listen, issuer, jwksURL, audience string) error {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		return fmt.Errorf("baseline: JWK Set: %w", err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}), jwt.WithIssuer(issuer),
		jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	verify := func(c echo.Context) error {
		raw, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(raw, claims, kf.Keyfunc); !ok || err != nil {
			return c.JSON(http.StatusUnauthorized, map[string]string{"code": "invalid_token"})
		}
		return c.JSON(http.StatusOK, map[string]any{"sub": claims["sub"], "tenant_id": claims["tenant_id"]})
	}
	e.GET(BaselineRoute, verify)
	e.POST(BaselineRoute, verify)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
