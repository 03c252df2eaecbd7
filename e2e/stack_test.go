// Package e2e runs the project's real binaries as separate processes — the
// local AWS, the broker, the sample app and the credential_process helper —
// and checks the whole flow end to end, against both DynamoDB backends.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/internal/readyaddr"
	"github.com/tvmkit/tvm/internal/testenv"
)

// Documented dev keys of the local AWS (localaws default config).
const (
	region        = "us-east-1"
	brokerKeyID   = "AKIATVMBROKER0000001"
	brokerSecret  = "tvmLocalBrokerSecretKey000000000000000001"
	adminKeyID    = "AKIATVMADMIN00000001"
	adminSecret   = "tvmLocalAdminSecretKey0000000000000000001"
	startDeadline = 60 * time.Second
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// secrets holds every secret the suite handled: the documented dev keys
// (which the processes hold but must never log), and every JWT, access key
// id, secret key and session token that passed through the harness's
// proxies (startLocal, startStack) or that a test registered. The log of
// every tvm-local and tvm-broker a test starts is checked against it when
// the process has stopped (start): a property of the harness, so every
// end-to-end test checks that no log leaks a secret.
var secrets testenv.Secrets

func init() {
	secrets.Add("dev secret access key", brokerSecret, adminSecret)
	secrets.Add("dev access key id", brokerKeyID, adminKeyID)
}

// scannedLogs are the binaries whose logs (stderr) are checked for
// secrets. tvm-local's stdout prints the documented dev keys on purpose;
// tvm-creds prints credentials on purpose; tvm-sample is a client.
var scannedLogs = map[string]bool{"tvm-local": true, "tvm-broker": true}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tvm-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// repoRoot is the module root (this file lives in <root>/e2e).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// binaries builds the four binaries once per test process.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator),
			"./localaws/cmd/tvm-local", "./broker/cmd/tvm-broker",
			"./sampleapp/cmd/tvm-sample", "./client/cmd/tvm-creds")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// listenAny is the --listen address of every server the harness starts:
// port 0, the address then read from the server's ready line (process.addr),
// so that no port is picked before the server binds it (a port found free
// can be taken by another process meanwhile: "address already in use").
const listenAny = "127.0.0.1:0"

// process is a started binary whose output is captured: out holds stdout
// and stderr, log stderr alone (the JSON log lines); ready watches both for
// the server's ready line.
type process struct {
	name  string
	cmd   *exec.Cmd
	out   *testenv.SyncBuffer
	log   *testenv.SyncBuffer
	ready *readyaddr.Watcher
	done  chan struct{}
	err   error
}

// start runs a binary in the background; it is interrupted and awaited when
// the test ends, its log is then checked for secrets (scannedLogs), and its
// output is logged if the test failed.
func start(t *testing.T, name string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Env = append(baseEnv(t), env...)
	p := &process{name: name, cmd: cmd, out: &testenv.SyncBuffer{}, log: &testenv.SyncBuffer{}, ready: readyaddr.New(),
		done: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(p.out, p.ready.Stream())
	cmd.Stderr = io.MultiWriter(p.out, p.log, p.ready.Stream())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop within 20s of SIGINT", name)
		}
		if scannedLogs[name] {
			secrets.CheckLog(t, name, p.log.String())
		}
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// addr waits for the address p reports it bound (its ready line: package
// readyaddr) and returns it; it fails t when p exits first or startDeadline
// passes.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	select {
	case <-p.ready.Found():
		return p.ready.Addr()
	case <-p.done:
		select {
		case <-p.ready.Found(): // reported, then exited
			return p.ready.Addr()
		default:
		}
		t.Fatalf("%s exited before it listened: %v\n%s", p.name, p.err, p.out.String())
	case <-time.After(startDeadline):
		t.Fatalf("%s reported no address within %s\n%s", p.name, startDeadline, p.out.String())
	}
	return ""
}

// outputMatch waits until p's output has a line re matches and returns
// the submatches; it fails t when p exits first or startDeadline passes.
func (p *process) outputMatch(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(startDeadline)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.out.String()); m != nil {
				return m
			}
			t.Fatalf("%s exited without printing %s: %v\n%s", p.name, re, p.err, p.out.String())
		case <-deadline:
			t.Fatalf("%s did not print %s within %s\n%s", p.name, re, startDeadline, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// adminLine is tvm-local's line naming its fault injection API.
var adminLine = regexp.MustCompile(`(?m)^tvm-local fault injection API on (http://\S+)/faults `)

// adminURL waits for tvm-local's fault injection API (serve
// --admin-listen) and returns its base URL.
func (p *process) adminURL(t *testing.T) string {
	t.Helper()
	return p.outputMatch(t, adminLine)[1]
}

// baseEnv is a minimal, hermetic environment: no AWS settings from the host.
func baseEnv(t testing.TB) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + os.TempDir(),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=" + region,
	}
}

// waitReady polls url until it answers 200 or the process exits.
func waitReady(t *testing.T, p *process, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s was ready: %v\n%s", p.name, url, p.err, p.out.String())
		case <-ctx.Done():
			t.Fatalf("%s: %s not ready after %s\n%s", p.name, url, startDeadline, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stack is a running local AWS plus broker.
type stack struct {
	localURL  string
	brokerURL string
	local     *process
	broker    *process
}

// startStack starts tvm-local (with the given backend URL, "" = in-process
// minidyn) and tvm-broker configured from examples/broker.yaml. brokerURL
// is a recording proxy to the broker (see secrets).
func startStack(t *testing.T, backend string) *stack {
	t.Helper()
	return startStackWith(t, backend)
}

// startStackWith is startStack with further tvm-local serve flags.
func startStackWith(t *testing.T, backend string, localFlags ...string) *stack {
	t.Helper()
	s := &stack{}
	s.localURL, s.local = startLocal(t, backend, localFlags...)
	s.broker = start(t, "tvm-broker", brokerEnv(s.localURL),
		"serve", "--config", filepath.Join(repoRoot(t), "examples", "broker.yaml"), "--listen", listenAny)
	s.brokerURL = secrets.Proxy(t, "http://"+s.broker.addr(t))
	waitReady(t, s.broker, s.brokerURL+"/readyz")
	return s
}

// startLocal starts tvm-local (with the given backend URL, "" = in-process
// minidyn, and any further serve flags) and returns its URL once it is
// ready: a recording proxy to it (see secrets), also the dev IdP's issuer,
// so that every exchange with it passes the proxy.
func startLocal(t *testing.T, backend string, flags ...string) (string, *process) {
	t.Helper()
	url, setTarget := secrets.LateProxy(t)
	args := append([]string{"serve", "--listen", listenAny, "--issuer", url}, flags...)
	if backend != "" {
		args = append(args, "--backend", backend)
	}
	p := start(t, "tvm-local", nil, args...)
	setTarget("http://" + p.addr(t))
	waitReady(t, p, url+"/healthz")
	return url, p
}

// startBareLocal starts tvm-local with no proxy in front, its issuer its
// own address (tvm-local's default), and returns its URL once it is ready.
func startBareLocal(t *testing.T, flags ...string) (string, *process) {
	t.Helper()
	p := start(t, "tvm-local", nil, append([]string{"serve", "--listen", listenAny}, flags...)...)
	url := "http://" + p.addr(t)
	waitReady(t, p, url+"/healthz")
	return url, p
}

// brokerEnv is the broker's environment on the local AWS at localURL: its
// own identity (what it assumes roles and reads their policies with,
// role_policy_from_iam) and the local dev IdP as its token issuer.
func brokerEnv(localURL string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + brokerKeyID, "AWS_SECRET_ACCESS_KEY=" + brokerSecret, "AWS_ENDPOINT_URL=" + localURL,
		"TVM_AUTH_ISSUER=" + localURL, "TVM_AUTH_JWKS_URL=" + localURL + "/.well-known/jwks.json",
	}
}

// adminEnv is the sample app's own identity on the local AWS.
func (s *stack) adminEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + adminKeyID,
		"AWS_SECRET_ACCESS_KEY=" + adminSecret,
		"AWS_ENDPOINT_URL=" + s.localURL,
		"TVM_BROKER_URL=" + s.brokerURL,
	}
}

// run runs a binary to completion and returns its combined output and exit code.
func run(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binaries(t), name), args...)
	cmd.Env = append(baseEnv(t), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		return "", -1
	}
}

// backends lists the DynamoDB backends every stack test runs against.
func backends() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"minidyn":  func(*testing.T) string { return "" },
		"dynalite": func(t *testing.T) string { return testenv.Dynalite(t) },
	}
}
