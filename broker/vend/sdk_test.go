package vend

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// TestRealSDKClient runs the Vendor over a real *sts.Client talking to an
// httptest server that speaks the STS Query protocol (XML), so the error
// classification sees exactly what the SDK produces.
func TestRealSDKClient(t *testing.T) {
	const errorXML = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
		`<Code>%s</Code><Message>%s</Message></Error><RequestId>rid-%d</RequestId></ErrorResponse>`
	const okXML = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
		`<Credentials><SessionToken>tok</SessionToken><SecretAccessKey>sec</SecretAccessKey>` +
		`<Expiration>%s</Expiration><AccessKeyId>ASIAREALSDK00000001</AccessKeyId></Credentials>` +
		`<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/%s</Arn>` +
		`<AssumedRoleId>AROAX:%[2]s</AssumedRoleId></AssumedRoleUser><PackedPolicySize>8</PackedPolicySize>` +
		`</AssumeRoleResult><ResponseMetadata><RequestId>rid-ok</RequestId></ResponseMetadata></AssumeRoleResponse>`

	tests := map[string]struct {
		codes     []string // error code per call; "" = success
		wantCalls int64
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
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "AssumeRole" {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "text/xml")
				// Like real STS, the request id is in a header (the SDK reads it there).
				w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("rid-%d", n))
				code := "InternalFailure"
				if int(n) <= len(tc.codes) {
					code = tc.codes[n-1]
				}
				if code == "" {
					exp := clock.Now().Add(time.Hour).Format(time.RFC3339)
					fmt.Fprintf(w, okXML, exp, r.PostForm.Get("RoleSessionName"))
					return
				}
				status := http.StatusBadRequest
				if code == "AccessDenied" || code == "InvalidClientTokenId" {
					status = http.StatusForbidden
				}
				w.WriteHeader(status)
				fmt.Fprintf(w, errorXML, code, "upstream says no", n)
			}))
			defer srv.Close()
			client := sts.New(sts.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(srv.URL),
				Credentials:  credentials.NewStaticCredentialsProvider("AKIATVMBROKER0000001", "tvmLocalBrokerSecretKey000000000000000001", ""),
				HTTPClient:   srv.Client(),
			})
			logs := &testenv.SyncBuffer{}
			v, err := New(baseConfig(), loadTemplates(t), client, Options{
				Clock:  clock.Now,
				Sleep:  func(context.Context, time.Duration) error { return nil },
				Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			c, err := v.Vend(context.Background(), readReq("acme"))
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("STS requests = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.AccessKeyID != "ASIAREALSDK00000001" || c.SessionToken != "tok" || c.AccountID != "123456789012" {
					t.Errorf("credentials %+v", c)
				}
				if l := logs.String(); !strings.Contains(l, fmt.Sprintf(`"request_id":"rid-%d"`, tc.wantCalls)) || strings.Contains(l, c.AccessKeyID) {
					t.Errorf("success log lacks the request id or shows the key id:\n%s", l)
				}
				return
			}
			wantErr(t, err, tc.wantKind, tc.wantCode)
			if logs := logs.String(); !strings.Contains(logs, fmt.Sprintf(`"request_id":"rid-%d"`, tc.wantCalls)) {
				t.Errorf("request id not logged:\n%s", logs)
			}
		})
	}
}
