package loadtest

import (
	"context"
	"maps"
	"net/http"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Attack modes of Load's rounds.
const (
	modeSaturation = "saturation" // a closed loop
	modeRate       = "rate"       // an open loop at a constant rate
)

// run is the outcome of one attack on one server process.
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
func (r *run) quantile(q float64) time.Duration { return quantileOf(r.latencies, q) }

// bearerTargets returns one GET of url per token, the token as its bearer.
func bearerTargets(url string, tokens []string) []vegeta.Target {
	targets := make([]vegeta.Target, len(tokens))
	for i, t := range tokens {
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: url, Header: http.Header{"Authorization": {"Bearer " + t}}}
	}
	return targets
}

// attack loads p's credentials route as spec says, the tokens in turn, and
// returns the outcome with the CPU time p and this process used meanwhile.
func attack(ctx context.Context, p *proc, tokens []string, spec attackSpec) (*run, error) {
	before, err := cpuTimes(p)
	if err != nil {
		return nil, err
	}
	var t tally
	if err := fire(ctx, p.name, roundRobin(bearerTargets(p.url(BaselineRoute), tokens), spec.limit), spec, &t); err != nil {
		return nil, err
	}
	t.close()
	after, err := cpuTimes(p)
	if err != nil {
		return nil, err
	}
	r := &run{server: p.name, mode: spec.mode(), ok: len(t.ok), latencies: t.ok, codes: maps.Clone(t.status),
		serverCPU: after[0] - before[0], clientCPU: after[1] - before[1]}
	delete(r.codes, http.StatusOK)
	for _, n := range r.codes {
		r.errors += n
	}
	if d := t.metrics.Duration + t.metrics.Wait; d > 0 {
		r.throughput = float64(r.ok) / d.Seconds()
	}
	r.rss, err = p.rss()
	return r, err
}

// cpuTimes returns the CPU time p and this process have used.
func cpuTimes(p *proc) ([2]time.Duration, error) {
	var out [2]time.Duration
	for i, pid := range []int{p.cmd.Process.Pid, os.Getpid()} {
		var err error
		if out[i], err = cpuTime(pid); err != nil {
			return out, err
		}
	}
	return out, nil
}
