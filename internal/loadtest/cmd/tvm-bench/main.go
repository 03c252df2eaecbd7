// Command tvm-bench is the broker's load harness and soak test (package
// internal/loadtest); `make bench-load` and `make soak` run it.
//
// Usage:
//
//	tvm-bench load [--out DIR] [--rounds N] [--duration D] [--connections N] [--rate R] [--tenants N]
//	tvm-bench soak [--out DIR] [--duration D] [--connections N] [--tenants N] [--subjects N]
//	tvm-bench baseline --listen ADDR --issuer URL --jwks-url URL [--audience AUD]
//
// load and soak build tvm-broker and tvm-local from the module in the
// current directory, run them as processes on loopback and stop them;
// baseline is the bare verify-only handler load starts as its own process.
//
// Exit status: 0 success, 1 failure (for soak: a failed verdict), 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tvmkit/tvm/internal/cli"
	"github.com/tvmkit/tvm/internal/loadtest"
	"github.com/tvmkit/tvm/localaws/idp"
)

const usage = `usage:
  tvm-bench load [--out DIR] [--rounds N] [--duration D] [--connections N] [--rate R] [--tenants N]
  tvm-bench soak [--out DIR] [--duration D] [--connections N] [--tenants N] [--subjects N]
  tvm-bench baseline --listen ADDR --issuer URL --jwks-url URL [--audience AUD]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch("tvm-bench", args, "", map[string]cli.Command{
		"load":     func(args []string) int { return load(ctx, args, stdout, stderr) },
		"soak":     func(args []string) int { return soak(ctx, args, stdout, stderr) },
		"baseline": func(args []string) int { return baseline(ctx, args, stdout, stderr) },
	}, usage, stdout, stderr)
}

// subcommand parses the flags define declares on the flag set of name and
// runs do, reporting its error: the shape of every subcommand.
func subcommand(name string, args []string, stderr io.Writer, define func(*flag.FlagSet), do func() error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	define(fs)
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
	}
	if err := do(); err != nil {
		fmt.Fprintf(stderr, "tvm-bench %s: %v\n", name, err)
		if errors.As(err, new(usageError)) {
			fmt.Fprint(stderr, usage)
			return cli.ExitUsage
		}
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// usageError is an error in the arguments: the usage follows it, and the
// exit status is cli.ExitUsage.
type usageError string

func (e usageError) Error() string { return string(e) }

func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := loadtest.DefaultLoadOptions()
	o.Root = "."
	return subcommand("load", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Out, "out", ".tmp/bench-load", "`directory` for report.txt and latency.svg")
		fs.IntVar(&o.Rounds, "rounds", o.Rounds, "alternating rounds")
		fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each attack")
		fs.IntVar(&o.Connections, "connections", o.Connections, "connections at saturation")
		fs.IntVar(&o.Rate, "rate", o.Rate, "constant offered rate, requests a second")
		fs.IntVar(&o.Tenants, "tenants", o.Tenants, "tenants whose credentials are cached for the RSS figure")
	}, func() error { return loadtest.Load(ctx, o, stdout) })
}

func soak(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := loadtest.DefaultSoakOptions()
	o.Root = "."
	return subcommand("soak", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Out, "out", ".tmp/soak", "`directory` for soak.txt")
		fs.DurationVar(&o.Duration, "duration", o.Duration, "length of the soak")
		fs.IntVar(&o.Connections, "connections", o.Connections, "connections kept busy")
		fs.IntVar(&o.Tenants, "tenants", o.Tenants, "tenants")
		fs.IntVar(&o.Subjects, "subjects", o.Subjects, "subjects per tenant")
	}, func() error { return loadtest.Soak(ctx, o, stdout) })
}

func baseline(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var listen, issuer, jwksURL, audience string
	return subcommand("baseline", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&listen, "listen", "127.0.0.1:0", "listen `address`")
		fs.StringVar(&issuer, "issuer", "", "expected iss (required)")
		fs.StringVar(&jwksURL, "jwks-url", "", "JWK Set `URL` (required)")
		fs.StringVar(&audience, "audience", idp.DefaultAudience, "expected aud")
	}, func() error {
		if issuer == "" || jwksURL == "" {
			return usageError("--issuer and --jwks-url are required")
		}
		return loadtest.Baseline(ctx, loadtest.BaselineOptions{Listen: listen, Issuer: issuer, JWKSURL: jwksURL,
			Audience: audience, Ready: stdout})
	})
}
