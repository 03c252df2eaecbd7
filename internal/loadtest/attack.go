package loadtest

import (
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Attack modes.
const (
	modeSaturation = "saturation"
	modeRate       = "rate"
)

// run is the outcome of one attack on one server.
type run struct {
	server, mode string
	throughput   float64         // 200 answers a second
	ok, errors   int             // 200 answers, anything else
	codes        map[int]int     // statuses other than 200 (0: transport error)
	latencies    []time.Duration // of the 200 answers, sorted
	rss          int64           // the server's RSS after the attack
	serverCPU    time.Duration   // CPU time the server used during the attack
	clientCPU    time.Duration   // CPU time this process (the load generator) used
}

// cpuPerRequest returns the server's CPU time per answer.
func (r *run) cpuPerRequest() time.Duration {
	if n := r.ok + r.errors; n > 0 {
		return r.serverCPU / time.Duration(n)
	}
	return 0
}

// quantile returns the q-quantile (0..1) of the sorted latencies.
func (r *run) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.latencies)))
	return r.latencies[min(i, len(r.latencies)-1)]
}

// attackSpec says how to load a server.
type attackSpec struct {
	mode        string
	rate        int           // requests a second for modeRate
	connections int           // workers (modeSaturation: exactly; modeRate: to start with)
	duration    time.Duration // how long to offer load; 0 with limit: until limit requests
	limit       int           // stop after this many requests (0: no limit)
}

// roundRobin returns a targeter cycling through tokens (stopping after
// limit targets when limit > 0).
func roundRobin(url string, tokens []string, limit int) vegeta.Targeter {
	headers := make([]http.Header, len(tokens))
	for i, t := range tokens {
		headers[i] = http.Header{"Authorization": {"Bearer " + t}}
	}
	var n atomic.Int64
	return func(t *vegeta.Target) error {
		i := n.Add(1) - 1
		if limit > 0 && i >= int64(limit) {
			return vegeta.ErrNoTargets
		}
		t.Method, t.URL, t.Header = http.MethodGet, url, headers[i%int64(len(headers))]
		return nil
	}
}

// attack loads p as spec says with tokens and returns the outcome.
func attack(p *proc, tokens []string, spec attackSpec) (*run, error) {
	workers := uint64(spec.connections)
	maxWorkers := workers
	pacer := vegeta.Pacer(vegeta.ConstantPacer{}) // zero: as fast as the workers go
	if spec.mode == modeRate {
		pacer = vegeta.ConstantPacer{Freq: spec.rate, Per: time.Second}
		maxWorkers = 1024 // an open loop: a slow server gets more concurrent requests, not fewer
	}
	atk := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers),
		vegeta.Connections(int(maxWorkers)), vegeta.KeepAlive(true), vegeta.MaxBody(0),
		vegeta.Timeout(30*time.Second))
	r := &run{server: p.name, mode: spec.mode, codes: map[int]int{}}
	var m vegeta.Metrics
	serverCPU0, err := cpuTime(p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	clientCPU0, err := cpuTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	for res := range atk.Attack(roundRobin(p.url(BaselineRoute), tokens, spec.limit), pacer, spec.duration, p.name) {
		if res.Error == vegeta.ErrNoTargets.Error() {
			continue // the targeter's end, not a request
		}
		m.Add(res)
		if res.Code == http.StatusOK {
			r.ok++
			r.latencies = append(r.latencies, res.Latency)
		} else {
			r.errors++
			r.codes[int(res.Code)]++
		}
	}
	m.Close()
	serverCPU1, err := cpuTime(p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	clientCPU1, err := cpuTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	r.serverCPU, r.clientCPU = serverCPU1-serverCPU0, clientCPU1-clientCPU0
	slices.Sort(r.latencies)
	if m.Duration+m.Wait > 0 {
		r.throughput = float64(r.ok) / (m.Duration + m.Wait).Seconds()
	}
	r.rss, err = p.rss()
	return r, err
}
