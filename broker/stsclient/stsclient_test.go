package stsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	brokerKeyID  = "AKIATVMBROKER0000001"
	brokerSecret = "tvmLocalBrokerSecretKey000000000000000001"
	testRoleARN  = "arn:aws:iam::123456789012:role/tvm-tenant-read"
)

// newSDK returns a real SDK client for endpoint whose connections are
// closed when t ends.
func newSDK(t testing.TB, endpoint string) *sts.Client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(brokerKeyID, brokerSecret, ""),
		HTTPClient:   hc,
	})
}

// startFake starts the shared fake STS; fail answers call n with an error
// code ("" = success).
func startFake(t testing.TB, clock func() time.Time, fail func(n int) string) (*testenv.STS, *Client) {
	t.Helper()
	fake := &testenv.STS{KeyID: brokerKeyID, Region: "us-east-1", Clock: clock}
	if fail != nil {
		fake.Fail = func(n int, _ url.Values) string { return fail(n) }
	}
	return fake, New(newSDK(t, testenv.StartSTS(t, fake)))
}

func fixedClock() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func TestAssumeRoleRequestAndAnswer(t *testing.T) {
	tests := map[string]struct {
		in       vend.AssumeRoleInput
		wantForm url.Values
	}{
		"every field": {
			in: vend.AssumeRoleInput{
				RoleARN: testRoleARN, RoleSessionName: "t-acme-1a2b3c4d", Duration: 2 * time.Hour,
				Policy: `{"Version":"2012-10-17"}`, ExternalID: "tvm-external-id", SourceIdentity: "alice",
				Tags:              []vend.STSTag{{Key: "app", Value: "tvm"}, {Key: "tenant", Value: "acme"}},
				TransitiveTagKeys: []string{"tenant"},
			},
			wantForm: url.Values{
				"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {testRoleARN},
				"RoleSessionName": {"t-acme-1a2b3c4d"}, "DurationSeconds": {"7200"}, "Policy": {`{"Version":"2012-10-17"}`},
				"ExternalId": {"tvm-external-id"}, "SourceIdentity": {"alice"},
				"Tags.member.1.Key": {"app"}, "Tags.member.1.Value": {"tvm"},
				"Tags.member.2.Key": {"tenant"}, "Tags.member.2.Value": {"acme"},
				"TransitiveTagKeys.member.1": {"tenant"},
			},
		},
		"optional fields empty are not sent": {
			in: vend.AssumeRoleInput{RoleARN: testRoleARN, RoleSessionName: "t-acme-read", Duration: 15 * time.Minute},
			wantForm: url.Values{
				"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {testRoleARN},
				"RoleSessionName": {"t-acme-read"}, "DurationSeconds": {"900"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake, c := startFake(t, fixedClock, nil)
			out, err := c.AssumeRole(t.Context(), &tc.in)
			if err != nil {
				t.Fatal(err)
			}
			calls := fake.Calls()
			if len(calls) != 1 {
				t.Fatalf("STS requests = %d, want 1", len(calls))
			}
			if bad := fake.Violations(); len(bad) > 0 {
				t.Errorf("protocol violations: %q", bad)
			}
			if diff := cmp.Diff(tc.wantForm, calls[0].Form); diff != "" {
				t.Errorf("request form (-want +got):\n%s", diff)
			}
			issued := fake.Issued()[0]
			want := &vend.AssumeRoleOutput{
				AccessKeyID: issued.AccessKeyID, SecretAccessKey: issued.SecretAccessKey, SessionToken: issued.SessionToken,
				Expiration:     fixedClock().Add(tc.in.Duration),
				AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/" + tc.in.RoleSessionName,
				Size:           vend.SessionSize{PackedPolicyPercent: 7, TokenUtilizationPercent: vend.SizeNotReported},
				RequestID:      calls[0].RequestID,
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpstreamErrorsOverHTTP checks what the adapter extracts from the
// errors the real SDK produces for STS's answers, and that it makes one
// attempt whatever the error (vend owns retries).
func TestUpstreamErrorsOverHTTP(t *testing.T) {
	tests := map[string]struct {
		code   string
		status int
	}{
		"throttling":           {"Throttling", http.StatusBadRequest},
		"access denied":        {"AccessDenied", http.StatusForbidden},
		"malformed policy":     {"MalformedPolicyDocument", http.StatusBadRequest},
		"packed too large":     {"PackedPolicyTooLarge", http.StatusBadRequest},
		"validation error":     {"ValidationError", http.StatusBadRequest},
		"broker key invalid":   {"InvalidClientTokenId", http.StatusForbidden},
		"internal failure":     {"InternalFailure", http.StatusInternalServerError},
		"service unavailable":  {"ServiceUnavailable", http.StatusServiceUnavailable},
		"expired broker token": {"ExpiredToken", http.StatusForbidden},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake, c := startFake(t, fixedClock, func(int) string { return tc.code })
			out, err := c.AssumeRole(t.Context(), &vend.AssumeRoleInput{RoleARN: testRoleARN, RoleSessionName: "t-1-read", Duration: time.Hour})
			if out != nil {
				t.Errorf("output %+v with an error", out)
			}
			var ue *vend.UpstreamError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T) is not a *vend.UpstreamError", err, err)
			}
			calls := fake.Calls()
			if len(calls) != 1 {
				t.Fatalf("STS requests = %d, want 1 (no SDK retries)", len(calls))
			}
			want := vend.UpstreamError{Code: tc.code, RequestID: calls[0].RequestID, Status: tc.status}
			got := *ue
			got.Err = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("UpstreamError (-want +got):\n%s", diff)
			}
			if ue.Err == nil {
				t.Error("the SDK's error is not kept for the logs")
			}
		})
	}
}

// TestNetworkFailure: nothing listens at the endpoint.
func TestNetworkFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	c := New(newSDK(t, endpoint))
	_, err := c.AssumeRole(t.Context(), &vend.AssumeRoleInput{RoleARN: testRoleARN, RoleSessionName: "t-1-read", Duration: time.Hour})
	var ue *vend.UpstreamError
	if !errors.As(err, &ue) || !ue.Network || ue.Code != "" || ue.Status != 0 {
		t.Fatalf("error %#v, want a network UpstreamError without code or status", err)
	}
}

// TestContextEnds: a call ended by its context (deadline or cancel) says so
// through errors.Is, which is how vend tells a timeout.
func TestContextEnds(t *testing.T) {
	tests := map[string]struct {
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}{
		"deadline": {func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 50*time.Millisecond)
		}, context.DeadlineExceeded},
		"canceled": {func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				arrived <- struct{}{}
				select { // never answers
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer srv.Close()
			defer close(release)
			c := New(newSDK(t, srv.URL))
			ctx, cancel := tc.ctx(t.Context())
			defer cancel()
			_, err := c.AssumeRole(ctx, &vend.AssumeRoleInput{RoleARN: testRoleARN, RoleSessionName: "t-1-read", Duration: time.Hour})
			var ue *vend.UpstreamError
			if !errors.As(err, &ue) || !errors.Is(err, tc.want) || ue.Code != "" {
				t.Fatalf("error %v, want an UpstreamError for which errors.Is(%v) holds", err, tc.want)
			}
			select {
			case <-arrived:
			default:
				t.Error("the request never reached the server")
			}
		})
	}
}

// TestUpstreamErrorShapes covers the SDK error shapes that a loopback
// server does not produce.
func TestUpstreamErrorShapes(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := map[string]struct {
		err      error
		want     vend.UpstreamError
		deadline bool
	}{
		"request canceled on deadline": {err: &aws.RequestCanceledError{Err: context.DeadlineExceeded}, deadline: true},
		"send error":                   {err: &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: dial}}, want: vend.UpstreamError{Network: true}},
		"dns error":                    {err: &net.DNSError{Err: "no such host", Name: "sts.example"}, want: vend.UpstreamError{Network: true}},
		"server fault": {err: &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}},
			want: vend.UpstreamError{Code: "InternalFailure", ServerFault: true}},
		"deserialization error": {err: &smithy.DeserializationError{Err: errors.New("bad xml")}},
		"plain error":           {err: fmt.Errorf("boom")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ue := upstreamError(tc.err)
			if !errors.Is(ue, tc.err) {
				t.Error("the SDK's error is not in the chain")
			}
			if got := errors.Is(ue, context.DeadlineExceeded); got != tc.deadline {
				t.Errorf("errors.Is(DeadlineExceeded) = %v, want %v", got, tc.deadline)
			}
			got := *ue
			got.Err = nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("UpstreamError (-want +got):\n%s", diff)
			}
		})
	}
}
