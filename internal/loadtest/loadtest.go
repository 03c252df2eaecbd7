// Package loadtest drives open-loop HTTP load at a server with vegeta
// (github.com/tsenart/vegeta/v12) and summarizes it: one or more streams,
// each at a constant rate from its own source address, running together
// for a duration. The broker's pre-auth limit measurement uses it
// (docs/operations.md); a performance harness can too.
//
// A stream's source address (Stream.Source, e.g. 127.0.0.2) is the local
// address its connections bind to, so that a server sees distinct clients
// on one machine (Linux routes all of 127.0.0.0/8 to the loopback).
//
// # Concurrency
//
// Run runs every stream's attacker on its own goroutines and returns when
// all are done (or ctx ends: the attacks stop). Summaries are values.
package loadtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
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

// runStream sends one stream, split over its sources.
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
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		targets[i] = vegeta.Target{Method: method, URL: r.URL, Header: r.Header, Body: r.Body}
	}
	var (
		mu sync.Mutex
		m  vegeta.Metrics
		wg sync.WaitGroup
	)
	for i, src := range sources {
		rate := s.Rate / len(sources)
		if i < s.Rate%len(sources) {
			rate++
		}
		tr, err := transport(src)
		if err != nil {
			return Summary{}, fmt.Errorf("loadtest: stream %s: %w", s.Name, err)
		}
		defer tr.CloseIdleConnections()
		a := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: orDefault(s.Timeout, 10*time.Second),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
		wg.Go(func() {
			results := a.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: time.Second}, d, s.Name)
			done := ctx.Done()
			for {
				select {
				case <-done:
					a.Stop()
					done = nil
				case r, ok := <-results:
					if !ok {
						return
					}
					mu.Lock()
					m.Add(r)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	m.Close()
	return summarizeMetrics(s.Name, &m), nil
}

// transport is a keep-alive transport whose connections come from src
// ("" = the system's choice); the caller closes its idle connections.
func transport(src string) (*http.Transport, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		ip := net.ParseIP(src)
		if ip == nil {
			return nil, fmt.Errorf("source %q is not an IP address", src)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}, nil
}

func summarizeMetrics(name string, m *vegeta.Metrics) Summary {
	s := Summary{Name: name, Requests: m.Requests, Rate: m.Rate, P50: m.Latencies.P50, P95: m.Latencies.P95,
		P99: m.Latencies.P99, Max: m.Latencies.Max, Status: map[int]int{}}
	for code, n := range m.StatusCodes {
		c, _ := strconv.Atoi(code)
		s.Status[c] += n
	}
	if len(m.Errors) > 5 {
		s.Errors = m.Errors[:5]
	} else {
		s.Errors = m.Errors
	}
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
