package loadtest

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// summary is the median over rounds of one server's runs in one mode.
type summary struct {
	throughput      float64
	p50, p99, p999  time.Duration
	rss             int64         // the largest after any run
	cpu             time.Duration // the server's CPU time per answer
	errors, samples int
}

// report holds everything Load prints.
type report struct {
	opts          LoadOptions
	servers       []string
	sums          map[string]map[string]*summary // server -> mode -> summary
	merged        map[string][]time.Duration     // server -> sorted latencies at the constant rate
	tenants       []*tenantsRSS
	before, after string // load averages
}

func newReport(runs []*run, o LoadOptions, tenants []*tenantsRSS, before, after string) *report {
	rep := &report{opts: o, sums: map[string]map[string]*summary{}, merged: map[string][]time.Duration{},
		tenants: tenants, before: before, after: after}
	grouped := map[string]map[string][]*run{}
	for _, r := range runs {
		if grouped[r.server] == nil {
			grouped[r.server] = map[string][]*run{}
			rep.sums[r.server] = map[string]*summary{}
			rep.servers = append(rep.servers, r.server)
		}
		grouped[r.server][r.mode] = append(grouped[r.server][r.mode], r)
		if r.mode == modeRate {
			rep.merged[r.server] = append(rep.merged[r.server], r.latencies...)
		}
	}
	for server, modes := range grouped {
		for mode, rs := range modes {
			rep.sums[server][mode] = summarize(rs)
		}
		if sat, rate := rep.sums[server][modeSaturation], rep.sums[server][modeRate]; sat != nil && rate != nil {
			sat.rss = max(sat.rss, rate.rss) // the peak RSS row covers every run
		}
		slices.Sort(rep.merged[server])
	}
	return rep
}

// summarize takes the median of each figure over rs.
func summarize(rs []*run) *summary {
	s := &summary{}
	s.throughput = median(rs, func(r *run) float64 { return r.throughput })
	s.p50 = time.Duration(median(rs, func(r *run) float64 { return float64(r.quantile(.5)) }))
	s.p99 = time.Duration(median(rs, func(r *run) float64 { return float64(r.quantile(.99)) }))
	s.p999 = time.Duration(median(rs, func(r *run) float64 { return float64(r.quantile(.999)) }))
	s.cpu = time.Duration(median(rs, func(r *run) float64 { return float64(r.cpuPerRequest()) }))
	for _, r := range rs {
		s.rss = max(s.rss, r.rss)
		s.errors += r.errors
		s.samples += r.ok
	}
	return s
}

func median(rs []*run, f func(*run) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// row is one line of the table: a label and each server's figure.
type row struct {
	label string
	mode  string
	value func(*summary) float64
	unit  string // "req/s", "ms", "MiB"
}

var rows = []row{
	{"throughput", modeSaturation, func(s *summary) float64 { return s.throughput }, "req/s"},
	{"p50", modeSaturation, func(s *summary) float64 { return ms(s.p50) }, "ms"},
	{"p99", modeSaturation, func(s *summary) float64 { return ms(s.p99) }, "ms"},
	{"p99.9", modeSaturation, func(s *summary) float64 { return ms(s.p999) }, "ms"},
	{"p50", modeRate, func(s *summary) float64 { return ms(s.p50) }, "ms"},
	{"p99", modeRate, func(s *summary) float64 { return ms(s.p99) }, "ms"},
	{"p99.9", modeRate, func(s *summary) float64 { return ms(s.p999) }, "ms"},
	{"server CPU/request", modeSaturation, func(s *summary) float64 { return float64(s.cpu) / 1e3 }, "µs"},
	{"server CPU/request", modeRate, func(s *summary) float64 { return float64(s.cpu) / 1e3 }, "µs"},
	{"RSS after any run, max", modeSaturation, func(s *summary) float64 { return float64(s.rss) / (1 << 20) }, "MiB"},
	{"non-200 answers", modeSaturation, func(s *summary) float64 { return float64(s.errors) }, ""},
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// table renders the report as text: figures with their ratio to the
// baseline measured in the same run.
func (rep *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tvm-bench load, %s, %s (%d cores), %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "load average before %s, after %s\n", rep.before, rep.after)
	fmt.Fprintf(&b, "%d alternating rounds of %s per server and mode, medians; saturation: %d connections (closed loop); rate: %d req/s offered (open loop)\n\n",
		rep.opts.Rounds, rep.opts.Duration, rep.opts.Connections, rep.opts.Rate)
	fmt.Fprintf(&b, "%-28s", "")
	for _, s := range rep.servers {
		fmt.Fprintf(&b, "%24s", s)
	}
	b.WriteString("\n")
	for _, r := range rows {
		label := r.label + " @ " + r.mode
		if r.mode == modeRate {
			label = fmt.Sprintf("%s @ %d/s", r.label, rep.opts.Rate)
		}
		if r.unit != "" {
			label += " (" + r.unit + ")"
		}
		fmt.Fprintf(&b, "%-28s", label)
		base := rep.sums[ServerBaseline][r.mode]
		for _, s := range rep.servers {
			fmt.Fprintf(&b, "%24s", rep.cell(r, rep.sums[s][r.mode], base, s == ServerBaseline))
		}
		b.WriteString("\n")
	}
	for _, t := range rep.tenants {
		fmt.Fprintf(&b, "\n%s %v: %d tenants' credentials cached (one request each, then %s at saturation over all of them):\n"+
			"  RSS %.1f MiB (%.1f MiB before the tenants' first requests, peak %.1f MiB), Go heap %.1f MiB; %.0f req/s; non-200 answers: %d\n",
			t.name, t.env, t.tenants, rep.opts.Duration, float64(t.after)/(1<<20), float64(t.before)/(1<<20),
			float64(t.peak)/(1<<20), t.heap/(1<<20), t.throughput, t.errors)
	}
	return b.String()
}

// cell formats one figure with its ratio to the baseline's.
func (rep *report) cell(r row, s, base *summary, isBase bool) string {
	if s == nil {
		return "-"
	}
	v := r.value(s)
	text := fmt.Sprintf("%.2f", v)
	switch r.unit {
	case "req/s":
		text = fmt.Sprintf("%.0f", v)
	case "":
		text = fmt.Sprintf("%.0f", v)
	}
	if isBase || base == nil || r.unit == "" || r.value(base) == 0 {
		return text
	}
	return fmt.Sprintf("%s (%.2f×)", text, v/r.value(base))
}

// svg plots the latency distribution at the constant rate: latency
// against percentile, the percentile axis stretched towards the tail
// (x = log10(1/(1-q)), as HdrHistogram plots do).
func (rep *report) svg() []byte {
	const w, h, left, right, top, bottom = 760.0, 420.0, 70.0, 190.0, 40.0, 50.0
	const maxX = 4.0 // 99.99 %
	yMax := 0.0
	for _, lat := range rep.merged {
		yMax = max(yMax, ms(quantileOf(lat, 0.9999)))
	}
	yMax = niceCeil(yMax)
	px := func(x float64) float64 { return left + x/maxX*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - y/yMax*(h-top-bottom) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Latency at a constant %d req/s (%d rounds of %s, loopback, %d cores)</text>`+"\n",
		left, rep.opts.Rate, rep.opts.Rounds, rep.opts.Duration, runtime.NumCPU())
	for i, label := range []string{"0%", "90%", "99%", "99.9%", "99.99%"} {
		x := px(float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			x, top, x, h-bottom, x, h-bottom+16, label)
	}
	for i := 0; i <= 5; i++ {
		y := yMax * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%s ms</text>`+"\n",
			left, py(y), w-right, py(y), left-6, py(y)+4, strconv.FormatFloat(y, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">percentile</text>`+"\n", px(maxX/2), h-10)
	colors := []string{"#444444", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"}
	for i, server := range rep.servers {
		lat := rep.merged[server]
		if len(lat) == 0 {
			continue
		}
		var pts []string
		for j := 0; j <= 200; j++ {
			x := maxX * float64(j) / 200
			q := 1 - math.Pow(10, -x)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(min(ms(quantileOf(lat, q)), yMax))))
		}
		c := colors[i%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		ly := top + 20 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			w-right+10, ly, w-right+30, ly, c, w-right+36, ly+4, server)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func quantileOf(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
