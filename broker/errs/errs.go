// Package errs defines the broker's single error type.
//
// An *Error carries a Kind (the class of failure), a stable machine-readable
// code and a public message. The core packages (auth, vend) say what went
// wrong through the kind; only the HTTP layer (broker/api) turns a kind into
// an HTTP status. The cause is for logs only: the HTTP layer renders
// {"code": Code, "message": Message} and never the cause.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a failure. The zero value is KindInternal, so an
// Error built without a kind fails closed.
type Kind uint8

// Error kinds. broker/api maps each to one HTTP status.
const (
	KindInternal            Kind = iota // a bug or an unexpected failure inside the broker
	KindInvalidInput                    // a malformed or out-of-range parameter or body
	KindUnsupportedMedia                // a body in a format the endpoint does not take
	KindMethodNotAllowed                // the route exists, the method does not
	KindTooLarge                        // a request body over its limit
	KindHeaderTooLarge                  // a request header over its limit
	KindUnauthenticated                 // no token, or a token (or its tenant) that failed verification
	KindForbidden                       // authenticated, but not permitted
	KindNotFound                        // no such route or profile
	KindRateLimited                     // the broker's own limiter refused the request
	KindUpstreamThrottled               // STS kept throttling after the retries
	KindUpstreamUnavailable             // STS (or the source of the broker's own credentials) unreachable or failing: retryable
	KindUpstreamDenied                  // STS refused to assume the role
	KindUpstreamInvalid                 // STS refused the request or the policy, or answered something unusable
	KindUpstreamTimeout                 // STS (or the request as a whole) ran out of time
	KindNotReady                        // keys not loaded, or shutting down
	KindMisconfigured                   // STS refuses the broker's own AWS credentials or region: not retryable, an operator must act
	KindOverloaded                      // too much work in progress: the broker sheds the request
	kindCount                           // number of kinds; keep last
)

var kindNames = [kindCount]string{
	KindInternal:            "internal",
	KindInvalidInput:        "invalid_input",
	KindUnsupportedMedia:    "unsupported_media",
	KindMethodNotAllowed:    "method_not_allowed",
	KindTooLarge:            "too_large",
	KindHeaderTooLarge:      "header_too_large",
	KindUnauthenticated:     "unauthenticated",
	KindForbidden:           "forbidden",
	KindNotFound:            "not_found",
	KindRateLimited:         "rate_limited",
	KindUpstreamThrottled:   "upstream_throttled",
	KindUpstreamUnavailable: "upstream_unavailable",
	KindUpstreamDenied:      "upstream_denied",
	KindUpstreamInvalid:     "upstream_invalid",
	KindUpstreamTimeout:     "upstream_timeout",
	KindNotReady:            "not_ready",
	KindMisconfigured:       "misconfigured",
	KindOverloaded:          "overloaded",
}

// Kinds returns every kind, in declaration order.
func Kinds() []Kind {
	ks := make([]Kind, kindCount)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// String returns the kind's name, e.g. "upstream_throttled".
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Stable error codes. Clients may switch on them; never rename one.
const (
	CodeInvalidRequest        = "invalid_request"         // bad parameter or body
	CodeInvalidToken          = "invalid_token"           // missing, malformed or rejected JWT
	CodeInvalidTenant         = "invalid_tenant"          // tenant claim missing or failing the pattern
	CodeForbidden             = "forbidden"               // authenticated but not permitted
	CodeProfileNotFound       = "profile_not_found"       // no such profile
	CodeNotFound              = "not_found"               // no such route
	CodeMethodNotAllowed      = "method_not_allowed"      // the route does not take the method
	CodeRequestTooLarge       = "request_too_large"       // body or header over its limit
	CodeRateLimited           = "rate_limited"            // the broker's own limiter
	CodeUpstreamThrottled     = "upstream_throttled"      // STS throttled after retries
	CodeUpstreamAccessDenied  = "upstream_access_denied"  // STS refused AssumeRole
	CodeUpstreamPolicyInvalid = "upstream_policy_invalid" // STS refused the session policy
	CodeUpstreamInvalid       = "upstream_invalid"        // STS answered something unusable
	CodeUpstreamTimeout       = "upstream_timeout"        // STS did not answer in time
	CodeUpstreamUnavailable   = "upstream_unavailable"    // STS unreachable or failing
	CodeNotReady              = "not_ready"               // keys not loaded, or shutting down
	CodeBrokerMisconfigured   = "broker_misconfigured"    // STS refuses the broker's own credentials or region
	CodeOverloaded            = "overloaded"              // too many token verifications in progress
	CodeTenantBlocked         = "tenant_blocked"          // the tenant is on the block list
	CodeSubjectBlocked        = "subject_blocked"         // the caller (tenant and subject) is on the block list
	CodeInternal              = "internal_error"          // anything else
)

// retryableCodes are the codes of failures that pass by themselves: the
// broker's own limiter (rate_limited) and load shedding (overloaded), a
// broker not ready yet or shutting down (not_ready), and STS throttling,
// failing or not answering in time (upstream_throttled,
// upstream_unavailable, upstream_timeout). The broker sends the 429 and 503
// answers among them with Retry-After (package broker/api).
var retryableCodes = map[string]bool{
	CodeRateLimited:         true,
	CodeOverloaded:          true,
	CodeNotReady:            true,
	CodeUpstreamThrottled:   true,
	CodeUpstreamUnavailable: true,
	CodeUpstreamTimeout:     true,
}

// Retryable reports whether a request the broker refused with code may
// succeed when sent again, unchanged, later. Every other code fails the
// same way again until something changes: a request, token, tenant or
// profile the broker refuses, a role or policy STS refuses, a
// configuration fault (broker_misconfigured: until an operator fixes the
// broker's credentials or region), an internal error. The one home of the
// rule: package client retries by it.
func Retryable(code string) bool { return retryableCodes[code] }

// Error is the broker's API error.
type Error struct {
	Kind    Kind   // class of failure; the HTTP layer maps it to a status
	Code    string // stable machine code
	Message string // public, safe to return to the caller
	// RetryAfter, when positive, is how long the caller should wait before
	// retrying (sent as a Retry-After header).
	RetryAfter time.Duration
	// Cause is the internal cause: logged, never returned to a caller.
	Cause error
}

// Error implements error. It includes the cause, so it is for logs only.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s (%s): %s: %v", e.Code, e.Kind, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s (%s): %s", e.Code, e.Kind, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New returns an error with no cause.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns an error with an internal cause.
func Wrap(cause error, kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Cause: cause}
}

// From returns err as an *Error. An error that is not one (or does not wrap
// one) becomes Internal(err).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Internal returns the internal_error whose public message says nothing
// about cause.
func Internal(cause error) *Error {
	return Wrap(cause, KindInternal, CodeInternal, "internal error")
}

// InvalidToken returns the error for a token that failed verification. The
// public message says what kind of failure it was, never the token.
func InvalidToken(message string, cause error) *Error {
	return Wrap(cause, KindUnauthenticated, CodeInvalidToken, message)
}

// InvalidTenant returns the error for a tenant that is missing or fails the
// tenant pattern. The message never echoes the tenant.
func InvalidTenant(message string, cause error) *Error {
	return Wrap(cause, KindUnauthenticated, CodeInvalidTenant, message)
}

// InvalidRequest returns the error for a bad parameter or body.
func InvalidRequest(message string) *Error {
	return New(KindInvalidInput, CodeInvalidRequest, message)
}

// NotReady returns the error of a component that cannot serve yet (or any
// more).
func NotReady(message string, cause error) *Error {
	return Wrap(cause, KindNotReady, CodeNotReady, message)
}
