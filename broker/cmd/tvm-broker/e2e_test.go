package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
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
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/targets"
)

// The broker's own (fake) AWS credentials: they must never appear in its output.
const (
	brokerKeyID  = "AKIAE2EBROKER0000001"
	brokerSecret = "e2eBrokerSecretKeyThatMustNotLeak000001"
	tableARN     = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	e2eKID       = "e2e-key-1"
	e2eAudience  = "tvm-broker"
)

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

// ---- JWKS + token minting ----

type idp struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": e2eKID, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	p := &idp{srv: httptest.NewServer(mux), key: key}
	t.Cleanup(p.srv.Close)
	return p
}

// mint signs claims over the defaults (iss, aud, sub, tenant_id, iat, nbf, exp).
func (p *idp) mint(t *testing.T, key *rsa.PrivateKey, override jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": p.srv.URL, "aud": e2eAudience, "sub": "alice", "tenant_id": "1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "e2e",
	}
	for k, v := range override {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = e2eKID
	if key == nil {
		key = p.key
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ---- fake STS speaking the Query protocol ----

type issued struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

type fakeSTS struct {
	srv *httptest.Server

	mu     sync.Mutex
	forms  []url.Values
	issued []issued
	bad    []string             // protocol violations seen
	errors map[string][3]string // role ARN -> HTTP status, code, message
}

func newFakeSTS(t *testing.T, errors map[string][3]string) *fakeSTS {
	f := &fakeSTS{errors: errors}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

var sigV4STS = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + brokerKeyID + `/\d{8}/us-east-1/sts/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	violate := func(format string, args ...any) { f.bad = append(f.bad, fmt.Sprintf(format, args...)) }
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		violate("%s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		violate("Content-Type %q", ct)
	}
	if a := r.Header.Get("Authorization"); !sigV4STS.MatchString(a) {
		violate("Authorization %q", a)
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		violate("form: %v", err)
	}
	if form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		violate("Action=%q Version=%q", form.Get("Action"), form.Get("Version"))
	}
	f.forms = append(f.forms, form)
	reqID := fmt.Sprintf("e2e-req-%04d", len(f.forms))
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Type", "text/xml")
	if e, ok := f.errors[form.Get("RoleArn")]; ok {
		status := map[string]int{"400": 400, "403": 403}[e[0]]
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>%s</RequestId>
</ErrorResponse>
`, e[1], xmlEscape(e[2]), reqID)
		return
	}
	var secs int
	fmt.Sscan(form.Get("DurationSeconds"), &secs)
	n := len(f.issued) + 1
	cred := issued{
		AccessKeyID:     fmt.Sprintf("ASIAE2ETEMPKEY%06d", n),
		SecretAccessKey: fmt.Sprintf("e2eTempSecretKeyMustNotLeak%013d", n),
		SessionToken:    fmt.Sprintf("FwoGZXIvYXdzE2eSessionTokenMustNotLeak/%d+", n) + strings.Repeat("Zm9v", 40),
		Expiration:      time.Now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Millisecond),
	}
	f.issued = append(f.issued, cred)
	roleName := form.Get("RoleArn")[strings.LastIndex(form.Get("RoleArn"), "/")+1:]
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <SessionToken>%s</SessionToken>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>%s</AccessKeyId>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/%s/%s</Arn>
      <AssumedRoleId>AROAE2EROLEID00000001:%s</AssumedRoleId>
    </AssumedRoleUser>
    <PackedPolicySize>7</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`, xmlEscape(cred.SessionToken), cred.SecretAccessKey, cred.Expiration.Format("2006-01-02T15:04:05.000Z"),
		cred.AccessKeyID, roleName, form.Get("RoleSessionName"), form.Get("RoleSessionName"), reqID)
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (f *fakeSTS) snapshot() ([]url.Values, []issued, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...), append([]issued(nil), f.issued...), append([]string(nil), f.bad...)
}

// ---- the broker process ----

// output collects the process output and reports the "ready" address.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	line  bytes.Buffer
	ready chan string
	once  sync.Once
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for _, b := range p {
		if b != '\n' {
			o.line.WriteByte(b)
			continue
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(o.line.Bytes(), &rec) == nil && rec.Msg == "ready" && rec.Addr != "" {
			o.once.Do(func() { o.ready <- rec.Addr })
		}
		o.line.Reset()
	}
	return len(p), nil
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
	home := t.TempDir()
	cmd := exec.Command(bin, "serve", "--config", configPath, "--listen", "127.0.0.1:0")
	cmd.Env = []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"AWS_ENDPOINT_URL_STS=" + stsURL,
		"AWS_ACCESS_KEY_ID=" + brokerKeyID,
		"AWS_SECRET_ACCESS_KEY=" + brokerSecret,
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
	}
	out := &output{ready: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
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
	})
	select {
	case addr := <-out.ready:
		b.base = "http://" + addr
	case err := <-b.done:
		b.done <- err
		t.Fatalf("broker exited before ready: %v\n%s", err, out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("broker not ready\n%s", out)
	}
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
  jwks_url: %[1]s/jwks.json
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

func TestEndToEnd(t *testing.T) {
	bin := brokerBinary(t)
	p := newIDP(t)
	sts := newFakeSTS(t, map[string][3]string{
		"arn:aws:iam::123456789012:role/tvm-denied": {"403", "AccessDenied",
			"User: arn:aws:iam::123456789012:user/broker is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/tvm-denied"},
		"arn:aws:iam::123456789012:role/tvm-throttled": {"400", "Throttling", "Rate exceeded"},
	})
	b := startBroker(t, bin, writeConfig(t, p.srv.URL), sts.srv.URL)

	alice := p.mint(t, nil, nil)
	var tokens = []string{alice}
	var okRequestID string

	t.Run("vend", func(t *testing.T) {
		res, body := b.do(t, http.MethodGet, "/v1/credentials?duration=900", "Bearer "+alice, nil, "")
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		forms, creds, bad := sts.snapshot()
		if len(bad) > 0 {
			t.Errorf("fake STS saw protocol violations: %q", bad)
		}
		if len(forms) != 1 || len(creds) != 1 {
			t.Fatalf("AssumeRole calls = %d, want 1", len(forms))
		}
		c := creds[0]
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
		okRequestID = res.Header.Get("X-Request-Id")
		if okRequestID == "" {
			t.Error("no X-Request-Id")
		}

		form := forms[0]
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
		if name := form.Get("RoleSessionName"); !regexp.MustCompile(`^t-1-[\w+=,.@-]+$`).MatchString(name) || len(name) > 64 {
			t.Errorf("RoleSessionName = %q, want t-1-... (2-64 of [\\w+=,.@-])", name)
		}
		// The policy, read independently of the renderer: LeadingKeys on the
		// table and index ARNs with the Null guard.
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
	})

	t.Run("cache hit, raw Authorization", func(t *testing.T) {
		res, body := b.do(t, http.MethodGet, "/v1/credentials?duration=900", alice, nil, "")
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		forms, creds, _ := sts.snapshot()
		if len(forms) != 1 {
			t.Errorf("AssumeRole calls = %d, want 1 (second request served from the cache)", len(forms))
		}
		if !strings.Contains(string(body), creds[0].AccessKeyID) {
			t.Errorf("cached response has another key: %s", body)
		}
	})

	t.Run("AWS SDK container-credentials provider", func(t *testing.T) {
		// The SDK's own endpointcreds client (what AWS_CONTAINER_CREDENTIALS_FULL_URI
		// uses) sends the raw token and must accept the answer as is.
		prov := endpointcreds.New(b.base+"/v1/credentials", func(o *endpointcreds.Options) {
			o.AuthorizationToken = alice
			o.HTTPClient = b.client
		})
		got, err := prov.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, creds, _ := sts.snapshot()
		c := creds[0]
		if got.AccessKeyID != c.AccessKeyID || got.SecretAccessKey != c.SecretAccessKey || got.SessionToken != c.SessionToken ||
			!got.CanExpire || !got.Expires.Equal(c.Expiration.Truncate(time.Second)) || got.AccountID != "123456789012" {
			t.Errorf("SDK credentials = %+v, want the vended set expiring at %s", got, c.Expiration)
		}
	})

	t.Run("POST JSON per-subject profile", func(t *testing.T) {
		// A token valid for longer than the session: no cap.
		aliceLong := p.mint(t, nil, jwt.MapClaims{"exp": time.Now().Add(3 * time.Hour).Unix()})
		tokens = append(tokens, aliceLong)
		res, body := b.do(t, http.MethodPost, "/v1/credentials", "Bearer "+aliceLong,
			map[string]string{"Content-Type": "application/json"}, `{"profile":"readwrite","duration_seconds":7200}`)
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		forms, _, _ := sts.snapshot()
		form := forms[len(forms)-1]
		for k, want := range map[string]string{
			"RoleArn":         "arn:aws:iam::123456789012:role/tvm-tenant-readwrite",
			"DurationSeconds": "7200",
			"SourceIdentity":  "alice",
			"Policy":          expectedPolicy(t, "dynamodb-readwrite", "1"),
		} {
			if got := form.Get(k); got != want {
				t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tests := map[string]struct {
			authorization string
			path          string
			status        int
			code          string
			stsCalls      int
		}{
			"no token":           {path: "/v1/credentials", status: 401, code: "invalid_token"},
			"garbage token":      {authorization: "Bearer not.a.jwt", path: "/v1/credentials", status: 401, code: "invalid_token"},
			"foreign key":        {authorization: "Bearer " + p.mint(t, other, nil), path: "/v1/credentials", status: 401, code: "invalid_token"},
			"expired":            {authorization: "Bearer " + p.mint(t, nil, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(), "nbf": nil}), path: "/v1/credentials", status: 401, code: "invalid_token"},
			"wrong audience":     {authorization: "Bearer " + p.mint(t, nil, jwt.MapClaims{"aud": "someone-else"}), path: "/v1/credentials", status: 401, code: "invalid_token"},
			"wrong issuer":       {authorization: "Bearer " + p.mint(t, nil, jwt.MapClaims{"iss": "http://127.0.0.1:1"}), path: "/v1/credentials", status: 401, code: "invalid_token"},
			"tenant wildcard":    {authorization: "Bearer " + p.mint(t, nil, jwt.MapClaims{"tenant_id": "*"}), path: "/v1/credentials", status: 401, code: "invalid_tenant"},
			"no tenant":          {authorization: "Bearer " + p.mint(t, nil, jwt.MapClaims{"tenant_id": nil}), path: "/v1/credentials", status: 401, code: "invalid_tenant"},
			"unknown profile":    {authorization: "Bearer " + alice, path: "/v1/credentials?profile=nope", status: 404, code: "profile_not_found"},
			"bad duration":       {authorization: "Bearer " + alice, path: "/v1/credentials?duration=abc", status: 400, code: "invalid_request"},
			"duration too short": {authorization: "Bearer " + alice, path: "/v1/credentials?duration=60", status: 400, code: "invalid_request"},
			"duration above max": {authorization: "Bearer " + alice, path: "/v1/credentials?duration=7200", status: 400, code: "invalid_request"},
			"unknown route":      {authorization: "Bearer " + alice, path: "/v2/credentials", status: 404, code: "not_found"},
			"STS AccessDenied":   {authorization: "Bearer " + alice, path: "/v1/credentials?profile=denied", status: 502, code: "upstream_access_denied", stsCalls: 1},
			"STS Throttling":     {authorization: "Bearer " + alice, path: "/v1/credentials?profile=throttled", status: 503, code: "upstream_throttled", stsCalls: 2},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				tokens = append(tokens, strings.TrimPrefix(tc.authorization, "Bearer "))
				before, _, _ := sts.snapshot()
				res, body := b.do(t, http.MethodGet, tc.path, tc.authorization, nil, "")
				checkJSONError(t, res, body, tc.status, tc.code)
				after, _, _ := sts.snapshot()
				if n := len(after) - len(before); n != tc.stsCalls {
					t.Errorf("AssumeRole calls = %d, want %d", n, tc.stsCalls)
				}
			})
		}
		res, body := b.do(t, http.MethodDelete, "/v1/credentials", "Bearer "+alice, nil, "")
		checkJSONError(t, res, body, 405, "method_not_allowed")
	})

	t.Run("health, readiness, metrics", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
			res, body := b.do(t, http.MethodGet, path, "", nil, "")
			if res.StatusCode != 200 || string(body) != want || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s = %d %q %s", path, res.StatusCode, res.Header.Get("Content-Type"), body)
			}
		}
		res, body := b.do(t, http.MethodGet, "/metrics", "", nil, "")
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
	})

	t.Run("SIGTERM", func(t *testing.T) {
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
		if len(b.out.records(t, "stopped")) != 1 {
			t.Errorf("no \"stopped\" record:\n%s", b.out)
		}
	})

	t.Run("audit and secrets", func(t *testing.T) {
		_, creds, _ := sts.snapshot()
		var oks []map[string]any
		vends := b.out.records(t, "vend")
		for _, rec := range vends {
			for _, f := range []string{"request_id", "tenant", "subject", "profile", "policy_hash", "session_name",
				"access_key_id_last4", "expiration", "cache_hit", "outcome", "duration"} {
				if _, ok := rec[f]; !ok {
					t.Errorf("audit record lacks %s: %v", f, rec)
				}
			}
			if rec["outcome"] == "ok" {
				oks = append(oks, rec)
			}
		}
		// One record per request that reached /v1/credentials: 4 vends and the
		// 14 errors of that route (the unknown route has none).
		if len(vends) != 18 || len(oks) != 4 {
			t.Errorf("vend records = %d (%d ok), want 18 (4 ok)", len(vends), len(oks))
		}
		if len(oks) > 0 {
			first := oks[0]
			forms, _, _ := sts.snapshot()
			want := map[string]any{
				"request_id": okRequestID, "tenant": "1", "subject": "alice", "profile": "read",
				"session_name": forms[0].Get("RoleSessionName"), "access_key_id_last4": creds[0].AccessKeyID[len(creds[0].AccessKeyID)-4:],
				"expiration": creds[0].Expiration.Truncate(time.Second).Format(time.RFC3339), "cache_hit": false, "outcome": "ok",
			}
			got := map[string]any{}
			for k := range want {
				got[k] = first[k]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("audit record (-want +got):\n%s", diff)
			}
			if h, _ := first["policy_hash"].(string); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
				t.Errorf("policy_hash = %q", h)
			}
			if oks[1]["cache_hit"] != true {
				t.Errorf("second vend cache_hit = %v, want true", oks[1]["cache_hit"])
			}
		}
		out := b.out.String()
		secrets := []string{brokerSecret}
		for _, c := range creds {
			secrets = append(secrets, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, "SessionTokenMustNotLeak", "TempSecretKeyMustNotLeak")
		}
		for _, tok := range tokens {
			if len(tok) > 20 {
				secrets = append(secrets, tok, tok[strings.LastIndex(tok, ".")+1:]) // whole token and signature
			}
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output contains secret %q", s)
			}
		}
	})
}
