// Command tvm-broker is the token vending machine: an HTTP service that
// verifies a JWT, takes the tenant from a claim, renders a checked
// dynamodb:LeadingKeys session policy and returns STS temporary credentials
// scoped to that tenant.
//
// Usage:
//
//	tvm-broker [serve] --config FILE [--listen ADDR]
//	tvm-broker check   --config FILE [--rows] [--skip-tls]
//	tvm-broker render  --config FILE --profile P --tenant T
//	tvm-broker revoke  --config FILE --tenant T [--before TIME] [--apply | --list | --remove [--expired]]
//	                   [--profile AWS_PROFILE] [--broker-identity ARN]
//	tvm-broker healthcheck [--url URL] [--ca-file F] [--server-name N] [--cert-file F --key-file F]
//	tvm-broker version
//
// serve runs the HTTP API (see package broker/api) until SIGINT or SIGTERM,
// then shuts down gracefully. With server.tls it serves https (TLS 1.2 or
// later) from certificate files it reloads when they change and on SIGHUP
// (package internal/tlsreload); without it, plain http, with a warning when
// the address is one the AWS SDKs would not fetch credentials from over
// http. It logs JSON lines to stderr; the line with msg "ready" carries the
// bound address in "addr" and "http" or "https" in "scheme". The STS
// endpoint comes from the AWS SDK's standard configuration
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS) and the broker's own credentials
// from the SDK's default chain.
//
// serve reloads the configuration on SIGHUP (and, with reload.watch, when
// its files change): a new configuration is loaded, validated, compiled
// and proven completely before it replaces the running one, which stays on
// any failure; requests in flight finish with the configuration they
// started with. With block_list.file it refuses the tenants the file lists
// (re-read every poll interval). See docs/operations.md.
//
// revoke prints the Deny that revokes a tenant's sessions issued before a
// cut-off on every role of the configuration (package broker/revoke);
// --apply attaches it with the operator's AWS credentials (never the
// broker's), --list and --remove manage the revocations in place.
//
// check validates the configuration, loads and lints the templates, renders
// every profile and runs its isolation proof, prints one row per profile,
// loads the TLS files (readable, a matching pair, not expired) and says what
// they hold, and exits non-zero if any of it fails: a gate for CI
// pipelines. render prints the session policy a tenant would get.
// healthcheck probes a running broker (default http://127.0.0.1:8080/readyz; for https,
// --ca-file and --server-name say whom to trust) and exits 0 when it is
// ready: the container image has no shell or curl.
//
// Exit status: 0 success, 1 failure, 2 bad usage or invalid configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/cli"
	"github.com/tvmkit/tvm/internal/cli/healthcheck"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit statuses (cli's).
const (
	exitOK      = cli.ExitOK
	exitFailure = cli.ExitFailure
	exitUsage   = cli.ExitUsage
)

const usage = `usage:
  tvm-broker [serve] --config FILE [--listen ADDR]   run the credential broker
  tvm-broker check   --config FILE [--rows] [--skip-tls]
                                                     validate config, lint and prove every profile, load the TLS files
  tvm-broker render  --config FILE --profile P --tenant T
                                                     print the session policy for a tenant
  tvm-broker revoke  --config FILE --tenant T [--before TIME] [--apply] [--profile AWS_PROFILE] [--broker-identity ARN]
  tvm-broker revoke  --config FILE --list [--tenant T]
  tvm-broker revoke  --config FILE --remove (--tenant T [--before TIME] | --expired)
                                                     revoke a tenant's sessions: print the Deny, attach it with the
                                                     operator's AWS credentials, list or remove revocations
  tvm-broker healthcheck [--url URL] [--ca-file F --server-name N]
                                                     exit 0 if a running broker is ready
  tvm-broker version                                 print the version
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes one subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return cli.Dispatch("tvm-broker", args, "serve", map[string]cli.Command{
		"serve":  func(args []string) int { return serve(ctx, args, stderr, getenv) },
		"check":  func(args []string) int { return check(args, stdout, stderr, getenv) },
		"render": func(args []string) int { return render(args, stdout, stderr, getenv) },
		"revoke": func(args []string) int { return revokeCmd(ctx, args, stdout, stderr, getenv) },
		"healthcheck": func(args []string) int {
			return healthcheck.Main(args, "http://127.0.0.1:8080/readyz", stdout, stderr)
		},
		"version": func([]string) int {
			fmt.Fprintf(stdout, "tvm-broker %s (%s)\n", buildVersion(), runtime.Version())
			return exitOK
		},
	}, usage, stdout, stderr)
}

// subcommand is the flag set of a subcommand that reads the configuration
// file named by its --config flag.
type subcommand struct {
	name       string
	fs         *flag.FlagSet
	configPath *string
}

func newSubcommand(name string, stderr io.Writer) *subcommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &subcommand{name: name, fs: fs, configPath: fs.String("config", "", "configuration file (required)")}
}

// load parses args, checks that --config and the flags named in required
// are set and that no argument is left, and loads the configuration. When
// the command should end it has written why to stderr and returns ok false
// with the exit status.
func (s *subcommand) load(args []string, stderr io.Writer, getenv func(string) string, required ...string) (cfg *config.Config, code int, ok bool) {
	if code, ok := cli.ParseFlags(s.fs, args); !ok {
		return nil, code, false
	}
	names := []string{"--config"}
	missing := *s.configPath == ""
	for _, name := range required {
		names = append(names, "--"+name)
		missing = missing || s.fs.Lookup(name).Value.String() == ""
	}
	if missing || s.fs.NArg() > 0 {
		verb := "is"
		if len(names) > 1 {
			verb = "are"
		}
		fmt.Fprintf(stderr, "tvm-broker %s: %s %s required and no arguments are taken\n%s", s.name, strings.Join(names, " and "), verb, usage)
		return nil, exitUsage, false
	}
	cfg, err := config.Load(*s.configPath, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker %s: invalid configuration: %v\n", s.name, err)
		return nil, exitUsage, false
	}
	return cfg, exitOK, true
}

// buildVersion returns the version this binary was built with.
func buildVersion() string { return cli.Version(version) }
