package api

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tvmkit/tvm/broker/config"
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

func newLimits(cfg config.RateLimit, entries int) *limits {
	l := &limits{}
	if cfg.Disabled {
		return l
	}
	if cfg.PerTenantRPS > 0 {
		l.tenant = newLRULimiter(cfg.PerTenantRPS, cfg.PerTenantBurst, entries)
	}
	if cfg.PerSubjectRPS > 0 {
		l.subject = newLRULimiter(cfg.PerSubjectRPS, cfg.PerSubjectBurst, entries)
	}
	return l
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

// lruLimiter is a bounded map of token buckets; the least recently used
// bucket is evicted when the map is full (its caller then starts again with
// a full bucket, which bounds memory at the price of one extra burst).
type lruLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // front: most recently used
	byKey map[string]*list.Element
}

type lruEntry struct {
	key string
	lim *rate.Limiter
}

func newLRULimiter(rps float64, burst, max int) *lruLimiter {
	if burst < 1 {
		burst = 1
	}
	return &lruLimiter{
		limit: rate.Limit(rps),
		burst: burst,
		max:   max,
		order: list.New(),
		byKey: make(map[string]*list.Element),
	}
}

func (l *lruLimiter) get(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[key]; ok {
		l.order.MoveToFront(el)
		return el.Value.(*lruEntry).lim
	}
	for l.order.Len() >= l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.byKey, oldest.Value.(*lruEntry).key)
	}
	e := &lruEntry{key: key, lim: rate.NewLimiter(l.limit, l.burst)}
	l.byKey[key] = l.order.PushFront(e)
	return e.lim
}

func (l *lruLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
