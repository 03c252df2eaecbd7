package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/blocklist"
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

// cachedVerifier is a Verifier that can answer for a token it has
// verified before without checking its signature again: the pre-auth
// limits do not count such an answer (authenticate). *auth.Verifier
// implements it.
type cachedVerifier interface {
	// VerifyCached returns the identity and hit true for a token the
	// verifier remembers; hit false when it needs Verify.
	VerifyCached(ctx context.Context, authorization string) (id *auth.Identity, hit bool, err error)
}

var _ cachedVerifier = (*auth.Verifier)(nil)

// Vendor vends credentials for a verified request. *vend.Vendor implements
// it. Vend returns either an error or complete credentials that are
// servable (vend refuses unusable STS answers), so the handler serves them
// as they are.
type Vendor interface {
	Vend(ctx context.Context, req vend.Request) (*vend.Credentials, error)
}

// Defaults used when the corresponding Options field is zero.
const (
	DefaultMaxBodyBytes   = 64 << 10
	DefaultMaxHeaderBytes = 16 << 10
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
	// Server sets the request limits and the allowed hosts.
	Server ServerOptions
	// RateLimit configures the per-tenant and per-subject token buckets.
	RateLimit RateLimitOptions
	// RateLimits, when set, are the buckets to use instead of new ones of
	// RateLimit (NewRateLimits); they may be shared by several handlers.
	RateLimits *RateLimits
	// Clock returns the current time (rate limiting, durations); default time.Now.
	Clock func() time.Time
	// Readiness are the conditions of /readyz beyond the Verifier's keys,
	// checked in order after them (see ReadinessCheck).
	Readiness []ReadinessCheck
	// PreAuth, when set, limits requests before their token is verified
	// (preauth.go). It may be shared by several handlers.
	PreAuth *PreAuth
	// Blocks, when set, refuses verified callers it lists (403
	// tenant_blocked or subject_blocked), before rate limits and vending.
	Blocks BlockList
	// ReadyDetail, when set, returns what /readyz adds to its answer under
	// "config" (the configuration's generation and last reload, say).
	ReadyDetail func() any
}

// BlockList says whether a verified caller is blocked, and by what.
// *blocklist.List implements it.
type BlockList interface {
	Blocked(tenant, subject string) (blocklist.Scope, bool)
}

// ReadinessCheck is one condition of /readyz: nil when it is met, else an
// error saying why not. A not_ready *errs.Error's public message is
// answered as it is; any other error is answered "not ready" and logged.
// A check must be fast and safe for concurrent use (vend.IdentityCheck's
// Ready is one).
type ReadinessCheck func(ctx context.Context) error

// ServerOptions are the HTTP layer's limits. Zero fields take the defaults
// named on each field.
type ServerOptions struct {
	// RequestTimeout bounds handling one request; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds request bodies (413 beyond); default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request line and header fields, counted
	// as HTTP/1.1 text (431 request_too_large beyond); default
	// DefaultMaxHeaderBytes. The http.Server must read at least that much:
	// set its MaxHeaderBytes to HeaderReadLimit(MaxHeaderBytes).
	MaxHeaderBytes int
	// AllowedHosts, when set, are the only Host header values accepted
	// (DNS-rebinding defence): an entry matches the Host exactly,
	// case-insensitively, or its host part without the port. Empty allows
	// every host.
	AllowedHosts []string
	// TrustedProxies are the addresses of the proxies whose
	// X-Forwarded-For is believed: the client address (pre-auth limits,
	// access logs) is then the nearest untrusted one it names. Empty
	// ignores the header: the client address is the connection's peer.
	TrustedProxies []netip.Prefix
}

// RateLimitOptions configures the per-tenant and per-subject token
// buckets. A scope whose Rate has RPS zero or negative is not limited, so
// the zero value limits nothing.
type RateLimitOptions struct {
	PerTenant  Rate
	PerSubject Rate
	// Entries bounds each scope's buckets (least recently used buckets are
	// evicted); default DefaultLimiterEntries.
	Entries int
}

// Rate is one token bucket: RPS tokens a second, holding at most Burst
// (at least 1).
type Rate struct {
	RPS   float64
	Burst int
}

type server struct {
	verifier       Verifier
	vendor         Vendor
	log            *slog.Logger
	metrics        *metrics.Metrics
	defaultProfile string
	maxBody        int64
	maxHeader      int
	limits         *limits
	preAuth        *PreAuth
	blocks         BlockList
	readyDetail    func() any
	trustsProxies  bool
	xffWarned      atomic.Bool
	now            func() time.Time
	routes         map[string]bool
	readiness      []ReadinessCheck
}

// New returns the broker's HTTP handler: an *echo.Echo with every route,
// middleware and the JSON error handler installed.
func New(opts Options) (_ *echo.Echo, err error) {
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
		maxHeader:      opts.Server.MaxHeaderBytes,
		now:            opts.Clock,
		routes:         map[string]bool{},
		preAuth:        opts.PreAuth,
		blocks:         opts.Blocks,
		readyDetail:    opts.ReadyDetail,
		trustsProxies:  len(opts.Server.TrustedProxies) > 0,
	}
	s.readiness = append([]ReadinessCheck{s.keysReady}, opts.Readiness...)
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxHeader <= 0 {
		s.maxHeader = DefaultMaxHeaderBytes
	}
	timeout := opts.Server.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	if opts.RateLimits != nil {
		s.limits = opts.RateLimits.l
	} else if s.limits, err = newLimits(opts.RateLimit); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.IPExtractor = ipExtractor(opts.Server.TrustedProxies)
	e.HTTPErrorHandler = s.handleError

	e.Use(
		s.requestID,
		s.accessLog,
		s.recover,
		s.headerLimit,
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
	if err := s.ready(c.Request().Context()); err != nil {
		return err
	}
	body := map[string]any{"status": "ready"}
	if s.readyDetail != nil {
		body["config"] = s.readyDetail()
	}
	return writeJSON(c, http.StatusOK, body)
}

// ready is the one readiness decision: every check in order (the signing
// keys first, then Options.Readiness); the first unmet one is the answer,
// a not_ready *errs.Error.
func (s *server) ready(ctx context.Context) error {
	for _, check := range s.readiness {
		err := check(ctx)
		if err == nil {
			continue
		}
		var e *errs.Error
		if errors.As(err, &e) && e.Kind == errs.KindNotReady {
			return e
		}
		return errs.NotReady("not ready", err)
	}
	return nil
}

// keysReady is the first readiness check: the Verifier's signing keys.
func (s *server) keysReady(ctx context.Context) error {
	if err := s.verifier.Ready(ctx); err != nil {
		return errs.NotReady("signing keys are not loaded", err)
	}
	return nil
}
