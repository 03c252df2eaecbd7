package vend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/profiles"
)

// STS is the one AWS STS call the Vendor makes, in the Vendor's own terms.
// Package broker/stsclient adapts the AWS SDK's client to it; tests use an
// in-process fake.
//
// AssumeRole makes one attempt: the Vendor owns retries. A failed call
// returns an error that is, or wraps, an *UpstreamError describing what
// happened, and a call ended by ctx returns an error for which
// errors.Is(err, ctx.Err()) holds. Implementations must be safe for
// concurrent use.
type STS interface {
	AssumeRole(ctx context.Context, in *AssumeRoleInput) (*AssumeRoleOutput, error)
}

// AssumeRoleInput is one AssumeRole request. Empty optional fields are not
// sent.
type AssumeRoleInput struct {
	RoleARN         string
	RoleSessionName string
	// Duration is a whole number of seconds (DurationSeconds).
	Duration time.Duration
	// Policy is the inline session policy ("" = none).
	Policy         string
	ExternalID     string
	SourceIdentity string
	Tags           []STSTag
	// TransitiveTagKeys are the tag keys that survive role chaining.
	TransitiveTagKeys []string
}

// STSTag is one session tag of an AssumeRole request.
type STSTag struct {
	Key, Value string
}

// AssumeRoleOutput is what STS answered to a successful AssumeRole. The
// Vendor checks it (checkOutput) before serving it.
type AssumeRoleOutput struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	// Expiration is zero when STS sent none.
	Expiration time.Time
	// AssumedRoleARN is the session's ARN ("" when STS sent none).
	AssumedRoleARN string
	// Size is what STS reported about the session's size (SizeNotReported
	// for a share it did not answer).
	Size SessionSize
	// RequestID is STS's request id ("" when unknown).
	RequestID string
}

// UpstreamError describes a failed STS call: the facts the Vendor's
// classification (classify) reads. It says nothing about what the failure
// means to the broker; that is decided in one place, here in vend.
type UpstreamError struct {
	// Code is the AWS error code STS answered ("" when it did not answer).
	Code string
	// RequestID is STS's request id ("" when unknown).
	RequestID string
	// Status is the HTTP status of STS's answer (0 when there was none).
	Status int
	// ServerFault reports that the answer put the fault on STS's side.
	ServerFault bool
	// Network reports that the request could not be sent or its answer not
	// received (connection refused, reset, DNS failure, a transport timeout).
	Network bool
	// NoCredentials reports that the request was never sent because the
	// broker's own AWS credentials could not be obtained (no source found,
	// or the source failed). Code, Status, ServerFault and Network then
	// describe the credential source's failure, not STS's.
	NoCredentials bool
	// Err is the underlying error, for the logs; it may hold STS's message.
	Err error
}

// Error returns the underlying error's text.
func (e *UpstreamError) Error() string {
	if e.Err == nil {
		return "sts: " + e.Code
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// STSOptions configures the AssumeRole calls. Zero fields take the defaults
// named on each field.
type STSOptions struct {
	// Timeout bounds one AssumeRole call including its retries; default
	// config.DefaultSTSTimeout.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of a throttled or failing call;
	// default config.DefaultSTSMaxAttempts.
	MaxAttempts int
}

// withDefaults returns o with every zero field set to its default, or an
// error naming a negative field.
func (o STSOptions) withDefaults() (STSOptions, error) {
	err := errors.Join(
		orDefault("STS.Timeout", &o.Timeout, config.DefaultSTSTimeout),
		orDefault("STS.MaxAttempts", &o.MaxAttempts, config.DefaultSTSMaxAttempts),
	)
	return o, err
}

// Retry policy for throttled or unreachable STS calls.
const (
	retryBase = 100 * time.Millisecond
	retryCap  = 2 * time.Second
	// throttleRetryAfter is the RetryAfter of an upstream_throttled error.
	throttleRetryAfter = 5 * time.Second
	// unavailableRetryAfter is the RetryAfter of an upstream_unavailable error.
	unavailableRetryAfter = 5 * time.Second
)

// Error codes used in Observer.STSCall for failures that carry no AWS code.
const (
	obsCodeTimeout  = "Timeout"
	obsCodeNetwork  = "NetworkError"
	obsCodeCanceled = "Canceled"
	obsCodeInvalid  = "InvalidResponse"
	obsCodeUnknown  = "Unknown"
	// obsCodeNoCredentials: the broker's own credentials could not be obtained.
	obsCodeNoCredentials = "NoCredentials"
)

// upstreamClass is what an STS error code means to the broker.
type upstreamClass uint8

const (
	classRefused           upstreamClass = iota // STS refused the request (any code not in codeClasses)
	classThrottled                              // throttling: retried, then upstream_throttled
	classDenied                                 // AccessDenied: upstream_access_denied
	classPolicyMalformed                        // the session policy is malformed
	classPolicyTooLarge                         // the policy and tags are too large once packed
	classParameters                             // a request parameter was refused
	classBrokerCredentials                      // the broker's own credentials or region are the problem: a configuration fault
)

// codeClasses is the one table of the STS error codes the broker tells
// apart. A code not listed is classRefused, or a retryable
// upstream_unavailable when STS put the fault on its side.
var codeClasses = map[string]upstreamClass{
	"Throttling":                          classThrottled,
	"ThrottlingException":                 classThrottled,
	"RequestLimitExceeded":                classThrottled,
	"TooManyRequestsException":            classThrottled,
	"RequestThrottledException":           classThrottled,
	"AccessDenied":                        classDenied,
	"AccessDeniedException":               classDenied,
	"MalformedPolicyDocument":             classPolicyMalformed,
	"MalformedPolicyDocumentException":    classPolicyMalformed,
	"PackedPolicyTooLarge":                classPolicyTooLarge,
	"PackedPolicyTooLargeException":       classPolicyTooLarge,
	"ValidationError":                     classParameters,
	"RegionDisabledException":             classBrokerCredentials,
	"ExpiredTokenException":               classBrokerCredentials,
	"ExpiredToken":                        classBrokerCredentials,
	"InvalidClientTokenId":                classBrokerCredentials,
	"SignatureDoesNotMatch":               classBrokerCredentials,
	"IncompleteSignature":                 classBrokerCredentials,
	"MissingAuthenticationToken":          classBrokerCredentials,
	"UnrecognizedClientException":         classBrokerCredentials,
	"InvalidSignatureException":           classBrokerCredentials,
	"MissingAuthenticationTokenException": classBrokerCredentials,
}

// answer returns the public error of class c for cause and whether the
// call may be retried.
func (c upstreamClass) answer(cause error) (retryable bool, _ *errs.Error) {
	switch c {
	case classThrottled:
		return true, &errs.Error{Kind: errs.KindUpstreamThrottled, Code: errs.CodeUpstreamThrottled,
			Message: "STS is throttling requests; retry later", RetryAfter: throttleRetryAfter, Cause: cause}
	case classDenied:
		return false, errs.Wrap(cause, errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "STS refused to assume the profile's role")
	case classPolicyMalformed:
		return false, errs.Wrap(cause, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "STS refused the session policy as malformed")
	case classPolicyTooLarge:
		// A size overrun says so: the fix (a shorter policy or fewer
		// session tags) differs from a malformed policy's.
		return false, errs.Wrap(cause, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "STS refused the session policy and tags as too large once packed")
	case classParameters:
		return false, errs.Wrap(cause, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS rejected the request parameters")
	case classBrokerCredentials:
		return false, misconfigured(cause, "STS does not accept the broker's own AWS credentials or region: an operator must correct the broker's configuration")
	}
	return false, errs.Wrap(cause, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS refused the request")
}

// stsFailure describes one failed AssumeRole attempt.
type stsFailure struct {
	code      string // AWS error code, or one of the obsCode* values
	requestID string
	retryable bool
	err       *errs.Error // public classification
}

// misconfiguredFault reports whether f is a configuration fault of the
// broker's own (errs.KindMisconfigured): no retry helps until an operator
// acts, and the broker is not ready meanwhile.
func (f stsFailure) misconfiguredFault() bool { return f.err.Kind == errs.KindMisconfigured }

// classify maps an error of an STS call (an *UpstreamError, or the
// context's error) to the broker's public error: the one place that
// decides what an upstream failure means. The upstream message is never
// copied into the public message.
func classify(err error) stsFailure {
	f := stsFailure{code: obsCodeUnknown}
	var ue *UpstreamError
	if !errors.As(err, &ue) {
		ue = &UpstreamError{}
	}
	f.requestID = ue.RequestID
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		f.code = obsCodeTimeout
		f.err = errs.Wrap(err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout, "STS did not answer in time")
	case errors.Is(err, context.Canceled):
		f.code = obsCodeCanceled
		f.err = errs.Wrap(err, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "request cancelled before STS answered")
	case ue.NoCredentials:
		f.code = obsCodeNoCredentials
		if transientSource(ue) {
			f.retryable, f.err = true, unavailable(err, "the broker's own AWS credentials could not be obtained right now")
			break
		}
		f.err = misconfigured(err, "the broker has no usable AWS credentials: an operator must correct the broker's configuration")
	case ue.Code != "":
		f.code = ue.Code
		class, known := codeClasses[ue.Code]
		if !known && (ue.ServerFault || ue.Status >= 500) {
			f.retryable, f.err = true, unavailable(err, "STS is unavailable")
			break
		}
		f.retryable, f.err = class.answer(err)
	case ue.Network:
		f.code = obsCodeNetwork
		f.retryable = true
		f.err = unavailable(err, "STS is unreachable")
	case ue.Status >= 500:
		// A 5xx without an AWS error code: a proxy or load balancer in front
		// of STS answered (502, 503, 504).
		f.code = "HTTP" + strconv.Itoa(ue.Status)
		f.retryable = true
		f.err = unavailable(err, "STS is unavailable")
	default:
		f.err = unavailable(err, "STS call failed")
	}
	return f
}

// transientSource reports whether the failure to obtain the broker's own
// credentials may pass by itself: the credential source (instance metadata,
// a container endpoint, STS for a web identity) was unreachable, throttled
// or failing on its side. Anything else — no source at all, a source that
// refused — is a configuration fault.
func transientSource(ue *UpstreamError) bool {
	return ue.Network || ue.ServerFault || ue.Status >= 500 || codeClasses[ue.Code] == classThrottled
}

// misconfigured returns the broker_misconfigured error: a 5xx without
// RetryAfter, since retrying cannot help.
func misconfigured(cause error, message string) *errs.Error {
	return errs.Wrap(cause, errs.KindMisconfigured, errs.CodeBrokerMisconfigured, message)
}

// unavailable returns an upstream_unavailable error with a RetryAfter.
func unavailable(cause error, message string) *errs.Error {
	return &errs.Error{Kind: errs.KindUpstreamUnavailable, Code: errs.CodeUpstreamUnavailable,
		Message: message, RetryAfter: unavailableRetryAfter, Cause: cause}
}

// backoff returns the wait before retry number attempt (1-based):
// exponential from retryBase, capped at retryCap, with equal jitter.
func backoff(attempt int) time.Duration {
	d := retryBase << min(attempt-1, 10)
	d = min(d, retryCap)
	return d/2 + rand.N(d/2+1)
}

// assumeRole calls STS, retrying throttling and transient failures with
// backoff up to maxAttempts, and validates the answer.
func (v *Vendor) assumeRole(ctx context.Context, p *profiles.Profile, in *AssumeRoleInput, log *slog.Logger) (*AssumeRoleOutput, error) {
	var last stsFailure
	for attempt := 1; ; attempt++ {
		start := v.now()
		out, err := v.client.AssumeRole(ctx, in)
		elapsed := v.now().Sub(start)
		if err == nil {
			v.identity.report(nil) // STS accepted the broker's credentials
			err = v.checkOutput(out)
			if err == nil {
				v.obs.STSCall(p.Name(), elapsed, "")
				log.Debug("sts assume role", "attempt", attempt, "request_id", out.RequestID,
					"access_key_id_suffix", KeySuffix(out.AccessKeyID), "expiration", out.Expiration,
					"packed_policy_size", out.Size.PackedPolicyPercent, "session_token_utilization", out.Size.TokenUtilizationPercent)
				return out, nil
			}
			v.obs.STSCall(p.Name(), elapsed, obsCodeInvalid)
			log.Error("sts answered unusable credentials", "attempt", attempt, "error", err)
			return nil, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS answered unusable credentials")
		}
		last = classify(err)
		v.identity.report(&last)
		v.obs.STSCall(p.Name(), elapsed, last.code)
		log.Warn("sts assume role failed", "attempt", attempt, "aws_error_code", last.code,
			"request_id", last.requestID, "kind", last.err.Kind.String(), "error", err.Error())
		if !last.retryable || attempt >= v.sts.MaxAttempts {
			return nil, last.err
		}
		if v.sleep(ctx, backoff(attempt)) != nil {
			// Out of time while backing off: the last failure says why.
			return nil, last.err
		}
	}
}

// checkOutput refuses an AssumeRole answer that could not be served: no
// answer, an empty field, or an expiry not in the future or so near that
// clients would treat the set as expired (not servable by the cache's
// freshness rules).
func (v *Vendor) checkOutput(out *AssumeRoleOutput) error {
	switch {
	case out == nil:
		return errors.New("no credentials in AssumeRole response")
	case out.AccessKeyID == "":
		return errors.New("empty AccessKeyId")
	case out.SecretAccessKey == "":
		return errors.New("empty SecretAccessKey")
	case out.SessionToken == "":
		return errors.New("empty SessionToken")
	case out.Expiration.IsZero():
		return errors.New("no Expiration")
	case !out.Expiration.After(v.now()):
		return errors.New("credentials already expired")
	case !v.fresh.servable(out.Expiration, v.now()):
		return fmt.Errorf("credentials expire at %s, within the client window", out.Expiration.UTC().Format(time.RFC3339))
	}
	return nil
}

// KeySuffix returns the last 4 characters of an access key id, the most
// of it that may be logged.
func KeySuffix(id string) string {
	if len(id) <= 4 {
		return id
	}
	return id[len(id)-4:]
}
