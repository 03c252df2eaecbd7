package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/localaws"
)

// The local AWS's documented dev keys of user "broker" (tvm-local
// print-config), which may read its roles' policies through its IAM API.
const (
	localBrokerKeyID  = "AKIATVMBROKER0000001"
	localBrokerSecret = "tvmLocalBrokerSecretKey000000000000000001"
)

// startLocalAWS starts the local AWS (STS, IAM, the enforcing gateways) in
// process and returns its URL.
func startLocalAWS(t *testing.T) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	url := "http://" + hs.Listener.Addr().String()
	srv, err := localaws.New(localaws.Config{Issuer: url})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	return url
}

// sdkEnv is an AWS SDK environment with the broker's identity at endpoint
// (none when keyID is empty), and nothing from the machine: no shared
// files, no instance metadata.
func sdkEnv(t *testing.T, endpoint, keyID, secret string) map[string]string {
	home := t.TempDir()
	return map[string]string{
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_ACCESS_KEY_ID":           keyID,
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"HOME":                        home,
	}
}

// exampleRows are the rows `check` prints for examples/broker.yaml: every
// profile proven, abac-read against its role's policies read through IAM
// (the DynamoDB and the S3 document of tvm-tenant-abac).
var exampleRows = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^read +dynamodb-read +session-policy +unknown: assumed allow-all +\d+ +(\d+)/(\d+) rows +ok$`),
	regexp.MustCompile(`(?m)^files-readwrite +s3-readwrite +session-policy +unknown: assumed allow-all +\d+ +(\d+)/(\d+) rows +ok$`),
	regexp.MustCompile(`(?m)^silo-read +dynamodb-silo-read +session-policy +unknown: assumed allow-all +\d+ +(\d+)/(\d+) rows +ok$`),
	regexp.MustCompile(`(?m)^abac-read +- +session-tags +from IAM \(2 policies\) +- +(\d+)/(\d+) rows +ok$`),
	regexp.MustCompile(`(?m)^ok: 8 profiles checked$`),
}

// TestCheckExampleConfig: `check` reads what `serve` reads — abac-read's
// role through the IAM API with the broker's own identity — so against the
// local AWS the example configuration passes; without credentials the
// profile is refused with a plain explanation, naming its field.
func TestCheckExampleConfig(t *testing.T) {
	url := startLocalAWS(t)
	t.Run("local AWS", func(t *testing.T) {
		for k, v := range sdkEnv(t, url, localBrokerKeyID, localBrokerSecret) {
			t.Setenv(k, v)
		}
		code, stdout, stderr := runCLI("check", "--config", exampleConfig)
		if code != exitOK {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		checkRows(t, stdout)
	})
	t.Run("no credentials", func(t *testing.T) {
		for k, v := range sdkEnv(t, url, "", "") {
			t.Setenv(k, v)
		}
		code, stdout, stderr := runCLI("check", "--config", exampleConfig)
		if code != exitFailure {
			t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailure, stdout, stderr)
		}
		for _, want := range []string{"profiles[7].role_policy_from_iam", "no AWS credentials", "role_policy_files"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, stderr)
			}
		}
		if !regexp.MustCompile(`(?m)^abac-read +- +session-tags +from IAM \(not read\) +- +not run +FAIL: `).MatchString(stdout) {
			t.Errorf("the abac-read row does not say the role was not read:\n%s", stdout)
		}
	})
}

// checkRows checks `check`'s output on the example configuration.
func checkRows(t *testing.T, out string) {
	t.Helper()
	for _, re := range exampleRows {
		m := re.FindStringSubmatch(out)
		switch {
		case m == nil:
			t.Errorf("output lacks a line matching %s:\n%s", re, out)
		case len(m) == 3 && m[1] != m[2]:
			t.Errorf("%s: %s of %s rows passed", re, m[1], m[2])
		}
	}
}

// TestBinaryCheckExample runs the built binary's check on the example
// configuration the way a CI pipeline does: against an AWS it can read the
// roles from (the local one here), and without credentials, where it says
// so plainly — none of the SDK's instance-metadata warnings.
func TestBinaryCheckExample(t *testing.T) {
	bin := brokerBinary(t)
	url := startLocalAWS(t)
	run := func(env map[string]string) (int, string) {
		cmd := exec.Command(bin, "check", "--config", exampleConfig)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	code, out := run(sdkEnv(t, url, localBrokerKeyID, localBrokerSecret))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	checkRows(t, out)

	// The SDK tries instance metadata, as on a machine without credentials:
	// here an endpoint that refuses, as IMDS does off EC2 behind a proxy.
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer imds.Close()
	env := sdkEnv(t, url, "", "")
	delete(env, "AWS_EC2_METADATA_DISABLED")
	env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.URL
	code, out = run(env)
	if code != exitFailure || !strings.Contains(out, "no AWS credentials") {
		t.Errorf("without credentials: exit %d, output lacks the explanation:\n%s", code, out)
	}
	if strings.Contains(out, "WARN") || strings.Contains(out, "SDK 2") {
		t.Errorf("without credentials: the SDK's log lines are printed:\n%s", out)
	}
}
