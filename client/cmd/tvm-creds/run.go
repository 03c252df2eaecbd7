package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tvmkit/tvm/client"
	"github.com/tvmkit/tvm/internal/cli"
)

// output is the credential_process format (Version 1).
type output struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
	AccountID       string `json:"AccountId,omitempty"`
}

type options struct {
	broker, tokenFile, tokenEnv, profile string
	duration, timeout                    time.Duration
	insecure                             bool
}

// durationFlag accepts seconds ("900") or a Go duration ("15m").
type durationFlag struct{ d *time.Duration }

// String implements flag.Value.
func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

// Set implements flag.Value.
func (f durationFlag) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(1<<62/time.Second) {
			return errors.New("out of range")
		}
		*f.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New(`want seconds ("900") or a duration ("15m")`)
	}
	*f.d = d
	return nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tvm-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.broker, "broker", getenv("TVM_BROKER_URL"), "broker base URL (default $TVM_BROKER_URL)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the JWT (re-read on every run)")
	fs.StringVar(&o.tokenEnv, "token-env", "TVM_TOKEN", "environment variable holding the JWT, used without --token-file")
	fs.StringVar(&o.profile, "profile", "", "broker profile (default: the broker's default profile)")
	fs.Var(durationFlag{&o.duration}, "duration", `session duration: seconds or a Go duration (default: the profile's)`)
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "overall deadline, retries included")
	fs.BoolVar(&o.insecure, "allow-insecure-http", false, "allow plain http to a non-loopback broker (test networks only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tvm-creds --broker URL [--token-file FILE | --token-env NAME] [--profile P] [--duration D] [--timeout D] [--allow-insecure-http]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.broker == "":
		return nil, errors.New("--broker (or TVM_BROKER_URL) is required")
	case o.tokenFile == "" && o.tokenEnv == "":
		return nil, errors.New("one of --token-file or --token-env is required")
	case o.timeout <= 0:
		return nil, errors.New("--timeout must be positive")
	}
	return o, nil
}

// run is main without the process: it returns the exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return cli.UsageError(stderr, "tvm-creds", err)
	}
	var tokens client.TokenSource
	if o.tokenFile != "" {
		tokens = client.FileToken(o.tokenFile)
	} else {
		name := o.tokenEnv
		tokens = client.TokenFunc(func(context.Context) (string, error) {
			if v := getenv(name); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("environment variable %s is empty", name)
		})
	}
	p := client.New(o.broker, tokens, func(opt *client.Options) {
		opt.Profile = o.profile
		opt.Duration = o.duration
		opt.AllowInsecureHTTP = o.insecure
		opt.UserAgent = "tvm-creds/1"
	})
	if err := p.Err(); err != nil {
		fmt.Fprintf(stderr, "tvm-creds: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	creds, err := p.Retrieve(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-creds: %v\n", err)
		return 1
	}
	out := output{
		Version:         1,
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expiration:      creds.Expires.UTC().Format(time.RFC3339),
		AccountID:       creds.AccountID,
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(stderr, "tvm-creds: writing output: %v\n", err)
		return 1
	}
	return 0
}
