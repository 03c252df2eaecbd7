package loadtest

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The attack core: every load this package sends — Run's streams, Load's
// rounds, Soak's soak — is one or more attacks sent by fire and counted by
// a tally.

// Defaults of an attack.
const (
	// defaultTimeout bounds each request of an attack.
	defaultTimeout = 30 * time.Second
	// openLoopConnections is how many idle connections an open loop keeps
	// per host, and the most concurrent requests of Load's open loop.
	openLoopConnections = 1024
)

// attackSpec says how to send one attack.
type attackSpec struct {
	// rate is the requests a second of an open loop; 0 is a closed loop:
	// each worker sends its next request when the last is answered.
	rate int
	// connections is the workers: exactly, in a closed loop; to start
	// with, in an open loop (which adds workers when they are all busy).
	connections int
	// maxInFlight bounds the workers of an open loop (0: no bound).
	maxInFlight int
	// duration is how long to offer load; 0 with limit: until limit
	// requests are sent.
	duration time.Duration
	// limit stops the attack after that many requests (0: no limit).
	limit int
	// source is the IP address the connections come from ("": the
	// system's choice).
	source string
	// timeout bounds each request; default defaultTimeout.
	timeout time.Duration
}

// mode names the loop of s: modeRate (open) or modeSaturation (closed).
func (s attackSpec) mode() string {
	if s.rate > 0 {
		return modeRate
	}
	return modeSaturation
}

// tally is what attacks measured: vegeta's metrics, the answers by status
// and the latencies of the 200 answers. Several attacks may add to one
// tally at once; read it after close.
type tally struct {
	mu      sync.Mutex
	metrics vegeta.Metrics
	status  map[int]int     // answers by HTTP status; 0 counts transport errors
	ok      []time.Duration // latencies of the 200 answers, sorted after close
}

// add counts one result; the targeter's end (vegeta.ErrNoTargets) is not a
// request and is passed over.
func (t *tally) add(r *vegeta.Result) {
	if r.Error == vegeta.ErrNoTargets.Error() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.metrics.Add(r)
	if t.status == nil {
		t.status = map[int]int{}
	}
	t.status[int(r.Code)]++
	if r.Code == http.StatusOK {
		t.ok = append(t.ok, r.Latency)
	}
}

// close computes the metrics once every attack has ended.
func (t *tally) close() {
	t.metrics.Close()
	slices.Sort(t.ok)
}

// fire sends one attack named name as spec says, its targets from tr, into
// t, and returns when it has ended — or ctx has, which stops it.
func fire(ctx context.Context, name string, tr vegeta.Targeter, spec attackSpec, t *tally) error {
	atk, transport, err := newAttacker(spec)
	if err != nil {
		return err
	}
	defer transport.CloseIdleConnections()
	pacer := vegeta.Pacer(vegeta.ConstantPacer{}) // zero: as fast as the workers go
	if spec.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: spec.rate, Per: time.Second}
	}
	results := atk.Attack(tr, pacer, spec.duration, name)
	done := ctx.Done()
	for {
		select {
		case <-done:
			atk.Stop()
			done = nil
		case r, ok := <-results:
			if !ok {
				return nil
			}
			t.add(r)
		}
	}
}

// newAttacker returns an attacker for spec on its own keep-alive transport
// (the caller closes its idle connections), following no redirects and
// reading no bodies.
func newAttacker(spec attackSpec) (*vegeta.Attacker, *http.Transport, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if spec.source != "" {
		ip := net.ParseIP(spec.source)
		if ip == nil {
			return nil, nil, fmt.Errorf("source %q is not an IP address", spec.source)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	workers := uint64(max(spec.connections, 1))
	maxWorkers, idle := workers, int(workers)
	if spec.rate > 0 {
		// An open loop: a slow server gets more concurrent requests, not fewer.
		maxWorkers, idle = math.MaxUint64, openLoopConnections
		if spec.maxInFlight > 0 {
			maxWorkers = uint64(spec.maxInFlight)
		}
	}
	transport := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: idle, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: transport, Timeout: orDefault(spec.timeout, defaultTimeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers), vegeta.MaxBody(0))
	return atk, transport, nil
}

// roundRobin returns a targeter cycling through targets (stopping after
// limit targets when limit > 0). It is safe for concurrent use.
func roundRobin(targets []vegeta.Target, limit int) vegeta.Targeter {
	var n atomic.Int64
	return func(t *vegeta.Target) error {
		i := n.Add(1) - 1
		if limit > 0 && i >= int64(limit) {
			return vegeta.ErrNoTargets
		}
		*t = targets[i%int64(len(targets))]
		return nil
	}
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
