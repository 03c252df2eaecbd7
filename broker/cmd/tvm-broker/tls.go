package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/tlsreload"
)

// sdkPlainHTTPAddrs are the addresses besides loopback to which the AWS
// SDKs fetch container credentials over plain http: ECS's and EKS's
// (aws-semantics.md §6). Anything else must be https.
var sdkPlainHTTPAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.170.2"),
	netip.MustParseAddr("169.254.170.23"),
	netip.MustParseAddr("fd00:ec2::23"),
}

// sdkAcceptsPlainHTTP reports whether the AWS SDKs' container credentials
// providers accept a plain http URL whose host is ip.
func sdkAcceptsPlainHTTP(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, a := range sdkPlainHTTPAddrs {
		if ip == a {
			return true
		}
	}
	return ip.IsLoopback()
}

// warnPlainHTTP logs a warning when the broker serves plain http on an
// address the SDKs would not fetch credentials from over http.
func warnPlainHTTP(log *slog.Logger, addr net.Addr) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || sdkAcceptsPlainHTTP(ap.Addr()) {
		return
	}
	log.Warn("serving plain http on an address the AWS SDKs refuse for container credentials "+
		"(only loopback, 169.254.170.2, 169.254.170.23 and fd00:ec2::23): configure server.tls, "+
		"or serve behind a TLS proxy", slog.String("addr", addr.String()))
}

// startTLS loads the configured certificate and starts reloading it; nil
// when server.tls is off. The reloader's polling ends with ctx or Close.
func startTLS(ctx context.Context, cfg *config.TLS, log *slog.Logger) (*tlsreload.Reloader, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	opts := cfg.ReloaderOptions()
	opts.Logger = log
	r, err := tlsreload.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	return r, nil
}

// checkTLS loads the TLS files as serve would and writes what it checked
// and found; the error says why they would not serve. now is the clock of
// the expiry check.
func checkTLS(w io.Writer, s *config.Server, listen string, now time.Time) error {
	if !s.TLS.Enabled() {
		fmt.Fprintf(w, "tls: off (server.tls not set): plain http on %s\n", listen)
		if host, _, err := net.SplitHostPort(listen); err == nil {
			if ip, err := netip.ParseAddr(host); err != nil || !sdkAcceptsPlainHTTP(ip) {
				fmt.Fprintln(w, "tls: warning: the AWS SDKs fetch container credentials over plain http only from loopback, "+
					"169.254.170.2, 169.254.170.23 and fd00:ec2::23; a broker reached on another address needs server.tls")
			}
		}
		return nil
	}
	opts := s.TLS.ReloaderOptions()
	opts.Now = func() time.Time { return now }
	sum, err := tlsreload.Inspect(opts)
	if err != nil {
		fmt.Fprintf(w, "tls: FAIL: %v\n", err)
		return fmt.Errorf("server.tls: %w", err)
	}
	leaf := sum.Leaf
	fmt.Fprintf(w, "tls: ok: %s and %s are readable, parse, match each other and are not expired; TLS 1.2 minimum\n",
		s.TLS.CertFile, s.TLS.KeyFile)
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	left := leaf.NotAfter.Sub(now)
	fmt.Fprintf(w, "tls: certificate serial %s, subject %q, issuer %q, names [%s], valid until %s (%s left), chain of %d\n",
		leaf.SerialNumber.Text(16), leaf.Subject.String(), leaf.Issuer.String(), strings.Join(names, " "),
		leaf.NotAfter.UTC().Format(time.RFC3339), left.Truncate(time.Minute), sum.Chain)
	if left < 7*24*time.Hour {
		fmt.Fprintln(w, "tls: warning: the certificate expires within 7 days")
	}
	if sum.ClientAuth == tlsreload.ClientAuthNone {
		fmt.Fprintln(w, "tls: client certificates: not requested")
	} else {
		fmt.Fprintf(w, "tls: client certificates: %s, against %d CA certificate(s) in %s\n", sum.ClientAuth, sum.ClientCAs, s.TLS.ClientCAFile)
	}
	if s.TLS.ReloadInterval < 0 {
		fmt.Fprintln(w, "tls: reloaded on SIGHUP only (reload_interval is negative)")
	} else {
		fmt.Fprintf(w, "tls: reloaded when the files change (checked every %s) and on SIGHUP\n", s.TLS.ReloadInterval)
	}
	return nil
}
