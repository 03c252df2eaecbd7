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

// handleError is the Echo HTTPErrorHandler: it renders any error as
// {"code","message"} and logs the internal cause with the request id.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := toAPIError(err)
	level := slog.LevelInfo
	if e.Status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestIDOf(c)),
		slog.Int("status", e.Status),
		slog.String("code", e.Code),
	}
	if e.Cause != nil {
		attrs = append(attrs, slog.String("cause", redact(e.Cause.Error(), c.Request().Header.Values(echo.HeaderAuthorization))))
	}
	s.log.LogAttrs(c.Request().Context(), level, "request failed", attrs...)
	if werr := writeError(c, e); werr != nil {
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
		return errs.Wrap(err, http.StatusRequestEntityTooLarge, errs.CodeRequestTooLarge, "request body too large")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(err, http.StatusGatewayTimeout, errs.CodeUpstreamTimeout, "request timed out")
	}
	return errs.From(err)
}

// fromHTTPError maps Echo's own errors (router, middleware) to stable codes.
// Echo's message is never returned: it may carry internal detail.
func fromHTTPError(he *echo.HTTPError) *errs.Error {
	var cause error = he
	switch he.Code {
	case http.StatusNotFound:
		return errs.Wrap(cause, he.Code, errs.CodeNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return errs.Wrap(cause, he.Code, errs.CodeMethodNotAllowed, "method not allowed")
	case http.StatusRequestEntityTooLarge:
		return errs.Wrap(cause, he.Code, errs.CodeRequestTooLarge, "request body too large")
	case http.StatusRequestHeaderFieldsTooLarge:
		return errs.Wrap(cause, he.Code, errs.CodeRequestTooLarge, "request headers too large")
	case http.StatusUnauthorized:
		return errs.Wrap(cause, he.Code, errs.CodeInvalidToken, "invalid token")
	case http.StatusForbidden:
		return errs.Wrap(cause, he.Code, errs.CodeForbidden, "forbidden")
	case http.StatusTooManyRequests:
		return errs.Wrap(cause, he.Code, errs.CodeRateLimited, "rate limited")
	case http.StatusServiceUnavailable:
		return errs.Wrap(cause, he.Code, errs.CodeUpstreamUnavailable, "service unavailable")
	case http.StatusGatewayTimeout:
		return errs.Wrap(cause, he.Code, errs.CodeUpstreamTimeout, "request timed out")
	}
	if he.Code >= 400 && he.Code < 500 {
		return errs.Wrap(cause, he.Code, errs.CodeInvalidRequest, "bad request")
	}
	return errs.Wrap(cause, http.StatusInternalServerError, errs.CodeInternal, "internal error")
}

// writeError writes e as {"code","message"} with the headers its status needs.
func writeError(c echo.Context, e *errs.Error) error {
	h := c.Response().Header()
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+quotedStringSafe(e.Message)+`"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	return writeJSON(c, e.Status, errorBody{Code: e.Code, Message: e.Message})
}

// writeJSON writes v with Content-Type exactly application/json and
// Cache-Control: no-store. HEAD requests get the headers only.
func writeJSON(c echo.Context, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentTypeJSON)
	h.Set(echo.HeaderCacheControl, "no-store")
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
