package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// touch creates an executable file at root/rel and returns its path.
func touch(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindDynaliteOrder(t *testing.T) {
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(string) (string, error) { return "/usr/bin/dynalite", nil }
	type tc struct {
		files []string // created below a temporary root
		env   string   // relative to the root; "" = unset
		wd    string   // relative to the root
		path  func(string) (string, error)
		want  string // relative to the root, or absolute, or "" for none
	}
	cases := map[string]tc{
		"env wins": {
			files: []string{"bin/dl", "mod/go.mod", "mod/tools/dynalite/node_modules/.bin/dynalite"},
			env:   "bin/dl", wd: "mod", path: onPath, want: "bin/dl",
		},
		"missing env file falls through": {
			files: []string{"mod/go.mod", "mod/tools/dynalite/node_modules/.bin/dynalite"},
			env:   "nowhere/dynalite", wd: "mod/pkg/sub", path: notOnPath,
			want: "mod/tools/dynalite/node_modules/.bin/dynalite",
		},
		"tools before node_modules": {
			files: []string{"mod/go.mod", "mod/tools/dynalite/node_modules/.bin/dynalite", "mod/pkg/node_modules/.bin/dynalite"},
			wd:    "mod/pkg", path: onPath, want: "mod/tools/dynalite/node_modules/.bin/dynalite",
		},
		"tools search stops at the module root": {
			files: []string{"tools/dynalite/node_modules/.bin/dynalite", "mod/go.mod"},
			wd:    "mod/pkg", path: notOnPath, want: "",
		},
		"node_modules in a parent": {
			files: []string{"node_modules/.bin/dynalite", "mod/go.mod"},
			wd:    "mod/pkg", path: notOnPath, want: "node_modules/.bin/dynalite",
		},
		"PATH last": {
			files: []string{"mod/go.mod"}, wd: "mod", path: onPath, want: "/usr/bin/dynalite",
		},
		"a directory is not a binary": {
			files: []string{"mod/go.mod", "mod/node_modules/.bin/dynalite/x"}, wd: "mod", path: notOnPath, want: "",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range c.files {
				touch(t, root, f)
			}
			if err := os.MkdirAll(filepath.Join(root, c.wd), 0o755); err != nil {
				t.Fatal(err)
			}
			env := ""
			if c.env != "" {
				env = filepath.Join(root, c.env)
			}
			want := c.want
			if want != "" && !filepath.IsAbs(want) {
				want = filepath.Join(root, want)
			}
			if got := findDynalite(env, filepath.Join(root, c.wd), c.path); got != want {
				t.Errorf("findDynalite = %q, want %q", got, want)
			}
		})
	}
}

// fakeTB records what Dynalite does to a test without ending the real one.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	skipped  bool
	failed   bool
	msg      string
	cleanups []func()
}

type stopTest struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped, f.msg = true, fmt.Sprint(args...)
	f.mu.Unlock()
	panic(stopTest{})
}
func (f *fakeTB) Fatal(args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprint(args...)
	f.mu.Unlock()
	panic(stopTest{})
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

func run(f *fakeTB, fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopTest); !ok {
				panic(r)
			}
		}
	}()
	fn(f)
}

// withoutDynalite makes every lookup fail: no env, a working directory with
// nothing above it, and an empty PATH.
func withoutDynalite(t *testing.T) {
	t.Setenv(EnvDynaliteBin, "")
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
}

func TestDynaliteAbsentSkipsOrFails(t *testing.T) {
	for name, require := range map[string]string{"skip": "", "require": "1"} {
		t.Run(name, func(t *testing.T) {
			withoutDynalite(t)
			if DynaliteBin() != "" {
				t.Skip("a dynalite is installed above the temporary directory")
			}
			t.Setenv(EnvRequireDynalite, require)
			f := &fakeTB{TB: t}
			run(f, func(tb testing.TB) { Dynalite(tb) })
			if want := require != "1"; f.skipped != want || f.failed == want {
				t.Errorf("skipped=%v failed=%v (%s), want skipped=%v", f.skipped, f.failed, f.msg, want)
			}
			if !strings.Contains(f.msg, EnvDynaliteBin) {
				t.Errorf("message %q does not say how to install dynalite", f.msg)
			}
		})
	}
}

func TestDynaliteReportsEarlyExit(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	bin := filepath.Join(t.TempDir(), "dynalite")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"bad args: $*\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDynaliteBin, bin)
	f := &fakeTB{TB: t}
	run(f, func(tb testing.TB) { Dynalite(tb) })
	if !f.failed || !strings.Contains(f.msg, "bad args: --host 127.0.0.1 --port") || !strings.Contains(f.msg, "--createTableMs 0") {
		t.Errorf("failed=%v message %q, want the process output", f.failed, f.msg)
	}
	for _, c := range f.cleanups {
		c()
	}
}

func TestDynaliteServes(t *testing.T) {
	url := Dynalite(t)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set("X-Amz-Date", "20261126T000000Z")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "TableNames") {
		t.Errorf("ListTables = %d %s", resp.StatusCode, body)
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v)", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("address %s is not free: %v", addr, err)
	}
	l.Close()
}

func TestSyncBufferConcurrent(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("len = %d, want 800", got)
	}
}
