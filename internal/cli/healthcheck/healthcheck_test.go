package healthcheck

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := map[string]struct {
		args []string
		want int
	}{
		"healthy":               {[]string{"--url", srv.URL + "/ok"}, 0},
		"default url":           {nil, 0},
		"unhealthy 503":         {[]string{"--url", srv.URL + "/down"}, 1},
		"redirect not followed": {[]string{"--url", srv.URL + "/redirect"}, 1},
		"unreachable":           {[]string{"--url", closedURL + "/ok"}, 1},
		"not a url":             {[]string{"--url", "localhost:1"}, 2},
		"extra argument":        {[]string{"--url", srv.URL + "/ok", "extra"}, 2},
		"unknown flag":          {[]string{"--nope"}, 2},
		"help":                  {[]string{"--help"}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(tc.args, srv.URL+"/ok", &stdout, &stderr); got != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tc.want, stderr.String())
			}
		})
	}
}
