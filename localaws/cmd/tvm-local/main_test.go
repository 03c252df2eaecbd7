package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/idp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseServeFlags(t *testing.T) {
	cases := map[string]struct {
		args    []string
		want    serveFlags
		wantErr string
	}{
		"defaults": {nil, serveFlags{listen: "127.0.0.1:4566", region: "us-east-1", logLevel: "info"}, ""},
		"all flags": {[]string{"--listen", "127.0.0.1:0", "--config", "c.yaml", "--backend", "http://127.0.0.1:4567",
			"--issuer", "http://idp.localhost:4566", "--idp-key", "k.pem", "--region", "eu-west-1", "--log-level", "debug"},
			serveFlags{listen: "127.0.0.1:0", config: "c.yaml", backend: "http://127.0.0.1:4567", issuer: "http://idp.localhost:4566",
				idpKey: "k.pem", region: "eu-west-1", logLevel: "debug"}, ""},
		"unknown flag":   {[]string{"--port", "1"}, serveFlags{}, "flag provided but not defined"},
		"extra argument": {[]string{"now"}, serveFlags{}, "unexpected arguments"},
		"bad listen":     {[]string{"--listen", "4566"}, serveFlags{}, "--listen"},
		"bad log level":  {[]string{"--log-level", "loud"}, serveFlags{}, "--log-level"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := parseServeFlags(c.args, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || *f != c.want {
				t.Fatalf("got %+v, %v; want %+v", f, err, c.want)
			}
		})
	}
}

func TestParseTokenFlags(t *testing.T) {
	cases := map[string]struct {
		args    []string
		want    tokenFlags
		wantErr string
	}{
		"minimal": {[]string{"--tenant", "1", "--subject", "alice"},
			tokenFlags{tenant: "1", subject: "alice", audience: "tvm-broker", ttl: 15 * time.Minute, endpoint: "http://127.0.0.1:4566"}, ""},
		"all": {[]string{"--tenant", "2", "--subject", "bob", "--audience", "x", "--ttl", "1h", "--endpoint", "http://localhost:1"},
			tokenFlags{tenant: "2", subject: "bob", audience: "x", ttl: time.Hour, endpoint: "http://localhost:1"}, ""},
		"no tenant":      {[]string{"--subject", "a"}, tokenFlags{}, "--tenant"},
		"no subject":     {[]string{"--tenant", "1"}, tokenFlags{}, "--subject"},
		"ttl too long":   {[]string{"--tenant", "1", "--subject", "a", "--ttl", "25h"}, tokenFlags{}, "--ttl"},
		"ttl fraction":   {[]string{"--tenant", "1", "--subject", "a", "--ttl", "1500ms"}, tokenFlags{}, "--ttl"},
		"bad endpoint":   {[]string{"--tenant", "1", "--subject", "a", "--endpoint", "127.0.0.1:4566"}, tokenFlags{}, "--endpoint"},
		"stray argument": {[]string{"--tenant", "1", "--subject", "a", "x"}, tokenFlags{}, "unexpected"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := parseTokenFlags(c.args, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || *f != c.want {
				t.Fatalf("got %+v, %v; want %+v", f, err, c.want)
			}
		})
	}
}

func TestSimpleCommands(t *testing.T) {
	cases := map[string]struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		"print-config":      {[]string{"print-config"}, 0, string(identity.DefaultYAML), ""},
		"print-config args": {[]string{"print-config", "x"}, 2, "", "no arguments"},
		"version":           {[]string{"version"}, 0, "tvm-local ", ""},
		"help":              {[]string{"help"}, 0, "Usage:", ""},
		"unknown":           {[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		"serve bad flag":    {[]string{"serve", "--nope"}, 2, "", "not defined"},
		"flags, no command": {[]string{"--nope"}, 2, "", "tvm-local: name a command"},
		"no arguments":      {nil, 2, "", "tvm-local serve [flags]"},
		"--help":            {[]string{"--help"}, 0, "tvm-local token [flags]", ""},
		"-h":                {[]string{"-h"}, 0, "tvm-local simulate [flags]", ""},
		"serve help":        {[]string{"serve", "-h"}, 0, "", "-listen"},
		"serve bad config":  {[]string{"serve", "--listen", "127.0.0.1:0", "--config", "/nonexistent.yaml"}, 1, "", "nonexistent"},
		"serve bad key":     {[]string{"serve", "--listen", "127.0.0.1:0", "--idp-key", "/nonexistent.pem"}, 1, "", "nonexistent"},
		"serve bad backend": {[]string{"serve", "--listen", "127.0.0.1:0", "--backend", "ftp://x"}, 1, "", "backend"},
		"token no server":   {[]string{"token", "--tenant", "1", "--subject", "a", "--endpoint", "http://127.0.0.1:1"}, 1, "", "tvm-local token:"},
		"simulate usage":    {[]string{"simulate"}, 2, "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, &out, &errb)
			if code != c.code || !strings.Contains(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

// TestServeAndToken runs the server command, mints a token through the
// token command, and stops the server by cancelling its context (what
// SIGINT/SIGTERM do in main).
func TestServeAndToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--log-level", "warn"}, pw, &stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no ready line; exit %d, stderr %s", <-done, stderr.String())
	}
	m := regexp.MustCompile(`^tvm-local ready on (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("ready line %q", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain the dev keys hint
	base := m[1]

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"token", "--tenant", "7", "--subject", "alice", "--ttl", "5m", "--endpoint", base}, &out, &errb); code != 0 {
		t.Fatalf("token: %d %s", code, errb.String())
	}
	tok := out.String()
	if strings.HasSuffix(tok, "\n") || strings.Count(tok, ".") != 2 {
		t.Errorf("token output %q", tok)
	}
	resp, err := http.Get(base + idp.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("jwks %d", resp.StatusCode)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d: %s", code, stderr.String())
	}
}

func TestTokenReportsServerErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"forbidden","message":"loopback only"}`)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"token", "--tenant", "1", "--subject", "a", "--endpoint", srv.URL}, &out, &errb); code != 1 ||
		out.Len() != 0 || !strings.Contains(errb.String(), "loopback only") {
		t.Errorf("code %d out %q err %q", code, out.String(), errb.String())
	}
}

// TestFaultsCommand: serve with --fault-* flags and the admin API on
// loopback; faults shows, replaces and clears them.
func TestFaultsCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--config", writeDefaultConfig(t),
			"--admin-listen", "127.0.0.1:0", "--fault-sts-throttle", "1", "--fault-session-ttl", "2m"}, pw, &stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var admin string
	for admin == "" && lines.Scan() {
		if m := regexp.MustCompile(`^tvm-local fault injection API on (http://127\.0\.0\.1:\d+)/faults`).FindStringSubmatch(lines.Text()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		cancel()
		t.Fatalf("no admin line; exit %d, stderr %s", <-done, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"faults", "--admin", admin}, []string{`"throttle_share": 1`, `"session_ttl": "2m0s"`}},
		{[]string{"faults", "--admin", admin, "--sts-down", "reset", "--dynamodb-throttle", "0.5"}, []string{`"down": "reset"`, `"throttle_share": 0.5`}},
		{[]string{"faults", "--admin", admin, "--clear"}, []string{`"sts": {}`, `"dynamodb": {}`}},
	}
	for _, s := range steps {
		var out, errb bytes.Buffer
		if code := run(ctx, s.args, &out, &errb); code != 0 {
			t.Fatalf("%v: %d %s", s.args, code, errb.String())
		}
		for _, w := range s.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %s:\n%s", s.args, w, out.String())
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"faults", "--admin", admin, "--sts-error", "Nope"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "sts.error") {
		t.Errorf("bad code: %d %s", code, errb.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d: %s", code, stderr.String())
	}
}

// writeDefaultConfig writes the built-in configuration to a file, so that
// serve prints no dev keys hint.
func writeDefaultConfig(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(path, identity.DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeRefusesBadFaults(t *testing.T) {
	for name, args := range map[string][]string{
		"admin not loopback": {"serve", "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"},
		"admin by name":      {"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0"},
		"share above 1":      {"serve", "--listen", "127.0.0.1:0", "--fault-sts-throttle", "2"},
		"unknown down mode":  {"serve", "--listen", "127.0.0.1:0", "--fault-sts-down", "sometimes"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), args, &out, &errb); code != exitUsage {
				t.Errorf("exit %d, want %d: %s", code, exitUsage, errb.String())
			}
		})
	}
}
