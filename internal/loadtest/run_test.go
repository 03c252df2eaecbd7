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
	// A busy machine may get fewer than Rate requests out in the second;
	// whatever was sent is counted, and each source sends its share.
	good, bad := int(sums[0].Requests), int(sums[1].Requests)
	if good < 1 || good > 20 || sums[0].Count(200) != good || bad < 3 || bad > 30 || sums[1].Count(401) != bad {
		t.Errorf("summaries %v / %v", sums[0], sums[1])
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["127.0.0.2"]["good"] != good {
		t.Errorf("127.0.0.2 sent %d good requests, want %d (seen %v)", seen["127.0.0.2"]["good"], good, seen)
	}
	sent := 0
	for _, host := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		if n := seen[host]["bad"]; n < 1 || n > 10 {
			t.Errorf("%s sent %d bad requests, want 1 to 10, its third of the rate (seen %v)", host, n, seen)
		}
		sent += seen[host]["bad"]
	}
	if sent != bad {
		t.Errorf("the sources sent %d bad requests, the summary counts %d", sent, bad)
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
