package loadtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of a stream.
const (
	// streamTimeout bounds each request of a stream unless it sets Timeout.
	streamTimeout = 10 * time.Second
	// streamWorkers is the workers a stream's attacker starts with (it adds
	// more when they are all busy).
	streamWorkers = 10
)

// Stream is one kind of request sent at a constant rate.
type Stream struct {
	// Name labels the stream in its summary.
	Name string
	// Rate is the requests per second.
	Rate int
	// Requests are sent round-robin.
	Requests []Request
	// Source, when set, is the IP address the stream's connections come
	// from; Sources, when set, spreads the stream evenly over several
	// addresses (one attacker each).
	Source  string
	Sources []string
	// Timeout bounds each request; default 10 s.
	Timeout time.Duration
}

// Request is one HTTP request of a stream.
type Request struct {
	Method, URL string
	Header      http.Header
	Body        []byte
}

// Summary is what a stream measured.
type Summary struct {
	Name     string
	Requests uint64
	// Rate is the achieved sending rate (requests/s).
	Rate float64
	// Latency percentiles over every request.
	P50, P95, P99, Max time.Duration
	// Status counts the answers by HTTP status; 0 counts transport errors.
	Status map[int]int
	// Errors lists up to 5 distinct transport errors.
	Errors []string
}

// Count returns how many answers had one of statuses.
func (s Summary) Count(statuses ...int) int {
	n := 0
	for _, st := range statuses {
		n += s.Status[st]
	}
	return n
}

// String renders the summary on one line.
func (s Summary) String() string {
	codes := make([]int, 0, len(s.Status))
	for c := range s.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s.Status[c], c))
	}
	return fmt.Sprintf("%s: %d requests at %.0f/s, p50 %s p95 %s p99 %s max %s, statuses %s",
		s.Name, s.Requests, s.Rate, s.P50.Round(time.Microsecond), s.P95.Round(time.Microsecond),
		s.P99.Round(time.Microsecond), s.Max.Round(time.Microsecond), strings.Join(parts, " "))
}

// Run sends every stream for d, all at once, and returns a summary per
// stream, in order.
func Run(ctx context.Context, d time.Duration, streams ...Stream) ([]Summary, error) {
	out := make([]Summary, len(streams))
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() { out[i], errs[i] = runStream(ctx, d, s) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runStream sends one stream, split over its sources (one attack each,
// together, into one tally).
func runStream(ctx context.Context, d time.Duration, s Stream) (Summary, error) {
	sources := s.Sources
	if len(sources) == 0 {
		sources = []string{s.Source}
	}
	if s.Rate < len(sources) || len(s.Requests) == 0 {
		return Summary{}, fmt.Errorf("loadtest: stream %s: a rate of at least one request per second per source, and requests, are required", s.Name)
	}
	targets := make([]vegeta.Target, len(s.Requests))
	for i, r := range s.Requests {
		targets[i] = vegeta.Target{Method: cmp.Or(r.Method, http.MethodGet), URL: r.URL, Header: r.Header, Body: r.Body}
	}
	var (
		t    tally
		wg   sync.WaitGroup
		errs = make([]error, len(sources))
	)
	for i, src := range sources {
		spec := attackSpec{rate: s.Rate / len(sources), connections: streamWorkers, duration: d, source: src,
			timeout: orDefault(s.Timeout, streamTimeout)}
		if i < s.Rate%len(sources) {
			spec.rate++
		}
		wg.Go(func() { errs[i] = fire(ctx, s.Name, roundRobin(targets, 0), spec, &t) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Summary{}, fmt.Errorf("loadtest: stream %s: %w", s.Name, err)
	}
	t.close()
	return t.summary(s.Name), nil
}

// summary is the Summary of the tally named name.
func (t *tally) summary(name string) Summary {
	m := &t.metrics
	s := Summary{Name: name, Requests: m.Requests, Rate: m.Rate, P50: m.Latencies.P50, P95: m.Latencies.P95,
		P99: m.Latencies.P99, Max: m.Latencies.Max, Status: maps.Clone(t.status)}
	if s.Status == nil {
		s.Status = map[int]int{}
	}
	s.Errors = m.Errors[:min(len(m.Errors), 5)]
	return s
}
