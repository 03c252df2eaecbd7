package readyaddr

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestParse(t *testing.T) {
	for name, tc := range map[string]struct {
		line, want string
		ok         bool
	}{
		"broker":        {`{"time":"2025-01-01T00:00:00Z","level":"INFO","msg":"ready","addr":"127.0.0.1:40123","scheme":"http"}`, "127.0.0.1:40123", true},
		"broker ipv6":   {`{"msg":"ready","addr":"[::1]:8080"}` + "\r", "[::1]:8080", true},
		"local":         {"tvm-local ready on http://127.0.0.1:4566 (region us-east-1, backend minidyn (in-process), issuer http://x)", "127.0.0.1:4566", true},
		"baseline":      {"tvm-bench baseline ready on http://127.0.0.1:3999", "127.0.0.1:3999", true},
		"https":         {"tvm-local ready on https://127.0.0.1:443 (tls)", "127.0.0.1:443", true},
		"other msg":     {`{"msg":"tvm-local listening","address":"127.0.0.1:1"}`, "", false},
		"ready no addr": {`{"msg":"ready","addr":""}`, "", false},
		"quoted ready":  {`{"msg":"warming","note":"ready","addr":"127.0.0.1:1"}`, "", false},
		"not json":      {`{"msg":"ready","addr":`, "", false},
		"prose":         {"the server is ready on http://127.0.0.1:1", "", false},
		"empty":         {"", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := Parse([]byte(tc.line))
			if got != tc.want || ok != tc.ok {
				t.Errorf("Parse(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestWatcherSplitWrites: a ready line arriving in pieces, after other
// lines and a line longer than maxLine (passed over, even where its tail
// looks like a ready line), is found once; later ready lines do not change
// the address.
func TestWatcherSplitWrites(t *testing.T) {
	w := New()
	if w.Addr() != "" {
		t.Fatal("Addr before any output")
	}
	s := w.Stream()
	input := strings.Repeat("z", maxLine+1) + "tvm-local ready on http://127.0.0.1:9 (the tail of a long line)\n" +
		"starting\n" + `{"msg":"ready","addr":"127.0.0.1:4242"}` + "\n" + `{"msg":"ready","addr":"127.0.0.1:1"}` + "\n"
	for i := 0; i < len(input); i += 7 {
		if n, err := s.Write([]byte(input[i:min(i+7, len(input))])); err != nil || n != min(7, len(input)-i) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	select {
	case <-w.Found():
	default:
		t.Fatal("ready line not found")
	}
	if got := w.Addr(); got != "127.0.0.1:4242" {
		t.Errorf("Addr = %q, want 127.0.0.1:4242", got)
	}
}

// TestWatcherStreams: two streams written at once, the ready line on one
// of them; the race detector checks the watcher.
func TestWatcherStreams(t *testing.T) {
	w := New()
	var wg sync.WaitGroup
	for i, out := range []string{"noise\n", "tvm-local ready on http://127.0.0.1:77 (x)\n"} {
		s := w.Stream()
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(s, "line %d of stream %d\n", j, i)
			}
			fmt.Fprint(s, out)
		})
	}
	wg.Wait()
	<-w.Found()
	if got := w.Addr(); got != "127.0.0.1:77" {
		t.Errorf("Addr = %q", got)
	}
}
