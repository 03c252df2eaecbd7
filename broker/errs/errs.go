// Package errs defines the broker's single API error type.
//
// An *Error carries the HTTP status, a stable machine-readable code and a
// public message. Its cause is for logs only: the HTTP layer renders
// {"code": Code, "message": Message} and never the cause.
package errs

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Stable error codes. Clients may switch on them; never rename one.
const (
	CodeInvalidRequest        = "invalid_request"         // 400: bad parameter or body
	CodeInvalidToken          = "invalid_token"           // 401: missing, malformed or rejected JWT
	CodeInvalidTenant         = "invalid_tenant"          // 401: tenant claim missing or failing the pattern
	CodeForbidden             = "forbidden"               // 403: authenticated but not permitted
	CodeProfileNotFound       = "profile_not_found"       // 404: no such profile
	CodeNotFound              = "not_found"               // 404: no such route
	CodeMethodNotAllowed      = "method_not_allowed"      // 405
	CodeRequestTooLarge       = "request_too_large"       // 413 / 431
	CodeRateLimited           = "rate_limited"            // 429: the broker's own limiter
	CodeUpstreamThrottled     = "upstream_throttled"      // 503: STS throttled after retries
	CodeUpstreamAccessDenied  = "upstream_access_denied"  // 502: STS refused AssumeRole
	CodeUpstreamPolicyInvalid = "upstream_policy_invalid" // 502: STS refused the session policy
	CodeUpstreamInvalid       = "upstream_invalid"        // 502: STS answered something unusable
	CodeUpstreamTimeout       = "upstream_timeout"        // 504: STS did not answer in time
	CodeUpstreamUnavailable   = "upstream_unavailable"    // 503: STS unreachable or failing
	CodePolicyTooLarge        = "policy_too_large"        // 500: rendered policy over the STS limit
	CodeNotReady              = "not_ready"               // 503: keys or templates not loaded
	CodeInternal              = "internal_error"          // 500
)

// Error is the broker's API error.
type Error struct {
	Status  int    // HTTP status
	Code    string // stable machine code
	Message string // public, safe to return to the caller
	// RetryAfter, when positive, is sent as a Retry-After header.
	RetryAfter time.Duration
	// Cause is the internal cause: logged, never returned to a caller.
	Cause error
}

// Error implements error. It includes the cause, so it is for logs only.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s (%d): %s: %v", e.Code, e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New returns an error with no cause.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Wrap returns an error with an internal cause.
func Wrap(cause error, status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message, Cause: cause}
}

// From returns err as an *Error. An error that is not one (or does not wrap
// one) becomes a 500 internal_error whose cause is err.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err, http.StatusInternalServerError, CodeInternal, "internal error")
}

// InvalidToken returns the 401 for a token that failed verification. The
// public message says what kind of failure it was, never the token.
func InvalidToken(message string, cause error) *Error {
	return Wrap(cause, http.StatusUnauthorized, CodeInvalidToken, message)
}

// InvalidRequest returns a 400.
func InvalidRequest(message string) *Error {
	return New(http.StatusBadRequest, CodeInvalidRequest, message)
}
