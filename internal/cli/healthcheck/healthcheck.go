// Package healthcheck implements the `healthcheck` subcommand shared by the
// project's servers: it GETs a health URL and exits 0 on HTTP 200. It exists
// because the container images are distroless (no shell, no curl), so a
// compose or Kubernetes probe runs the binary itself.
//
// An https URL is verified like any TLS client does — against the system
// roots, or against --ca-file — for the name --server-name (default: the
// URL's host), so a probe of https://127.0.0.1:8443/readyz can check a
// certificate issued for the Service name. --cert-file and --key-file
// present a client certificate, for a server that requires one. The probe
// sends no credentials of any other kind and never follows a redirect.
package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tvmkit/tvm/internal/cli"
	"github.com/tvmkit/tvm/internal/tlsreload"
)

// Main runs the subcommand with args (without the subcommand name) and returns
// the exit status: 0 healthy, 1 unhealthy or unreachable, 2 usage error
// (including a CA or client certificate file that does not load).
func Main(args []string, defaultURL string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", defaultURL, "health `URL` to probe; healthy means HTTP 200")
	timeout := fs.Duration("timeout", 2*time.Second, "overall `timeout` of the probe")
	var t tlsFlags
	fs.StringVar(&t.caFile, "ca-file", "", "https: PEM `file` of the CAs to trust instead of the system roots")
	fs.StringVar(&t.serverName, "server-name", "", "https: the `name` the certificate must be valid for (default: the URL's host)")
	fs.StringVar(&t.certFile, "cert-file", "", "https: PEM client certificate `file` to present (with --key-file)")
	fs.StringVar(&t.keyFile, "key-file", "", "https: PEM private key `file` of --cert-file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: healthcheck [--url URL] [--timeout D] [--ca-file F] [--server-name N] [--cert-file F --key-file F]\n\nProbes a health endpoint; exit 0 when it answers 200.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code
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
	if err := t.check(u.Scheme == "https"); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	cfg, err := t.config()
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	if err := probe(*target, *timeout, cfg); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

// tlsFlags are the https settings of a probe.
type tlsFlags struct{ caFile, serverName, certFile, keyFile string }

// check reports a usage error: TLS flags on an http URL, or half a client
// certificate.
func (t tlsFlags) check(https bool) error {
	switch {
	case !https && t != (tlsFlags{}):
		return errors.New("--ca-file, --server-name, --cert-file and --key-file need an https --url")
	case (t.certFile == "") != (t.keyFile == ""):
		return errors.New("--cert-file and --key-file go together")
	}
	return nil
}

// config returns the client TLS configuration (nil when no flag is set):
// TLS 1.2 or later, as the broker serves.
func (t tlsFlags) config() (*tls.Config, error) {
	if t == (tlsFlags{}) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.serverName}
	if t.caFile != "" {
		pool, _, err := tlsreload.LoadCAs(t.caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.certFile != "" {
		cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func probe(target string, timeout time.Duration, tlsConfig *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		// A probe must not follow a redirect to somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConfig},
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
