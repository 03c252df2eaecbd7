package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors of day-two operations: the pre-auth limits, the block
// list and configuration reloads (listed in the package documentation).

type operations struct {
	overloaded     *prometheus.CounterVec
	blocked        *prometheus.CounterVec
	blockChanges   *prometheus.CounterVec
	blockEntries   *prometheus.GaugeVec
	blockErrors    prometheus.Counter
	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	generation     prometheus.Gauge
	restartPending prometheus.Gauge
}

func newOperations() *operations {
	return &operations{
		overloaded: counter("tvm_overloaded_total",
			"Requests shed for lack of capacity, by scope (verification: the cap on concurrent token verifications).", "scope"),
		blocked: counter("tvm_blocked_requests_total",
			"Verified requests refused by the block list, by scope (tenant or subject).", "scope"),
		blockChanges: counter("tvm_block_list_changes_total",
			"Block list entries added (block) or removed (unblock) by a change of the file, by scope.", "action", "scope"),
		blockEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tvm_block_list_entries",
			Help: "Entries of the block list in force, by scope (tenant or subject)."}, []string{"scope"}),
		blockErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tvm_block_list_errors_total",
			Help: "Block list reads refused (missing or invalid file); the previous list stays in force."}),
		reloads: counter("tvm_config_reloads_total",
			"Configuration reloads by result (ok, or failed: the previous configuration keeps serving).", "result"),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tvm_config_last_reload_success",
			Help: "1 when the last configuration reload (or the start) succeeded, else 0."}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tvm_config_generation",
			Help: "The configuration generation in force: 1 at start, one more per successful reload."}),
		restartPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tvm_config_restart_pending",
			Help: "1 when the configuration file holds changes that take effect only after a restart."}),
	}
}

func (o *operations) register(reg *prometheus.Registry) {
	reg.MustRegister(o.overloaded, o.blocked, o.blockChanges, o.blockEntries, o.blockErrors,
		o.reloads, o.reloadOK, o.generation, o.restartPending)
	o.reloadOK.Set(1)
	o.generation.Set(1)
}

// Overloaded records one request shed for lack of capacity in scope.
func (m *Metrics) Overloaded(scope string) {
	if m == nil {
		return
	}
	m.ops.overloaded.WithLabelValues(ident(scope)).Inc()
}

// VerificationsInFlight exposes fn, the number of token verifications
// running, as tvm_verifications_in_flight. Call it once.
func (m *Metrics) VerificationsInFlight(fn func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tvm_verifications_in_flight",
		Help: "Token verifications running now."}, func() float64 { return float64(fn()) }))
}

// Blocked records one verified request refused by the block list.
func (m *Metrics) Blocked(scope string) {
	if m == nil {
		return
	}
	m.ops.blocked.WithLabelValues(ident(scope)).Inc()
}

// BlockListChanged records n entries of scope blocked (action "block") or
// unblocked ("unblock").
func (m *Metrics) BlockListChanged(action, scope string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.ops.blockChanges.WithLabelValues(ident(action), ident(scope)).Add(float64(n))
}

// BlockListEntries records the size of the block list in force.
func (m *Metrics) BlockListEntries(tenants, subjects int) {
	if m == nil {
		return
	}
	m.ops.blockEntries.WithLabelValues("tenant").Set(float64(tenants))
	m.ops.blockEntries.WithLabelValues("subject").Set(float64(subjects))
}

// BlockListError records one refused read of the block list.
func (m *Metrics) BlockListError() {
	if m == nil {
		return
	}
	m.ops.blockErrors.Inc()
}

// ConfigReloaded records one configuration reload: ok, the generation in
// force afterwards and whether changes wait for a restart.
func (m *Metrics) ConfigReloaded(ok bool, generation uint64, restartPending bool) {
	if m == nil {
		return
	}
	result, success := "failed", 0.0
	if ok {
		result, success = "ok", 1
	}
	m.ops.reloads.WithLabelValues(result).Inc()
	m.ops.reloadOK.Set(success)
	m.ops.generation.Set(float64(generation))
	pending := 0.0
	if restartPending {
		pending = 1
	}
	m.ops.restartPending.Set(pending)
}
