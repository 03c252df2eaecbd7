package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// asMainEnv makes the test binary behave as tvm-creds, so that the AWS SDK's
// own processcreds provider can run it as a credential_process.
const asMainEnv = "TVM_CREDS_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiIxIn0.c2lnbmF0dXJl"

type request struct {
	Auth, Profile, Duration string
}

type broker struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
}

func newBroker(t *testing.T, status int, body any) *broker {
	t.Helper()
	b := &broker{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.got = append(b.got, request{r.Header.Get("Authorization"), r.URL.Query().Get("profile"), r.URL.Query().Get("duration")})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *broker) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.got...)
}

var expiration = time.Now().Add(time.Hour).Truncate(time.Second).UTC()

func okBody() map[string]any {
	return map[string]any{
		"Version": 1, "AccessKeyId": "ASIATESTKEY000000001", "SecretAccessKey": "secret",
		"SessionToken": "session", "Token": "session", "Expiration": expiration.Format(time.RFC3339),
		"AccountId": "123456789012", "Tenant": "1", "Profile": "read",
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRunSuccess(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(tokenFile, []byte("file-"+testJWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBroker(t, 200, okBody())
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want request
	}{
		"defaultTokenEnv": {
			args: []string{"--broker", b.srv.URL},
			env:  map[string]string{"TVM_TOKEN": testJWT},
			want: request{Auth: "Bearer " + testJWT},
		},
		"brokerFromEnv": {
			args: []string{"--profile", "read", "--duration", "900"},
			env:  map[string]string{"TVM_TOKEN": testJWT, "TVM_BROKER_URL": b.srv.URL},
			want: request{Auth: "Bearer " + testJWT, Profile: "read", Duration: "900"},
		},
		"namedTokenEnv": {
			args: []string{"--broker", b.srv.URL, "--token-env", "MY_JWT", "--duration", "1h"},
			env:  map[string]string{"MY_JWT": "env-" + testJWT, "TVM_TOKEN": "unused"},
			want: request{Auth: "Bearer env-" + testJWT, Duration: "3600"},
		},
		"tokenFile": {
			args: []string{"--broker", b.srv.URL, "--token-file", tokenFile, "--profile", "readwrite"},
			env:  map[string]string{"TVM_TOKEN": "unused"},
			want: request{Auth: "Bearer file-" + testJWT, Profile: "readwrite"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(b.requests())
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, env(tc.env), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr not empty: %s", stderr.String())
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("stdout is not JSON: %v: %s", err, stdout.String())
			}
			want := map[string]any{
				"Version": 1.0, "AccessKeyId": "ASIATESTKEY000000001", "SecretAccessKey": "secret",
				"SessionToken": "session", "Expiration": expiration.Format(time.RFC3339), "AccountId": "123456789012",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			reqs := b.requests()[before:]
			if diff := cmp.Diff([]request{tc.want}, reqs); diff != "" {
				t.Errorf("broker requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunFailure(t *testing.T) {
	denied := newBroker(t, 401, map[string]string{"code": "invalid_tenant", "message": "tenant claim fails the pattern"})
	for name, tc := range map[string]struct {
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
	}{
		"rejectedToken": {
			args: []string{"--broker", denied.srv.URL}, env: map[string]string{"TVM_TOKEN": testJWT},
			wantCode: 1, wantStderr: "(401 invalid_tenant): tenant claim fails the pattern",
		},
		"noBroker":        {env: map[string]string{"TVM_TOKEN": testJWT}, wantCode: 2, wantStderr: "--broker"},
		"remoteHTTP":      {args: []string{"--broker", "http://broker.example.com"}, env: map[string]string{"TVM_TOKEN": testJWT}, wantCode: 2, wantStderr: "loopback"},
		"emptyTokenEnv":   {args: []string{"--broker", denied.srv.URL}, wantCode: 1, wantStderr: "TVM_TOKEN is empty"},
		"missingFile":     {args: []string{"--broker", denied.srv.URL, "--token-file", "/nonexistent/jwt"}, wantCode: 1, wantStderr: "token file"},
		"badDuration":     {args: []string{"--broker", denied.srv.URL, "--duration", "soon"}, wantCode: 2, wantStderr: "duration"},
		"negativeSeconds": {args: []string{"--broker", denied.srv.URL, "--duration", "-5"}, wantCode: 2, wantStderr: "duration"},
		"extraArgument":   {args: []string{"--broker", denied.srv.URL, "extra"}, wantCode: 2, wantStderr: "unexpected argument"},
		"unknownFlag":     {args: []string{"--nope"}, wantCode: 2, wantStderr: "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, env(tc.env), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr: %s)", code, tc.wantCode, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty on failure: %s", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.wantStderr)
			}
			if strings.Contains(stderr.String(), testJWT) {
				t.Errorf("stderr contains the token")
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, env(nil), &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "--token-file") {
		t.Errorf("usage does not list --token-file: %s", stderr.String())
	}
}

// TestAsCredentialProcess runs this test binary as tvm-creds through the AWS
// SDK's own credential_process provider.
func TestAsCredentialProcess(t *testing.T) {
	b := newBroker(t, 200, okBody())
	tokenFile := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(tokenFile, []byte(testJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(asMainEnv, "1")
	cmd := strings.Join([]string{shellQuote(exe), "--broker", shellQuote(b.srv.URL), "--token-file", shellQuote(tokenFile), "--profile", "read"}, " ")
	creds, err := processcreds.NewProvider(cmd).Retrieve(context.Background())
	if err != nil {
		t.Fatalf("processcreds Retrieve: %v", err)
	}
	if creds.AccessKeyID != "ASIATESTKEY000000001" || creds.SecretAccessKey != "secret" || creds.SessionToken != "session" ||
		!creds.CanExpire || !creds.Expires.Equal(expiration) || creds.AccountID != "123456789012" {
		t.Errorf("credentials = %+v", creds)
	}
	if diff := cmp.Diff([]request{{Auth: "Bearer " + testJWT, Profile: "read"}}, b.requests()); diff != "" {
		t.Errorf("broker requests (-want +got):\n%s", diff)
	}

	denied := newBroker(t, 403, map[string]string{"code": "forbidden", "message": "profile not permitted"})
	cmd = strings.Join([]string{shellQuote(exe), "--broker", shellQuote(denied.srv.URL), "--token-file", shellQuote(tokenFile)}, " ")
	if _, err := processcreds.NewProvider(cmd).Retrieve(context.Background()); err == nil {
		t.Error("processcreds accepted a failed run")
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
