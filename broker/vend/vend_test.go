package vend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/stsrules"
)

func wantErr(t *testing.T, err error, kind errs.Kind, code string) *errs.Error {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *errs.Error", err, err)
	}
	if e.Kind != kind || e.Code != code {
		t.Fatalf("got %s %s (%v), want %s %s", e.Kind, e.Code, e, kind, code)
	}
	return e
}

func TestVendValidation(t *testing.T) {
	userReq := Request{Tenant: "acme", Subject: "alice", Profile: "user", Scopes: []string{"tvm:write"}}
	tests := map[string]struct {
		req     Request
		kind    errs.Kind
		code    string
		message string // substring of the public message
	}{
		"empty tenant":          {Request{Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"wildcard tenant":       {Request{Tenant: "*", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"prefix wildcard":       {Request{Tenant: "1*", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"question mark tenant":  {Request{Tenant: "a?", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"quote tenant":          {Request{Tenant: `a"b`, Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"dollar tenant":         {Request{Tenant: "${aws:username}", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"slash tenant":          {Request{Tenant: "a/b", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"control char tenant":   {Request{Tenant: "a\nb", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"unicode tenant":        {Request{Tenant: "tenänt", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"65-char tenant":        {Request{Tenant: strings.Repeat("a", 65), Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"leading dash tenant":   {Request{Tenant: "-a", Subject: "alice"}, errs.KindUnauthenticated, errs.CodeInvalidTenant, "tenant"},
		"no subject":            {Request{Tenant: "acme"}, errs.KindUnauthenticated, errs.CodeInvalidToken, "subject"},
		"unknown profile":       {Request{Tenant: "acme", Subject: "alice", Profile: "admin"}, errs.KindNotFound, errs.CodeProfileNotFound, "profile"},
		"tenant not allowed":    {Request{Tenant: "initech", Subject: "alice", Profile: "user", Scopes: []string{"tvm:write"}}, errs.KindForbidden, errs.CodeForbidden, "tenant"},
		"scope missing":         {Request{Tenant: "acme", Subject: "alice", Profile: "user", Scopes: []string{"tvm:read"}}, errs.KindForbidden, errs.CodeForbidden, "scope"},
		"no scopes":             {Request{Tenant: "acme", Subject: "alice", Profile: "user"}, errs.KindForbidden, errs.CodeForbidden, "scope"},
		"duration too short":    {Request{Tenant: "acme", Subject: "alice", Duration: 899 * time.Second}, errs.KindInvalidInput, errs.CodeInvalidRequest, "between 900 and 3600"},
		"duration too long":     {Request{Tenant: "acme", Subject: "alice", Duration: 3601 * time.Second}, errs.KindInvalidInput, errs.CodeInvalidRequest, "between 900 and 3600"},
		"negative duration":     {Request{Tenant: "acme", Subject: "alice", Duration: -time.Hour}, errs.KindInvalidInput, errs.CodeInvalidRequest, "between 900 and 3600"},
		"fractional duration":   {Request{Tenant: "acme", Subject: "alice", Duration: 1000*time.Second + time.Millisecond}, errs.KindInvalidInput, errs.CodeInvalidRequest, "whole number"},
		"over profile max":      {func() Request { r := userReq; r.Duration = 2*time.Hour + time.Second; return r }(), errs.KindInvalidInput, errs.CodeInvalidRequest, "between 900 and 7200"},
		"over role-chain limit": {func() Request { r := userReq; r.Duration = 13 * time.Hour; return r }(), errs.KindInvalidInput, errs.CodeInvalidRequest, "between 900 and 7200"},
	}
	h := newHarness(t, nil)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.v.Vend(context.Background(), tc.req)
			e := wantErr(t, err, tc.kind, tc.code)
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q does not mention %q", e.Message, tc.message)
			}
		})
	}
	if n := h.sts.calls.Load(); n != 0 {
		t.Errorf("rejected requests made %d AssumeRole calls, want 0", n)
	}
}

func TestVendNoDefaultProfile(t *testing.T) {
	// Configuration requires a default with several profiles (config and
	// profiles.Compile refuse none); vend still answers 400 without one.
	h := newHarness(t, nil)
	st := *h.v.cur.Load()
	st.defaultProfile = ""
	h.v.cur.Store(&st)
	_, err := h.v.Vend(context.Background(), readReq("acme"))
	wantErr(t, err, errs.KindInvalidInput, errs.CodeInvalidRequest)
	// The named profile still works.
	req := readReq("acme")
	req.Profile = "read"
	if _, err := h.v.Vend(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func renderFor(t *testing.T, template, format, tenant string) *policies.Rendered {
	t.Helper()
	return renderTables(t, template, format, tenant, []string{testTableARN})
}

func renderTables(t *testing.T, template, format, tenant string, tables []string) *policies.Rendered {
	t.Helper()
	tmpl, ok := loadTemplates(t).Get(template)
	if !ok {
		t.Fatalf("no template %q", template)
	}
	pc := config.Profile{TableARNs: tables, LeadingKeyFormat: format}
	b, err := dynamodb.Target.Bind(pc.TargetSettings()[0].Settings)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Render(tenant, []policies.Binding{b})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAssumeRoleInput(t *testing.T) {
	readPolicy := renderFor(t, "dynamodb-read", "Tenant#{tenant}", "acme")
	userPolicy := renderFor(t, "dynamodb-readwrite", "T#{tenant}", "acme")
	tests := map[string]struct {
		req  Request
		want *AssumeRoleInput
		// wantCreds are the non-secret fields of the result.
		wantName, wantHash string
		wantSize           int
	}{
		"per-tenant default profile": {
			req: Request{Tenant: "acme", Subject: "alice@example.com"},
			want: &AssumeRoleInput{
				RoleARN:         testRoleARN,
				RoleSessionName: "t-acme@read",
				Duration:        3600 * time.Second,
				Policy:          string(readPolicy.JSON),
			},
			wantName: "t-acme@read", wantHash: readPolicy.Hash, wantSize: readPolicy.Size,
		},
		"per-subject with every option": {
			req: Request{Tenant: "acme", Subject: "alice@example.com", Profile: "user", Duration: 2 * time.Hour, Scopes: []string{"openid", "tvm:write"}},
			want: &AssumeRoleInput{
				RoleARN:         "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
				RoleSessionName: "t-acme@" + hash8("alice@example.com"),
				Duration:        7200 * time.Second,
				Policy:          string(userPolicy.JSON),
				ExternalID:      "tvm-external-id",
				SourceIdentity:  "alice@example.com",
				Tags: []STSTag{
					{Key: "app", Value: "tvm"},
					{Key: "tenant", Value: "acme"},
					{Key: "user", Value: "alice@example.com"},
				},
				TransitiveTagKeys: []string{"tenant"},
			},
			wantName: "t-acme@" + hash8("alice@example.com"), wantHash: userPolicy.Hash, wantSize: userPolicy.Size,
		},
		"per-subject default duration, unicode subject": {
			req: Request{Tenant: "globex", Subject: "José Ñ/ü", Profile: "user", Scopes: []string{"tvm:write"}},
			want: &AssumeRoleInput{
				RoleARN:         "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
				RoleSessionName: "t-globex@" + hash8("José Ñ/ü"),
				Duration:        1800 * time.Second,
				Policy:          string(renderFor(t, "dynamodb-readwrite", "T#{tenant}", "globex").JSON),
				ExternalID:      "tvm-external-id",
				SourceIdentity:  "Jos_____.",
				Tags: []STSTag{
					{Key: "app", Value: "tvm"},
					{Key: "tenant", Value: "globex"},
					{Key: "user", Value: "José Ñ/ü"},
				},
				TransitiveTagKeys: []string{"tenant"},
			},
			wantName: "t-globex@" + hash8("José Ñ/ü"),
			wantHash: renderFor(t, "dynamodb-readwrite", "T#{tenant}", "globex").Hash,
			wantSize: renderFor(t, "dynamodb-readwrite", "T#{tenant}", "globex").Size,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			if strings.HasSuffix(tc.want.SourceIdentity, ".") {
				tc.want.SourceIdentity += hash8(tc.req.Subject)
			}
			got, err := h.v.Vend(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			in := h.sts.lastInput(t)
			if diff := cmp.Diff(tc.want, in); diff != "" {
				t.Errorf("AssumeRoleInput (-want +got):\n%s", diff)
			}
			wantCreds := &Credentials{
				AccessKeyID:     "ASIAFAKE000000000001",
				SecretAccessKey: "fake-secret-1-zzzzzzzzzzzzzzzz",
				SessionToken:    "fake-session-token-1-yyyyyyyyyyyyyyy",
				Expiration:      h.clock.Now().Add(tc.want.Duration),
				AccountID:       "123456789012",
				Tenant:          tc.req.Tenant,
				Profile:         map[bool]string{true: tc.req.Profile, false: "read"}[tc.req.Profile != ""],
				SessionName:     tc.wantName,
				PolicyHash:      tc.wantHash,
				PolicySize:      tc.wantSize,
				// The fake STS answers no size fields.
				Size: SessionSize{7, SizeNotReported}, // what fakeSTS answers
			}
			if diff := cmp.Diff(wantCreds, got); diff != "" {
				t.Errorf("Credentials (-want +got):\n%s", diff)
			}
			if h.obs.rendered.Load() != 1 {
				t.Errorf("PolicyRendered observed %d times, want 1", h.obs.rendered.Load())
			}
		})
	}
}

func TestVendRejectsUnusableSTSAnswers(t *testing.T) {
	good := func(c *testClock) *AssumeRoleOutput {
		return &AssumeRoleOutput{AccessKeyID: "ASIAFAKE", SecretAccessKey: "s", SessionToken: "t", Expiration: c.Now().Add(time.Hour)}
	}
	tests := map[string]func(o *AssumeRoleOutput, clock *testClock) *AssumeRoleOutput{
		"nil output":     func(*AssumeRoleOutput, *testClock) *AssumeRoleOutput { return nil },
		"no credentials": func(*AssumeRoleOutput, *testClock) *AssumeRoleOutput { return &AssumeRoleOutput{} },
		"empty key id": func(o *AssumeRoleOutput, _ *testClock) *AssumeRoleOutput {
			o.AccessKeyID = ""
			return o
		},
		"empty secret": func(o *AssumeRoleOutput, _ *testClock) *AssumeRoleOutput {
			o.SecretAccessKey = ""
			return o
		},
		"empty token": func(o *AssumeRoleOutput, _ *testClock) *AssumeRoleOutput {
			o.SessionToken = ""
			return o
		},
		"no expiration": func(o *AssumeRoleOutput, _ *testClock) *AssumeRoleOutput {
			o.Expiration = time.Time{}
			return o
		},
		"expired": func(o *AssumeRoleOutput, k *testClock) *AssumeRoleOutput {
			o.Expiration = k.Now()
			return o
		},
		"expires within the client window": func(o *AssumeRoleOutput, k *testClock) *AssumeRoleOutput {
			o.Expiration = k.Now().Add(config.DefaultClientWindow)
			return o
		},
		"one second short of the serving floor": func(o *AssumeRoleOutput, k *testClock) *AssumeRoleOutput {
			o.Expiration = k.Now().Add(config.DefaultClientWindow + config.ServingMargin - time.Second)
			return o
		},
		"expired an hour": func(o *AssumeRoleOutput, k *testClock) *AssumeRoleOutput {
			o.Expiration = k.Now().Add(-time.Hour)
			return o
		},
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.sts.respond = func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) {
				return mk(good(h.clock), h.clock), nil
			}
			c, err := h.v.Vend(context.Background(), readReq("acme"))
			if c != nil {
				t.Fatalf("served unusable credentials %+v", c)
			}
			wantErr(t, err, errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid)
			// Nothing was cached: the next request asks STS again.
			_, _ = h.v.Vend(context.Background(), readReq("acme"))
			if n := h.sts.calls.Load(); n != 2 {
				t.Errorf("AssumeRole calls = %d, want 2", n)
			}
		})
	}
}

func TestNoAccountIDWhenARNUnparseable(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		out := h.sts.success(n, in)
		out.AssumedRoleARN = "not-an-arn"
		return out, nil
	}
	c, err := h.v.Vend(context.Background(), readReq("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountID != "" {
		t.Errorf("AccountID = %q, want empty", c.AccountID)
	}
}

// TestPolicyRefusalsAreTellable checks a packed-size overrun and a
// malformed policy share a code but not a public message.
func TestPolicyRefusalsAreTellable(t *testing.T) {
	malformed := classify(apiErr("MalformedPolicyDocument", "x", 400)).err
	tooLarge := classify(apiErr("PackedPolicyTooLarge", "x", 400)).err
	if malformed.Message == tooLarge.Message {
		t.Errorf("both refusals answer %q", malformed.Message)
	}
	if !strings.Contains(tooLarge.Message, "too large") {
		t.Errorf("PackedPolicyTooLarge message = %q, want it to say too large", tooLarge.Message)
	}
}

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err        error
		kind       errs.Kind
		code       string
		obsCode    string
		retryable  bool
		retryAfter bool
	}{
		"Throttling":                    {apiErr("Throttling", "Rate exceeded", 400), errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled, "Throttling", true, true},
		"ThrottlingException":           {apiErr("ThrottlingException", "x", 400), errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled, "ThrottlingException", true, true},
		"RequestLimitExceeded":          {apiErr("RequestLimitExceeded", "x", 400), errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled, "RequestLimitExceeded", true, true},
		"TooManyRequestsException":      {apiErr("TooManyRequestsException", "x", 400), errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled, "TooManyRequestsException", true, true},
		"AccessDenied":                  {apiErr("AccessDenied", "User: arn:aws:iam::123456789012:user/broker is not authorized", 400), errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "AccessDenied", false, false},
		"MalformedPolicyDocument":       {apiErr("MalformedPolicyDocument", "x", 400), errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "MalformedPolicyDocument", false, false},
		"PackedPolicyTooLarge":          {apiErr("PackedPolicyTooLarge", "x", 400), errs.KindUpstreamInvalid, errs.CodeUpstreamPolicyInvalid, "PackedPolicyTooLarge", false, false},
		"ValidationError":               {apiErr("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400), errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "ValidationError", false, false},
		"RegionDisabledException":       {apiErr("RegionDisabledException", "x", 400), errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "RegionDisabledException", false, false},
		"ExpiredTokenException":         {apiErr("ExpiredTokenException", "x", 400), errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "ExpiredTokenException", false, false},
		"InvalidClientTokenId":          {apiErr("InvalidClientTokenId", "The security token included in the request is invalid", 400), errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "InvalidClientTokenId", false, false},
		"SignatureDoesNotMatch":         {apiErr("SignatureDoesNotMatch", "x", 400), errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "SignatureDoesNotMatch", false, false},
		"server fault":                  {apiErr("InternalFailure", "x", 500), errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "InternalFailure", true, true},
		"unknown client code":           {apiErr("SomethingNew", "x", 400), errs.KindUpstreamInvalid, errs.CodeUpstreamInvalid, "SomethingNew", false, false},
		"deadline":                      {fmt.Errorf("op: %w", context.DeadlineExceeded), errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout, "Timeout", false, false},
		"port error on deadline":        {&UpstreamError{Err: fmt.Errorf("request canceled: %w", context.DeadlineExceeded)}, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout, "Timeout", false, false},
		"canceled":                      {context.Canceled, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "Canceled", false, false},
		"connection refused":            {&UpstreamError{Network: true, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "NetworkError", true, true},
		"dns error":                     {&UpstreamError{Network: true, Err: &net.DNSError{Err: "no such host", Name: "sts.example"}}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "NetworkError", true, true},
		"server fault, no status":       {&UpstreamError{Code: "InternalFailure", RequestID: "req-InternalFailure", ServerFault: true, Err: errors.New("x")}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "InternalFailure", true, true},
		"unavailable 503":               {apiErr("ServiceUnavailable", "x", 503), errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "ServiceUnavailable", true, true},
		"known code on a 500":           {apiErr("AccessDenied", "x", 500), errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied, "AccessDenied", false, false},
		"wrapped port error":            {fmt.Errorf("vend: %w", apiErr("Throttling", "x", 400)), errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled, "Throttling", true, true},
		"unknown error":                 {errors.New("boom"), errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "Unknown", false, true},
		"no credentials":                {&UpstreamError{NoCredentials: true, Err: errors.New("get credentials: no EC2 IMDS role found")}, errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "NoCredentials", false, false},
		"credential source refused":     {&UpstreamError{NoCredentials: true, Code: "AccessDenied", RequestID: "req-AccessDenied", Status: 403, Err: errors.New("AssumeRoleWithWebIdentity: AccessDenied")}, errs.KindMisconfigured, errs.CodeBrokerMisconfigured, "NoCredentials", false, false},
		"credential source unreachable": {&UpstreamError{NoCredentials: true, Network: true, Err: errors.New("dial tcp 169.254.169.254:80: i/o timeout")}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "NoCredentials", true, true},
		"credential source throttled":   {&UpstreamError{NoCredentials: true, Code: "Throttling", RequestID: "req-Throttling", Status: 400, Err: errors.New("AssumeRoleWithWebIdentity: Throttling")}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "NoCredentials", true, true},
		"credential source failing":     {&UpstreamError{NoCredentials: true, Status: 500, Err: errors.New("container credentials: HTTP 500")}, errs.KindUpstreamUnavailable, errs.CodeUpstreamUnavailable, "NoCredentials", true, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := classify(tc.err)
			if f.err.Kind != tc.kind || f.err.Code != tc.code || f.code != tc.obsCode || f.retryable != tc.retryable {
				t.Errorf("classify = %s %s obs=%s retry=%v, want %s %s obs=%s retry=%v",
					f.err.Kind, f.err.Code, f.code, f.retryable, tc.kind, tc.code, tc.obsCode, tc.retryable)
			}
			if (f.err.RetryAfter > 0) != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want set=%v", f.err.RetryAfter, tc.retryAfter)
			}
			if !errors.Is(f.err, tc.err) {
				t.Error("the cause is not kept for the logs")
			}
			var ue *UpstreamError
			if errors.As(tc.err, &ue) && ue.Code != "" {
				if strings.Contains(f.err.Message, ue.Err.Error()) || strings.Contains(f.err.Message, ue.Code) {
					t.Errorf("public message %q leaks the upstream error", f.err.Message)
				}
				if f.requestID != "req-"+ue.Code {
					t.Errorf("requestID = %q", f.requestID)
				}
			}
		})
	}
}

func TestThrottlingRetriedThen503(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) { o.STS.MaxAttempts = 4 })
	h.sts.respond = func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) {
		return nil, apiErr("Throttling", "Rate exceeded", 400)
	}
	_, err := h.v.Vend(context.Background(), readReq("acme"))
	e := wantErr(t, err, errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled)
	if e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
	}
	if n := h.sts.calls.Load(); n != 4 {
		t.Errorf("AssumeRole calls = %d, want 4 (max_attempts)", n)
	}
	sleeps := *h.sleeps
	if len(sleeps) != 3 {
		t.Fatalf("backoff sleeps = %v, want 3", sleeps)
	}
	for i, d := range sleeps {
		base := min(retryBase<<i, retryCap)
		if d < base/2 || d > base {
			t.Errorf("sleep %d = %v, want in [%v, %v] (exponential with jitter)", i, d, base/2, base)
		}
	}
	if diff := cmp.Diff([]string{"Throttling", "Throttling", "Throttling", "Throttling"}, h.obs.stsCodes()); diff != "" {
		t.Errorf("observed STS codes (-want +got):\n%s", diff)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"aws_error_code":"Throttling"`) || !strings.Contains(logs, `"request_id":"req-Throttling"`) {
		t.Errorf("STS failure not logged with code and request id:\n%s", logs)
	}
}

func TestThrottlingThenSuccess(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		if n < 3 {
			return nil, apiErr("ThrottlingException", "slow down", 400)
		}
		return h.sts.success(n, in), nil
	}
	c, err := h.v.Vend(context.Background(), readReq("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "ASIAFAKE000000000003" {
		t.Errorf("AccessKeyID = %q", c.AccessKeyID)
	}
	if diff := cmp.Diff([]string{"ThrottlingException", "ThrottlingException", ""}, h.obs.stsCodes()); diff != "" {
		t.Errorf("observed STS codes (-want +got):\n%s", diff)
	}
}

func TestNonRetryableErrorsAreNotRetried(t *testing.T) {
	for _, code := range []string{"AccessDenied", "MalformedPolicyDocument", "ValidationError", "InvalidClientTokenId"} {
		t.Run(code, func(t *testing.T) {
			h := newHarness(t, nil)
			h.sts.respond = func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) {
				return nil, apiErr(code, "upstream secret detail", 400)
			}
			_, err := h.v.Vend(context.Background(), readReq("acme"))
			if err == nil {
				t.Fatal("no error")
			}
			if n := h.sts.calls.Load(); n != 1 {
				t.Errorf("AssumeRole calls = %d, want 1", n)
			}
			if strings.Contains(errs.From(err).Message, "upstream secret detail") {
				t.Error("public message carries the upstream message")
			}
		})
	}
}

func TestAccessDeniedNegativelyCached(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		if n == 1 {
			return nil, apiErr("AccessDenied", "not authorized", 400)
		}
		return h.sts.success(n, in), nil
	}
	for range 5 {
		_, err := h.v.Vend(context.Background(), readReq("acme"))
		wantErr(t, err, errs.KindUpstreamDenied, errs.CodeUpstreamAccessDenied)
	}
	if n := h.sts.calls.Load(); n != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1 (AccessDenied cached)", n)
	}
	// Another tenant is not affected.
	if _, err := h.v.Vend(context.Background(), readReq("globex")); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(negativeTTL)
	if _, err := h.v.Vend(context.Background(), readReq("acme")); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
	if n := h.sts.calls.Load(); n != 3 {
		t.Errorf("AssumeRole calls = %d, want 3", n)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.gate = make(chan struct{}) // never released: the call ends with its context
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := h.v.Vend(ctx, readReq("acme"))
	wantErr(t, err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout)
}

func TestUncachedTimeoutUsesCallerContext(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) { o.Cache.Disabled = true })
	h.sts.gate = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := h.v.Vend(ctx, readReq("acme"))
	wantErr(t, err, errs.KindUpstreamTimeout, errs.CodeUpstreamTimeout)
}

func TestLogsCarryNoSecrets(t *testing.T) {
	h := newHarness(t, nil)
	h.sts.respond = func(_ context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
		if n == 1 {
			return nil, apiErr("Throttling", "Rate exceeded", 400)
		}
		return h.sts.success(n, in), nil
	}
	c, err := h.v.Vend(context.Background(), readReq("acme"))
	if err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	for _, secret := range []string{c.SecretAccessKey, c.SessionToken, c.AccessKeyID, c.AccessKeyID[:len(c.AccessKeyID)-4]} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `"access_key_id_suffix":"0002"`) {
		t.Errorf("logs lack the key id suffix:\n%s", logs)
	}
}

// TestLongestTenantOverflowRefusedAtStartup: many tables and a long
// leading-key format pass the render for the short proof tenants but would
// overflow the 2,048-character limit for a 64-character tenant. The start-up
// compile renders the longest id the pattern admits, so the profile is
// refused before any vend, naming the field and the longest tenant — it can
// no longer be accepted and then fail every such vend with a 500.
func TestLongestTenantOverflowRefusedAtStartup(t *testing.T) {
	var tables []string
	for i := range 8 {
		tables = append(tables, fmt.Sprintf("%s-%d", testTableARN, i))
	}
	base := renderTables(t, "dynamodb-read", "{tenant}", "12", tables).Size
	format := strings.Repeat("k", stsrules.MaxPolicySize-40-base) + "{tenant}"
	if size := renderTables(t, "dynamodb-read", format, "12", tables).Size; size != stsrules.MaxPolicySize-40 {
		t.Fatalf("short-tenant policy is %d characters, want %d", size, stsrules.MaxPolicySize-40)
	}
	cfg := baseConfig()
	cfg.Profiles[0].LeadingKeyFormat = format
	cfg.Profiles[0].TableARNs = tables
	cfg.SetDefaults()
	_, err := profiles.Compile(cfg, loadTemplates(t), profiles.Options{})
	var le *policies.LintError
	if !errors.As(err, &le) || le.Rule != policies.RuleSize || !strings.Contains(err.Error(), "profiles[0]") ||
		!strings.Contains(err.Error(), "the longest tenant id auth.tenant_pattern admits, 64 characters") {
		t.Fatalf("Compile = %v, want the size rule for the longest tenant of profiles[0]", err)
	}
}

func TestBackoffInterruptedKeepsThrottleError(t *testing.T) {
	clock := newClock()
	fake := &fakeSTS{clock: clock, respond: func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) {
		return nil, apiErr("Throttling", "Rate exceeded", 400)
	}}
	cfg := baseConfig()
	v, err := New(compile(t, cfg), fake, Options{
		Clock: clock.Now,
		Sleep: func(context.Context, time.Duration) error { return context.DeadlineExceeded },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Vend(context.Background(), readReq("acme"))
	wantErr(t, err, errs.KindUpstreamThrottled, errs.CodeUpstreamThrottled)
	if n := fake.calls.Load(); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", n)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		base := min(retryBase<<min(attempt-1, 10), retryCap)
		if d := backoff(attempt); d < base/2 || d > base {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", attempt, d, base/2, base)
		}
	}
}

// TestSessionCappedByTokenLifetime checks a session never outlives the
// token that asked for it by more than STS's 15-minute minimum.
func TestSessionCappedByTokenLifetime(t *testing.T) {
	tests := map[string]struct {
		duration, remaining time.Duration // remaining 0: no NotAfter
		wantSeconds         int32
	}{
		"no token expiry":                 {duration: 0, remaining: 0, wantSeconds: 3600},
		"token outlives the session":      {duration: 0, remaining: 2 * time.Hour, wantSeconds: 3600},
		"token expires with the session":  {duration: 0, remaining: time.Hour, wantSeconds: 3600},
		"rounded down to a quarter hour":  {duration: 0, remaining: 59 * time.Minute, wantSeconds: 2700},
		"explicit duration capped":        {duration: 45 * time.Minute, remaining: 31 * time.Minute, wantSeconds: 1800},
		"short token gets the minimum":    {duration: 0, remaining: 5 * time.Minute, wantSeconds: 900},
		"token in its leeway (expired)":   {duration: 0, remaining: -10 * time.Second, wantSeconds: 900},
		"minimum duration is never below": {duration: 15 * time.Minute, remaining: time.Minute, wantSeconds: 900},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			req := readReq("acme")
			req.Duration = tc.duration
			if tc.remaining != 0 {
				req.NotAfter = h.clock.Now().Add(tc.remaining)
			}
			c := mustVend(t, h.v, req)
			if got := h.sts.lastInput(t).Duration; got != time.Duration(tc.wantSeconds)*time.Second {
				t.Errorf("Duration = %v, want %ds", got, tc.wantSeconds)
			}
			limit := h.clock.Now().Add(15 * time.Minute)
			if !req.NotAfter.IsZero() && req.NotAfter.After(limit) {
				limit = req.NotAfter
			}
			if !req.NotAfter.IsZero() && c.Expiration.After(limit) {
				t.Errorf("Expiration %s is after max(token expiry, now+15m) %s", c.Expiration, limit)
			}
		})
	}
}

// TestTokenCapKeepsTheCacheShared checks capped requests share cache
// entries: tokens with nearby expiries map to the same capped duration.
func TestTokenCapKeepsTheCacheShared(t *testing.T) {
	h := newHarness(t, nil)
	now := h.clock.Now()
	long := mustVend(t, h.v, Request{Tenant: "acme", Subject: "a", NotAfter: now.Add(3 * time.Hour)})
	short1 := mustVend(t, h.v, Request{Tenant: "acme", Subject: "b", NotAfter: now.Add(50 * time.Minute)})
	short2 := mustVend(t, h.v, Request{Tenant: "acme", Subject: "c", NotAfter: now.Add(55 * time.Minute)})
	if n := h.sts.calls.Load(); n != 2 {
		t.Errorf("AssumeRole calls = %d, want 2 (one per capped duration)", n)
	}
	if short1.AccessKeyID != short2.AccessKeyID || short1.AccessKeyID == long.AccessKeyID {
		t.Errorf("keys = %s, %s, %s: want the two short-token requests to share a set", long.AccessKeyID, short1.AccessKeyID, short2.AccessKeyID)
	}
	if short1.Expiration.After(now.Add(50 * time.Minute)) {
		t.Errorf("capped set expires at %s, after the token (%s)", short1.Expiration, now.Add(50*time.Minute))
	}
	// A longer-lived token never gets a set cut for a shorter one, nor the reverse.
	if again := mustVend(t, h.v, Request{Tenant: "acme", Subject: "d", NotAfter: now.Add(2 * time.Hour)}); again.AccessKeyID != long.AccessKeyID {
		t.Errorf("2h token got %s, want the uncapped set %s", again.AccessKeyID, long.AccessKeyID)
	}
}
