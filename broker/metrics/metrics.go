// Package metrics holds the broker's Prometheus collectors.
//
// Every collector is registered on a dedicated registry (never the global
// one), exposed by Handler in the Prometheus text exposition format:
//
//	tvm_vend_total{profile,outcome}                  vend attempts; outcome is "ok" or an errs code
//	tvm_cache_lookups_total{profile,result}          credential cache lookups; result is "hit" or "miss"
//	tvm_sts_request_duration_seconds{profile}        AssumeRole latency (histogram)
//	tvm_sts_errors_total{profile,code}               AssumeRole failures by AWS error code
//	tvm_policy_size_bytes{profile}                   rendered session policy size (histogram)
//	tvm_sts_packed_policy_size_percent{profile}      PackedPolicySize STS reported for a new session (histogram;
//	                                                 STS before September 2026, tvm-local)
//	tvm_sts_session_token_utilization_percent{profile}  SessionTokenUtilization STS reported for a new session
//	                                                 (histogram; STS since September 2026)
//	tvm_rate_limited_total{scope}                    requests refused by the broker's limiters: "tenant", "subject"
//	                                                 (after authentication), "client" (failed authentications
//	                                                 per client address, before it)
//	tvm_overloaded_total{scope}                      requests shed for lack of capacity ("verification": the cap
//	                                                 on concurrent token verifications)
//	tvm_verifications_in_flight                      token verifications running now (gauge)
//	tvm_blocked_requests_total{scope}                verified requests refused by the block list ("tenant", "subject")
//	tvm_block_list_changes_total{action,scope}       entries blocked or unblocked by a change of the block list file
//	tvm_block_list_entries{scope}                    entries of the block list in force (gauge)
//	tvm_block_list_errors_total                      block list reads refused (the previous list stays in force)
//	tvm_config_reloads_total{result}                 configuration reloads: "ok" or "failed" (the previous stays)
//	tvm_config_last_reload_success                   1 when the last reload (or the start) succeeded, else 0 (gauge)
//	tvm_config_generation                            configuration generation in force, 1 at start (gauge)
//	tvm_config_restart_pending                       1 when the file holds changes that need a restart (gauge)
//	tvm_http_requests_total{route,method,status}     HTTP requests by route pattern
//	tvm_http_request_duration_seconds{route,method}  HTTP latency (histogram)
//
// Label cardinality is bounded: profile labels are restricted to the profile
// names given to New or, after a configuration reload, SetProfiles
// (anything else is recorded as "unknown"), outcome and
// code labels must look like identifiers (anything else is "other"), and no
// label ever carries a tenant id, a subject or a raw request path.
//
// A *Metrics is safe for concurrent use. Every method is a no-op on a nil
// *Metrics, so callers may leave it unset.
package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values used when an input would make cardinality unbounded.
const (
	UnknownProfile = "unknown" // a profile name not given to New
	OtherValue     = "other"   // an outcome, code, route or method that is not a plain identifier
)

// Metrics is the broker's set of collectors on a private registry.
type Metrics struct {
	reg      *prometheus.Registry
	profiles atomic.Pointer[map[string]bool]

	vends        *prometheus.CounterVec
	cacheLookups *prometheus.CounterVec
	stsDuration  *prometheus.HistogramVec
	stsErrors    *prometheus.CounterVec
	policySize   *prometheus.HistogramVec
	packedSize   *prometheus.HistogramVec
	tokenUse     *prometheus.HistogramVec
	rateLimited  *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	ops          *operations
}

// New returns collectors registered on a new registry, together with the Go
// runtime and process collectors. profiles lists the configured profile
// names: the only values the profile label may take besides "unknown".
func New(profiles []string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		vends: counter("tvm_vend_total",
			"Credential vend attempts by profile and outcome (ok or an error code).", "profile", "outcome"),
		cacheLookups: counter("tvm_cache_lookups_total",
			"Credential cache lookups by profile and result (hit or miss).", "profile", "result"),
		stsDuration: histogram("tvm_sts_request_duration_seconds",
			"Duration of STS AssumeRole attempts (each retry is one more observation; the SDK does not retry).",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "profile"),
		stsErrors: counter("tvm_sts_errors_total",
			"Failed STS AssumeRole attempts by profile and AWS error code.", "profile", "code"),
		policySize: histogram("tvm_policy_size_bytes",
			"Size of rendered session policies in bytes (STS allows 2048 characters).",
			[]float64{256, 512, 768, 1024, 1280, 1536, 1792, 2048}, "profile"),
		packedSize: histogram("tvm_sts_packed_policy_size_percent",
			"PackedPolicySize of new STS sessions: percent of STS's packed limit used by the session policy and tags (above 100 STS refuses).",
			percentBuckets, "profile"),
		tokenUse: histogram("tvm_sts_session_token_utilization_percent",
			"SessionTokenUtilization of new STS sessions: percent of STS's maximum session token size used.",
			percentBuckets, "profile"),
		rateLimited: counter("tvm_rate_limited_total",
			"Requests refused by the broker's rate limiters, by scope (tenant or subject after authentication, client before it).", "scope"),
		httpRequests: counter("tvm_http_requests_total",
			"HTTP requests by route pattern, method and status code.", "route", "method", "status"),
		httpDuration: histogram("tvm_http_request_duration_seconds",
			"HTTP request duration by route pattern and method.", prometheus.DefBuckets, "route", "method"),
	}
	m.SetProfiles(profiles)
	m.ops = newOperations()
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.vends, m.cacheLookups, m.stsDuration, m.stsErrors, m.policySize, m.packedSize, m.tokenUse,
		m.rateLimited, m.httpRequests, m.httpDuration,
	)
	m.ops.register(m.reg)
	return m
}

// SetProfiles replaces the profile names the profile label may take (a
// configuration reload); series of removed profiles stay as they are.
func (m *Metrics) SetProfiles(profiles []string) {
	if m == nil {
		return
	}
	set := make(map[string]bool, len(profiles))
	for _, p := range profiles {
		set[p] = true
	}
	m.profiles.Store(&set)
}

// percentBuckets are the buckets of the size shares STS reports (percent):
// fine above 80, where a vend logs a warning.
var percentBuckets = []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// Registry returns the private registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// CacheLookup records one credential cache lookup (vend.Observer).
func (m *Metrics) CacheLookup(profile string, hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(m.profile(profile), result).Inc()
}

// STSCall records one AssumeRole call (vend.Observer); errCode is "" on success.
func (m *Metrics) STSCall(profile string, d time.Duration, errCode string) {
	if m == nil {
		return
	}
	p := m.profile(profile)
	m.stsDuration.WithLabelValues(p).Observe(d.Seconds())
	if errCode != "" {
		m.stsErrors.WithLabelValues(p, ident(errCode)).Inc()
	}
}

// PolicyRendered records the size of a rendered session policy (vend.Observer).
func (m *Metrics) PolicyRendered(profile string, size int) {
	if m == nil {
		return
	}
	m.policySize.WithLabelValues(m.profile(profile)).Observe(float64(size))
}

// SessionSize records the size shares STS reported for a new session
// (vend.Observer); a negative share was not reported and is not recorded.
func (m *Metrics) SessionSize(profile string, packedPolicyPercent, tokenUtilizationPercent int) {
	if m == nil {
		return
	}
	p := m.profile(profile)
	if packedPolicyPercent >= 0 {
		m.packedSize.WithLabelValues(p).Observe(float64(packedPolicyPercent))
	}
	if tokenUtilizationPercent >= 0 {
		m.tokenUse.WithLabelValues(p).Observe(float64(tokenUtilizationPercent))
	}
}

// Vend records one vend attempt; outcome is "ok" or an errs code.
func (m *Metrics) Vend(profile, outcome string) {
	if m == nil {
		return
	}
	m.vends.WithLabelValues(m.profile(profile), ident(outcome)).Inc()
}

// RateLimited records one request refused by the limiter of scope
// ("tenant" or "subject").
func (m *Metrics) RateLimited(scope string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(ident(scope)).Inc()
}

// HTTPRequest records one HTTP request. route must be a registered route
// pattern (never a raw path); callers map unmatched requests to one value.
func (m *Metrics) HTTPRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = httpMethod(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *Metrics) profile(p string) string {
	if (*m.profiles.Load())[p] {
		return p
	}
	return UnknownProfile
}

func httpMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return OtherValue
}

// ident returns s when it is a plain identifier of at most 64 characters
// ([A-Za-z0-9_.-]), else OtherValue.
func ident(s string) string {
	if s == "" || len(s) > 64 {
		return OtherValue
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return OtherValue
		}
	}
	return s
}
