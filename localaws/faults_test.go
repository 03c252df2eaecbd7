package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tvmkit/tvm/localaws/faults"
)

// faultStack starts the in-process local AWS with the built-in principals
// and inj's faults.
func faultStack(t *testing.T, spec faults.Spec) (*stack, *faults.Injector) {
	t.Helper()
	inj, err := faults.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return startStackFaults(t, "", string(testConfigYAML()), inj), inj
}

// httpStatus returns the HTTP status of an SDK error (0 for none).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestSTSFaults: each STS fault reaches a real SDK client as AWS would
// send it, for AssumeRole and GetCallerIdentity alike, and is counted.
func TestSTSFaults(t *testing.T) {
	tests := map[string]struct {
		spec       faults.STSFaults
		code       string // "" with network: a dropped connection
		status     int
		network    bool
		injected   func(faults.Injected) int64
		wantFailed int // of the 4 calls
	}{
		"throttling every call": {spec: faults.STSFaults{ThrottleShare: 1}, code: "Throttling", status: 400,
			injected: func(i faults.Injected) int64 { return i.STSThrottled }, wantFailed: 4},
		"throttling half": {spec: faults.STSFaults{ThrottleShare: 0.5}, code: "Throttling", status: 400,
			injected: func(i faults.Injected) int64 { return i.STSThrottled }, wantFailed: 2},
		"unavailable": {spec: faults.STSFaults{Down: faults.DownUnavailable}, code: "ServiceUnavailable", status: 503,
			injected: func(i faults.Injected) int64 { return i.STSUnavailable }, wantFailed: 4},
		"connections dropped": {spec: faults.STSFaults{Down: faults.DownReset}, network: true,
			injected: func(i faults.Injected) int64 { return i.STSReset }, wantFailed: 4},
		"key refused": {spec: faults.STSFaults{Error: "InvalidClientTokenId"}, code: "InvalidClientTokenId", status: 403,
			injected: func(i faults.Injected) int64 { return i.STSErrors }, wantFailed: 4},
		"signature refused": {spec: faults.STSFaults{Error: "SignatureDoesNotMatch"}, code: "SignatureDoesNotMatch", status: 403,
			injected: func(i faults.Injected) int64 { return i.STSErrors }, wantFailed: 4},
		"latency": {spec: faults.STSFaults{Latency: faults.Duration(time.Millisecond)},
			injected: func(i faults.Injected) int64 { return i.STSDelayed }, wantFailed: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st, inj := faultStack(t, faults.Spec{STS: tc.spec})
			client := st.sts(brokerKey, brokerSecret)
			failed := 0
			for i := range 4 {
				var err error
				if i%2 == 0 {
					_, err = client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
				} else {
					_, err = client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("s1")})
				}
				if err == nil {
					continue
				}
				failed++
				code, _ := errCode(err)
				var sendErr *smithyhttp.RequestSendError
				if tc.network {
					if httpStatus(err) != 0 || !errors.As(err, &sendErr) {
						t.Errorf("call %d: %v, want a dropped connection", i, err)
					}
				} else if code != tc.code || httpStatus(err) != tc.status {
					t.Errorf("call %d: %s %d (%v), want %s %d", i, code, httpStatus(err), err, tc.code, tc.status)
				}
			}
			if failed != tc.wantFailed {
				t.Errorf("failed calls = %d, want %d", failed, tc.wantFailed)
			}
			if got := inj.State().Injected; tc.injected(got) != int64(max(tc.wantFailed, 4*btoi(tc.spec.Latency > 0))) || got.STSCalls != 4 {
				t.Errorf("injected %+v", got)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSessionTTL: a session issued under session_ttl says it expires
// early, and does: DynamoDB answers ExpiredTokenException after it.
func TestSessionTTL(t *testing.T) {
	st, inj := faultStack(t, faults.Spec{STS: faults.STSFaults{SessionTTL: faults.Duration(90 * time.Second)}})
	seed(t, st)
	issued := st.clock.Now().UTC().Truncate(time.Second)
	out := assume(t, st, readRole, "s1", tenantPolicy("1", "Query"))
	if got, want := aws.ToTime(out.Credentials.Expiration), issued.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Expiration %v, want %v (asked 900 s, capped at 90 s)", got, want)
	}
	if n := inj.State().Injected.SessionsShortened; n != 1 {
		t.Errorf("sessions shortened = %d", n)
	}
	client := sessionClient(st, out)
	if _, err := client.Query(t.Context(), queryInput("", "PK", "Tenant#1")); err != nil {
		t.Fatalf("Query within the session: %v", err)
	}
	st.clock.Advance(91 * time.Second)
	_, err := client.Query(t.Context(), queryInput("", "PK", "Tenant#1"))
	if code, _ := errCode(err); code != "ExpiredTokenException" {
		t.Errorf("Query after the session's end: %v, want ExpiredTokenException", err)
	}
}

// TestDynamoDBThrottling: throttling reaches the SDK with DynamoDB's code,
// which the SDK retries: with every second call throttled a retrying client
// succeeds, one that does not retry sees the error.
func TestDynamoDBThrottling(t *testing.T) {
	for _, code := range []string{"", faults.CodeThroughputExceeded, faults.CodeThrottling} {
		t.Run("code "+code, func(t *testing.T) {
			st, inj := faultStack(t, faults.Spec{DynamoDB: faults.DynamoFaults{ThrottleShare: 1, ThrottleCode: code}})
			_, err := st.dynamo(adminKey, adminSecret, "").ListTables(t.Context(), &dynamodb.ListTablesInput{})
			want := code
			if want == "" {
				want = faults.CodeThroughputExceeded
			}
			if got, _ := errCode(err); got != want || httpStatus(err) != 400 {
				t.Errorf("ListTables: %s %d (%v), want %s 400", got, httpStatus(err), err, want)
			}
			if !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
				t.Errorf("the SDK does not take %v as throttling", err)
			}
			if n := inj.State().Injected.DynamoDBThrottled; n != 1 {
				t.Errorf("throttled = %d", n)
			}
		})
	}
	t.Run("half, retried", func(t *testing.T) {
		st, _ := faultStack(t, faults.Spec{DynamoDB: faults.DynamoFaults{ThrottleShare: 0.5}})
		c := dynamodb.NewFromConfig(st.cfg, func(o *dynamodb.Options) {
			o.Credentials = st.dynamo(adminKey, adminSecret, "").Options().Credentials
			o.HTTPSignerV4 = clockSigner{st.clock}
			o.RetryMaxAttempts = 3
			o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.Backoff = 3, noBackoff{} })
		})
		for i := range 4 {
			if _, err := c.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
	})
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// TestFaultAdminAPI: the admin API shows, replaces and clears the spec,
// refuses a bad one and any client not on loopback.
func TestFaultAdminAPI(t *testing.T) {
	inj, err := faults.New(faults.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	h := inj.Handler()
	call := func(method, body, remote string) (int, faults.State) {
		r := httptest.NewRequest(method, "/faults", strings.NewReader(body))
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var st faults.State
		_ = json.Unmarshal(w.Body.Bytes(), &st)
		return w.Code, st
	}
	const local = "127.0.0.1:5555"
	tests := []struct {
		name, method, body, remote string
		status                     int
		want                       faults.Spec
	}{
		{"empty", http.MethodGet, "", local, 200, faults.Spec{}},
		{"set", http.MethodPut, `{"sts":{"throttle_share":0.5,"latency":"20ms","session_ttl":"2m"},"dynamodb":{"throttle_share":1}}`, local, 200,
			faults.Spec{STS: faults.STSFaults{ThrottleShare: 0.5, Latency: faults.Duration(20 * time.Millisecond), SessionTTL: faults.Duration(2 * time.Minute)},
				DynamoDB: faults.DynamoFaults{ThrottleShare: 1}}},
		{"unknown field", http.MethodPut, `{"sts":{"throttle":1}}`, local, 400, faults.Spec{}},
		{"share above 1", http.MethodPut, `{"sts":{"throttle_share":2}}`, local, 400, faults.Spec{}},
		{"unknown error code", http.MethodPut, `{"sts":{"error":"Nope"}}`, local, 400, faults.Spec{}},
		{"unknown down mode", http.MethodPut, `{"sts":{"down":"sometimes"}}`, local, 400, faults.Spec{}},
		{"not loopback", http.MethodGet, "", "192.0.2.7:5555", 403, faults.Spec{}},
		{"clear", http.MethodDelete, "", local, 200, faults.Spec{}},
		{"ipv6 loopback", http.MethodPut, `{"sts":{"down":"reset"}}`, "[::1]:5555", 200, faults.Spec{STS: faults.STSFaults{Down: faults.DownReset}}},
	}
	for _, tc := range tests {
		status, st := call(tc.method, tc.body, tc.remote)
		if status != tc.status || status == 200 && st.Spec != tc.want {
			t.Errorf("%s: %d %+v, want %d %+v", tc.name, status, st.Spec, tc.status, tc.want)
		}
	}
}

// TestFaultsNeverOnThePublicEndpoint: the local AWS's own handler does not
// serve the admin API.
func TestFaultsNeverOnThePublicEndpoint(t *testing.T) {
	st, _ := faultStack(t, faults.Spec{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequestWithContext(context.Background(), m, st.url+"/faults", strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s /faults on the public endpoint = %d, want 404", m, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
