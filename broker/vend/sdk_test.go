package vend

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// TestRealSDKClient runs the Vendor over a real *sts.Client talking to the
// fake STS (Query protocol, XML), so the error classification sees exactly
// what the SDK produces.
func TestRealSDKClient(t *testing.T) {
	tests := map[string]struct {
		codes     []string // error code per call; "" = success
		wantCalls int
		wantKind  errs.Kind
		wantCode  string
	}{
		"success":                  {[]string{""}, 1, 0, ""},
		"throttled then success":   {[]string{"Throttling", ""}, 2, 0, ""},
		"throttled every time":     {[]string{"Throttling", "Throttling", "Throttling"}, 3, errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled},
		"access denied":            {[]string{"AccessDenied"}, 1, errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied},
		"malformed policy":         {[]string{"MalformedPolicyDocument"}, 1, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid},
		"packed policy too large":  {[]string{"PackedPolicyTooLarge"}, 1, errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid},
		"duration over role limit": {[]string{"ValidationError"}, 1, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid},
		"broker key invalid":       {[]string{"InvalidClientTokenId"}, 1, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			fake := &testenv.STS{KeyID: "AKIATVMBROKER0000001", Region: "us-east-1", Clock: clock.Now,
				Fail: func(n int, form url.Values) string {
					if form.Get("Action") != "AssumeRole" {
						return "InvalidAction"
					}
					if n <= len(tc.codes) {
						return tc.codes[n-1]
					}
					return "InternalFailure"
				}}
			hc := &http.Client{Transport: &http.Transport{}}
			defer hc.CloseIdleConnections()
			client := sts.New(sts.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(testenv.StartSTS(t, fake)),
				Credentials:  credentials.NewStaticCredentialsProvider("AKIATVMBROKER0000001", "tvmLocalBrokerSecretKey000000000000000001", ""),
				HTTPClient:   hc,
			})
			logs := &testenv.SyncBuffer{}
			cfg := baseConfig()
			v, err := New(compile(t, cfg), client, Options{
				Clock:  clock.Now,
				Sleep:  func(context.Context, time.Duration) error { return nil },
				Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			c, err := v.Vend(context.Background(), readReq("acme"))
			calls := fake.Calls()
			if len(calls) != tc.wantCalls {
				t.Fatalf("STS requests = %d, want %d", len(calls), tc.wantCalls)
			}
			if bad := fake.Violations(); len(bad) > 0 {
				t.Errorf("protocol violations: %q", bad)
			}
			// Like real STS, the request id is in a header (the SDK reads it there).
			lastID := fmt.Sprintf(`"request_id":%q`, calls[len(calls)-1].RequestID)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				issued := fake.Issued()[0]
				if c.AccessKeyID != issued.AccessKeyID || c.SessionToken != issued.SessionToken || c.AccountID != "123456789012" {
					t.Errorf("credentials %+v, want the issued set %+v", c, issued)
				}
				if l := logs.String(); !strings.Contains(l, lastID) || strings.Contains(l, c.AccessKeyID) {
					t.Errorf("success log lacks the request id or shows the key id:\n%s", l)
				}
				return
			}
			wantErr(t, err, tc.wantKind, tc.wantCode)
			if logs := logs.String(); !strings.Contains(logs, lastID) {
				t.Errorf("request id not logged:\n%s", logs)
			}
		})
	}
}
