package api

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/tvmkit/tvm/broker/errs"
)

// Abuse limits before authentication. A request's token costs one
// signature verification before any per-tenant limit can apply, so an
// unauthenticated flood is bounded here, in front of the verifier:
//
//   - per client address, a token bucket of failed authentications
//     (PreAuthOptions.PerClient): a request is verified only while its
//     source's bucket holds a token, and a token is taken when the
//     verification fails, so valid callers never spend it (the per-tenant
//     and per-subject buckets limit them after authentication), however many
//     of their requests are in flight, while each missing, malformed or
//     forged token costs its source. An empty bucket answers 429
//     rate_limited with Retry-After, before any verification. Failures in
//     flight together may overdraw a bucket by at most the number of
//     concurrent verifications. IPv6 clients are keyed by their /64, which
//     one host usually holds whole.
//   - a cap on concurrent verifications (MaxConcurrent): a request waits at
//     most MaxWait for a slot, then is answered 503 overloaded with
//     Retry-After; the CPU the verifier may use, and so the latency it adds
//     to every caller, stays bounded however many sources send tokens.
//
// A token the verifier remembers (cachedVerifier: the broker's
// verified-token cache) checks no signature and meets neither limit.
//
// The client address is the connection's peer, or, when it is one of
// ServerOptions.TrustedProxies, the nearest untrusted address of
// X-Forwarded-For (Echo's ExtractIPFromXFFHeader with only those ranges
// trusted). Without trusted proxies X-Forwarded-For is ignored: behind a
// proxy that is not configured, every client shares the proxy's bucket.

// Pre-auth limiter scopes, as reported in metrics (tvm_rate_limited_total
// and tvm_overloaded_total).
const (
	scopeClient       = "client"
	scopeVerification = "verification"
)

// PreAuthOptions configures NewPreAuth. The zero value limits nothing.
type PreAuthOptions struct {
	// PerClient is the bucket of failed authentications per client
	// address; RPS zero or negative means no per-client limit.
	PerClient Rate
	// Entries bounds the per-client buckets (least recently used are
	// evicted); default DefaultLimiterEntries.
	Entries int
	// MaxConcurrent caps concurrent token verifications; zero or negative
	// means no cap.
	MaxConcurrent int
	// MaxWait is how long a request waits for a verification slot when all
	// are taken; zero means not at all.
	MaxWait time.Duration
}

// PreAuth is the limiter in front of token verification. It is safe for
// concurrent use and may be shared by several handlers (New's
// Options.PreAuth), so that a configuration reload keeps its state.
type PreAuth struct {
	clients *lruLimiter // nil: no per-client limit
	slots   chan struct{}
	wait    time.Duration
}

// NewPreAuth returns the limiter of o.
func NewPreAuth(o PreAuthOptions) (*PreAuth, error) {
	p := &PreAuth{wait: max(o.MaxWait, 0)}
	if o.PerClient.RPS > 0 {
		entries := o.Entries
		if entries <= 0 {
			entries = DefaultLimiterEntries
		}
		var err error
		if p.clients, err = newLRULimiter(o.PerClient, entries); err != nil {
			return nil, err
		}
	}
	if o.MaxConcurrent > 0 {
		p.slots = make(chan struct{}, o.MaxConcurrent)
	}
	return p, nil
}

// InFlight returns the number of verifications running now.
func (p *PreAuth) InFlight() int { return len(p.slots) }

// verify runs fn, the token verification of a request from client (now is
// the clock),
// within the limits: it refuses (429, 503) before running fn when the
// client's bucket is empty or no slot frees within the wait, and takes a
// token from the client's bucket when fn fails. scope names the refusing
// limit.
func (p *PreAuth) verify(ctx context.Context, client string, now func() time.Time, fn func() error) (scope string, err error) {
	var bucket *rate.Limiter
	if p.clients != nil {
		bucket = p.clients.get(clientKey(client))
		if tokens := bucket.TokensAt(now()); tokens < 1 {
			wait := time.Duration((1 - tokens) / float64(bucket.Limit()) * float64(time.Second))
			return scopeClient, &errs.Error{Kind: errs.KindRateLimited, Code: errs.CodeRateLimited,
				Message: "too many failed authentications from this address", RetryAfter: wait}
		}
	}
	if p.slots != nil {
		if err := p.acquire(ctx); err != nil {
			return scopeVerification, err
		}
		defer func() { <-p.slots }()
	}
	if err = fn(); err != nil && bucket != nil {
		bucket.AllowN(now(), 1) // takes the token when there is one left
	}
	return "", err
}

// acquire takes a verification slot, waiting at most p.wait.
func (p *PreAuth) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	overloaded := &errs.Error{Kind: errs.KindOverloaded, Code: errs.CodeOverloaded,
		Message: "too many token verifications in progress", RetryAfter: time.Second}
	if p.wait <= 0 {
		return overloaded
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return overloaded
	case <-ctx.Done():
		return overloaded
	}
}

// clientKey is the bucket key of a client address: the address itself, or
// the /64 of an IPv6 address.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ipExtractor returns how the client address is taken: the peer, or,
// from trusted proxies only, X-Forwarded-For.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// String describes the limits, for logs.
func (o PreAuthOptions) String() string {
	return fmt.Sprintf("per client %g/s burst %d, %d concurrent verifications, wait %s", o.PerClient.RPS, o.PerClient.Burst, o.MaxConcurrent, o.MaxWait)
}
