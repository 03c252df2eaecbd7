package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/metrics"
	"github.com/tvmkit/tvm/broker/vend"
)

// Verifier turns an Authorization header value into a verified identity.
// *auth.Verifier implements it.
type Verifier interface {
	// Verify takes the raw header value ("Bearer <jwt>" or "<jwt>") and
	// returns the identity or an *errs.Error.
	Verify(ctx context.Context, authorization string) (*auth.Identity, error)
	// Ready returns nil once signing keys are loaded.
	Ready(ctx context.Context) error
}

// Vendor vends credentials for a verified request. *vend.Vendor implements it.
type Vendor interface {
	Vend(ctx context.Context, req vend.Request) (*vend.Credentials, error)
}

// Defaults used when the corresponding Options field is zero.
const (
	DefaultMaxBodyBytes   = 64 << 10
	DefaultRequestTimeout = 30 * time.Second
	DefaultLimiterEntries = 10000
)

// Routes, as registered (and used as the route label of metrics and logs).
const (
	RouteCredentials = "/v1/credentials"
	RouteHealthz     = "/healthz"
	RouteReadyz      = "/readyz"
	RouteMetrics     = "/metrics"
	routeUnmatched   = "unmatched"
)

// Options configures New. Verifier and Vendor are required.
type Options struct {
	Verifier Verifier
	Vendor   Vendor
	// Logger receives access logs, audit records and error causes; nil
	// discards them.
	Logger *slog.Logger
	// Metrics, when set, records HTTP, vend and rate-limit metrics and is
	// served on /metrics.
	Metrics *metrics.Metrics
	// DefaultProfile names the profile a request without one gets; used for
	// the audit record and metrics of requests that fail before vending.
	DefaultProfile string
	// Server supplies RequestTimeout, MaxBodyBytes and AllowedHosts.
	Server config.Server
	// RateLimit configures the per-tenant and per-subject token buckets. A
	// scope whose rate is zero or negative is not limited.
	RateLimit config.RateLimit
	// LimiterEntries bounds each limiter's map (least recently used entries
	// are evicted); default DefaultLimiterEntries.
	LimiterEntries int
	// Ready, when set, is an extra readiness check run by /readyz after
	// Verifier.Ready.
	Ready func(ctx context.Context) error
	// Clock returns the current time (rate limiting, durations); default time.Now.
	Clock func() time.Time
}

type server struct {
	verifier       Verifier
	vendor         Vendor
	log            *slog.Logger
	metrics        *metrics.Metrics
	defaultProfile string
	maxBody        int64
	limits         *limits
	ready          func(ctx context.Context) error
	now            func() time.Time
	routes         map[string]bool
}

// New returns the broker's HTTP handler: an *echo.Echo with every route,
// middleware and the JSON error handler installed.
func New(opts Options) (*echo.Echo, error) {
	if opts.Verifier == nil {
		return nil, errors.New("api: Options.Verifier is required")
	}
	if opts.Vendor == nil {
		return nil, errors.New("api: Options.Vendor is required")
	}
	s := &server{
		verifier:       opts.Verifier,
		vendor:         opts.Vendor,
		log:            opts.Logger,
		metrics:        opts.Metrics,
		defaultProfile: opts.DefaultProfile,
		maxBody:        opts.Server.MaxBodyBytes,
		ready:          opts.Ready,
		now:            opts.Clock,
		routes:         map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	timeout := opts.Server.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	entries := opts.LimiterEntries
	if entries <= 0 {
		entries = DefaultLimiterEntries
	}
	s.limits = newLimits(opts.RateLimit, entries)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.handleError

	e.Use(
		s.requestID,
		s.accessLog,
		s.recover,
		hostAllowList(opts.Server.AllowedHosts),
		s.bodyLimit,
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			Timeout: timeout,
			// Pass errors through: handleError maps a deadline to 504.
			ErrorHandler: func(err error, _ echo.Context) error { return err },
		}),
	)
	e.GET(RouteCredentials, s.credentials)
	e.POST(RouteCredentials, s.credentials)
	e.GET(RouteHealthz, s.healthz)
	e.GET(RouteReadyz, s.readyz)
	if s.metrics != nil {
		e.GET(RouteMetrics, echo.WrapHandler(s.metrics.Handler()))
	}
	for _, r := range e.Routes() {
		s.routes[r.Path] = true
	}
	return e, nil
}

func (s *server) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.verifier.Ready(ctx); err != nil {
		return errs.Wrap(err, http.StatusServiceUnavailable, errs.CodeNotReady, "signing keys are not loaded")
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			return errs.Wrap(err, http.StatusServiceUnavailable, errs.CodeNotReady, "not ready")
		}
	}
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}
