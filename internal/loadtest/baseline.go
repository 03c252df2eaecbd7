package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// BaselineOptions configures Baseline.
type BaselineOptions struct {
	// Listen is the address to listen on (port 0: any free port).
	Listen string
	// Issuer and Audience are the expected iss and aud; JWKSURL is the
	// JWK Set's URL.
	Issuer, Audience, JWKSURL string
	// Ready, when set, receives the ready line once the handler listens:
	// "tvm-bench baseline ready on http://ADDR".
	Ready io.Writer
}

// Baseline serves, until ctx ends, the bare handler the broker is measured
// against: Echo with no middleware, verifying the bearer token with
// golang-jwt (RS256, ES256 or EdDSA; iss, aud and exp required, 30 s
// leeway: the broker's checks) against the JWK Set (keyfunc, as the
// broker), answering {"sub":…,"tenant_id":…} or 401. It vends nothing,
// logs nothing and counts nothing: what any broker must do per request.
func Baseline(ctx context.Context, o BaselineOptions) error {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{o.JWKSURL})
	if err != nil {
		return fmt.Errorf("baseline: JWK Set: %w", err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}), jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
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
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	if o.Ready != nil {
		fmt.Fprintf(o.Ready, "tvm-bench baseline ready on http://%s\n", ln.Addr())
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
