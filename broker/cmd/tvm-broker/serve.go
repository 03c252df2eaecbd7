package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/tvmkit/tvm/broker/api"
	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/metrics"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/stsclient"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/tlsreload"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

// serve runs the broker until ctx ends or SIGINT/SIGTERM arrives.
func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	cmd := newSubcommand("serve", stderr)
	listen := cmd.fs.String("listen", "", "listen address, overrides the configuration (port 0 picks a free port)")
	cfg, code, ok := cmd.load(args, stderr, getenv)
	if !ok {
		return code
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	// Once ready, log records (two a request) reach stderr in batches,
	// flushed on an interval and before serve returns (api.LogWriter).
	logOut := api.NewLogWriter(stderr, 0, 0)
	defer logOut.Close()
	log, err := newLogger(logOut, cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker: invalid configuration: %v\n", err)
		return exitUsage
	}
	log = newBufferingLogger(log, logOut)
	src := configSource{path: *cmd.configPath, getenv: getenv, listen: *listen}
	if err := runServer(ctx, cfg, src, log); err != nil {
		log.Error("broker failed", slog.String("error", err.Error()))
		return exitFailure
	}
	return exitOK
}

// runServer wires the broker together and serves until a signal arrives.
// SIGHUP reloads the TLS files and the configuration (reload.go).
func runServer(ctx context.Context, cfg *config.Config, src configSource, log *slog.Logger) error {
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Background work (JWKS refresh, the block list, reloads) lives until
	// the server has shut down, not only until the signal.
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	// The TLS files first: they are quick to check, the proof is not.
	reloader, err := startTLS(bgCtx, &cfg.Server.TLS, log)
	if err != nil {
		return err
	}
	if reloader != nil {
		defer reloader.Close()
	}
	b, err := startService(sigCtx, bgCtx, cfg, src, log)
	if err != nil {
		return err
	}
	defer b.close()
	defer b.reloadOnSIGHUP(bgCtx, reloader)()
	if cfg.Reload.Watch {
		defer b.watch(bgCtx, cfg.Reload.PollInterval)()
	}
	return serveUntilSignal(ctx, sigCtx, stop, cfg, b, reloader, log, slog.String("region", b.region),
		slog.Bool("sts_identity_confirmed", b.identity.Identity() != nil))
}

// startService compiles and proves the profiles, loads the keys, and
// builds the vending core, the block list, the pre-auth limits and the
// first configuration generation. ctx bounds the start-up work, bgCtx
// owns what runs until the server stops.
func startService(ctx, bgCtx context.Context, cfg *config.Config, src configSource, log *slog.Logger) (*service, error) {
	set, err := compileProfiles(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.New(bgCtx, cfg.Auth, auth.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.STS.Region))
	if err != nil {
		verifier.Close()
		return nil, fmt.Errorf("AWS SDK configuration: %w", err)
	}
	client := stsclient.NewFromConfig(awsCfg)
	identity, err := checkIdentity(ctx, client, cfg, log)
	if err != nil {
		verifier.Close()
		return nil, err
	}
	m := metrics.New(set.Names())
	vopts := vendOptions(cfg)
	vopts.Observer, vopts.Logger, vopts.Identity = m, log, identity
	vendor, err := vend.New(set, client, vopts)
	if err != nil {
		identity.Close()
		verifier.Close()
		return nil, err
	}
	b := &service{src: src, boot: cfg, log: log, metrics: m, vendor: vendor, identity: identity, bgCtx: bgCtx, region: awsCfg.Region}
	if err := b.start(set, verifier); err != nil {
		b.close()
		verifier.Close()
		return nil, err
	}
	return b, nil
}

// checkIdentity asks STS who the broker is before it serves
// (vend.IdentityCheck): credentials STS refuses, or none at all, stop the
// broker; an STS outage starts it not ready until STS answers.
func checkIdentity(ctx context.Context, client *stsclient.Client, cfg *config.Config, log *slog.Logger) (*vend.IdentityCheck, error) {
	check, err := vend.NewIdentityCheck(client, vend.IdentityOptions{STS: vendOptions(cfg).STS, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := check.Start(ctx); err != nil {
		check.Close()
		return nil, fmt.Errorf("STS GetCallerIdentity with the broker's AWS credentials: %w", err)
	}
	return check, nil
}

// serveUntilSignal listens on cfg.Listen and serves handler — https with
// the reloader's certificate when there is one — until sigCtx ends, then
// shuts down gracefully; stop releases the signals so that a second one
// ends the process at once. The "ready" record carries the address, the
// scheme and readyAttrs.
func serveUntilSignal(ctx, sigCtx context.Context, stop func(), cfg *config.Config, handler http.Handler,
	reloader *tlsreload.Reloader, log *slog.Logger, readyAttrs ...any) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv, scheme := newHTTPServer(&cfg.Server, handler, reloader, log), "http"
	served := make(chan error, 1)
	if reloader != nil {
		scheme = "https"
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		warnPlainHTTP(log, ln.Addr())
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("ready", append([]any{
		slog.String("addr", ln.Addr().String()),
		slog.String("scheme", scheme),
		slog.String("version", buildVersion()),
		slog.Any("profiles", profileNames(cfg)),
		slog.String("default_profile", cfg.DefaultProfile),
	}, readyAttrs...)...)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-sigCtx.Done():
	}
	stop() // a second signal ends the process at once
	log.Info("shutting down", slog.Duration("timeout", cfg.Server.ShutdownTimeout))
	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer returns the server with the configured limits, serving
// https from the reloader's configuration when there is one.
func newHTTPServer(s *config.Server, h http.Handler, r *tlsreload.Reloader, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    api.HeaderReadLimit(s.MaxHeaderBytes), // the API answers the configured limit in JSON
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if r != nil {
		srv.TLSConfig = r.TLSConfig()
	}
	return srv
}

// compileProfiles loads the policy templates, fetches the policies of the
// roles whose profiles read them from IAM, and compiles and proves every
// profile (package profiles): the broker refuses to start, or a reload
// keeps the running configuration, on any failure. The error is a
// *stageError: stageTemplates (a template that does not load or lint) or
// stageProfiles (rendering, the rendered policy's lint, the role policies,
// the isolation proof).
func compileProfiles(ctx context.Context, cfg *config.Config, log *slog.Logger) (*profiles.Set, error) {
	templates, err := policies.LoadTemplates(cfg.PolicyDir, targets.All())
	if err != nil {
		return nil, &stageError{stageTemplates, fmt.Errorf("policy templates: %w", err)}
	}
	set, err := profiles.Compile(cfg, templates, profiles.Options{Logger: log, Roles: fetchRoles(ctx, cfg, cfg.RolesFromIAM())})
	if err != nil {
		return nil, &stageError{stageProfiles, err}
	}
	return set, nil
}

// vendOptions returns the vending core's settings from the configuration.
func vendOptions(cfg *config.Config) vend.Options {
	return vend.Options{
		Cache: vend.CacheOptions{
			Disabled:      cfg.Cache.Disabled,
			MaxEntries:    cfg.Cache.MaxEntries,
			RefreshBefore: cfg.Cache.RefreshBefore,
			ClientWindow:  cfg.Cache.ClientWindow,
		},
		STS: vend.STSOptions{Timeout: cfg.STS.Timeout, MaxAttempts: cfg.STS.MaxAttempts},
	}
}

// apiOptions returns the HTTP layer's settings from the configuration.
// rate_limit.disabled leaves both scopes unlimited.
func apiOptions(cfg *config.Config) api.Options {
	o := api.Options{
		DefaultProfile: cfg.DefaultProfile,
		Server: api.ServerOptions{
			RequestTimeout: cfg.Server.RequestTimeout,
			MaxBodyBytes:   cfg.Server.MaxBodyBytes,
			MaxHeaderBytes: cfg.Server.MaxHeaderBytes,
			AllowedHosts:   cfg.Server.AllowedHosts,
			TrustedProxies: cfg.PreAuth.Proxies(),
		},
	}
	if rl := cfg.RateLimit; !rl.Disabled {
		o.RateLimit.PerTenant = api.Rate{RPS: rl.PerTenantRPS, Burst: rl.PerTenantBurst}
		o.RateLimit.PerSubject = api.Rate{RPS: rl.PerSubjectRPS, Burst: rl.PerSubjectBurst}
	}
	return o
}

// newLogger returns the JSON (or text) logger at the configured level.
func newLogger(w io.Writer, cfg config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.Format {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not json or text", cfg.Format)
}

// preAuthOptions returns the pre-auth limits from the configuration;
// pre_auth.disabled limits nothing.
func preAuthOptions(cfg *config.Config) api.PreAuthOptions {
	p := cfg.PreAuth
	if p.Disabled {
		return api.PreAuthOptions{}
	}
	return api.PreAuthOptions{
		PerClient:     api.Rate{RPS: p.PerClientRPS, Burst: p.PerClientBurst},
		MaxConcurrent: p.MaxConcurrentVerifications,
		MaxWait:       max(p.MaxVerificationWait, 0),
	}
}

func profileNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Profiles))
	for _, p := range cfg.Profiles {
		names = append(names, p.Name)
	}
	return names
}
