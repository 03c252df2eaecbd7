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
		"baseline": func(args []string) int { return baseline(ctx, args, stderr) },
	}, usage, stdout, stderr)
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.LoadOptions
	fs.StringVar(&o.Out, "out", ".tmp/bench-load", "`directory` for report.txt and latency.svg")
	fs.IntVar(&o.Rounds, "rounds", 3, "alternating rounds")
	fs.DurationVar(&o.Duration, "duration", 10e9, "length of each attack")
	fs.IntVar(&o.Connections, "connections", 64, "connections at saturation")
	fs.IntVar(&o.Rate, "rate", 5000, "constant offered rate, requests a second")
	fs.IntVar(&o.Tenants, "tenants", 10000, "tenants whose credentials are cached for the RSS figure")
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
	}
	o.Root = "."
	if err := loadtest.Load(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "tvm-bench load: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

func soak(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.SoakOptions
	fs.StringVar(&o.Out, "out", ".tmp/soak", "`directory` for soak.txt")
	fs.DurationVar(&o.Duration, "duration", 60e9, "length of the soak")
	fs.IntVar(&o.Connections, "connections", 64, "connections kept busy")
	fs.IntVar(&o.Tenants, "tenants", 500, "tenants")
	fs.IntVar(&o.Subjects, "subjects", 4, "subjects per tenant")
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
	}
	o.Root = "."
	if err := loadtest.Soak(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "tvm-bench soak: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

func baseline(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen `address`")
	issuer := fs.String("issuer", "", "expected iss (required)")
	jwksURL := fs.String("jwks-url", "", "JWK Set `URL` (required)")
	audience := fs.String("audience", idp.DefaultAudience, "expected aud")
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
	}
	if *issuer == "" || *jwksURL == "" {
		fmt.Fprint(stderr, "tvm-bench baseline: --issuer and --jwks-url are required\n"+usage)
		return cli.ExitUsage
	}
	if err := loadtest.Baseline(ctx, *listen, *issuer, *jwksURL, *audience); err != nil {
		fmt.Fprintf(stderr, "tvm-bench baseline: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}
