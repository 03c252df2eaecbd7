package dynamo

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startDynalite starts the dynalite named by $TVM_DYNALITE_BIN on a free
// loopback port and returns its URL. It skips the test when the variable is
// unset, unless TVM_REQUIRE_DYNALITE=1.
func startDynalite(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TVM_DYNALITE_BIN")
	if bin == "" {
		if os.Getenv("TVM_REQUIRE_DYNALITE") == "1" {
			t.Fatal("TVM_REQUIRE_DYNALITE=1 but TVM_DYNALITE_BIN is not set")
		}
		t.Skip("TVM_DYNALITE_BIN not set; install with: npm install dynalite@4.0.0")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dynalite: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = c.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynalite did not listen on %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGatewayDynalite(t *testing.T) {
	url := startDynalite(t)
	backend, err := NewProxyBackend(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.(*proxyBackend).closeIdle() })
	runIsolationSuite(t, backend)
}

func TestNewProxyBackendValidation(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:4567", "ftp://h/", "http://", "http://u:p@h/", "http://h/?a=b", "http://h/#f", "http://%zz"} {
		t.Run(u, func(t *testing.T) {
			if _, err := NewProxyBackend(u); err == nil {
				t.Errorf("NewProxyBackend(%q) succeeded", u)
			}
		})
	}
}

func TestProxyBackendUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	backend, err := NewProxyBackend("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.(*proxyBackend).closeIdle() })
	st := newTestStack(t, backend)
	resp, body := rawCall(t, st.srv.URL, adminKey, TargetPrefix+"ListTables", `{}`)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "InternalServerError") {
		t.Errorf("got %d %s, want 500 InternalServerError", resp.StatusCode, body)
	}
}
