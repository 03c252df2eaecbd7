package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tvmkit/tvm/broker/api"
	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/blocklist"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/metrics"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/tlsreload"
)

// Configuration reload.
//
// A generation is one configuration in force: the file as loaded, its
// compiled and proven profiles, its token verifier and the HTTP handler
// built on them. The broker serves the current generation's handler,
// loaded from an atomic pointer once per request, so a request finishes
// with the generation it started with (its handler vends through a view
// pinned to its profile set: vend.Vendor.View).
//
// reload (on SIGHUP, or a change of the files with reload.watch) loads
// the file, validates it, loads and lints the templates, reads the roles'
// policies, compiles and proves every profile and loads the JWT keys — all
// of it, exactly as at start-up — and only then swaps the new generation
// in: the vending core takes the new profile set (dropping the cached
// credentials of every profile whose sessions changed), then the pointer
// moves. Any failure keeps the running generation and says why: an ERROR
// log line with the whole error, tvm_config_reloads_total{result="failed"}
// and tvm_config_last_reload_success 0, and /readyz's "config" detail (the
// stage that failed, not the text, which may name files and roles).
//
// What lives longer than a generation is built once and kept: the
// listener and http.Server, the TLS reloader, the AWS SDK configuration
// and STS client, the vending core and its cache, the block list watcher,
// the logger and the metrics. Their settings (restartFields) take effect
// only after a restart: a reload that changes them still applies
// everything else, logs a warning naming them, and reports them under
// "restart_pending" (and tvm_config_restart_pending 1) until the process
// restarts. The pre-auth limits and the rate-limit buckets are rebuilt
// when their settings change (their buckets start full again), kept
// otherwise.

// configSource says where the configuration comes from, to load it again.
type configSource struct {
	path   string
	getenv func(string) string
	// listen, when set, overrides the file's listen (the --listen flag).
	listen string
}

// load reads and validates the configuration file as at start-up.
func (s configSource) load() (*config.Config, error) {
	cfg, err := config.Load(s.path, s.getenv)
	if err != nil {
		return nil, err
	}
	if s.listen != "" {
		cfg.Listen = s.listen
	}
	return cfg, nil
}

// generation is one configuration in force. It is immutable.
type generation struct {
	n        uint64
	cfg      *config.Config
	set      *profiles.Set
	verifier *auth.Verifier
	preAuth  *api.PreAuth
	limits   *api.RateLimits
	handler  http.Handler
	loadedAt time.Time
}

// service is the serving broker: what outlives generations, and the
// current one.
type service struct {
	src     configSource
	boot    *config.Config // the start-up configuration: restart-only settings come from it
	log     *slog.Logger
	metrics *metrics.Metrics
	vendor  *vend.Vendor
	// identity is the broker's own STS identity check, a readiness
	// condition of every generation.
	identity *vend.IdentityCheck
	blocks   *blocklist.List // nil without block_list.file
	bgCtx    context.Context
	region   string

	mu      sync.Mutex // serialises reloads
	cur     atomic.Pointer[generation]
	status  atomic.Pointer[reloadStatus]
	retired []retiredVerifier // replaced verifiers, closed after a grace period
	closed  bool
}

// reloadStatus is the last reload's outcome, for /readyz.
type reloadStatus struct {
	At             time.Time `json:"at"`
	Trigger        string    `json:"trigger"`
	OK             bool      `json:"ok"`
	FailedStage    string    `json:"failed_stage,omitempty"`
	RestartPending []string  `json:"restart_pending,omitempty"`
}

// Reload failure stages, as /readyz names them.
const (
	stageLoad      = "load"      // read, parse or validate the file
	stageTemplates = "templates" // a policy template does not load or lint
	stageProfiles  = "profiles"  // rendering and its lint, role policies, the isolation proof
	stageAuth      = "auth"      // JWT keys
	stageHandler   = "handler"   // the HTTP layer's settings
)

// stageError is a reload failure at a stage.
type stageError struct {
	stage string
	err   error
}

// Error returns the cause's text (the stage is logged on its own).
func (e *stageError) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e *stageError) Unwrap() error { return e.err }

// ServeHTTP serves the request with the current generation's handler.
func (b *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.cur.Load().handler.ServeHTTP(w, r)
}

// start opens the block list and installs generation 1.
func (b *service) start(set *profiles.Set, verifier *auth.Verifier) error {
	if f := b.boot.BlockList.File; f != "" {
		l, err := blocklist.Watch(b.bgCtx, blocklist.Options{Path: f, PollInterval: b.boot.BlockList.PollInterval,
			Logger: b.log, OnChange: b.blockListChanged, OnError: func(error) { b.metrics.BlockListError() }})
		if err != nil {
			return fmt.Errorf("block_list.file: %w", err)
		}
		b.blocks = l
	}
	g, err := b.build(b.boot, set, verifier, nil)
	if err != nil {
		return err
	}
	g.n = 1
	b.cur.Store(g)
	b.metrics.VerificationsInFlight(func() int { return b.cur.Load().preAuth.InFlight() })
	b.status.Store(&reloadStatus{At: g.loadedAt, Trigger: "start", OK: true})
	return nil
}

// build makes a generation of cfg: its handler over a view of the vending
// core pinned to set. The pre-auth limiter and the rate-limit buckets of
// prev are kept when their settings did not change.
func (b *service) build(cfg *config.Config, set *profiles.Set, verifier *auth.Verifier, prev *generation) (*generation, error) {
	g := &generation{cfg: cfg, set: set, verifier: verifier, loadedAt: time.Now()}
	o := apiOptions(cfg)
	var err error
	if prev != nil && reflect.DeepEqual(preAuthOptions(prev.cfg), preAuthOptions(cfg)) {
		g.preAuth = prev.preAuth
	} else if g.preAuth, err = api.NewPreAuth(preAuthOptions(cfg)); err != nil {
		return nil, &stageError{stageHandler, err}
	}
	if prev != nil && reflect.DeepEqual(apiOptions(prev.cfg).RateLimit, o.RateLimit) {
		g.limits = prev.limits
	} else if g.limits, err = api.NewRateLimits(o.RateLimit); err != nil {
		return nil, &stageError{stageHandler, err}
	}
	o.Verifier, o.Vendor, o.Logger, o.Metrics, o.PreAuth = verifier, b.vendor.View(set), b.log, b.metrics, g.preAuth
	o.RateLimits = g.limits
	o.ReadyDetail = b.readyDetail
	o.Readiness = append(o.Readiness, b.identity.Ready)
	if b.blocks != nil {
		o.Blocks = b.blocks
	}
	h, err := api.New(o)
	if err != nil {
		return nil, &stageError{stageHandler, err}
	}
	g.handler = h
	return g, nil
}

// reload loads, proves and swaps in the configuration; on failure the
// running generation stays. trigger names the cause, for logs.
func (b *service) reload(ctx context.Context, trigger string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("the broker is shutting down")
	}
	old := b.cur.Load()
	b.log.Info("reloading the configuration", slog.String("trigger", trigger), slog.String("file", b.src.path))
	next, err := b.prepare(ctx, old)
	if err != nil {
		stage := stageLoad
		var se *stageError
		if errors.As(err, &se) {
			stage = se.stage
		}
		b.log.Error("configuration reload failed: the running configuration stays in force",
			slog.String("trigger", trigger), slog.String("stage", stage), slog.Uint64("generation", old.n), slog.String("error", err.Error()))
		b.status.Store(&reloadStatus{At: time.Now(), Trigger: trigger, FailedStage: stage, RestartPending: b.status.Load().RestartPending})
		b.metrics.ConfigReloaded(false, old.n, len(b.status.Load().RestartPending) > 0)
		return err
	}
	b.commit(old, next, trigger)
	return nil
}

// prepare builds the next generation from the file, completely, without
// touching the running one.
func (b *service) prepare(ctx context.Context, old *generation) (*generation, error) {
	cfg, err := b.src.load()
	if err != nil {
		return nil, &stageError{stageLoad, err}
	}
	if err := b.checkAgainstRunning(cfg); err != nil {
		return nil, &stageError{stageLoad, err}
	}
	set, err := compileProfiles(ctx, cfg, b.log)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.New(b.bgCtx, cfg.Auth, auth.Options{Logger: b.log})
	if err != nil {
		return nil, &stageError{stageAuth, err}
	}
	next, err := b.build(cfg, set, verifier, old)
	if err != nil {
		verifier.Close()
		return nil, err
	}
	next.n = old.n + 1
	return next, nil
}

// checkAgainstRunning refuses reloadable settings that conflict with the
// restart-only ones in force (validation compared them with the file's).
func (b *service) checkAgainstRunning(cfg *config.Config) error {
	if rt, wt := cfg.Server.RequestTimeout, b.boot.Server.WriteTimeout; rt >= wt {
		return fmt.Errorf("server.request_timeout (%s) must be less than the running server.write_timeout (%s), which needs a restart to change", rt, wt)
	}
	if st, rt := b.boot.STS.Timeout, cfg.Server.RequestTimeout; st >= rt {
		return fmt.Errorf("server.request_timeout (%s) must be more than the running sts.timeout (%s), which needs a restart to change", rt, st)
	}
	return nil
}

// commit makes next the current generation.
func (b *service) commit(old, next *generation, trigger string) {
	dropped := b.vendor.Swap(next.set)
	b.metrics.SetProfiles(next.set.Names())
	b.cur.Store(next)
	b.retire(old.verifier, old.cfg.Server.RequestTimeout)
	pending := restartFields(b.boot, next.cfg)
	b.status.Store(&reloadStatus{At: next.loadedAt, Trigger: trigger, OK: true, RestartPending: pending})
	b.metrics.ConfigReloaded(true, next.n, len(pending) > 0)
	b.log.Info("configuration reloaded", slog.String("trigger", trigger), slog.Uint64("generation", next.n),
		slog.Any("profiles", next.set.Names()), slog.Any("cache_dropped", dropped))
	if len(pending) > 0 {
		b.log.Warn("the configuration changes settings that take effect only after a restart; the running values stay",
			slog.Any("restart_pending", pending))
	}
}

// retire closes a replaced verifier once the requests that may still use
// it are over (their deadline is the request timeout), or at close. A
// closed one is then forgotten: held until the process ends, every reload
// would keep a verifier and its cache of verified tokens alive. The caller
// holds b.mu.
func (b *service) retire(v *auth.Verifier, grace time.Duration) {
	b.retired = append(b.retired, retiredVerifier{v, time.AfterFunc(grace+time.Second, func() {
		v.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.retired = slices.DeleteFunc(b.retired, func(r retiredVerifier) bool { return r.v == v })
	})})
}

// retiredVerifier is a replaced verifier and the timer that closes it.
type retiredVerifier struct {
	v     *auth.Verifier
	timer *time.Timer
}

// close stops the reloads and the block list and closes the vending core
// and every verifier.
func (b *service) close() {
	b.mu.Lock()
	b.closed = true
	retired := slices.Clone(b.retired) // a firing timer edits b.retired in place
	b.mu.Unlock()
	for _, r := range retired {
		r.timer.Stop()
		r.v.Close() // idempotent
	}
	if g := b.cur.Load(); g != nil {
		g.verifier.Close()
	}
	if b.blocks != nil {
		b.blocks.Close()
	}
	b.vendor.Close()
	b.identity.Close()
}

// restartFields names the settings of next that differ from the running
// (boot) ones and need a restart: what the listener, the http.Server, the
// TLS reloader, the STS client, the cache, the logger, the block list
// watcher and the reload watcher were built with.
func restartFields(boot, next *config.Config) []string {
	var out []string
	diff := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	diff("listen", boot.Listen, next.Listen)
	// server: all but request_timeout, max_body_bytes and allowed_hosts,
	// which the handler applies per generation.
	bs, ns := boot.Server, next.Server
	for _, s := range []*config.Server{&bs, &ns} {
		s.RequestTimeout, s.MaxBodyBytes, s.AllowedHosts = 0, 0, nil
	}
	diff("server", bs, ns)
	diff("sts", boot.STS, next.STS)
	diff("cache", boot.Cache, next.Cache)
	diff("log", boot.Log, next.Log)
	diff("block_list", boot.BlockList, next.BlockList)
	diff("reload", boot.Reload, next.Reload)
	return out
}

// readyDetail is /readyz's "config" detail: the generation in force, when
// it was loaded, the last reload's outcome and the block list's state.
func (b *service) readyDetail() any {
	g := b.cur.Load()
	d := map[string]any{
		"generation":  g.n,
		"loaded_at":   g.loadedAt.UTC().Format(time.RFC3339),
		"last_reload": b.status.Load(),
	}
	if b.blocks != nil {
		cur := b.blocks.Current()
		bl := map[string]any{"tenants": len(cur.Tenants()), "subjects": len(cur.Subjects()), "ok": true}
		if at, err := b.blocks.Err(); err != nil {
			bl["ok"], bl["failed_at"] = false, at.UTC().Format(time.RFC3339)
		}
		d["block_list"] = bl
	}
	return d
}

// blockListChanged drops the cached credentials of every tenant the block
// list blocked or unblocked (a blocked tenant is refused before the cache
// meanwhile; an unblocked one gets fresh sessions, issued after any
// revocation cut-off) and writes one audit record per entry.
func (b *service) blockListChanged(c blocklist.Change) {
	for _, t := range c.BlockedTenants {
		b.log.Warn("tenant blocked", slog.String("audit", "block"), slog.String("tenant", t),
			slog.Int("cached_credentials_dropped", b.vendor.PurgeTenant(t)))
	}
	for _, t := range c.UnblockedTenants {
		b.log.Warn("tenant unblocked", slog.String("audit", "unblock"), slog.String("tenant", t),
			slog.Int("cached_credentials_dropped", b.vendor.PurgeTenant(t)))
	}
	for _, e := range c.BlockedSubjects {
		b.log.Warn("subject blocked", slog.String("audit", "block"), slog.String("tenant", e.Tenant), slog.String("subject", e.Subject))
	}
	for _, e := range c.UnblockedSubjects {
		b.log.Warn("subject unblocked", slog.String("audit", "unblock"), slog.String("tenant", e.Tenant), slog.String("subject", e.Subject))
	}
	b.metrics.BlockListChanged("block", "tenant", len(c.BlockedTenants))
	b.metrics.BlockListChanged("unblock", "tenant", len(c.UnblockedTenants))
	b.metrics.BlockListChanged("block", "subject", len(c.BlockedSubjects))
	b.metrics.BlockListChanged("unblock", "subject", len(c.UnblockedSubjects))
	if b.blocks != nil {
		cur := b.blocks.Current()
		b.metrics.BlockListEntries(len(cur.Tenants()), len(cur.Subjects()))
	}
}

// reloadOnSIGHUP re-reads the TLS files (when there are any) and reloads
// the configuration whenever SIGHUP arrives, until the returned stop is
// called. Failures are logged (and reported) by each; the running
// certificate and configuration keep serving.
func (b *service) reloadOnSIGHUP(ctx context.Context, tls *tlsreload.Reloader) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				if tls != nil {
					b.log.Info("SIGHUP: re-reading the TLS files")
					_ = tls.Reload() // a refusal is logged and the previous pair keeps serving
				}
				_ = b.reload(ctx, "SIGHUP")
			}
		}
	})
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
