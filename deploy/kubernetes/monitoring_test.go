package kubernetes

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"

	"github.com/tvmkit/tvm/broker/metrics"
)

const (
	dashboardFile = "components/monitoring/tvm-broker-dashboard.json"
	rulesFile     = "components/monitoring/prometheusrule.yaml"
)

// externalSeries are the series the rules may use that the broker does not
// export, with their labels: Prometheus' own "up" per target, and
// kube-state-metrics' Deployment status (readiness as Kubernetes sees it).
var externalSeries = map[string][]string{
	"up": nil,
	"kube_deployment_status_replicas_available": {"deployment"},
	"kube_deployment_spec_replicas":             {"deployment"},
}

// targetLabels are attached to every scraped series by Prometheus and the
// Prometheus Operator's ServiceMonitor relabelling.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// seriesSet maps a series name to its label names.
type seriesSet map[string]map[string]bool

// brokerSeries builds the broker's registry with metrics.New, records one
// observation in every collector so that every vector has a sample, and
// returns the series a query can name: counters and gauges by name,
// histograms as _bucket (with "le"), _sum and _count.
func brokerSeries(t *testing.T) seriesSet {
	t.Helper()
	m := metrics.New([]string{"read"})
	m.CacheLookup("read", true)
	m.CacheLookup("read", false)
	m.STSCall("read", 20*time.Millisecond, "")
	m.STSCall("read", 5*time.Millisecond, "Throttling")
	m.PolicyRendered("read", 900)
	m.Vend("read", "ok")
	m.RateLimited("tenant")
	m.HTTPRequest("/v1/credentials", "GET", 200, time.Millisecond)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := seriesSet{}
	for _, f := range fams {
		names := map[string]bool{}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				names[l.GetName()] = true
			}
		}
		add := func(name string, extra ...string) {
			set := map[string]bool{}
			for n := range names {
				set[n] = true
			}
			for _, e := range extra {
				set[e] = true
			}
			s[name] = set
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			add(f.GetName()+"_bucket", "le")
			add(f.GetName() + "_sum")
			add(f.GetName() + "_count")
		case dto.MetricType_SUMMARY:
			add(f.GetName(), "quantile")
			add(f.GetName() + "_sum")
			add(f.GetName() + "_count")
		default:
			add(f.GetName())
		}
	}
	for name, ls := range externalSeries {
		set := map[string]bool{}
		for _, l := range ls {
			set[l] = true
		}
		s[name] = set
	}
	for _, set := range s {
		for _, l := range targetLabels {
			set[l] = true
		}
	}
	return s
}

// exprProblems parses a PromQL expression with Prometheus' parser and
// returns what it references that does not exist: metric names, label
// names in selectors, and grouping labels of aggregations (which must be
// labels of a series aggregated over). It also returns the series named.
func exprProblems(expr string, series seriesSet) (problems, names []string) {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{"does not parse: " + err.Error()}, nil
	}
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := selectorName(n)
			names = append(names, name)
			ls, ok := series[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("metric %q does not exist", name))
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !ls[m.Name] {
					problems = append(problems, fmt.Sprintf("%s has no label %q", name, m.Name))
				}
			}
		case *parser.AggregateExpr:
			problems = append(problems, groupingProblems(n, series)...)
		}
		return nil
	})
	return problems, names
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return "<selector without a metric name>"
}

func groupingProblems(agg *parser.AggregateExpr, series seriesSet) []string {
	have := map[string]bool{}
	parser.Inspect(agg.Expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for l := range series[selectorName(vs)] {
				have[l] = true
			}
		}
		return nil
	})
	var p []string
	for _, g := range agg.Grouping {
		if !have[g] {
			p = append(p, fmt.Sprintf("%s by/without %q: no series aggregated has that label", agg.Op, g))
		}
	}
	return p
}

func TestExprProblems(t *testing.T) {
	series := seriesSet{
		"tvm_vend_total": {"profile": true, "outcome": true, "job": true},
		"tvm_sts_request_duration_seconds_bucket": {"profile": true, "le": true, "job": true},
	}
	tests := map[string]struct {
		expr string
		want string // "" = no problem
	}{
		"known counter":       {expr: `sum by (outcome) (rate(tvm_vend_total{job="tvm-broker"}[5m]))`},
		"histogram quantile":  {expr: `histogram_quantile(0.99, sum by (le) (rate(tvm_sts_request_duration_seconds_bucket[5m])))`},
		"unknown metric":      {expr: `rate(tvm_vends_total[5m])`, want: `metric "tvm_vends_total" does not exist`},
		"histogram base name": {expr: `rate(tvm_sts_request_duration_seconds[5m])`, want: "does not exist"},
		"unknown label":       {expr: `tvm_vend_total{outcomes="ok"}`, want: `tvm_vend_total has no label "outcomes"`},
		"unknown grouping":    {expr: `sum by (tenant) (tvm_vend_total)`, want: `by/without "tenant"`},
		"name matcher":        {expr: `{__name__="tvm_nope"}`, want: `metric "tvm_nope" does not exist`},
		"syntax error":        {expr: `sum(rate(tvm_vend_total[5m])`, want: "does not parse"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			problems, _ := exprProblems(tc.expr, series)
			got := strings.Join(problems, "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

// grafanaVars replaces Grafana's variables so that the query is PromQL:
// interval variables by a duration, others by a plain value.
var (
	grafanaIntervals = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)
	grafanaVars      = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	labelValues      = regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)
)

func grafanaToPromQL(expr string) string {
	return grafanaVars.ReplaceAllString(grafanaIntervals.ReplaceAllString(expr, "5m"), "x")
}

// dashboard is the part of Grafana's dashboard JSON the test reads.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestDashboard(t *testing.T) {
	series := brokerSeries(t)
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q, title %q, %d panels", d.UID, d.Title, len(d.Panels))
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
		for _, target := range p.Targets {
			problems, names := exprProblems(grafanaToPromQL(target.Expr), series)
			for _, pr := range problems {
				t.Errorf("panel %q, query %s: %s\n\t%s", p.Title, target.RefID, pr, target.Expr)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil || !series[m[1]][m[2]] {
			t.Errorf("variable %s: %q does not name an existing metric and label", v.Name, v.Definition)
		}
	}
	// What the dashboard must show: vends by outcome, the cache, STS
	// latency and errors, rate limiting, HTTP latency.
	for _, want := range []string{
		"tvm_vend_total", "tvm_cache_lookups_total", "tvm_sts_request_duration_seconds_bucket",
		"tvm_sts_errors_total", "tvm_rate_limited_total", "tvm_http_request_duration_seconds_bucket",
	} {
		if !used[want] {
			t.Errorf("no panel queries %s", want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	series := brokerSeries(t)
	m := load(t, rulesFile)
	rules := all[monitoringv1.PrometheusRule](m)
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules in %s", len(rules), rulesFile)
	}
	alerts := map[string]bool{}
	for _, g := range rules[0].Spec.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			problems, _ := exprProblems(r.Expr.String(), series)
			for _, p := range problems {
				t.Errorf("alert %s: %s\n\t%s", r.Alert, p, r.Expr.String())
			}
			if r.Alert == "" || r.For == nil {
				t.Errorf("rule %q: want an alert with a for duration", r.Alert)
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: no summary or description", r.Alert)
			}
		}
	}
	for _, want := range []string{"TVMBrokerDown", "TVMBrokerReplicasUnavailable", "TVMBrokerSTSErrors",
		"TVMBrokerSTSThrottled", "TVMBrokerVendFailures", "TVMBrokerHighLatency"} {
		if !alerts[want] {
			t.Errorf("no alert %s (have %v)", want, sortedKeys(alerts))
		}
	}
}

// TestDashboardConfigMap: the shared overlay ships the dashboard file as a
// ConfigMap for Grafana's dashboard sidecar.
func TestDashboardConfigMap(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	m := render(t, "overlays/shared")
	cm := named[corev1.ConfigMap](m, "tvm-broker-dashboard")
	if cm == nil || cm.Labels["grafana_dashboard"] != "1" || cm.Data["tvm-broker-dashboard.json"] != string(data) {
		t.Fatal("no ConfigMap tvm-broker-dashboard labelled grafana_dashboard=1 holding the dashboard file")
	}
}
