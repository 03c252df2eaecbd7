package vend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

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
)

// throttleCodes are the STS error codes treated as throttling.
var throttleCodes = map[string]bool{
	"Throttling":                true,
	"ThrottlingException":       true,
	"RequestLimitExceeded":      true,
	"TooManyRequestsException":  true,
	"RequestThrottledException": true,
}

// brokerCredentialCodes mean the broker's own AWS credentials (or region)
// are the problem, not the tenant's request.
var brokerCredentialCodes = map[string]bool{
	"RegionDisabledException":             true,
	"ExpiredTokenException":               true,
	"ExpiredToken":                        true,
	"InvalidClientTokenId":                true,
	"SignatureDoesNotMatch":               true,
	"IncompleteSignature":                 true,
	"MissingAuthenticationToken":          true,
	"UnrecognizedClientException":         true,
	"InvalidSignatureException":           true,
	"MissingAuthenticationTokenException": true,
}

// stsFailure describes one failed AssumeRole attempt.
type stsFailure struct {
	code      string // AWS error code, or one of the obsCode* values
	requestID string
	retryable bool
	err       *errs.Error // public classification
}

// classify maps an AssumeRole error to the broker's public error. The
// upstream message is never copied into the public message.
func classify(err error) stsFailure {
	f := stsFailure{code: obsCodeUnknown}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		f.requestID = re.ServiceRequestID()
	}
	var apiErr smithy.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		f.code = obsCodeTimeout
		f.err = errs.Wrap(err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout, "STS did not answer in time")
	case errors.Is(err, context.Canceled):
		f.code = obsCodeCanceled
		f.err = errs.Wrap(err, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "request cancelled before STS answered")
	case errors.As(err, &apiErr):
		f.code = apiErr.ErrorCode()
		f.retryable, f.err = classifyAPIError(apiErr, err)
	case isNetworkError(err):
		f.code = obsCodeNetwork
		f.retryable = true
		f.err = unavailable(err, "STS is unreachable")
	default:
		f.err = unavailable(err, "STS call failed")
	}
	return f
}

// classifyAPIError maps an error STS answered (apiErr, found in err) to the
// public error and whether the call may be retried.
func classifyAPIError(apiErr smithy.APIError, err error) (retryable bool, _ *errs.Error) {
	switch code := apiErr.ErrorCode(); {
	case throttleCodes[code]:
		return true, &errs.Error{Kind: errs.KindUpstreamThrottled, Code: errs.CodeUpstreamThrottled,
			Message: "STS is throttling requests; retry later", RetryAfter: throttleRetryAfter, Cause: err}
	case code == "AccessDenied" || code == "AccessDeniedException":
		return false, errs.Wrap(err, errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "STS refused to assume the profile's role")
	case code == "MalformedPolicyDocument" || code == "MalformedPolicyDocumentException":
		return false, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "STS refused the session policy as malformed")
	case code == "PackedPolicyTooLarge" || code == "PackedPolicyTooLargeException":
		// A size overrun says so: the fix (a shorter policy or fewer
		// session tags) differs from a malformed policy's.
		return false, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "STS refused the session policy and tags as too large once packed")
	case code == "ValidationError":
		return false, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS rejected the request parameters")
	case brokerCredentialCodes[code]:
		return false, unavailable(err, "the broker cannot use STS right now")
	case apiErr.ErrorFault() == smithy.FaultServer:
		return true, unavailable(err, "STS is unavailable")
	}
	return false, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS refused the request")
}

// unavailable returns an upstream_unavailable error with a RetryAfter.
func unavailable(cause error, message string) *errs.Error {
	return &errs.Error{Kind: errs.KindUpstreamUnavailable, Code: errs.CodeUpstreamUnavailable,
		Message: message, RetryAfter: unavailableRetryAfter, Cause: cause}
}

func isNetworkError(err error) bool {
	var send *smithyhttp.RequestSendError
	var nerr net.Error
	return errors.As(err, &send) || errors.As(err, &nerr)
}

// backoff returns the wait before retry number attempt (1-based):
// exponential from retryBase, capped at retryCap, with equal jitter.
func backoff(attempt int) time.Duration {
	d := retryBase << min(attempt-1, 10)
	d = min(d, retryCap)
	return d/2 + rand.N(d/2+1)
}

// disableSDKRetries makes the SDK try once: this package owns the retry loop,
// so throttling is not retried by two layers.
func disableSDKRetries(o *sts.Options) { o.RetryMaxAttempts = 1 }

// assumeRole calls STS, retrying throttling and transient failures with
// backoff up to maxAttempts, and validates the answer.
func (v *Vendor) assumeRole(ctx context.Context, p *profile, in *sts.AssumeRoleInput, log *slog.Logger) (*sts.AssumeRoleOutput, error) {
	var last stsFailure
	for attempt := 1; ; attempt++ {
		start := v.now()
		out, err := v.client.AssumeRole(ctx, in, disableSDKRetries)
		elapsed := v.now().Sub(start)
		if err == nil {
			err = v.checkOutput(out)
			if err == nil {
				v.obs.STSCall(p.name, elapsed, "")
				reqID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
				log.Debug("sts assume role", "attempt", attempt, "request_id", reqID,
					"access_key_id_suffix", KeySuffix(aws.ToString(out.Credentials.AccessKeyId)),
					"expiration", aws.ToTime(out.Credentials.Expiration))
				return out, nil
			}
			v.obs.STSCall(p.name, elapsed, obsCodeInvalid)
			log.Error("sts answered unusable credentials", "attempt", attempt, "error", err)
			return nil, errs.Wrap(err, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "STS answered unusable credentials")
		}
		last = classify(err)
		v.obs.STSCall(p.name, elapsed, last.code)
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
// credentials, an empty field, or an expiry not in the future or so near
// that clients would treat the set as expired (not servable by the cache's
// freshness rules).
func (v *Vendor) checkOutput(out *sts.AssumeRoleOutput) error {
	if out == nil || out.Credentials == nil {
		return errors.New("no credentials in AssumeRole response")
	}
	c := out.Credentials
	switch {
	case aws.ToString(c.AccessKeyId) == "":
		return errors.New("empty AccessKeyId")
	case aws.ToString(c.SecretAccessKey) == "":
		return errors.New("empty SecretAccessKey")
	case aws.ToString(c.SessionToken) == "":
		return errors.New("empty SessionToken")
	case c.Expiration == nil:
		return errors.New("no Expiration")
	case !c.Expiration.After(v.now()):
		return errors.New("credentials already expired")
	case !v.fresh.servable(*c.Expiration, v.now()):
		return fmt.Errorf("credentials expire at %s, within the client window", c.Expiration.UTC().Format(time.RFC3339))
	}
	return nil
}

// accountID extracts the account from the AssumedRoleUser ARN ("" if unknown).
func accountID(out *sts.AssumeRoleOutput) string {
	if out.AssumedRoleUser == nil {
		return ""
	}
	a, err := arn.Parse(aws.ToString(out.AssumedRoleUser.Arn))
	if err != nil {
		return ""
	}
	return a.AccountID
}

// KeySuffix returns the last 4 characters of an access key id, the most
// of it that may be logged.
func KeySuffix(id string) string {
	if len(id) <= 4 {
		return id
	}
	return id[len(id)-4:]
}
