package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tvmkit/tvm/broker/errs"
)

// contentTypeJSON is the exact Content-Type of every JSON answer: AWS SDKs'
// container-credentials clients compare it without parameters.
const contentTypeJSON = "application/json"

// defaultRetryAfter is sent with a 429 or 503 whose error names no delay.
const defaultRetryAfter = time.Second

// errorBody is the wire form of every error.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// kindStatus is the HTTP status of each error kind: the one place where the
// broker's statuses are chosen.
var kindStatus = map[errs.Kind]int{
	errs.KindInternal:            http.StatusInternalServerError,
	errs.KindInvalidInput:        http.StatusBadRequest,
	errs.KindUnsupportedMedia:    http.StatusUnsupportedMediaType,
	errs.KindMethodNotAllowed:    http.StatusMethodNotAllowed,
	errs.KindTooLarge:            http.StatusRequestEntityTooLarge,
	errs.KindHeaderTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
	errs.KindUnauthenticated:     http.StatusUnauthorized,
	errs.KindForbidden:           http.StatusForbidden,
	errs.KindNotFound:            http.StatusNotFound,
	errs.KindRateLimited:         http.StatusTooManyRequests,
	errs.KindUpstreamThrottled:   http.StatusServiceUnavailable,
	errs.KindUpstreamUnavailable: http.StatusServiceUnavailable,
	errs.KindUpstreamDenied:      http.StatusBadGateway,
	errs.KindUpstreamInvalid:     http.StatusBadGateway,
	errs.KindUpstreamTimeout:     http.StatusGatewayTimeout,
	errs.KindNotReady:            http.StatusServiceUnavailable,
	// A configuration fault is a 5xx without Retry-After: retrying cannot
	// help until an operator fixes the broker's credentials or region.
	errs.KindMisconfigured: http.StatusInternalServerError,
	errs.KindOverloaded:    http.StatusServiceUnavailable,
}

// statusOf returns the HTTP status of kind; an unknown kind is a 500.
func statusOf(kind errs.Kind) int {
	if status, ok := kindStatus[kind]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// handleError is the Echo HTTPErrorHandler: it renders any error as
// {"code","message"} and logs the internal cause with the request id.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := toAPIError(err)
	status := statusOf(e.Kind)
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestIDOf(c)),
		slog.Int("status", status),
		slog.String("code", e.Code),
	}
	if e.Cause != nil {
		attrs = append(attrs, slog.String("cause", redact(e.Cause.Error(), c.Request().Header.Values(echo.HeaderAuthorization))))
	}
	s.log.LogAttrs(c.Request().Context(), level, "request failed", attrs...)
	if werr := writeError(c, status, e); werr != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing error response",
			slog.String("request_id", requestIDOf(c)), slog.String("cause", werr.Error()))
	}
}

// jwtLike matches compact JWS/JWE serializations (base64url JSON header).
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*`)

// redact removes the request's Authorization values and anything shaped
// like a JWT from a log message: a verifier's or SDK's error text must not
// carry a bearer token into the logs.
func redact(msg string, authorization []string) string {
	for _, v := range authorization {
		tok := v
		if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			tok = strings.TrimSpace(rest) // the scheme is case-insensitive
		}
		for _, secret := range []string{v, tok} {
			if len(secret) >= 8 {
				msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
			}
		}
	}
	if !strings.Contains(msg, "eyJ") { // every jwtLike match starts with it: skip the regexp
		return msg
	}
	return jwtLike.ReplaceAllString(msg, "[REDACTED]")
}

// toAPIError maps any error to an *errs.Error with a stable code.
func toAPIError(err error) *errs.Error {
	var ae *errs.Error
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromHTTPError(he)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errBodyTooLarge(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout, "request timed out")
	}
	return errs.From(err)
}

// headerReadFactor is how many times the header limit the HTTP server
// reads before it gives up with its own plain-text 431 (HeaderReadLimit).
const headerReadFactor = 4

// HeaderReadLimit returns the http.Server.MaxHeaderBytes that goes with a
// header limit of maxHeaderBytes (0: DefaultMaxHeaderBytes): four times
// it. A header block over the limit but within what the server reads is
// refused by this package with the JSON 431 every other size refusal
// gets; only a larger one meets net/http's own plain-text 431 (for
// HTTP/2, the peer is told the read limit in SETTINGS_MAX_HEADER_LIST_SIZE),
// which this package cannot shape since no handler runs: the factor bounds
// what a client can make the server buffer.
func HeaderReadLimit(maxHeaderBytes int) int {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = DefaultMaxHeaderBytes
	}
	return headerReadFactor * maxHeaderBytes
}

// headerSize returns the size of r's request line and header fields as
// HTTP/1.1 text: "METHOD URI PROTO\r\n", "Host: h\r\n" and "Name: value\r\n"
// per value.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	n += len("Host: ") + len(r.Host) + 2
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n
}

// headerLimit refuses, with the JSON 431, a request whose request line and
// header fields exceed the configured limit.
func (s *server) headerLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if headerSize(c.Request()) > s.maxHeader {
			return errs.New(errs.KindHeaderTooLarge, errs.CodeRequestTooLarge, "request headers too large")
		}
		return next(c)
	}
}

// errBodyTooLarge is the error of a request body over the limit.
func errBodyTooLarge(cause error) *errs.Error {
	return errs.Wrap(cause, errs.KindTooLarge, errs.CodeRequestTooLarge, "request body too large")
}

// echoErrors are the answers to Echo's own errors (router, middleware), by
// Echo's status. Echo's message is never returned: it may carry internal
// detail.
var echoErrors = map[int]errs.Error{
	http.StatusNotFound:                    {Kind: errs.KindNotFound, Code: errs.CodeNotFound, Message: "no such route"},
	http.StatusMethodNotAllowed:            {Kind: errs.KindMethodNotAllowed, Code: errs.CodeMethodNotAllowed, Message: "method not allowed"},
	http.StatusRequestEntityTooLarge:       {Kind: errs.KindTooLarge, Code: errs.CodeRequestTooLarge, Message: "request body too large"},
	http.StatusRequestHeaderFieldsTooLarge: {Kind: errs.KindHeaderTooLarge, Code: errs.CodeRequestTooLarge, Message: "request headers too large"},
	http.StatusUnauthorized:                {Kind: errs.KindUnauthenticated, Code: errs.CodeInvalidToken, Message: "invalid token"},
	http.StatusForbidden:                   {Kind: errs.KindForbidden, Code: errs.CodeForbidden, Message: "forbidden"},
	http.StatusTooManyRequests:             {Kind: errs.KindRateLimited, Code: errs.CodeRateLimited, Message: "rate limited"},
	http.StatusServiceUnavailable:          {Kind: errs.KindUpstreamUnavailable, Code: errs.CodeUpstreamUnavailable, Message: "service unavailable"},
	http.StatusGatewayTimeout:              {Kind: errs.KindUpstreamTimeout, Code: errs.CodeUpstreamTimeout, Message: "request timed out"},
}

// fromHTTPError maps one of Echo's errors to an *errs.Error: a known status
// by echoErrors, any other 4xx to invalid_request, the rest to
// internal_error.
func fromHTTPError(he *echo.HTTPError) *errs.Error {
	if e, ok := echoErrors[he.Code]; ok {
		e.Cause = he
		return &e
	}
	if he.Code >= 400 && he.Code < 500 {
		return errs.Wrap(he, errs.KindInvalidInput, errs.CodeInvalidRequest, "bad request")
	}
	return errs.Internal(he)
}

// writeError writes e as {"code","message"} with status and the headers it
// needs.
func writeError(c echo.Context, status int, e *errs.Error) error {
	h := c.Response().Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+quotedStringSafe(e.Message)+`"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	return writeJSON(c, status, errorBody{Code: e.Code, Message: e.Message})
}

// writeJSON writes v with Content-Type exactly application/json and
// Cache-Control: no-store. HEAD requests get the headers only.
func writeJSON(c echo.Context, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h[echo.HeaderContentType] = headerJSON
	h[echo.HeaderCacheControl] = headerNoStore
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	c.Response().WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(body)
	return err
}

// retryAfterSeconds renders d as a Retry-After delta-seconds value, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		d = defaultRetryAfter
	}
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

// quotedStringSafe keeps only the characters RFC 6750 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E).
func quotedStringSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 200; i++ {
		ch := s[i]
		if ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\' {
			b.WriteByte(ch)
		}
	}
	return b.String()
}
