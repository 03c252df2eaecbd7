package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/faults"
)

// faultServingFloor is the least life a served credential set has under
// faultBrokerConfig: cache.client_window 1s plus the one-minute serving
// margin (config.ServingMargin).
const faultServingFloor = time.Minute + time.Second

// faultBrokerConfig is the broker's configuration in the fault tests: one
// read profile, three STS attempts within a 2 s timeout, and a client
// window of 1 s (0 means the default), so that a session shortened by the local AWS (session_ttl)
// reaches the serving floor in seconds. Issuer and JWKS come from the
// environment (brokerEnv).
const faultBrokerConfig = `listen: 127.0.0.1:0
auth:
  issuer: http://set-by-TVM_AUTH_ISSUER
  audiences: [tvm-broker]
  jwks_url: http://set-by-TVM_AUTH_JWKS_URL/.well-known/jwks.json
  tenant_claim: tenant_id
sts:
  region: us-east-1
  timeout: 2s
  max_attempts: 3
cache:
  client_window: 1s
  refresh_before: 90s
rate_limit:
  disabled: true
default_profile: read
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`

// faultStack is the real local AWS with its fault injection API, and the
// real broker on it.
type faultStack struct {
	localURL, adminURL, brokerURL string
	local, broker                 *process
}

// startFaultStack starts tvm-local with the admin API and the given
// serve flags, then the broker (faultBrokerConfig) with env added to
// brokerEnv; ready says whether to wait for /readyz to answer 200. The
// broker reaches STS directly, not through the recording proxy, so that an
// injected dropped connection reaches it as such (the credentials STS
// issues are recorded anyway, in the broker's answers).
func startFaultStack(t *testing.T, ready bool, env []string, localFlags ...string) *faultStack {
	t.Helper()
	s := &faultStack{}
	s.localURL, s.local = startLocal(t, "", append([]string{"--admin-listen", listenAny}, localFlags...)...)
	s.adminURL = s.local.adminURL(t)
	cfg := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(cfg, []byte(faultBrokerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(append(brokerEnv(s.localURL), "AWS_ENDPOINT_URL_STS=http://"+s.local.addr(t)), env...)
	s.broker = start(t, "tvm-broker", env, "serve", "--config", cfg, "--listen", listenAny)
	s.brokerURL = secrets.Proxy(t, "http://"+s.broker.addr(t))
	if ready {
		waitReady(t, s.broker, s.brokerURL+"/readyz")
	} else {
		waitFor(t, s.broker, s.brokerURL+"/healthz", http.StatusOK)
	}
	return s
}

// setFaults replaces the local AWS's faults (faults.Spec as JSON) and
// returns the state it answers.
func (s *faultStack) setFaults(t *testing.T, spec string) faults.State {
	t.Helper()
	return adminCall(t, http.MethodPut, s.adminURL, spec)
}

// injected returns the faults injected so far.
func (s *faultStack) injected(t *testing.T) faults.Injected {
	t.Helper()
	return adminCall(t, http.MethodGet, s.adminURL, "").Injected
}

func adminCall(t *testing.T, method, admin, body string) faults.State {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, admin+"/faults", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st faults.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s /faults %s: %d %v", method, body, resp.StatusCode, err)
	}
	return st
}

// answer is one broker answer.
type answer struct {
	status     int
	retryAfter string
	code       string // of an error
	creds      struct {
		AccessKeyID string    `json:"AccessKeyId"`
		Expiration  time.Time `json:"Expiration"`
	}
}

// vend asks the broker for tenant's credentials with a fresh token.
func (s *faultStack) vend(t *testing.T, tenant string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.brokerURL+"/v1/credentials?duration=900", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+mintToken(t, s.localURL, tenant, "alice"))
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var e struct{ Code string }
	if resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(body, &a.creds)
	} else {
		err = json.Unmarshal(body, &e)
		a.code = e.Code
	}
	if err != nil {
		t.Fatalf("answer %d %s: %v", resp.StatusCode, body, err)
	}
	return a
}

// wantError checks a is the error status code, with Retry-After exactly
// when retryable.
func wantError(t *testing.T, what string, a answer, status int, code string, retryable bool) {
	t.Helper()
	if a.status != status || a.code != code || (a.retryAfter != "") != retryable {
		t.Errorf("%s: %d %s Retry-After %q, want %d %s with Retry-After %v", what, a.status, a.code, a.retryAfter, status, code, retryable)
	}
}

// waitFor polls url until it answers status, or fails the test after a
// minute (or when p exits).
func waitFor(t *testing.T, p *process, url string, status int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last: %v)", url, status, err)
		}
	}
}

// TestSTSThrottling: throttling is retried with backoff (every attempt
// reaches STS) and then answered 503 upstream_throttled with Retry-After;
// with every second call throttled, the retry succeeds.
func TestSTSThrottling(t *testing.T) {
	s := startFaultStack(t, true, nil)
	s.setFaults(t, `{"sts":{"throttle_share":1}}`)
	before := s.injected(t).STSThrottled
	wantError(t, "throttled", s.vend(t, "1"), http.StatusServiceUnavailable, "upstream_throttled", true)
	if n := s.injected(t).STSThrottled - before; n != 3 {
		t.Errorf("throttled STS calls = %d, want 3 (sts.max_attempts)", n)
	}
	s.setFaults(t, `{"sts":{"throttle_share":0.5}}`)
	if a := s.vend(t, "2"); a.status != http.StatusOK {
		t.Errorf("every second call throttled: %d %s, want 200 after a retry", a.status, a.code)
	}
	if got := s.injected(t); got.STSThrottled-before < 4 {
		t.Errorf("injected %+v: the retried call was not throttled", got)
	}
}

// TestSTSOutage: STS gone (connections dropped, or 503): a cached tenant is
// still served its set, an uncached one gets 503 upstream_unavailable with
// Retry-After, and the broker stays ready (it still serves what it holds;
// see README "Readiness"); when STS returns, so does the uncached tenant.
func TestSTSOutage(t *testing.T) {
	for _, mode := range []string{faults.DownReset, faults.DownUnavailable} {
		t.Run(mode, func(t *testing.T) {
			s := startFaultStack(t, true, nil)
			cached := s.vend(t, "1")
			if cached.status != http.StatusOK {
				t.Fatalf("before the outage: %d %s", cached.status, cached.code)
			}
			s.setFaults(t, `{"sts":{"down":"`+mode+`"}}`)
			if a := s.vend(t, "1"); a.status != http.StatusOK || a.creds.AccessKeyID != cached.creds.AccessKeyID {
				t.Errorf("cached tenant during the outage: %d %s, want its cached set", a.status, a.code)
			}
			wantError(t, "uncached tenant", s.vend(t, "2"), http.StatusServiceUnavailable, "upstream_unavailable", true)
			if n := s.injected(t); n.STSReset+n.STSUnavailable != 3 {
				t.Errorf("injected %+v, want the uncached tenant's 3 attempts", n)
			}
			waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusOK)
			s.setFaults(t, `{}`)
			if a := s.vend(t, "2"); a.status != http.StatusOK {
				t.Errorf("after the outage: %d %s", a.status, a.code)
			}
		})
	}
}

// TestNothingExpiredServed: with sessions cut short by STS and STS then
// gone, a cached set is served only while it has more than the serving
// floor left, then the tenant gets 503; and a session that STS cuts below
// the floor is never served at all.
func TestNothingExpiredServed(t *testing.T) {
	s := startFaultStack(t, true, nil)
	s.setFaults(t, `{"sts":{"session_ttl":"30s"}}`)
	wantError(t, "session below the floor", s.vend(t, "3"), http.StatusBadGateway, "upstream_invalid", false)

	s.setFaults(t, `{"sts":{"session_ttl":"70s"}}`)
	first := s.vend(t, "1")
	if first.status != http.StatusOK {
		t.Fatalf("70 s session: %d %s", first.status, first.code)
	}
	s.setFaults(t, `{"sts":{"down":"unavailable"}}`)
	deadline := time.Now().Add(time.Minute)
	for served := 0; ; served++ {
		a := s.vend(t, "1")
		if a.status != http.StatusOK {
			wantError(t, "past the floor", a, http.StatusServiceUnavailable, "upstream_unavailable", true)
			if served == 0 {
				t.Error("the cached set was never served during the outage")
			}
			break
		}
		// One second of slack for the time between the broker's answer and
		// this check, on the same clock.
		if left := time.Until(a.creds.Expiration); left < faultServingFloor-time.Second {
			t.Fatalf("served a set with %v left, under the %v floor", left, faultServingFloor)
		}
		if time.Now().After(deadline) {
			t.Fatal("still served a minute into the outage")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestSTSLatency: latency within sts.timeout is waited out; beyond it the
// call ends as 504 upstream_timeout.
func TestSTSLatency(t *testing.T) {
	s := startFaultStack(t, true, nil)
	s.setFaults(t, `{"sts":{"latency":"300ms"}}`)
	if a := s.vend(t, "1"); a.status != http.StatusOK {
		t.Errorf("300 ms: %d %s", a.status, a.code)
	}
	s.setFaults(t, `{"sts":{"latency":"5s"}}`)
	wantError(t, "5 s", s.vend(t, "2"), http.StatusGatewayTimeout, "upstream_timeout", false)
}

// TestConfigurationFault: STS refusing the broker's own credentials at run
// time answers 500 broker_misconfigured without Retry-After and makes the
// broker not ready, until STS accepts them again.
func TestConfigurationFault(t *testing.T) {
	s := startFaultStack(t, true, nil)
	for _, code := range []string{"InvalidClientTokenId", "SignatureDoesNotMatch"} {
		s.setFaults(t, `{"sts":{"error":"`+code+`"}}`)
		wantError(t, code, s.vend(t, "4"), http.StatusInternalServerError, "broker_misconfigured", false)
		waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusServiceUnavailable)
		s.setFaults(t, `{}`)
		waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusOK)
	}
	if a := s.vend(t, "4"); a.status != http.StatusOK {
		t.Errorf("after the fault: %d %s", a.status, a.code)
	}
}

// TestStartupFaults: the broker's start-up identity check against the
// real local STS. Wrong keys stop it; an STS outage, or no STS at all
// (connection refused), starts it not ready; it becomes ready when STS
// answers.
func TestStartupFaults(t *testing.T) {
	t.Run("STS unavailable, then back", func(t *testing.T) {
		s := startFaultStack(t, false, nil, "--fault-sts-down", "unavailable")
		waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusServiceUnavailable)
		wantError(t, "during the outage", s.vend(t, "1"), http.StatusServiceUnavailable, "upstream_unavailable", true)
		s.setFaults(t, `{}`)
		waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusOK)
	})
	t.Run("connection refused", func(t *testing.T) {
		nothing := "http://" + testenv.FreeAddr(t) // nothing listens there
		s := startFaultStack(t, false, []string{"AWS_ENDPOINT_URL_STS=" + nothing})
		waitFor(t, s.broker, s.brokerURL+"/readyz", http.StatusServiceUnavailable)
		wantError(t, "STS refused", s.vend(t, "1"), http.StatusServiceUnavailable, "upstream_unavailable", true)
	})
	for name, env := range map[string][]string{
		"wrong secret": {"AWS_SECRET_ACCESS_KEY=" + strings.Repeat("x", 40)},
		"unknown key":  {"AWS_ACCESS_KEY_ID=AKIAUNKNOWN000000001"},
	} {
		t.Run(name, func(t *testing.T) {
			localURL, _ := startLocal(t, "")
			cfg := filepath.Join(t.TempDir(), "broker.yaml")
			if err := os.WriteFile(cfg, []byte(faultBrokerConfig), 0o600); err != nil {
				t.Fatal(err)
			}
			p := start(t, "tvm-broker", append(brokerEnv(localURL), env...), "serve", "--config", cfg, "--listen", listenAny)
			select {
			case <-p.done:
			case <-time.After(time.Minute):
				t.Fatal("the broker did not stop")
			}
			if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.log.String(), "broker_misconfigured") {
				t.Errorf("exit %d, log:\n%s", code, p.log.String())
			}
		})
	}
}

// TestDynamoDBThrottlingWithBrokerCredentials: DynamoDB throttling reaches
// a client using the broker's credentials as DynamoDB's throttling error,
// which the SDK retries.
func TestDynamoDBThrottlingWithBrokerCredentials(t *testing.T) {
	s := startFaultStack(t, true, nil)
	st := &stack{localURL: s.localURL, brokerURL: s.brokerURL}
	st.seed(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, s.localURL, "1", "alice")), 0o600); err != nil {
		t.Fatal(err)
	}
	client := func(attempts int) *dynamodb.Client {
		cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region),
			config.WithCredentialsProvider(endpointcreds.New(s.brokerURL+"/v1/credentials", func(o *endpointcreds.Options) {
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := os.ReadFile(tokenFile)
					return string(b), err
				})
			})))
		if err != nil {
			t.Fatal(err)
		}
		return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			o.BaseEndpoint = aws.String(s.localURL)
			o.RetryMaxAttempts = attempts
			o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.Backoff = attempts, retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		})
	}
	s.setFaults(t, `{"dynamodb":{"throttle_share":1,"throttle_code":"ThrottlingException"}}`)
	_, err := client(1).Query(t.Context(), queryIn("Tenant#1"))
	if code := apiCode(err); code != "ThrottlingException" {
		t.Errorf("every call throttled: %v, want ThrottlingException", err)
	}
	s.setFaults(t, `{"dynamodb":{"throttle_share":0.5}}`)
	for i := range 4 {
		if _, err := client(3).Query(t.Context(), queryIn("Tenant#1")); err != nil {
			t.Errorf("query %d with every second call throttled: %v", i, err)
		}
	}
}

// queryIn is the demo table's query of partition pk.
func queryIn(pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String("tvm-demo"),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	}
}

// apiCode is the AWS error code of err ("" when it has none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
