package healthcheck

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/internal/testenv"
)

// TestHealthcheckHTTPS probes https servers with the TLS flags: the CA to
// trust, the name to verify, a client certificate.
func TestHealthcheckHTTPS(t *testing.T) {
	ca, clientCA, other := testenv.NewCA(t, "server CA"), testenv.NewCA(t, "client CA"), testenv.NewCA(t, "other CA")
	dir := t.TempDir()
	// The certificate names the Service, not the loopback address probed.
	certFile, keyFile := ca.WriteLeaf(t, dir, testenv.Leaf{DNSNames: []string{"tvm-broker.tvm.svc"}})
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientDir := t.TempDir()
	clientCert, clientKey := clientCA.WriteLeaf(t, clientDir, testenv.Leaf{Client: true, DNSNames: []string{"probe"}})
	strangerDir := t.TempDir()
	strangerCert, strangerKey := other.WriteLeaf(t, strangerDir, testenv.Leaf{Client: true, DNSNames: []string{"probe"}})
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	serve := func(clientAuth tls.ClientAuthType) string {
		srv := httptest.NewUnstartedServer(ok)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: clientAuth, ClientCAs: clientCA.Pool(), MinVersion: tls.VersionTLS12}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL + "/readyz"
	}
	plain, mutual := serve(tls.NoClientCert), serve(tls.RequireAndVerifyClientCert)
	httpSrv := httptest.NewServer(ok)
	t.Cleanup(httpSrv.Close)

	tests := map[string]struct {
		args   []string
		want   int
		stderr string
	}{
		"trusted CA and name":           {[]string{"--url", plain, "--ca-file", ca.File, "--server-name", "tvm-broker.tvm.svc"}, 0, ""},
		"system roots do not trust it":  {[]string{"--url", plain, "--server-name", "tvm-broker.tvm.svc"}, 1, "certificate"},
		"name not in the certificate":   {[]string{"--url", plain, "--ca-file", ca.File}, 1, "doesn't contain any IP SANs"},
		"another CA":                    {[]string{"--url", plain, "--ca-file", other.File, "--server-name", "tvm-broker.tvm.svc"}, 1, "certificate signed by unknown authority"},
		"unreadable CA file":            {[]string{"--url", plain, "--ca-file", notPEM}, 2, "not PEM"},
		"client certificate required":   {[]string{"--url", mutual, "--ca-file", ca.File, "--server-name", "tvm-broker.tvm.svc"}, 1, ""},
		"client certificate presented":  {[]string{"--url", mutual, "--ca-file", ca.File, "--server-name", "tvm-broker.tvm.svc", "--cert-file", clientCert, "--key-file", clientKey}, 0, ""},
		"client certificate of another": {[]string{"--url", mutual, "--ca-file", ca.File, "--server-name", "tvm-broker.tvm.svc", "--cert-file", strangerCert, "--key-file", strangerKey}, 1, ""},
		"client key mismatch":           {[]string{"--url", mutual, "--ca-file", ca.File, "--cert-file", clientCert, "--key-file", strangerKey}, 2, "client certificate"},
		"half a client certificate":     {[]string{"--url", mutual, "--cert-file", clientCert}, 2, "--cert-file and --key-file go together"},
		"TLS flags on http":             {[]string{"--url", httpSrv.URL, "--ca-file", ca.File}, 2, "need an https --url"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(tc.args, "", &stdout, &stderr); got != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.stderr)
			}
			if (tc.want == 0) != (stdout.String() == "healthy\n") {
				t.Errorf("stdout %q with exit %d", stdout.String(), tc.want)
			}
		})
	}
}
