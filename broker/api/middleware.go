package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tvmkit/tvm/broker/errs"
)

const (
	headerRequestID = echo.HeaderXRequestID // "X-Request-Id"
	ctxRequestID    = "tvm.request_id"
	maxRequestIDLen = 128
	maxLoggedPath   = 256
)

// requestID accepts a client's X-Request-Id when it is 1-128 characters of
// [A-Za-z0-9._:+/=-] and otherwise generates a random one. The id is echoed
// in the response and stored in the Echo context.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case strings.IndexByte("._:+/=-", ch) >= 0:
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// accessLog renders errors through the error handler, then writes one access
// log line and records HTTP metrics. It logs the path (redacted like error
// causes) without the query string and no request header other than the
// user agent.
func (s *server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		d := s.now().Sub(start)
		req, res := c.Request(), c.Response()
		route := c.Path()
		if !s.routes[route] {
			route = routeUnmatched
		}
		// A token pasted into the path must not reach the logs either.
		path := redact(req.URL.Path, req.Header.Values(echo.HeaderAuthorization))
		if len(path) > maxLoggedPath {
			path = path[:maxLoggedPath]
		}
		s.log.LogAttrs(req.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", path),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", d),
			slog.String("remote_ip", c.RealIP()),
			slog.String("user_agent", req.UserAgent()),
		)
		s.metrics.HTTPRequest(route, req.Method, res.Status, d)
		return nil
	}
}

// recover turns a panic into a JSON 500 and logs the panic with its stack.
// http.ErrAbortHandler is re-raised, as net/http expects.
func (s *server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			stack := make([]byte, 8<<10)
			stack = stack[:runtime.Stack(stack, false)]
			s.log.LogAttrs(c.Request().Context(), slog.LevelError, "panic",
				slog.String("request_id", requestIDOf(c)),
				// A panic value may quote a token or a secret: redact it.
				slog.String("panic", redact(fmt.Sprint(r), c.Request().Header.Values(echo.HeaderAuthorization))),
				slog.String("stack", string(stack)),
			)
			err = errs.Internal(nil)
		}()
		return next(c)
	}
}

// hostAllowList refuses requests whose Host is not listed (DNS-rebinding
// defence). An entry matches the Host header exactly (case-insensitively)
// or its host part without the port. An empty list allows every host.
func hostAllowList(hosts []string) echo.MiddlewareFunc {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if len(allowed) == 0 {
			return next
		}
		return func(c echo.Context) error {
			host := strings.ToLower(c.Request().Host)
			if allowed[host] {
				return next(c)
			}
			if h, _, err := net.SplitHostPort(host); err == nil && (allowed[h] || allowed["["+h+"]"]) {
				return next(c)
			}
			return errs.New(errs.KindForbidden, errs.CodeForbidden, "host not allowed")
		}
	}
}

// bodyLimit refuses bodies larger than the configured limit with a 413.
func (s *server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.maxBody {
			return errBodyTooLarge(nil)
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, s.maxBody)
		}
		return next(c)
	}
}
