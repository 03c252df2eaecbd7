package loadtest

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func ms2(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestReportRatiosAndPlot(t *testing.T) {
	runs := []*run{}
	for round, f := range []float64{1, 3, 2} { // medians: the middle value
		runs = append(runs,
			&run{server: ServerBaseline, mode: modeSaturation, throughput: 1000 * f, ok: 10, latencies: []time.Duration{ms2(2)}, rss: 10 << 20},
			&run{server: ServerBaseline, mode: modeRate, throughput: 500, ok: 10, latencies: []time.Duration{ms2(1), ms2(4)}, rss: 12 << 20},
			&run{server: ServerBroker, mode: modeSaturation, throughput: 1500 * f, ok: 10, latencies: []time.Duration{ms2(1)}, rss: int64(20+round) << 20},
			&run{server: ServerBroker, mode: modeRate, throughput: 500, ok: 10, latencies: []time.Duration{ms2(1), ms2(2)}, errors: 1},
		)
	}
	rep := newReport(runs, LoadOptions{Rounds: 3, Duration: time.Second, Connections: 8, Rate: 500}, nil, "0.1", "0.2")
	text := rep.table()
	for _, want := range []string{"2000", "3000 (1.50×)", "2.00", "1.00 (0.50×)", "22.00 (1.83×)", "load average before 0.1, after 0.2"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if got := rep.sums[ServerBroker][modeRate].errors; got != 3 {
		t.Errorf("errors summed to %d, want 3", got)
	}
	svg := rep.svg()
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Fatalf("plot is not XML: %v", err)
	}
	if n := strings.Count(string(svg), "<polyline"); n != 2 {
		t.Errorf("plot has %d series, want 2", n)
	}
}

func TestCountAudit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "broker.log")
	lines := `{"msg":"http request","status":200}
{"msg":"vend","outcome":"ok"}
{"msg":"vend","outcome":"ok"}
{"msg":"vend","outcome":"rate_limited"}
{"msg":"ready"}
`
	if err := os.WriteFile(log, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	ok, failed, err := countAudit(log)
	if err != nil || ok != 2 || failed != 1 {
		t.Errorf("countAudit = %d, %d, %v; want 2, 1", ok, failed, err)
	}
}

func TestRoundRobinStopsAtLimit(t *testing.T) {
	tr := roundRobin(bearerTargets("http://127.0.0.1:1/v1/credentials", []string{"a", "b"}), 3)
	var got []string
	for {
		var tgt vegeta.Target
		if err := tr(&tgt); err != nil {
			if err != vegeta.ErrNoTargets {
				t.Fatal(err)
			}
			break
		}
		got = append(got, tgt.Header.Get("Authorization"))
	}
	if strings.Join(got, ",") != "Bearer a,Bearer b,Bearer a" {
		t.Errorf("targets %v", got)
	}
}

func TestSoakVerdict(t *testing.T) {
	samples := []sample{{0, 30 << 20, 100}, {5 * time.Second, 30 << 20, 100}, {55 * time.Second, 50 << 20, 200}}
	r := &soakResult{opts: SoakOptions{Duration: time.Minute, Connections: 1, Tenants: 1, Subjects: 1},
		run: &run{ok: 10}, samples: samples, audited: 9, warmOK: 0}
	_, failures := r.render(0)
	if len(failures) != 3 {
		t.Errorf("failures %v, want goroutine growth, RSS growth and a missing audit record", failures)
	}
	r.samples = []sample{{0, 30 << 20, 100}, {55 * time.Second, 31 << 20, 101}}
	r.audited = 10
	if _, failures := r.render(0); len(failures) != 0 {
		t.Errorf("failures %v, want none", failures)
	}
}

func TestProcStatus(t *testing.T) {
	rss, err := procStatus(os.Getpid(), "VmRSS:")
	if err != nil || rss <= 0 {
		t.Errorf("procStatus = %d, %v", rss, err)
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Error(err)
	}
}
