// Package stsclient adapts the AWS SDK's STS client to the vending core's
// STS port (vend.STS). It turns vend's plain AssumeRole request into the
// SDK's, the SDK's answer into vend's, and the SDK's error shapes into a
// *vend.UpstreamError: the AWS error code and fault of an API error, the
// request id and HTTP status of a response error, and whether the request
// could not be sent or its answer not received (a send error or a
// net.Error). It extracts facts only: what a failure means to the broker
// (throttled, denied, retryable, ...) is decided in one place, vend's
// classification.
//
// Each call makes one attempt (the SDK's own retries are disabled): vend
// owns the retry loop, so throttling is not retried by two layers.
//
// A Client built with NewFromConfig also tells a failure to obtain the
// broker's own credentials (no source in the SDK's default chain, or a
// source that failed) from a failure of STS: such an error has
// vend.UpstreamError.NoCredentials set, its other fields describing the
// credential source's failure. It remembers the last 4 characters of the
// access key id it last signed with, for GetCallerIdentity's log line.
//
// A Client is safe for concurrent use, as *sts.Client is.
package stsclient

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tvmkit/tvm/broker/vend"
)

// API is the part of the SDK's STS client the adapter calls; *sts.Client
// implements it.
type API interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Client is vend's STS port over the AWS SDK.
type Client struct {
	api   API
	creds *markedCredentials // nil unless built by NewFromConfig
}

var (
	_ vend.STS         = (*Client)(nil)
	_ vend.IdentitySTS = (*Client)(nil)
)

// New returns the adapter over api (usually sts.NewFromConfig(cfg)), which
// must not be nil.
func New(api API) *Client { return &Client{api: api} }

// NewFromConfig returns the adapter over an STS client built from cfg,
// whose credential provider is wrapped so that a failure to obtain the
// broker's own credentials is told apart (UpstreamError.NoCredentials).
func NewFromConfig(cfg aws.Config) *Client {
	mc := &markedCredentials{provider: cfg.Credentials}
	cfg.Credentials = mc
	return &Client{api: sts.NewFromConfig(cfg), creds: mc}
}

// GetCallerIdentity makes one GetCallerIdentity attempt. A failure is
// returned as a *vend.UpstreamError wrapping the SDK's error.
func (c *Client) GetCallerIdentity(ctx context.Context) (*vend.CallerIdentity, error) {
	out, err := c.api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, oneAttempt)
	if err != nil {
		return nil, upstreamError(err)
	}
	id := &vend.CallerIdentity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}
	if c.creds != nil {
		id.KeySuffix = c.creds.lastKeySuffix()
	}
	return id, nil
}

// markedCredentials wraps the broker's credential provider: its failures
// become *credentialsError values, which upstreamError recognises in the
// SDK's error chain, and it remembers the last 4 characters of the last
// access key id it provided. A nil provider is no credentials at all.
type markedCredentials struct {
	provider aws.CredentialsProvider
	mu       sync.Mutex
	suffix   string
}

// credentialsError is a failure to obtain the broker's own credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "the broker's AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// errNoProvider is the failure of a configuration without any credential
// provider.
var errNoProvider = errors.New("no credential provider configured")

// Retrieve implements aws.CredentialsProvider.
func (m *markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if m.provider == nil {
		return aws.Credentials{}, &credentialsError{err: errNoProvider}
	}
	c, err := m.provider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err: err}
	}
	m.mu.Lock()
	m.suffix = vend.KeySuffix(c.AccessKeyID)
	m.mu.Unlock()
	return c, nil
}

func (m *markedCredentials) lastKeySuffix() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.suffix
}

// oneAttempt makes the SDK try once: vend owns the retry loop.
func oneAttempt(o *sts.Options) { o.RetryMaxAttempts = 1 }

// AssumeRole makes one AssumeRole attempt. A failure is returned as a
// *vend.UpstreamError wrapping the SDK's error.
func (c *Client) AssumeRole(ctx context.Context, in *vend.AssumeRoleInput) (*vend.AssumeRoleOutput, error) {
	out, err := c.api.AssumeRole(ctx, assumeRoleInput(in), oneAttempt)
	if err != nil {
		return nil, upstreamError(err)
	}
	return assumeRoleOutput(out), nil
}

// assumeRoleInput converts vend's request; empty optional fields are left
// out of the request.
func assumeRoleInput(in *vend.AssumeRoleInput) *sts.AssumeRoleInput {
	out := &sts.AssumeRoleInput{
		RoleArn:         aws.String(in.RoleARN),
		RoleSessionName: aws.String(in.RoleSessionName),
		DurationSeconds: aws.Int32(int32(in.Duration / time.Second)),
		Policy:          optional(in.Policy),
		ExternalId:      optional(in.ExternalID),
		SourceIdentity:  optional(in.SourceIdentity),
	}
	for _, t := range in.Tags {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	if len(in.TransitiveTagKeys) > 0 {
		out.TransitiveTagKeys = append([]string(nil), in.TransitiveTagKeys...)
	}
	return out
}

// optional returns nil for "", else a pointer to s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// assumeRoleOutput converts the SDK's answer; missing parts stay empty
// (vend refuses an answer without usable credentials).
func assumeRoleOutput(out *sts.AssumeRoleOutput) *vend.AssumeRoleOutput {
	if out == nil {
		return nil
	}
	o := &vend.AssumeRoleOutput{Size: vend.SessionSize{PackedPolicyPercent: vend.SizeNotReported, TokenUtilizationPercent: vend.SizeNotReported}}
	if c := out.Credentials; c != nil {
		o.AccessKeyID = aws.ToString(c.AccessKeyId)
		o.SecretAccessKey = aws.ToString(c.SecretAccessKey)
		o.SessionToken = aws.ToString(c.SessionToken)
		o.Expiration = aws.ToTime(c.Expiration)
	}
	if u := out.AssumedRoleUser; u != nil {
		o.AssumedRoleARN = aws.ToString(u.Arn)
	}
	// Two generations of STS (see vend.SessionSize): PackedPolicySize until
	// September 2026 (and tvm-local), SessionTokenUtilization since.
	//lint:ignore SA1019 STS before September 2026, and tvm-local, answer PackedPolicySize, the figure their PackedPolicyTooLarge refusals are about.
	if pps := out.PackedPolicySize; pps != nil {
		o.Size.PackedPolicyPercent = int(*pps)
	}
	if u := out.SessionTokenUtilization; u != nil {
		o.Size.TokenUtilizationPercent = int(*u)
	}
	o.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return o
}

// upstreamError extracts from an SDK error what vend's classification
// reads. A context's error stays in the chain (errors.Is sees it) and is
// not a network failure, although context.DeadlineExceeded is a net.Error.
func upstreamError(err error) *vend.UpstreamError {
	ue := &vend.UpstreamError{Err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		ue.RequestID = re.ServiceRequestID()
	}
	var sre *smithyhttp.ResponseError
	if errors.As(err, &sre) {
		ue.Status = sre.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		ue.Code = apiErr.ErrorCode()
		ue.ServerFault = apiErr.ErrorFault() == smithy.FaultServer
	}
	var send *smithyhttp.RequestSendError
	var nerr net.Error
	ctxEnded := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	ue.Network = !ctxEnded && (errors.As(err, &send) || errors.As(err, &nerr))
	var ce *credentialsError
	ue.NoCredentials = errors.As(err, &ce)
	return ue
}
