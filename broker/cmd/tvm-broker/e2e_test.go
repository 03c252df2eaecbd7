package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/readyaddr"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/targets"
)

// The broker's own (fake) AWS credentials: they must never appear in its output.
const (
	brokerKeyID  = "AKIAE2EBROKER0000001"
	brokerSecret = "e2eBrokerSecretKeyThatMustNotLeak000001"
	tableARN     = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	e2eAudience  = "tvm-broker"
)

// brokerSecrets holds every secret the tests of this package handled with
// the broker binary: its own key, the tokens sent to it (broker.do) and
// the credentials the fake STS issued (startE2EWith). Every broker process's
// output is checked against it once the process has ended (launchBroker):
// a property of the harness, not of one test.
var brokerSecrets testenv.Secrets

func init() {
	brokerSecrets.Add("broker secret access key", brokerSecret)
	brokerSecrets.Add("broker access key id", brokerKeyID)
}

// buildBinary builds tvm-broker once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tvm-broker-e2e-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "tvm-broker")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// binDir is removed by TestMain.
var binDir string

func brokerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// ---- the broker process ----

// output collects the process output (stdout and stderr as one stream)
// and reports the "ready" address (package readyaddr).
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	ready  *readyaddr.Watcher
	stream io.Writer // ready's
}

func newOutput() *output {
	w := readyaddr.New()
	return &output{ready: w, stream: w.Stream()}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	return o.stream.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// records returns the JSON log lines whose msg is msg.
func (o *output) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(o.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("output line is not JSON: %q", sc.Text())
			continue
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

type broker struct {
	cmd    *exec.Cmd
	out    *output
	base   string
	done   chan error
	client *http.Client
}

// startBroker runs the binary with a clean environment and waits for "ready".
func startBroker(t *testing.T, bin, configPath, stsURL string) *broker {
	t.Helper()
	b := startBrokerWith(t, bin, configPath, stsURL, nil)
	select {
	case <-b.out.ready.Found():
		b.base = "http://" + b.out.ready.Addr()
	case err := <-b.done:
		b.done <- err
		t.Fatalf("broker exited before ready: %v\n%s", err, b.out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("broker not ready\n%s", b.out)
	}
	return b
}

// startBrokerWith starts the binary with a clean environment and its own
// (fake) AWS credentials, its output going to w (nil: collected in b.out);
// it does not wait for "ready".
func startBrokerWith(t *testing.T, bin, configPath, stsURL string, w io.Writer) *broker {
	t.Helper()
	return launchBroker(t, bin, configPath, brokerProcessEnv(t, stsURL, true), w)
}

// brokerProcessEnv is the broker's clean environment on the STS at
// stsURL, with its own (fake) AWS credentials when withKeys is set and
// none at all otherwise.
func brokerProcessEnv(t *testing.T, stsURL string, withKeys bool) []string {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"AWS_ENDPOINT_URL_STS=" + stsURL,
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
	}
	if withKeys {
		env = append(env, "AWS_ACCESS_KEY_ID="+brokerKeyID, "AWS_SECRET_ACCESS_KEY="+brokerSecret)
	}
	return env
}

// launchBroker starts the binary serving configPath with env; it is killed
// at the end of the test if still running, and its output is then checked
// for every secret in brokerSecrets.
func launchBroker(t *testing.T, bin, configPath string, env []string, w io.Writer) *broker {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", configPath, "--listen", "127.0.0.1:0")
	cmd.Env = env
	out := newOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if w != nil {
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &broker{cmd: cmd, out: out, done: make(chan error, 1), client: newClient()}
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		b.client.CloseIdleConnections()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-b.done
		}
		brokerSecrets.CheckLog(t, "tvm-broker", out.String())
	})
	return b
}

// newClient returns a client with its own transport, so its idle
// connections can be closed before goleak looks.
func newClient() *http.Client { return &http.Client{Transport: &http.Transport{}} }

func (b *broker) do(t *testing.T, method, path, authorization string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
		if tok := strings.TrimPrefix(authorization, "Bearer "); strings.Count(tok, ".") == 2 {
			brokerSecrets.AddToken(tok)
		}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, data
}

func writeConfig(t *testing.T, issuer string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:8080
auth:
  issuer: %[1]s
  audiences: [%[2]s]
  jwks_url: %[1]s/.well-known/jwks.json
  tenant_claim: tenant_id
sts:
  region: us-east-1
  max_attempts: 2
default_profile: read
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [%[3]s]
  - name: denied
    role_arn: arn:aws:iam::123456789012:role/tvm-denied
    template: dynamodb-read
    table_arns: [%[3]s]
  - name: throttled
    role_arn: arn:aws:iam::123456789012:role/tvm-throttled
    template: dynamodb-read
    table_arns: [%[3]s]
  - name: readwrite
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-readwrite
    template: dynamodb-readwrite
    table_arns: [%[3]s]
    sessions: subject
    source_identity: true
    max_duration: 2h
log:
  level: info
`, issuer, e2eAudience, tableARN)
	path := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectedPolicy renders the shipped template exactly as the broker must.
func expectedPolicy(t *testing.T, template, tenant string) string {
	t.Helper()
	set, err := policies.LoadTemplates("", targets.All())
	if err != nil {
		t.Fatal(err)
	}
	tmpl, ok := set.Get(template)
	if !ok {
		t.Fatalf("no template %s", template)
	}
	pc := config.Profile{TableARNs: []string{tableARN}, LeadingKeyFormat: config.DefaultLeadingKeyFormat}
	b, err := dynamodb.Target.Bind(pc.TargetSettings()[0].Settings)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Render(tenant, []policies.Binding{b})
	if err != nil {
		t.Fatal(err)
	}
	return string(r.JSON)
}

func checkJSONError(t *testing.T, res *http.Response, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if res.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (%s)", res.StatusCode, wantStatus, body)
	}
	if ct := res.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("Content-Type = %q, want exactly application/json", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 || got["code"] != wantCode || got["message"] == "" {
		t.Errorf("body = %s, want {\"code\":%q,\"message\":...}", body, wantCode)
	}
	if wa := res.Header.Get("WWW-Authenticate"); (wantStatus == 401) != strings.HasPrefix(wa, `Bearer error="invalid_token", error_description="`) {
		t.Errorf("WWW-Authenticate = %q on a %d", wa, res.StatusCode)
	}
	if ra := res.Header.Get("Retry-After"); (wantStatus == 429 || wantStatus == 503) != (ra != "") {
		t.Errorf("Retry-After = %q on a %d", ra, res.StatusCode)
	}
}

// roleFailures are the roles the fake STS refuses, with its error code.
var roleFailures = map[string]string{
	"arn:aws:iam::123456789012:role/tvm-denied":    "AccessDenied",
	"arn:aws:iam::123456789012:role/tvm-throttled": "Throttling",
}

// e2e is one broker process with its own identity provider and fake STS.
type e2e struct {
	idp *testenv.IdP
	sts *testenv.STS
	*broker
}

// startE2E starts an IdP, a fake STS and the broker binary configured for
// them (writeConfig) for the lifetime of t.
func startE2E(t *testing.T) *e2e {
	t.Helper()
	return startE2EWith(t, func(_ int, form url.Values) string { return roleFailures[form.Get("RoleArn")] })
}

// startE2EWith is startE2E with fail as the fake STS's Fail.
func startE2EWith(t *testing.T, fail func(n int, form url.Values) string) *e2e {
	t.Helper()
	bin := brokerBinary(t)
	p := testenv.StartIdP(t, nil)
	fake := &testenv.STS{KeyID: brokerKeyID, Region: "us-east-1", Fail: fail}
	e := &e2e{idp: p, sts: fake, broker: startBroker(t, bin, writeConfig(t, p.URL), testenv.StartSTS(t, fake))}
	t.Cleanup(func() { // before the broker's own cleanup checks its output
		for _, c := range fake.Issued() {
			brokerSecrets.Add("issued credential", c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}
	})
	return e
}

// stop sends SIGTERM and waits for a clean exit: the output is complete
// afterwards.
func (b *broker) stop(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, b.out)
		}
	case <-time.After(time.Minute):
		t.Fatal("broker did not stop after SIGTERM")
	}
}

// checkNoSecrets stops the broker and checks that its whole output holds no
// secret: the broker's own key, any issued credential or the fake STS's
// secret marker, any of tokens or their signatures.
func (e *e2e) checkNoSecrets(t *testing.T, tokens ...string) {
	t.Helper()
	e.stop(t)
	secrets := []string{brokerSecret, testenv.SecretMarker}
	for _, c := range e.sts.Issued() {
		secrets = append(secrets, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	for _, tok := range tokens {
		if len(tok) > 20 {
			secrets = append(secrets, tok, tok[strings.LastIndex(tok, ".")+1:]) // whole token and signature
		}
	}
	out := e.out.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("output contains secret %q", s)
		}
	}
}

// TestVendAndCacheHit vends over the real binary, checks the answer, the
// AssumeRole call and its policy, then serves the same token's next request
// (raw Authorization, as the SDKs send it) from the cache, and checks the
// two audit records.
func TestVendAndCacheHit(t *testing.T) {
	e := startE2E(t)
	alice := e.idp.Token(t, nil)
	res, body := e.do(t, http.MethodGet, "/v1/credentials?duration=900", "Bearer "+alice, nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if bad := e.sts.Violations(); len(bad) > 0 {
		t.Errorf("fake STS saw protocol violations: %q", bad)
	}
	calls, creds := e.sts.AssumeRoleCalls(), e.sts.Issued()
	if len(calls) != 1 || len(creds) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1", len(calls))
	}
	checkVendAnswer(t, res, body, creds[0])
	requestID := res.Header.Get("X-Request-Id")
	if requestID == "" {
		t.Error("no X-Request-Id")
	}
	checkAssumeRoleForm(t, calls[0].Form)

	res, body = e.do(t, http.MethodGet, "/v1/credentials?duration=900", alice, nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("raw Authorization: status %d: %s", res.StatusCode, body)
	}
	if n := len(e.sts.AssumeRoleCalls()); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1 (second request served from the cache)", n)
	}
	if !strings.Contains(string(body), creds[0].AccessKeyID) {
		t.Errorf("cached response has another key: %s", body)
	}

	e.checkNoSecrets(t, alice)
	vends := e.out.records(t, "vend")
	if len(vends) != 2 {
		t.Fatalf("vend records = %d, want 2", len(vends))
	}
	want := map[string]any{
		"request_id": requestID, "tenant": "1", "subject": "alice", "profile": "read",
		"session_name": calls[0].Form.Get("RoleSessionName"), "access_key_id_last4": creds[0].AccessKeyID[len(creds[0].AccessKeyID)-4:],
		"expiration": creds[0].Expiration.Truncate(time.Second).Format(time.RFC3339), "cache_hit": false, "outcome": "ok",
	}
	got := map[string]any{}
	for k := range want {
		got[k] = vends[0][k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit record (-want +got):\n%s", diff)
	}
	if h, _ := vends[0]["policy_hash"].(string); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Errorf("policy_hash = %q", h)
	}
	if vends[1]["cache_hit"] != true || vends[1]["outcome"] != "ok" {
		t.Errorf("second vend record = %v, want an ok cache hit", vends[1])
	}
}

// checkVendAnswer checks a 200 answer carries exactly the issued
// credentials, in both standard shapes, with the no-cache headers.
func checkVendAnswer(t *testing.T, res *http.Response, body []byte, c testenv.IssuedCredentials) {
	t.Helper()
	want := map[string]any{
		"Version": float64(1), "AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey,
		"SessionToken": c.SessionToken, "Token": c.SessionToken,
		"Expiration": c.Expiration.Truncate(time.Second).Format(time.RFC3339),
		"AccountId":  "123456789012", "Tenant": "1", "Profile": "read",
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := res.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// checkAssumeRoleForm checks the AssumeRole call of tenant 1's read
// profile, and its policy read independently of the renderer: LeadingKeys
// on the table and index ARNs with the Null guard.
func checkAssumeRoleForm(t *testing.T, form url.Values) {
	t.Helper()
	for k, want := range map[string]string{
		"Action": "AssumeRole", "Version": "2011-06-15",
		"RoleArn":         "arn:aws:iam::123456789012:role/tvm-tenant-read",
		"DurationSeconds": "900",
		"Policy":          expectedPolicy(t, "dynamodb-read", "1"),
	} {
		if got := form.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
	if name := form.Get("RoleSessionName"); !regexp.MustCompile(`^t-1@[\w+=,.@-]+$`).MatchString(name) || len(name) > 64 {
		t.Errorf("RoleSessionName = %q, want t-1@... (2-64 of [\\w+=,.@-])", name)
	}
	var policy struct {
		Statement []struct {
			Effect    string
			Resource  []string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(form.Get("Policy")), &policy); err != nil {
		t.Fatal(err)
	}
	for _, st := range policy.Statement {
		if diff := cmp.Diff([]string{tableARN, tableARN + "/index/*"}, st.Resource); diff != "" {
			t.Errorf("Resource (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]map[string]any{
			"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": []any{"Tenant#1"}},
			"Null":                      {"dynamodb:LeadingKeys": "false"},
		}, st.Condition); diff != "" {
			t.Errorf("Condition (-want +got):\n%s", diff)
		}
	}
}

// TestSDKContainerCredentialsProvider: the SDK's own endpointcreds client
// (what AWS_CONTAINER_CREDENTIALS_FULL_URI uses) sends the raw token and
// must accept the answer as is.
func TestSDKContainerCredentialsProvider(t *testing.T) {
	e := startE2E(t)
	alice := e.idp.Token(t, nil)
	prov := endpointcreds.New(e.base+"/v1/credentials", func(o *endpointcreds.Options) {
		o.AuthorizationToken = alice
		o.HTTPClient = e.client
	})
	got, err := prov.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	issued := e.sts.Issued()
	if len(issued) != 1 {
		t.Fatalf("issued %d sets, want 1", len(issued))
	}
	c := issued[0]
	if got.AccessKeyID != c.AccessKeyID || got.SecretAccessKey != c.SecretAccessKey || got.SessionToken != c.SessionToken ||
		!got.CanExpire || !got.Expires.Equal(c.Expiration.Truncate(time.Second)) || got.AccountID != "123456789012" {
		t.Errorf("SDK credentials = %+v, want the vended set expiring at %s", got, c.Expiration)
	}
	e.checkNoSecrets(t, alice)
}

// TestPerSubjectProfileByPOST vends a per-subject profile asked for in a
// JSON body, with a token that outlives the session (no cap).
func TestPerSubjectProfileByPOST(t *testing.T) {
	e := startE2E(t)
	aliceLong := e.idp.Token(t, jwt.MapClaims{"exp": time.Now().Add(3 * time.Hour).Unix()})
	res, body := e.do(t, http.MethodPost, "/v1/credentials", "Bearer "+aliceLong,
		map[string]string{"Content-Type": "application/json"}, `{"profile":"readwrite","duration_seconds":7200}`)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	calls := e.sts.AssumeRoleCalls()
	if len(calls) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1", len(calls))
	}
	for k, want := range map[string]string{
		"RoleArn":         "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
		"DurationSeconds": "7200",
		"SourceIdentity":  "alice",
		"Policy":          expectedPolicy(t, "dynamodb-readwrite", "1"),
	} {
		if got := calls[0].Form.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
	e.checkNoSecrets(t, aliceLong)
}

// errorCase is one refused request and how many AssumeRole calls it makes.
type errorCase struct {
	authorization, path string
	status              int
	code                string
	stsCalls            int
}

// errorCases returns the refused requests, with tokens from p.
func errorCases(t *testing.T, p *testenv.IdP) map[string]errorCase {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	alice := "Bearer " + p.Token(t, nil)
	return map[string]errorCase{
		"no token":           {path: "/v1/credentials", status: 401, code: "invalid_token"},
		"garbage token":      {authorization: "Bearer not.a.jwt", path: "/v1/credentials", status: 401, code: "invalid_token"},
		"foreign key":        {authorization: "Bearer " + p.ForeignToken(t, other, nil), path: "/v1/credentials", status: 401, code: "invalid_token"},
		"expired":            {authorization: "Bearer " + p.Token(t, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(), "nbf": nil}), path: "/v1/credentials", status: 401, code: "invalid_token"},
		"wrong audience":     {authorization: "Bearer " + p.Token(t, jwt.MapClaims{"aud": "someone-else"}), path: "/v1/credentials", status: 401, code: "invalid_token"},
		"wrong issuer":       {authorization: "Bearer " + p.Token(t, jwt.MapClaims{"iss": "http://127.0.0.1:1"}), path: "/v1/credentials", status: 401, code: "invalid_token"},
		"tenant wildcard":    {authorization: "Bearer " + p.Token(t, jwt.MapClaims{"tenant_id": "*"}), path: "/v1/credentials", status: 401, code: "invalid_tenant"},
		"no tenant":          {authorization: "Bearer " + p.Token(t, jwt.MapClaims{"tenant_id": nil}), path: "/v1/credentials", status: 401, code: "invalid_tenant"},
		"unknown profile":    {authorization: alice, path: "/v1/credentials?profile=nope", status: 404, code: "profile_not_found"},
		"bad duration":       {authorization: alice, path: "/v1/credentials?duration=abc", status: 400, code: "invalid_request"},
		"duration too short": {authorization: alice, path: "/v1/credentials?duration=60", status: 400, code: "invalid_request"},
		"duration above max": {authorization: alice, path: "/v1/credentials?duration=7200", status: 400, code: "invalid_request"},
		"unknown route":      {authorization: alice, path: "/v2/credentials", status: 404, code: "not_found"},
		"STS AccessDenied":   {authorization: alice, path: "/v1/credentials?profile=denied", status: 502, code: "upstream_access_denied", stsCalls: 1},
		"STS Throttling":     {authorization: alice, path: "/v1/credentials?profile=throttled", status: 503, code: "upstream_throttled", stsCalls: 2},
	}
}

// TestErrorAnswers sends refused requests: each gets its status, code and
// headers, makes the AssumeRole calls it must and no other, and is audited.
func TestErrorAnswers(t *testing.T) {
	e := startE2E(t)
	cases := errorCases(t, e.idp)
	var tokens []string
	audited := 0
	for name, tc := range cases {
		tokens = append(tokens, strings.TrimPrefix(tc.authorization, "Bearer "))
		if tc.code != "not_found" {
			audited++ // every request that reaches /v1/credentials
		}
		t.Run(name, func(t *testing.T) {
			before := len(e.sts.AssumeRoleCalls())
			res, body := e.do(t, http.MethodGet, tc.path, tc.authorization, nil, "")
			checkJSONError(t, res, body, tc.status, tc.code)
			if n := len(e.sts.AssumeRoleCalls()) - before; n != tc.stsCalls {
				t.Errorf("AssumeRole calls = %d, want %d", n, tc.stsCalls)
			}
		})
	}
	res, body := e.do(t, http.MethodDelete, "/v1/credentials", tokens[0], nil, "")
	checkJSONError(t, res, body, 405, "method_not_allowed")

	e.checkNoSecrets(t, tokens...)
	vends := e.out.records(t, "vend")
	for _, rec := range vends {
		for _, f := range []string{"request_id", "tenant", "subject", "profile", "policy_hash", "session_name",
			"access_key_id_last4", "expiration", "cache_hit", "outcome", "duration"} {
			if _, ok := rec[f]; !ok {
				t.Errorf("audit record lacks %s: %v", f, rec)
			}
		}
		if rec["outcome"] == "ok" {
			t.Errorf("refused request audited as ok: %v", rec)
		}
	}
	if len(vends) != audited {
		t.Errorf("vend records = %d, want %d (one per request that reached /v1/credentials)", len(vends), audited)
	}
}

// TestHealthReadinessMetrics checks /healthz, /readyz and that /metrics
// counts a known sequence of requests.
func TestHealthReadinessMetrics(t *testing.T) {
	e := startE2E(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		res, body := e.do(t, http.MethodGet, path, "", nil, "")
		if path == "/readyz" {
			body = readyStatus(t, body, 1)
		}
		if res.StatusCode != 200 || string(body) != want || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %q %s", path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	alice := e.idp.Token(t, nil)
	aliceLong := e.idp.Token(t, jwt.MapClaims{"exp": time.Now().Add(3 * time.Hour).Unix()})
	cases := errorCases(t, e.idp)
	requests := []struct {
		method, path, authorization, body string
		status                            int
	}{
		{http.MethodGet, "/v1/credentials?duration=900", "Bearer " + alice, "", 200}, // miss
		{http.MethodGet, "/v1/credentials?duration=900", alice, "", 200},             // hit
		{http.MethodGet, "/v1/credentials?duration=900", "Bearer " + alice, "", 200}, // hit
		{http.MethodPost, "/v1/credentials", "Bearer " + aliceLong, `{"profile":"readwrite","duration_seconds":7200}`, 200},
	}
	for _, name := range []string{"STS AccessDenied", "STS Throttling", "unknown profile",
		"no token", "garbage token", "foreign key", "expired", "wrong audience", "wrong issuer"} {
		tc := cases[name]
		requests = append(requests, struct {
			method, path, authorization, body string
			status                            int
		}{http.MethodGet, tc.path, tc.authorization, "", tc.status})
	}
	for i, r := range requests {
		res, body := e.do(t, r.method, r.path, r.authorization, map[string]string{"Content-Type": "application/json"}, r.body)
		if res.StatusCode != r.status {
			t.Fatalf("request %d: status %d, want %d: %s", i, res.StatusCode, r.status, body)
		}
	}
	res, body := e.do(t, http.MethodGet, "/metrics", "", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	for _, want := range []string{
		`tvm_vend_total{outcome="ok",profile="read"} 3`,
		`tvm_vend_total{outcome="ok",profile="readwrite"} 1`,
		`tvm_vend_total{outcome="upstream_access_denied",profile="denied"} 1`,
		`tvm_vend_total{outcome="invalid_token",profile="read"} 6`,
		`tvm_vend_total{outcome="profile_not_found",profile="unknown"} 1`,
		`tvm_cache_lookups_total{profile="read",result="hit"} 2`,
		`tvm_sts_request_duration_seconds_count{profile="read"} 1`,
		`tvm_sts_errors_total{code="AccessDenied",profile="denied"} 1`,
		`tvm_sts_errors_total{code="Throttling",profile="throttled"} 2`,
		`tvm_http_requests_total{method="GET",route="/v1/credentials",status="200"} 3`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^tvm_policy_size_bytes_count\{profile="read"\} [1-9]`).Match(body) {
		t.Error("/metrics lacks tvm_policy_size_bytes for profile read")
	}
	e.checkNoSecrets(t, alice, aliceLong)
}

// TestSIGTERM: the broker shuts down cleanly on SIGTERM and says so.
func TestSIGTERM(t *testing.T) {
	e := startE2E(t)
	e.stop(t)
	if len(e.out.records(t, "stopped")) != 1 {
		t.Errorf("no \"stopped\" record:\n%s", e.out)
	}
}
