// Command tvm-local runs the project's local AWS: STS (AssumeRole,
// GetCallerIdentity), IAM (role and managed policy reads, PutRolePolicy,
// DeleteRolePolicy), a DynamoDB endpoint that enforces IAM policies, and a
// dev OIDC identity provider, on one endpoint (default http://127.0.0.1:4566).
//
// Usage:
//
//	tvm-local serve [--listen 127.0.0.1:4566] [--config FILE] [--backend URL]
//	          [--issuer URL] [--idp-key FILE] [--region us-east-1] [--log-level info]
//	tvm-local token --tenant T --subject S [--audience A] [--ttl 15m] [--endpoint $AWS_ENDPOINT_URL]
//	tvm-local simulate --policy FILE --action A --resource ARN [...]
//	tvm-local faults [--admin URL] [--clear | --sts-throttle S --sts-latency D --sts-down reset|unavailable
//	          --sts-error CODE --session-ttl D --dynamodb-throttle S --dynamodb-throttle-code CODE]
//	tvm-local print-config
//	tvm-local healthcheck [--url http://127.0.0.1:4566/healthz]
//	tvm-local version
//
// serve prints one ready line (and, with the built-in configuration, the
// documented dev credentials) on stdout, logs JSON on stderr, and exits 0
// after a graceful shutdown on SIGINT or SIGTERM. With --admin-listen it also
// serves the fault injection API (package localaws/faults) on that loopback
// address; --fault-* flags set faults from the start. faults shows the
// faults of a running server or, given fault flags, replaces them (--clear
// removes them all). token prints the minted JWT
// on stdout, followed by a newline only when stdout is a terminal, so that
// `tvm-local token ... > token` writes a file usable as
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tvmkit/tvm/internal/cli"
	"github.com/tvmkit/tvm/internal/cli/healthcheck"
	"github.com/tvmkit/tvm/internal/cli/simulate"
	"github.com/tvmkit/tvm/localaws"
	"github.com/tvmkit/tvm/localaws/faults"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/idp"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit statuses (cli's).
const (
	exitOK    = cli.ExitOK
	exitError = cli.ExitFailure
	exitUsage = cli.ExitUsage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `tvm-local: a local AWS (STS, IAM-enforcing DynamoDB, dev OIDC IdP) for tvm.

Usage:
  tvm-local serve [flags]       run the server
  tvm-local token [flags]       mint a dev JWT from a running server
  tvm-local simulate [flags]    evaluate a request against policies
  tvm-local faults [flags]      show or set the faults a running server injects
  tvm-local print-config        print the built-in YAML configuration
  tvm-local healthcheck [flags] exit 0 if a running server is healthy
  tvm-local version             print the version

Run "tvm-local <command> -h" for a command's flags.
`

// run executes one command and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch("tvm-local", args, "", map[string]cli.Command{
		"serve":    func(args []string) int { return serve(ctx, args, stdout, stderr) },
		"token":    func(args []string) int { return token(ctx, args, stdout, stderr) },
		"simulate": func(args []string) int { return simulate.Main(args, stdout, stderr) },
		"faults":   func(args []string) int { return faultsCmd(ctx, args, stdout, stderr) },
		"print-config": func(args []string) int {
			if len(args) > 0 {
				fmt.Fprintln(stderr, "tvm-local print-config takes no arguments")
				return exitUsage
			}
			_, _ = stdout.Write(identity.DefaultYAML)
			return exitOK
		},
		"healthcheck": func(args []string) int {
			return healthcheck.Main(args, "http://127.0.0.1:4566/healthz", stdout, stderr)
		},
		"version": func([]string) int {
			fmt.Fprintln(stdout, "tvm-local", cli.Version(version))
			return exitOK
		},
	}, usage, stdout, stderr)
}

// serveFlags are the serve command's settings.
type serveFlags struct {
	listen, config, backend, issuer, idpKey, region, logLevel string
	// admin is the fault injection API's loopback address ("" = none).
	admin  string
	faults faults.Spec
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", localaws.DefaultListen, "`address` to listen on")
	fs.StringVar(&f.config, "config", "", "YAML configuration `file` (default: the built-in one, see print-config)")
	fs.StringVar(&f.backend, "backend", "", "DynamoDB-compatible backend `URL`, e.g. http://127.0.0.1:4567 for dynalite (default: in-process minidyn)")
	fs.StringVar(&f.issuer, "issuer", "", "dev IdP issuer `URL` (default: http://<listen address>)")
	fs.StringVar(&f.idpKey, "idp-key", "", "PEM `file` with the IdP's RSA private key (default: a key generated at start)")
	fs.StringVar(&f.region, "region", localaws.DefaultRegion, "the `region` requests are signed for and DynamoDB ARNs name")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&f.admin, "admin-listen", "", "loopback `address` of the fault injection API (GET/PUT/DELETE /faults; default: none)")
	readFaults := faults.Flags(fs, "fault-")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if f.faults, err = readFaults(); err != nil {
		return nil, fmt.Errorf("--fault-*: %w", err)
	}
	if err := checkLoopback(f.admin); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return nil, fmt.Errorf("--listen %q: %w", f.listen, err)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	return f, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return cli.UsageError(stderr, "tvm-local serve", err)
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(f.logLevel))
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	inj, _ := faults.New(f.faults) // validated by parseServeFlags
	cfg := localaws.Config{Region: f.region, BackendURL: f.backend, Issuer: f.issuer, Logger: log, Faults: inj}
	if err := loadFiles(&cfg, f); err != nil {
		fmt.Fprintln(stderr, "tvm-local serve:", err)
		return exitError
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintln(stderr, "tvm-local serve:", err)
		return exitError
	}
	base := "http://" + ln.Addr().String()
	if cfg.Issuer == "" {
		cfg.Issuer = base
	}
	srv, err := localaws.New(cfg)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "tvm-local serve:", err)
		return exitError
	}
	backend := "minidyn (in-process)"
	if f.backend != "" {
		backend = f.backend
	}
	fmt.Fprintf(stdout, "tvm-local ready on %s (region %s, backend %s, issuer %s)\n", base, f.region, backend, cfg.Issuer)
	if f.config == "" {
		fmt.Fprintf(stdout, devKeysHint, base, f.region)
	}
	log.Info("tvm-local listening", "address", ln.Addr().String(), "region", f.region, "backend", backend, "issuer", cfg.Issuer,
		"faults", inj.State().Spec)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	adminDone, err := serveAdmin(ctx, f.admin, inj, stdout, log)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "tvm-local serve:", err)
		return exitError
	}
	err = localaws.Serve(ctx, ln, srv, log)
	stop()
	<-adminDone
	if err != nil {
		log.Error("tvm-local stopped", "error", err.Error())
		return exitError
	}
	log.Info("tvm-local stopped")
	return exitOK
}

// loadFiles reads the identity configuration and the IdP key named by f
// into cfg.
func loadFiles(cfg *localaws.Config, f *serveFlags) (err error) {
	if f.config != "" {
		if cfg.Identity, err = identity.LoadConfig(f.config); err != nil {
			return err
		}
	}
	if f.idpKey != "" {
		cfg.IDPKey, err = idp.LoadKey(f.idpKey)
	}
	return err
}

// checkLoopback refuses an admin address that is not a loopback IP (""
// is no admin API): the fault injection API must never be reachable from
// another host.
func checkLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin-listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--admin-listen %q: the fault injection API listens on a loopback IP only (127.0.0.1, ::1)", addr)
	}
	return nil
}

// serveAdmin serves inj's admin API on addr until ctx ends; the returned
// channel is closed when it has stopped (at once when addr is "").
func serveAdmin(ctx context.Context, addr string, inj *faults.Injector, stdout io.Writer, log *slog.Logger) (<-chan struct{}, error) {
	done := make(chan struct{})
	if addr == "" {
		close(done)
		return done, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-listen: %w", err)
	}
	fmt.Fprintf(stdout, "tvm-local fault injection API on http://%s/faults (loopback only)\n", ln.Addr())
	go func() {
		defer close(done)
		if err := localaws.Serve(ctx, ln, inj.Handler(), log.With("service", "faults")); err != nil {
			log.Error("fault injection API stopped", "error", err.Error())
		}
	}()
	return done, nil
}

// devKeysHint documents the built-in (non-secret) development credentials.
const devKeysHint = `Built-in dev credentials (documented, not secret; never use them against AWS):
  export AWS_ENDPOINT_URL=%s AWS_REGION=%s
  broker: AWS_ACCESS_KEY_ID=AKIATVMBROKER0000001 AWS_SECRET_ACCESS_KEY=tvmLocalBrokerSecretKey000000000000000001
  admin:  AWS_ACCESS_KEY_ID=AKIATVMADMIN00000001 AWS_SECRET_ACCESS_KEY=tvmLocalAdminSecretKey0000000000000000001
  roles:  arn:aws:iam::123456789012:role/tvm-tenant-read, .../tvm-tenant-readwrite, .../tvm-no-grant
`

// defaultAdmin is the fault injection API's address in the documentation's
// examples (tvm-local serve --admin-listen 127.0.0.1:4567).
const defaultAdmin = "http://127.0.0.1:4567"

// faultsCmd shows the faults of a running server, or replaces them with
// the ones its flags name, or removes them all (--clear).
func faultsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", defaultAdmin, "the fault injection API's base `URL` (tvm-local serve --admin-listen)")
	clear := fs.Bool("clear", false, "remove every fault")
	readSpec := faults.Flags(fs, "")
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
	}
	spec, err := readSpec()
	if err != nil || fs.NArg() > 0 {
		return cli.UsageError(stderr, "tvm-local faults", errors.Join(err, argsError(fs.Args())))
	}
	method, body := http.MethodGet, []byte(nil)
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "admin" && f.Name != "clear" {
			method = http.MethodPut
		}
	})
	switch {
	case *clear && method == http.MethodPut:
		return cli.UsageError(stderr, "tvm-local faults", errors.New("--clear takes no fault flags"))
	case *clear:
		method = http.MethodDelete
	case method == http.MethodPut:
		body, _ = json.Marshal(spec)
	}
	resp, out, err := callLocal(ctx, method, strings.TrimSuffix(*admin, "/")+"/faults", body)
	var bad *badURLError
	switch {
	case errors.As(err, &bad):
		return cli.UsageError(stderr, "tvm-local faults", bad.err)
	case err != nil && resp == nil:
		fmt.Fprintln(stderr, "tvm-local faults:", err)
		return exitError
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "tvm-local faults: %s: %s\n", resp.Status, bytes.TrimSpace(out))
		return exitError
	}
	_, _ = stdout.Write(append(bytes.TrimSpace(out), '\n'))
	return exitOK
}

// argsError refuses positional arguments.
func argsError(args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("unexpected arguments: %q", args)
}

// tokenFlags are the token command's settings.
type tokenFlags struct {
	tenant, subject, audience, endpoint string
	ttl                                 time.Duration
}

// defaultEndpoint is where token finds the local AWS: $AWS_ENDPOINT_URL
// (what a shell set up for the local AWS exports anyway), else the default
// listen address.
func defaultEndpoint() string {
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		return u
	}
	return "http://" + localaws.DefaultListen
}

func parseTokenFlags(args []string, stderr io.Writer) (*tokenFlags, error) {
	f := &tokenFlags{}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.tenant, "tenant", "", "tenant id put in the tenant_id claim (required)")
	fs.StringVar(&f.subject, "subject", "", "subject (sub claim) (required)")
	fs.StringVar(&f.audience, "audience", idp.DefaultAudience, "audience (aud claim)")
	fs.DurationVar(&f.ttl, "ttl", idp.DefaultTTL, "token lifetime, at most 24h (for following the README by hand, 12h)")
	fs.StringVar(&f.endpoint, "endpoint", defaultEndpoint(), "tvm-local base `URL` (default $AWS_ENDPOINT_URL, else http://"+localaws.DefaultListen+")")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case f.tenant == "":
		return nil, errors.New("--tenant is required")
	case f.subject == "":
		return nil, errors.New("--subject is required")
	case f.ttl < time.Second || f.ttl > idp.MaxTTL || f.ttl%time.Second != 0:
		return nil, fmt.Errorf("--ttl %v: want whole seconds between 1s and %v", f.ttl, idp.MaxTTL)
	case !strings.HasPrefix(f.endpoint, "http://") && !strings.HasPrefix(f.endpoint, "https://"):
		return nil, fmt.Errorf("--endpoint %q: want an http(s) URL", f.endpoint)
	}
	return f, nil
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseTokenFlags(args, stderr)
	if err != nil {
		return cli.UsageError(stderr, "tvm-local token", err)
	}
	body, _ := json.Marshal(idp.MintRequest{Tenant: f.tenant, Subject: f.subject, Audience: f.audience, TTLSeconds: int64(f.ttl / time.Second)})
	resp, raw, err := callLocal(ctx, http.MethodPost, strings.TrimSuffix(f.endpoint, "/")+idp.TokenPath, body)
	var bad *badURLError
	switch {
	case errors.As(err, &bad):
		fmt.Fprintln(stderr, "tvm-local token:", bad.err)
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, "tvm-local token:", err)
		return exitError
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(raw, &e)
		fmt.Fprintf(stderr, "tvm-local token: %s: %s %s\n", resp.Status, e.Error, e.Message)
		return exitError
	}
	var out idp.MintResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.Token == "" {
		fmt.Fprintln(stderr, "tvm-local token: malformed response from", f.endpoint)
		return exitError
	}
	_, _ = io.WriteString(stdout, out.Token)
	if isTerminal(stdout) {
		_, _ = io.WriteString(stdout, "\n")
	}
	return exitOK
}

// callLocal sends one request to a running tvm-local (with a JSON body
// when body is not nil), within 10 s, with no proxy and no kept
// connection, and returns its answer and up to 1 MiB of its body. A URL
// that makes no request is a *badURLError. When the body cannot be read,
// resp is the answer and err says why.
func callLocal(ctx context.Context, method, url string, body []byte) (resp *http.Response, raw []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &badURLError{err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	if resp, err = client.Do(req); err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, raw, err
}

// badURLError is a URL that makes no request: a usage error.
type badURLError struct{ err error }

func (e *badURLError) Error() string { return e.err.Error() }

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
