package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// SoakOptions configures Soak. Zero fields take the defaults
// (DefaultSoakOptions).
type SoakOptions struct {
	// Root is the module's directory (the binaries are built from it).
	Root string
	// Out is the directory soak.txt is written to.
	Out string
	// Duration of the load; default 60s.
	Duration time.Duration
	// Connections kept busy (closed loop); default 64.
	Connections int
	// Tenants and Subjects per tenant: Tenants×Subjects tokens, used in
	// turn; defaults 500 and 4.
	Tenants, Subjects int
}

// sample is one reading of the broker's state during the soak.
type sample struct {
	at         time.Duration
	rss        int64
	goroutines int
}

// soakResult is what Soak reports.
type soakResult struct {
	opts          SoakOptions
	run           *run
	samples       []sample
	audited       int // audit records with outcome ok
	auditFailed   int // audit records with another outcome
	warmOK        int // 200 answers before the soak (token and cache warm-up)
	before, after string
}

// Soak runs the broker (with the credential and token caches) under a
// closed-loop load of o.Connections for o.Duration through many tenants and
// subjects, sampling its RSS and goroutines every second, then stops it
// (so that its log is flushed) and counts its audit records against the
// 200 answers. It returns an error when the soak failed: a non-200 answer,
// growth of the goroutines or RSS from the first to the last 10 s, or an
// answer without its audit record.
func Soak(ctx context.Context, o SoakOptions, w io.Writer) error {
	o.setDefaults()
	res := &soakResult{opts: o, before: loadAverage()}
	var warmErrors int
	err := withStack(ctx, o.Root, "tvm-soak-", false, []BrokerVariant{{Name: ServerBroker}}, func(st *stack) error {
		p := st.server(ServerBroker)
		fmt.Fprintf(w, "minting %d tokens (%d tenants × %d subjects)\n", o.Tenants*o.Subjects, o.Tenants, o.Subjects)
		tokens, err := st.mint(o.Tenants, o.Subjects, 2*time.Hour)
		if err != nil {
			return err
		}
		// Warm up: every token once, so the soak starts with the caches filled.
		warm, err := attack(ctx, p, tokens, fillSpec(tokens))
		if err != nil {
			return err
		}
		res.warmOK, warmErrors = warm.ok, warm.errors
		fmt.Fprintf(w, "soaking %s for %s with %d connections\n", p.name, o.Duration, o.Connections)
		if res.run, res.samples, err = soakLoad(ctx, p, tokens, o); err != nil {
			return err
		}
		if err := p.stop(); err != nil { // flushes its log
			return err
		}
		res.audited, res.auditFailed, err = countAudit(p.log)
		return err
	})
	if err != nil {
		return err
	}
	res.after = loadAverage()
	text, failures := res.render(warmErrors)
	fmt.Fprint(w, text)
	if err := writeOutput(o.Out, "soak.txt", []byte(text)); err != nil {
		return err
	}
	if len(failures) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(failures, "; "))
	}
	return nil
}

// DefaultSoakOptions returns Soak's defaults (Root and Out empty).
func DefaultSoakOptions() SoakOptions {
	return SoakOptions{Duration: 60 * time.Second, Connections: 64, Tenants: 500, Subjects: 4}
}

func (o *SoakOptions) setDefaults() {
	d := DefaultSoakOptions()
	o.Duration, o.Connections = orDefault(o.Duration, d.Duration), orDefault(o.Connections, d.Connections)
	o.Tenants, o.Subjects = orDefault(o.Tenants, d.Tenants), orDefault(o.Subjects, d.Subjects)
}

// fillSpec sends each of tokens once, on 16 connections: the broker
// verifies and caches each token, and the credentials of its tenant.
func fillSpec(tokens []string) attackSpec {
	return attackSpec{connections: 16, limit: len(tokens)}
}

// soakLoad attacks p while sampling it every second.
func soakLoad(ctx context.Context, p *proc, tokens []string, o SoakOptions) (*run, []sample, error) {
	stop := make(chan struct{})
	got := make(chan []sample, 1)
	go func() {
		var samples []sample
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				got <- samples
				return
			case <-tick.C:
				rss, _ := p.rss()
				samples = append(samples, sample{at: time.Since(start), rss: rss, goroutines: goroutines(p)})
			}
		}
	}()
	r, err := attack(ctx, p, tokens, attackSpec{connections: o.Connections, duration: o.Duration})
	close(stop)
	return r, <-got, err
}

// goroutines reads go_goroutines from the broker's /metrics (-1 if it
// cannot).
func goroutines(p *proc) int {
	return int(metricValue(p, "go_goroutines"))
}

// metricValue reads an unlabelled metric from the process's /metrics (-1
// if it cannot).
func metricValue(p *proc, name string) float64 {
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(p.url("/metrics"))
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	s := bufio.NewScanner(res.Body)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+" "); ok {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// countAudit counts the audit records ("msg":"vend") in a broker log:
// those with outcome ok and the others.
func countAudit(path string) (ok, failed int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"msg":"vend"`)) {
			continue
		}
		if bytes.Contains(line, []byte(`"outcome":"ok"`)) {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed, nil
}

// window averages the samples taken in [from, to).
func window(samples []sample, from, to time.Duration) (rss float64, gor float64) {
	n := 0
	for _, s := range samples {
		if s.at >= from && s.at < to {
			rss += float64(s.rss)
			gor += float64(s.goroutines)
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return rss / float64(n), gor / float64(n)
}

// render formats the result and lists what failed.
func (r *soakResult) render(warmErrors int) (string, []string) {
	var b strings.Builder
	var failures []string
	d := r.opts.Duration
	rss0, gor0 := window(r.samples, 0, 10*time.Second)
	rss1, gor1 := window(r.samples, d-10*time.Second, d+time.Second)
	fmt.Fprintf(&b, "tvm-bench soak, %s, %s, load average before %s, after %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), cpuModel(), r.before, r.after)
	fmt.Fprintf(&b, "%s, %d connections, %d tenants × %d subjects (%d tokens)\n", d, r.opts.Connections,
		r.opts.Tenants, r.opts.Subjects, r.opts.Tenants*r.opts.Subjects)
	fmt.Fprintf(&b, "requests: %d answered 200 (%.0f req/s), %d other %v (warm-up: %d 200, %d other)\n",
		r.run.ok, r.run.throughput, r.run.errors, r.run.codes, r.warmOK, warmErrors)
	fmt.Fprintf(&b, "goroutines: %.1f in the first 10 s, %.1f in the last 10 s\n", gor0, gor1)
	fmt.Fprintf(&b, "RSS: %.1f MiB in the first 10 s, %.1f MiB in the last 10 s\n", rss0/(1<<20), rss1/(1<<20))
	fmt.Fprintf(&b, "audit records: %d ok (200 answers: %d), %d other\n", r.audited, r.run.ok+r.warmOK, r.auditFailed)
	if r.run.errors+warmErrors > 0 {
		failures = append(failures, "non-200 answers")
	}
	if gor1 > gor0*1.1+5 || gor0 <= 0 {
		failures = append(failures, "goroutines grew (or could not be read)")
	}
	if rss1 > rss0*1.2 {
		failures = append(failures, "RSS grew by more than 20 %")
	}
	if r.audited != r.run.ok+r.warmOK || r.auditFailed != warmErrors+r.run.errors {
		failures = append(failures, "audit records do not match the answers")
	}
	verdict := "PASS"
	if len(failures) > 0 {
		verdict = "FAIL: " + strings.Join(failures, "; ")
	}
	fmt.Fprintf(&b, "verdict: %s\n", verdict)
	return b.String(), failures
}
