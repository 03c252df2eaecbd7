// Package testenv holds the helpers the project's test suites share: finding
// and running dynalite (the second DynamoDB backend), picking free loopback
// addresses, a goroutine-safe output buffer, the one fake STS (STS: the
// Query protocol's AssumeRole and GetCallerIdentity, with call records and
// programmable failures), the one identity provider (IdP: the local AWS's
// dev OIDC provider on an httptest server, plus signing of arbitrary
// tokens), a Kubernetes service-account issuer (KubeIssuer: discovery and
// /openid/v1/jwks over https, kubelet-shaped tokens) and a test certificate
// authority (CA: server and client certificates as PEM files), and the
// log-leak check (Secrets: the secrets a suite handled, recorded by a
// reverse proxy or registered, looked for in the logs of its processes).
//
// It is an ordinary package so that test files of several packages can import
// it; nothing outside tests should.
//
// # Finding dynalite
//
// DynaliteBin looks, in order, at
//
//  1. $TVM_DYNALITE_BIN (when it names an existing file; the Makefile always
//     sets it, even when npm is missing and the file was never installed);
//  2. tools/dynalite/node_modules/.bin/dynalite (what `make dynalite`
//     installs) in the working directory or a parent, up to the module root
//     (the first directory holding go.mod);
//  3. node_modules/.bin/dynalite in the working directory or any parent;
//  4. dynalite on PATH.
//
// Dynalite skips the test when none is found, unless TVM_REQUIRE_DYNALITE=1,
// in which case the test fails, so CI cannot silently lose the backend.
//
// # Concurrency
//
// Every function is safe for concurrent use. Dynalite starts one process per
// call and stops it, waiting for it and for its output copier, when the test
// and its subtests finish, so suites stay clean under go.uber.org/goleak.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by DynaliteBin and Dynalite.
const (
	EnvDynaliteBin     = "TVM_DYNALITE_BIN"
	EnvRequireDynalite = "TVM_REQUIRE_DYNALITE"
)

// DynaliteStartTimeout bounds how long Dynalite waits for the process to
// accept TCP connections.
const DynaliteStartTimeout = 60 * time.Second

// dynaliteArgs makes table state changes immediate: no CREATING, DELETING or
// UPDATING phase that a test would have to poll through.
var dynaliteArgs = []string{"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}

// DynaliteBin returns the path of the dynalite executable, searched in the
// order the package documentation gives, or "" when none is found.
func DynaliteBin() string {
	wd, _ := os.Getwd()
	return findDynalite(os.Getenv(EnvDynaliteBin), wd, exec.LookPath)
}

func findDynalite(envBin, wd string, lookPath func(string) (string, error)) string {
	if envBin != "" && isFile(envBin) {
		return envBin
	}
	if wd != "" {
		for dir := range parents(wd) {
			if p := filepath.Join(dir, "tools", "dynalite", "node_modules", ".bin", "dynalite"); isFile(p) {
				return p
			}
			if isFile(filepath.Join(dir, "go.mod")) {
				break
			}
		}
		for dir := range parents(wd) {
			if p := filepath.Join(dir, "node_modules", ".bin", "dynalite"); isFile(p) {
				return p
			}
		}
	}
	if p, err := lookPath("dynalite"); err == nil {
		return p
	}
	return ""
}

// parents yields dir and each of its parents up to the filesystem root.
func parents(dir string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			if !yield(dir) {
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Dynalite starts dynalite on a free loopback port for the lifetime of t and
// returns its URL ("http://127.0.0.1:PORT"). It skips t when dynalite is not
// found (see DynaliteBin), or fails it when TVM_REQUIRE_DYNALITE=1. It
// returns once the process accepts TCP connections; the process is killed
// and awaited at t's cleanup. The process's output is reported if it fails
// to start.
func Dynalite(t testing.TB) string {
	t.Helper()
	bin := DynaliteBin()
	if bin == "" {
		const hint = "set " + EnvDynaliteBin + " or run `make dynalite` (npm install dynalite@4.0.0 in tools/dynalite)"
		if os.Getenv(EnvRequireDynalite) == "1" {
			t.Fatalf("dynalite not found and %s=1: %s", EnvRequireDynalite, hint)
		}
		t.Skip("dynalite not found: " + hint)
	}
	// The free port can be taken between FreeAddr and dynalite's listen:
	// retry a few times with a fresh port when the process exits early.
	var lastErr error
	for range 3 {
		url, err := startDynalite(t, bin)
		if err == nil {
			return url
		}
		if !errors.Is(err, errExitedEarly) {
			t.Fatal(err)
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return ""
}

var errExitedEarly = errors.New("dynalite exited before it accepted connections")

func startDynalite(t testing.TB, bin string) (string, error) {
	addr := FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	out := &SyncBuffer{}
	cmd := exec.Command(bin, append([]string{"--host", host, "--port", port}, dynaliteArgs...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start dynalite: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	deadline := time.Now().Add(DynaliteStartTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			t.Cleanup(stop)
			return "http://" + addr, nil
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("%w on %s (%v):\n%s", errExitedEarly, addr, err, strings.TrimSpace(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("dynalite did not accept connections on %s within %v:\n%s", addr, DynaliteStartTimeout, out.String())
		}
	}
}

// FreeAddr returns "127.0.0.1:PORT" with a port that was free a moment ago:
// an address where nothing listens (a refused connection). Do not start a
// server on it — another process may take the port first ("address already
// in use"): start it on "127.0.0.1:0" and read the address it bound (its
// ready line, package readyaddr). Dynalite, which reports no address, is
// the exception: Dynalite retries on a fresh port when it lost the race.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SyncBuffer is a bytes.Buffer guarded by a mutex, for output written by one
// goroutine (a process, a logger) and read by another. The zero value is
// ready to use; a SyncBuffer must not be copied after first use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
