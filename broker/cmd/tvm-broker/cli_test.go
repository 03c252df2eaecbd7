package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/internal/testenv"
)

const exampleConfig = "../../../examples/broker.yaml"

func noEnv(string) string { return "" }

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, noEnv)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsageAndConfigErrors(t *testing.T) {
	badConfig := writeFile(t, "bad.yaml", `
auth:
  audiences: [tvm-broker]
  jwks_url: http://127.0.0.1:4566/.well-known/jwks.json
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`)
	unknownKey := writeFile(t, "unknown.yaml", "listen: 127.0.0.1:0\nlisten_adress: x\n")
	tests := map[string]struct {
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		"unknown command":          {args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: `unknown command "frobnicate"`},
		"help":                     {args: []string{"help"}, wantCode: exitOK, wantStdout: "tvm-broker check"},
		"serve without config":     {args: []string{"serve"}, wantCode: exitUsage, wantStderr: "--config is required"},
		"default is serve":         {args: []string{"--listen", "127.0.0.1:0"}, wantCode: exitUsage, wantStderr: "--config is required"},
		"serve bad flag":           {args: []string{"serve", "--nope"}, wantCode: exitUsage, wantStderr: "flag provided but not defined"},
		"serve missing file":       {args: []string{"serve", "--config", "/nonexistent/broker.yaml"}, wantCode: exitUsage, wantStderr: "no such file"},
		"serve invalid config":     {args: []string{"serve", "--config", badConfig}, wantCode: exitUsage, wantStderr: "auth.issuer: required"},
		"serve unknown key":        {args: []string{"serve", "--config", unknownKey}, wantCode: exitUsage, wantStderr: "listen_adress"},
		"check without config":     {args: []string{"check"}, wantCode: exitUsage, wantStderr: "--config is required"},
		"check invalid config":     {args: []string{"check", "--config", badConfig}, wantCode: exitUsage, wantStderr: "auth.issuer: required"},
		"render without tenant":    {args: []string{"render", "--config", exampleConfig}, wantCode: exitUsage, wantStderr: "--tenant are required"},
		"render unknown profile":   {args: []string{"render", "--config", exampleConfig, "--profile", "nope", "--tenant", "1"}, wantCode: exitUsage, wantStderr: `no profile "nope"`},
		"render wildcard tenant":   {args: []string{"render", "--config", exampleConfig, "--tenant", "*"}, wantCode: exitFailure, wantStderr: "tenant refused"},
		"render over-long tenant":  {args: []string{"render", "--config", exampleConfig, "--tenant", strings.Repeat("a", 65)}, wantCode: exitFailure, wantStderr: "tenant refused"},
		"version":                  {args: []string{"version"}, wantCode: exitOK, wantStdout: "tvm-broker "},
		"check extra argument":     {args: []string{"check", "--config", exampleConfig, "extra"}, wantCode: exitUsage, wantStderr: "no arguments"},
		"render extra argument":    {args: []string{"render", "--config", exampleConfig, "--tenant", "1", "x"}, wantCode: exitUsage, wantStderr: "--tenant are required"},
		"check leaky template":     {args: []string{"check", "--config", "testdata/leaky.yaml"}, wantCode: exitFailure, wantStderr: `Query other tenant's key on table`},
		"check leaky, every row":   {args: []string{"check", "--config", "testdata/leaky.yaml", "--rows"}, wantCode: exitFailure, wantStdout: "profile leaky:"},
		"serve, templates missing": {args: []string{"serve", "--config", writeFile(t, "nodir.yaml", strings.Replace(readFile(t, "testdata/leaky.yaml"), "policy_dir: leaky", "policy_dir: /nonexistent-dir", 1))}, wantCode: exitFailure, wantStderr: "policy templates"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantStderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.wantStdout)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestCheckTable pins the per-profile table of `check` on the leaky fixture:
// the good profile passes, the leaky one fails naming its failing row.
func TestCheckTable(t *testing.T) {
	code, stdout, stderr := runCLI("check", "--config", "testdata/leaky.yaml")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("output has %d lines, want header + 2 profiles + the keys and TLS lines:\n%s", len(lines), stdout)
	}
	if want := "auth keys: ok: jwks_url http://127.0.0.1:4566/.well-known/jwks.json: not fetched"; !strings.HasPrefix(lines[3], want) {
		t.Errorf("keys line %q, want prefix %q", lines[3], want)
	}
	if lines[4] != "tls: off (server.tls not set): plain http on 127.0.0.1:0" {
		t.Errorf("TLS line %q", lines[4])
	}
	rows := map[string]*regexp.Regexp{
		"header": regexp.MustCompile(`^PROFILE\s+TEMPLATE\s+ISOLATION\s+ROLE_POLICY\s+POLICY_SIZE\s+PROOF\s+RESULT$`),
		"good":   regexp.MustCompile(`^good\s+dynamodb-read\s+session-policy\s+unknown: assumed allow-all\s+\d+\s+(\d+)/(\d+) rows\s+ok$`),
		"leaky":  regexp.MustCompile(`^leaky\s+leaky-extra\s+session-policy\s+unknown: assumed allow-all\s+\d+\s+\d+/\d+ rows\s+FAIL: .*isolation proof.*Query other tenant's key on table.*want ImplicitDeny, got Allow`),
	}
	for i, name := range []string{"header", "good", "leaky"} {
		m := rows[name].FindStringSubmatch(lines[i])
		if m == nil {
			t.Errorf("%s row %q does not match %s", name, lines[i], rows[name])
			continue
		}
		if name == "good" && m[1] != m[2] {
			t.Errorf("good profile passed %s of %s proof rows", m[1], m[2])
		}
	}
	if !strings.Contains(stderr, `profiles[1]`) {
		t.Errorf("stderr does not name the failing profile field: %s", stderr)
	}
}

// TestRenderExample checks `render` prints the exact policy a tenant gets.
func TestRenderExample(t *testing.T) {
	code, stdout, stderr := runCLI("render", "--config", exampleConfig, "--profile", "readwrite", "--tenant", "42")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got, want any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	tableARN := "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	if err := json.Unmarshal([]byte(expectedPolicy(t, "dynamodb-readwrite", "42")), &want); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, want) {
		t.Errorf("render output differs from the renderer's:\n%s", stdout)
	}
	for _, s := range []string{`"Tenant#42"`, `"` + tableARN + `/index/*"`, `"Null"`} {
		if !strings.Contains(stdout, s) {
			t.Errorf("rendered policy lacks %s", s)
		}
	}
	if !regexp.MustCompile(`^profile readwrite, template dynamodb-readwrite, \d+ characters \(STS limit 2048\), sha256 [0-9a-f]{64}\n$`).MatchString(stderr) {
		t.Errorf("stderr = %q", stderr)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestBinaryCheck runs the built binary's check the way a CI pipeline does.
func TestBinaryCheck(t *testing.T) {
	bin := brokerBinary(t)
	tests := map[string]struct {
		config   string
		wantExit int
		want     string
	}{
		// The example configuration reads a role through IAM: TestBinaryCheckExample.
		"leaky profile": {config: "testdata/leaky.yaml", wantExit: 1, want: `tenant "tenant-a": Query other tenant's key on table`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(bin, "check", "--config", tc.config).CombinedOutput()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantExit || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tc.wantExit, tc.want, out)
			}
		})
	}
}

// TestServeStopsWithContext runs serve in-process and stops it by
// cancelling its context.
func TestServeStopsWithContext(t *testing.T) {
	p := testenv.StartIdP(t, nil)
	t.Setenv("AWS_ENDPOINT_URL_STS", testenv.StartSTS(t, &testenv.STS{KeyID: brokerKeyID}))
	t.Setenv("AWS_ACCESS_KEY_ID", brokerKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", brokerSecret)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))

	out := newOutput()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", writeConfig(t, p.URL), "--listen", "127.0.0.1:0"}, out, out, os.Getenv)
	}()
	var addr string
	select {
	case <-out.ready.Found():
		addr = out.ready.Addr()
	case code := <-done:
		t.Fatalf("serve exited %d before ready:\n%s", code, out)
	}
	b := &broker{base: "http://" + addr, client: newClient()}
	defer b.client.CloseIdleConnections()
	res, body := b.do(t, "GET", "/v1/credentials", "Bearer "+p.Token(t, nil), nil, "")
	if res.StatusCode != 200 {
		t.Errorf("status %d: %s", res.StatusCode, body)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("serve exited %d after cancel:\n%s", code, out)
	}
	if len(out.records(t, "stopped")) != 1 {
		t.Errorf("no stopped record:\n%s", out)
	}
}
