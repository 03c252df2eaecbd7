package loadtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun: two streams from two source addresses reach the server
// together, each with the requests it was given; the summaries count every
// answer by status.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]map[string]int{} // source address -> header value -> requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		if seen[host] == nil {
			seen[host] = map[string]int{}
		}
		seen[host][r.Header.Get("X-Kind")]++
		mu.Unlock()
		if r.Header.Get("X-Kind") == "bad" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	req := func(kind string) Request { return Request{URL: srv.URL, Header: http.Header{"X-Kind": {kind}}} }
	sums, err := Run(context.Background(), time.Second,
		Stream{Name: "good", Rate: 20, Requests: []Request{req("good")}, Source: "127.0.0.2"},
		Stream{Name: "bad", Rate: 30, Requests: []Request{req("bad")}, Sources: []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	if sums[0].Requests != 20 || sums[0].Count(200) != 20 || sums[1].Requests != 30 || sums[1].Count(401) != 30 {
		t.Errorf("summaries %v / %v", sums[0], sums[1])
	}
	want := map[string]map[string]int{"127.0.0.2": {"good": 20}, "127.0.0.3": {"bad": 10}, "127.0.0.4": {"bad": 10}, "127.0.0.5": {"bad": 10}}
	mu.Lock()
	defer mu.Unlock()
	for host, kinds := range want {
		for k, n := range kinds {
			if seen[host][k] != n {
				t.Errorf("%s sent %d %s requests, want %d (seen %v)", host, seen[host][k], k, n, seen)
			}
		}
	}
}

func TestRunRefusesBadStreams(t *testing.T) {
	for name, s := range map[string]Stream{
		"no requests": {Name: "x", Rate: 10},
		"rate":        {Name: "x", Rate: 1, Requests: []Request{{URL: "http://127.0.0.1:1"}}, Sources: []string{"127.0.0.2", "127.0.0.3"}},
		"source":      {Name: "x", Rate: 1, Requests: []Request{{URL: "http://127.0.0.1:1"}}, Source: "not-an-ip"},
	} {
		if _, err := Run(context.Background(), time.Millisecond, s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
