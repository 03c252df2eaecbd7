package loadtest

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// Names of the servers Load compares.
const (
	ServerBaseline     = "baseline"
	ServerBroker       = "broker"
	ServerNoTokenCache = "broker-no-token-cache"
	ServerNoCredCache  = "broker-no-cred-cache"
)

// LoadOptions configures Load. Zero fields take the defaults
// (DefaultLoadOptions).
type LoadOptions struct {
	// Root is the module's directory (the binaries are built from it).
	Root string
	// Out is the directory report.txt and latency.svg are written to.
	Out string
	// Rounds of alternating attacks; default 3.
	Rounds int
	// Duration of each attack; default 10s.
	Duration time.Duration
	// Connections at saturation; default 64.
	Connections int
	// Rate is the constant offered rate, requests a second; default 5000.
	Rate int
	// Tenants whose credentials are cached for the RSS figure; default 10000.
	Tenants int
}

// DefaultLoadOptions returns Load's defaults (Root and Out empty).
func DefaultLoadOptions() LoadOptions {
	return LoadOptions{Rounds: 3, Duration: 10 * time.Second, Connections: 64, Rate: 5000, Tenants: 10000}
}

func (o *LoadOptions) setDefaults() {
	d := DefaultLoadOptions()
	o.Rounds, o.Duration, o.Connections = orDefault(o.Rounds, d.Rounds), orDefault(o.Duration, d.Duration), orDefault(o.Connections, d.Connections)
	o.Rate, o.Tenants = orDefault(o.Rate, d.Rate), orDefault(o.Tenants, d.Tenants)
}

// Load runs the side-by-side measurement (see the package documentation),
// prints the table to w and writes it and the plot to o.Out.
func Load(ctx context.Context, o LoadOptions, w io.Writer) error {
	o.setDefaults()
	before := loadAverage()
	var rep *report
	err := withStack(ctx, o.Root, "tvm-bench-", true, []BrokerVariant{
		{Name: ServerBroker},
		{Name: ServerNoTokenCache, NoTokenCache: true},
		{Name: ServerNoCredCache, NoCredentialCache: true},
	}, func(st *stack) error {
		// One token for every attack: the same RS256 token, against the same JWK Set.
		one, err := st.mint(1, 1, 2*time.Hour)
		if err != nil {
			return err
		}
		runs, err := loadRounds(ctx, st, one, o, w)
		if err != nil {
			return err
		}
		tenants, err := cacheTenants(ctx, st, o, w)
		rep = newReport(runs, o, tenants, before, loadAverage())
		return err
	})
	if err != nil {
		return err
	}
	text := rep.table()
	fmt.Fprint(w, text)
	if err := writeOutput(o.Out, "report.txt", []byte(text)); err != nil {
		return err
	}
	return writeOutput(o.Out, "latency.svg", rep.svg())
}

// loadRounds warms every server up, then runs o.Rounds rounds; each round
// loads every server in turn, at saturation and then at the constant rate
// (not the broker without a credential cache, which cannot sustain it).
func loadRounds(ctx context.Context, st *stack, tokens []string, o LoadOptions, w io.Writer) ([]*run, error) {
	sat := attackSpec{connections: o.Connections, duration: o.Duration}
	rate := attackSpec{rate: o.Rate, connections: o.Connections, maxInFlight: openLoopConnections, duration: o.Duration}
	warm := sat
	warm.duration = 2 * time.Second
	for _, p := range st.servers {
		if _, err := attack(ctx, p, tokens, warm); err != nil {
			return nil, err
		}
	}
	var runs []*run
	for round := 1; round <= o.Rounds; round++ {
		for _, p := range st.servers {
			specs := []attackSpec{sat, rate}
			if p.name == ServerNoCredCache {
				specs = specs[:1]
			}
			for _, spec := range specs {
				r, err := attack(ctx, p, tokens, spec)
				if err == nil {
					err = ctx.Err()
				}
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(w, "round %d %-22s %-10s %8.0f req/s  p50 %-9s p99 %-9s p99.9 %-9s errors %d %v  RSS %.1f MiB  CPU/req server %s client %s\n",
					round, r.server, r.mode, r.throughput, r.quantile(.5), r.quantile(.99), r.quantile(.999),
					r.errors, r.codes, float64(r.rss)/(1<<20), r.cpuPerRequest(), r.clientCPU/time.Duration(max(r.ok+r.errors, 1)))
				runs = append(runs, r)
			}
		}
	}
	return runs, nil
}

// tenantsRSS is the broker's memory with many tenants' credentials cached.
type tenantsRSS struct {
	name       string
	env        []string
	tenants    int
	errors     int
	throughput float64
	before     int64   // RSS before the tenants' first requests
	after      int64   // after the saturation over every tenant
	peak       int64   // VmHWM
	heap       float64 // go_memstats_heap_alloc_bytes after the saturation
}

// cacheTenants runs tenantsOn on a fresh broker with default settings and
// on one with a soft memory limit (GOMEMLIMIT).
func cacheTenants(ctx context.Context, st *stack, o LoadOptions, w io.Writer) ([]*tenantsRSS, error) {
	fmt.Fprintf(w, "minting %d tokens\n", o.Tenants)
	tokens, err := st.mint(o.Tenants, 1, 2*time.Hour)
	if err != nil {
		return nil, err
	}
	var out []*tenantsRSS
	for _, v := range []BrokerVariant{{Name: "broker-tenants"}, {Name: "broker-tenants-memlimit", Env: []string{"GOMEMLIMIT=48MiB"}}} {
		t, err := tenantsOn(ctx, st, v, tokens, o, w)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// tenantsOn starts a fresh broker, sends one request for each token (one
// tenant each: that many AssumeRole calls, cached sets and cached tokens),
// then loads it at saturation over all of them, and reports its memory.
func tenantsOn(ctx context.Context, st *stack, v BrokerVariant, tokens []string, o LoadOptions, w io.Writer) (*tenantsRSS, error) {
	if err := st.startBroker(filepath.Join(st.dir, "bin", "tvm-broker"), v); err != nil {
		return nil, err
	}
	p := st.server(v.Name)
	fmt.Fprintf(w, "caching %d tenants' credentials in a fresh broker %v\n", len(tokens), v.Env)
	t := &tenantsRSS{name: v.Name, env: v.Env, tenants: len(tokens)}
	var err error
	if t.before, err = p.rss(); err != nil {
		return nil, err
	}
	fill, err := attack(ctx, p, tokens, fillSpec(tokens))
	if err != nil {
		return nil, err
	}
	r, err := attack(ctx, p, tokens, attackSpec{connections: o.Connections, duration: o.Duration})
	if err != nil {
		return nil, err
	}
	t.errors, t.after, t.throughput = fill.errors+r.errors, r.rss, r.throughput
	t.heap = metricValue(p, "go_memstats_heap_alloc_bytes")
	t.peak, err = procStatus(p.cmd.Process.Pid, "VmHWM:")
	return t, err
}
