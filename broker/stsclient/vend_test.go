package stsclient

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

// newVendor returns a Vendor with one per-tenant profile "read" over
// client; its logs go to logs.
func newVendor(t *testing.T, client vend.STS, clock func() time.Time, logs *testenv.SyncBuffer) *vend.Vendor {
	t.Helper()
	cfg := &config.Config{
		DefaultProfile: "read",
		Profiles: []config.Profile{{Name: "read", RoleARN: testRoleARN, Template: "dynamodb-read",
			TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"}, DefaultDuration: time.Hour}},
	}
	cfg.SetDefaults()
	templates, err := policies.LoadTemplates("", targets.All())
	if err != nil {
		t.Fatal(err)
	}
	set, err := profiles.Compile(cfg, templates, profiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vend.New(set, client, vend.Options{
		Clock:  clock,
		Sleep:  func(context.Context, time.Duration) error { return nil },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// TestVendOverRealSDK runs the Vendor over the adapter over a real
// *sts.Client talking to the fake STS (Query protocol, XML), so vend's
// error classification sees exactly what the SDK produces.
func TestVendOverRealSDK(t *testing.T) {
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
		"broker key invalid":       {[]string{"InvalidClientTokenId"}, 1, errs.KindMisconfigured, errs.CodeBrokerMisconfigured},
		"broker secret wrong":      {[]string{"SignatureDoesNotMatch"}, 1, errs.KindMisconfigured, errs.CodeBrokerMisconfigured},
		"internal failure retried": {[]string{"InternalFailure", ""}, 2, 0, ""},
		"unavailable every time":   {[]string{"ServiceUnavailable", "ServiceUnavailable", "ServiceUnavailable"}, 3, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake, client := startFake(t, fixedClock, func(n int) string {
				if n <= len(tc.codes) {
					return tc.codes[n-1]
				}
				return "InternalFailure"
			})
			logs := &testenv.SyncBuffer{}
			v := newVendor(t, client, fixedClock, logs)
			c, err := v.Vend(t.Context(), vend.Request{Tenant: "acme", Subject: "alice@example.com"})
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

// TestVendOverRealSDKTransportFailures: an unreachable STS and one that
// never answers, through the real SDK.
func TestVendOverRealSDKTransportFailures(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		endpoint := srv.URL
		srv.Close()
		v := newVendor(t, New(newSDK(t, endpoint)), fixedClock, &testenv.SyncBuffer{})
		_, err := v.Vend(t.Context(), vend.Request{Tenant: "acme", Subject: "alice"})
		e := wantErr(t, err, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable)
		if e.RetryAfter <= 0 {
			t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
		}
	})
	t.Run("no answer before the deadline", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = r.Body.Read(make([]byte, 1<<16))
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		v := newVendor(t, New(newSDK(t, srv.URL)), fixedClock, &testenv.SyncBuffer{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := v.Vend(ctx, vend.Request{Tenant: "acme", Subject: "alice"})
		wantErr(t, err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout)
	})
}

func wantErr(t *testing.T, err error, kind errs.Kind, code string) *errs.Error {
	t.Helper()
	e := errs.From(err)
	if err == nil || e.Kind != kind || e.Code != code {
		t.Fatalf("got %v (%s %s), want %s %s", err, e.Kind, e.Code, kind, code)
	}
	return e
}
