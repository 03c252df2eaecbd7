package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/testenv"
)

// tlsBroker is a broker binary serving https from tls.crt and tls.key in
// dir, next to its configuration (the paths are written relative to it).
type tlsBroker struct {
	*e2e
	ca  *testenv.CA
	dir string
}

// startTLSBroker starts the broker binary with server.tls (reload_interval
// as given) and a leaf of serial 1 from a fresh test CA.
func startTLSBroker(t *testing.T, reloadInterval string) *tlsBroker {
	t.Helper()
	bin := brokerBinary(t)
	p := testenv.StartIdP(t, nil)
	fake := &testenv.STS{KeyID: brokerKeyID, Region: "us-east-1"}
	cfgPath := writeConfig(t, p.URL)
	dir := filepath.Dir(cfgPath)
	ca := testenv.NewCA(t, "tvm test CA")
	ca.WriteLeaf(t, dir, testenv.Leaf{Serial: 1})
	appendFile(t, cfgPath, fmt.Sprintf("server:\n  tls:\n    cert_file: tls.crt\n    key_file: tls.key\n    reload_interval: %s\n", reloadInterval))
	b := startBroker(t, bin, cfgPath, testenv.StartSTS(t, fake))
	b.base = strings.Replace(b.base, "http://", "https://", 1)
	b.client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}
	if rec := b.out.records(t, "ready"); len(rec) != 1 || rec[0]["scheme"] != "https" {
		t.Errorf("ready record %v, want scheme https", rec)
	}
	return &tlsBroker{e2e: &e2e{idp: p, sts: fake, broker: b}, ca: ca, dir: dir}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// serial GETs /healthz on a new connection trusting tb's CA and returns
// the serial number of the certificate the broker presented.
func (tb *tlsBroker) serial(t *testing.T) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tb.ca.Pool()}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(tb.base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over https: %v", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %d", res.StatusCode)
	}
	if v := res.TLS.Version; v < tls.VersionTLS12 {
		t.Errorf("negotiated TLS version %x", v)
	}
	return res.TLS.PeerCertificates[0].SerialNumber.String()
}

// waitSerial waits until a new connection is served the certificate of
// serial want (the broker reloads asynchronously); it fails after a minute.
func (tb *tlsBroker) waitSerial(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for got := tb.serial(t); got != want; got = tb.serial(t) {
		if time.Now().After(deadline) {
			t.Fatalf("still served serial %s, want %s\n%s", got, want, tb.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecord waits until the broker has logged n records with msg.
func (b *broker) waitRecord(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if recs := b.out.records(t, msg); len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d %q records\n%s", n, msg, b.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeHTTPS: with server.tls the real binary serves https only, TLS
// 1.2 or later, with the configured certificate; a client trusting the test
// CA vends through the SDK's container-credentials client; a renewed
// certificate is served to new connections without a restart, and a broken
// replacement is refused while the current one keeps serving.
func TestServeHTTPS(t *testing.T) {
	tb := startTLSBroker(t, "1s")
	if got := tb.serial(t); got != "1" {
		t.Fatalf("serial %s, want 1", got)
	}
	res, body := tb.do(t, http.MethodGet, "/readyz", "", nil, "")
	if res.StatusCode != 200 || string(readyStatus(t, body, 1)) != `{"status":"ready"}` {
		t.Errorf("GET /readyz over https = %d %s", res.StatusCode, body)
	}
	refusedClients(t, tb)

	alice := tb.idp.Token(t, nil)
	prov := endpointcreds.New(tb.base+"/v1/credentials", func(o *endpointcreds.Options) {
		o.AuthorizationToken = alice
		o.HTTPClient = tb.client
	})
	got, err := prov.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("the SDK's container-credentials client over https: %v", err)
	}
	if issued := tb.sts.Issued(); len(issued) != 1 || got.AccessKeyID != issued[0].AccessKeyID || got.SessionToken != issued[0].SessionToken {
		t.Errorf("SDK credentials %s, want the one vended set", got.AccessKeyID)
	}

	// Renewal (as the kubelet swaps a Secret's files): picked up by polling.
	tb.ca.WriteLeaf(t, tb.dir, testenv.Leaf{Serial: 2})
	tb.waitSerial(t, "2")
	rec := tb.waitRecord(t, "tls: certificate reloaded", 1)[0]
	if rec["serial"] != "2" || rec["previous_serial"] != "1" {
		t.Errorf("reload record %v", rec)
	}
	// A half-written renewal (a new certificate next to the old key) is
	// refused; the current pair keeps serving.
	certPEM, _ := tb.ca.Issue(t, testenv.Leaf{Serial: 3})
	testenv.ReplaceFile(t, filepath.Join(tb.dir, "tls.crt"), certPEM)
	tb.waitRecord(t, "tls: replacement refused, the previous certificate keeps serving", 1)
	if got := tb.serial(t); got != "2" {
		t.Errorf("after a refused replacement: serial %s, want 2", got)
	}
	tb.checkNoSecrets(t, alice)
}

// refusedClients: plain http, TLS 1.1 and a client that does not trust the
// CA get nothing from the https broker.
func refusedClients(t *testing.T, tb *tlsBroker) {
	t.Helper()
	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	res, err := (&http.Client{Transport: plain}).Get(strings.Replace(tb.base, "https://", "http://", 1) + "/readyz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("plain http was served")
		}
	}
	for name, cfg := range map[string]*tls.Config{
		"TLS 1.1":       {RootCAs: tb.ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
		"untrusted CA":  {RootCAs: testenv.NewCA(t, "other").Pool()},
		"system roots":  {},
		"wrong name":    {RootCAs: tb.ca.Pool(), ServerName: "tvm-broker.example"},
		"TLS 1.2 floor": nil, // the control: same client, TLS 1.2 max, is served
	} {
		tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
		if cfg == nil {
			tr.TLSClientConfig = &tls.Config{RootCAs: tb.ca.Pool(), MaxVersion: tls.VersionTLS12}
		}
		res, err := (&http.Client{Transport: tr}).Get(tb.base + "/readyz")
		if err == nil {
			res.Body.Close()
		}
		if (err == nil) != (cfg == nil) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestSIGHUPReloadsTLS: with polling off (reload_interval negative), SIGHUP
// makes the broker re-read its TLS files; it keeps running and stops
// cleanly afterwards.
func TestSIGHUPReloadsTLS(t *testing.T) {
	tb := startTLSBroker(t, "-1s")
	tb.ca.WriteLeaf(t, tb.dir, testenv.Leaf{Serial: 2})
	if got := tb.serial(t); got != "1" {
		t.Fatalf("serial %s before SIGHUP, want 1 (polling is off)", got)
	}
	if err := tb.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	tb.waitRecord(t, "SIGHUP: re-reading the TLS files", 1)
	rec := tb.waitRecord(t, "tls: certificate reloaded", 1)[0]
	if rec["serial"] != "2" {
		t.Errorf("reload record %v", rec)
	}
	if got := tb.serial(t); got != "2" {
		t.Errorf("serial %s after SIGHUP, want 2", got)
	}
	tb.stop(t)
	if len(tb.out.records(t, "stopped")) != 1 {
		t.Errorf("no clean stop after SIGHUP:\n%s", tb.out)
	}
}

// sdkHelperEnv makes the test binary, run as a subprocess, act as a client
// application instead of running tests (TestMain).
const sdkHelperEnv = "TVM_BROKER_TEST_SDK_CLIENT"

// runSDKClient is the subprocess: the Go SDK's default credential chain,
// configured by the environment only, as in a pod; it prints the access
// key id it got, or the error.
func runSDKClient() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err == nil {
		var creds struct{ AccessKeyID, Source string }
		c, rerr := cfg.Credentials.Retrieve(ctx)
		if err = rerr; err == nil {
			creds.AccessKeyID, creds.Source = c.AccessKeyID, c.Source
			_ = json.NewEncoder(os.Stdout).Encode(creds)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// TestSDKDefaultChainOverHTTPS: an application whose only configuration is
// what a pod gets — AWS_CONTAINER_CREDENTIALS_FULL_URI (https),
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the broker's CA through
// SSL_CERT_FILE (the SDK's container provider uses Go's default roots, not
// AWS_CA_BUNDLE) — gets the vended credentials from the default chain; with
// another CA it gets a certificate error.
func TestSDKDefaultChainOverHTTPS(t *testing.T) {
	tb := startTLSBroker(t, "30s")
	token := tb.idp.Token(t, nil)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(caFile string) (string, string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		home := t.TempDir()
		cmd.Env = []string{
			sdkHelperEnv + "=1", "HOME=" + home, "PATH=" + os.Getenv("PATH"),
			"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
			"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + tb.base + "/v1/credentials",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + tokenFile,
			"SSL_CERT_FILE=" + caFile, "SSL_CERT_DIR=" + home,
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, errOut, err := run(tb.ca.File)
	if err != nil {
		t.Fatalf("SDK client: %v\n%s%s", err, out, errOut)
	}
	var got struct{ AccessKeyID, Source string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("SDK client output %q: %v", out, err)
	}
	issued := tb.sts.Issued()
	if len(issued) != 1 || got.AccessKeyID != issued[0].AccessKeyID || got.Source != endpointcreds.ProviderName {
		t.Errorf("SDK client got %+v, want the vended key from %s", got, endpointcreds.ProviderName)
	}
	if _, errOut, err := run(testenv.NewCA(t, "other").File); err == nil || !strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("SDK client trusting another CA: %v\n%s", err, errOut)
	}
	tb.checkNoSecrets(t, token)
}

// TestCheckTLS: `tvm-broker check` loads the TLS files as serve would and
// says what it checked; a mismatched pair, an expired certificate or a
// missing file fail the check.
func TestCheckTLS(t *testing.T) {
	ca := testenv.NewCA(t, "tvm test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.WriteLeaf(t, dir, testenv.Leaf{Serial: 0x1f, DNSNames: []string{"tvm-broker.tvm.svc"},
		NotAfter: time.Now().Add(90 * 24 * time.Hour)})
	soon, soonKey := ca.WriteLeaf(t, t.TempDir(), testenv.Leaf{Serial: 5, NotAfter: time.Now().Add(time.Hour)})
	_, otherKey := ca.Issue(t, testenv.Leaf{Serial: 3})
	mismatched := filepath.Join(dir, "other.key")
	expired, expiredKey := ca.WriteLeaf(t, t.TempDir(), testenv.Leaf{Serial: 4, NotAfter: time.Now().Add(-time.Minute)})
	if err := os.WriteFile(mismatched, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		tls  string
		code int
		out  []string
		warn bool
	}{
		"expires soon": {tls: fmt.Sprintf("{cert_file: %s, key_file: %s}", soon, soonKey), code: exitOK,
			out: []string{"tls: warning: the certificate expires within 7 days"}, warn: true},
		"ok": {fmt.Sprintf("{cert_file: %s, key_file: %s}", certFile, keyFile), exitOK, []string{
			"tls: ok: " + certFile + " and " + keyFile + " are readable, parse, match each other and are not expired; TLS 1.2 minimum",
			`tls: certificate serial 1f, subject "CN=tvm test leaf", issuer "CN=tvm test CA", names [tvm-broker.tvm.svc]`,
			"tls: client certificates: not requested",
			"tls: reloaded when the files change (checked every 30s) and on SIGHUP",
		}, false},
		"client certificates": {fmt.Sprintf("{cert_file: %s, key_file: %s, client_auth: require, client_ca_file: %s, reload_interval: -1s}", certFile, keyFile, ca.File), exitOK, []string{
			"tls: client certificates: require, against 1 CA certificate(s) in " + ca.File,
			"tls: reloaded on SIGHUP only",
		}, false},
		"mismatched pair": {fmt.Sprintf("{cert_file: %s, key_file: %s}", certFile, mismatched), exitFailure, []string{"tls: FAIL:", "private key does not match public key"}, false},
		"expired":         {fmt.Sprintf("{cert_file: %s, key_file: %s}", expired, expiredKey), exitFailure, []string{"tls: FAIL: tlsreload: certificate has expired"}, false},
		"missing file":    {fmt.Sprintf("{cert_file: %s, key_file: %s}", filepath.Join(dir, "nope.crt"), keyFile), exitFailure, []string{"tls: FAIL:", "no such file"}, false},
		"bad client CA":   {fmt.Sprintf("{cert_file: %s, key_file: %s, client_auth: verify-if-given, client_ca_file: %s}", certFile, keyFile, keyFile), exitFailure, []string{"tls: FAIL:", `"PRIVATE KEY" is not a CERTIFICATE`}, false},
		"off, loopback":   {"", exitOK, []string{"tls: off (server.tls not set): plain http on 127.0.0.1:8080"}, false},
	}
	// --skip-tls: a configuration checked away from its certificates.
	cfgPath := writeConfig(t, "http://127.0.0.1:1")
	appendFile(t, cfgPath, fmt.Sprintf("server:\n  tls: {cert_file: %s, key_file: %s}\n", filepath.Join(dir, "nope.crt"), keyFile))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check", "--skip-tls", "--config", cfgPath}, &stdout, &stderr, func(string) string { return "" }); code != exitOK ||
		!strings.Contains(stdout.String(), "tls: files not checked (--skip-tls)") {
		t.Errorf("check --skip-tls: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfgPath := writeConfig(t, "http://127.0.0.1:1")
			if tc.tls != "" {
				appendFile(t, cfgPath, "server:\n  tls: "+tc.tls+"\n")
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"check", "--config", cfgPath}, &stdout, &stderr, func(string) string { return "" })
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.out {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if tc.code != exitOK && !strings.Contains(stderr.String(), "FAILED: server.tls:") {
				t.Errorf("stderr: %s", stderr.String())
			}
			if strings.Contains(stdout.String(), "tls: warning") != tc.warn {
				t.Errorf("warning: want %v:\n%s", tc.warn, stdout.String())
			}
		})
	}
}

// TestCheckWarnsPlainHTTP: without TLS, check (and serve) warn about an
// address the SDKs refuse plain http to, and only then.
func TestCheckWarnsPlainHTTP(t *testing.T) {
	for listen, warn := range map[string]bool{
		"127.0.0.1:8080": false, "[::1]:8080": false, "169.254.170.2:2790": false, "169.254.170.23:80": false,
		"[fd00:ec2::23]:80": false, "0.0.0.0:8080": true, "10.0.0.1:8080": true, "tvm.example:8080": true,
	} {
		var out bytes.Buffer
		if err := checkTLS(&out, &config.Server{}, listen, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "tls: warning:"); got != warn {
			t.Errorf("listen %s: warning %v, want %v:\n%s", listen, got, warn, out.String())
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "::1": true, "169.254.170.2": true,
		"169.254.170.23": true, "fd00:ec2::23": true, "169.254.170.3": false, "0.0.0.0": false, "::": false, "10.1.2.3": false} {
		if got := sdkAcceptsPlainHTTP(netip.MustParseAddr(addr)); got != want {
			t.Errorf("sdkAcceptsPlainHTTP(%s) = %v", addr, got)
		}
	}
}
