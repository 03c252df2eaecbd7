// Package healthcheck implements the `healthcheck` subcommand shared by the
// project's servers: it GETs a health URL and exits 0 on HTTP 200. It exists
// because the container images are distroless (no shell, no curl), so a
// compose or Kubernetes probe runs the binary itself.
package healthcheck

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Main runs the subcommand with args (without the subcommand name) and returns
// the exit status: 0 healthy, 1 unhealthy or unreachable, 2 usage error.
func Main(args []string, defaultURL string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", defaultURL, "health `URL` to probe; healthy means HTTP 200")
	timeout := fs.Duration("timeout", 2*time.Second, "overall `timeout` of the probe")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: healthcheck [--url URL] [--timeout D]\n\nProbes a health endpoint; exit 0 when it answers 200.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthcheck: --url must be an absolute http(s) URL\n")
		return 2
	}
	if err := probe(*target, *timeout); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

func probe(target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		// A probe must not follow a redirect to somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d", target, resp.StatusCode)
	}
	return nil
}
