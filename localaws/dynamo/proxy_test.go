package dynamo

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/internal/testenv"
)

func TestGatewayDynalite(t *testing.T) {
	url := testenv.Dynalite(t)
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
	backend, err := NewProxyBackend("http://" + testenv.FreeAddr(t))
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
