package api

import (
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Rate-limit scopes, as reported in metrics.
const (
	scopeTenant  = "tenant"
	scopeSubject = "subject"
)

// limits holds the per-tenant and per-subject limiters; a nil limiter is
// a scope without a limit.
type limits struct {
	tenant, subject *lruLimiter
}

// RateLimits are the per-tenant and per-subject buckets of a
// RateLimitOptions, made to be shared by several handlers (Options.
// RateLimits): a configuration reload that leaves the limits alone keeps
// their state, so that it hands no caller a fresh burst.
type RateLimits struct{ l *limits }

// NewRateLimits returns the buckets of o.
func NewRateLimits(o RateLimitOptions) (*RateLimits, error) {
	l, err := newLimits(o)
	if err != nil {
		return nil, err
	}
	return &RateLimits{l}, nil
}

func newLimits(o RateLimitOptions) (*limits, error) {
	entries := o.Entries
	if entries <= 0 {
		entries = DefaultLimiterEntries
	}
	l := &limits{}
	var err error
	if o.PerTenant.RPS > 0 {
		if l.tenant, err = newLRULimiter(o.PerTenant, entries); err != nil {
			return nil, err
		}
	}
	if o.PerSubject.RPS > 0 {
		if l.subject, err = newLRULimiter(o.PerSubject, entries); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// allow takes one token from the tenant's and the subject's bucket. When
// either is empty it takes none and returns the limiting scope and the delay
// after which a retry can succeed.
func (l *limits) allow(tenant, subject string, now time.Time) (scope string, retryAfter time.Duration, ok bool) {
	var rs []*rate.Reservation
	cancel := func() {
		for _, r := range rs {
			r.CancelAt(now)
		}
	}
	check := func(lim *lruLimiter, key, name string) bool {
		if lim == nil {
			return true
		}
		r := lim.get(key).ReserveN(now, 1)
		rs = append(rs, r)
		if d := r.DelayFrom(now); d > 0 {
			if d > retryAfter {
				retryAfter, scope = d, name
			}
			return false
		}
		return true
	}
	okT := check(l.tenant, tenant, scopeTenant)
	// Subjects are unique per tenant: key them by both.
	okS := check(l.subject, tenant+"\x00"+subject, scopeSubject)
	if okT && okS {
		return "", 0, true
	}
	cancel()
	return scope, retryAfter, false
}

// lruLimiter is a bounded map of token buckets
// (github.com/hashicorp/golang-lru/v2, safe for concurrent use); the least
// recently used bucket is evicted when the map is full (its caller then
// starts again with a full bucket, which bounds memory at the price of one
// extra burst).
type lruLimiter struct {
	rate    Rate
	buckets *lru.Cache[string, *rate.Limiter]
}

func newLRULimiter(r Rate, entries int) (*lruLimiter, error) {
	r.Burst = max(r.Burst, 1)
	buckets, err := lru.New[string, *rate.Limiter](entries)
	if err != nil {
		return nil, fmt.Errorf("api: rate limiter: %w", err)
	}
	return &lruLimiter{rate: r, buckets: buckets}, nil
}

// get returns key's bucket, creating it full when it is missing. Two
// callers racing on a missing key get the same bucket.
func (l *lruLimiter) get(key string) *rate.Limiter {
	if lim, ok := l.buckets.Get(key); ok {
		return lim
	}
	lim := rate.NewLimiter(rate.Limit(l.rate.RPS), l.rate.Burst)
	if prev, ok, _ := l.buckets.PeekOrAdd(key, lim); ok {
		return prev
	}
	return lim
}
