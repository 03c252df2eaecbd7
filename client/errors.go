package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tvmkit/tvm/broker/errs"
)

// ErrInvalidResponse is wrapped by the error Retrieve returns when the broker
// answers 200 with something that is not a complete, unexpired set of
// credentials.
var ErrInvalidResponse = errors.New("tvm client: broker returned unusable credentials")

// InvalidTokenError is the broker's 401: the JWT was missing, malformed,
// expired or rejected, or its tenant was refused (Code "invalid_tenant").
type InvalidTokenError struct {
	Code    string // the broker's code, e.g. "invalid_token" or "invalid_tenant"
	Message string // the broker's public message
}

// Error implements error.
func (e *InvalidTokenError) Error() string {
	return brokerText("token rejected", 401, e.Code, e.Message)
}

// ForbiddenError is the broker's 403: the token is valid but the caller may
// not have the requested profile or duration.
type ForbiddenError struct {
	Code    string // the broker's code, e.g. "forbidden"
	Message string // the broker's public message
}

// Error implements error.
func (e *ForbiddenError) Error() string {
	return brokerText("forbidden", 403, e.Code, e.Message)
}

// BrokerError is any other error status from the broker (400, 404, 429, 5xx,
// or an unexpected 1xx/3xx).
type BrokerError struct {
	Status  int    // HTTP status
	Code    string // the broker's code, "" when the body carried none
	Message string // the broker's public message
	// RetryAfter is the broker's Retry-After, zero when absent.
	RetryAfter time.Duration
}

// Error implements error.
func (e *BrokerError) Error() string {
	s := brokerText("broker error", e.Status, e.Code, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Temporary reports whether retrying later may succeed: a 429 or 5xx the
// broker marks retryable — by its code (errs.Retryable: rate_limited,
// overloaded, not_ready, upstream_throttled, upstream_unavailable,
// upstream_timeout) or by a Retry-After — or, without the broker's code (an
// answer from a proxy in front of it), a 429 (API Gateway throttles with
// one, no Retry-After) or a 502, 503 or 504 gateway failure.
// Anything else fails the same way again: a broker_misconfigured 500, say,
// until an operator fixes the broker.
func (e *BrokerError) Temporary() bool {
	switch {
	case e.Status != http.StatusTooManyRequests && e.Status < http.StatusInternalServerError:
		return false
	case e.RetryAfter > 0:
		return true
	case e.Code != "":
		return errs.Retryable(e.Code)
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// UnreachableError is a failure to get an answer from the broker: DNS,
// connection, TLS, a timeout, or a cancelled context. Err is the cause.
type UnreachableError struct {
	URL string // the broker endpoint, without credentials
	Err error
}

// Error implements error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("tvm client: broker unreachable at %s: %v", e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

func brokerText(what string, status int, code, message string) string {
	s := fmt.Sprintf("tvm client: %s (%d", what, status)
	if code != "" {
		s += " " + code
	}
	s += ")"
	if message != "" {
		s += ": " + message
	}
	return s
}
