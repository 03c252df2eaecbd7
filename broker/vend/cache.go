package vend

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

// The cache policy. The configurable values (CacheOptions) default to the
// configuration file's defaults and bounds, which config owns because it
// validates the file: config.DefaultCacheMaxEntries, DefaultRefreshBefore,
// DefaultClientWindow, MaxClientWindow and ServingMargin. The rest is fixed
// here.
const (
	// negativeTTL is how long an AccessDenied is answered from the cache.
	negativeTTL = 30 * time.Second
	// refreshRetry is the pause after a failed background refresh.
	refreshRetry = 30 * time.Second
	// refreshScanEvery is how often the Vendor's background refresher looks
	// for sets due for a refresh (refresher.go).
	refreshScanEvery = 10 * time.Second
	// maxBackgroundRefreshes bounds the refreshes running at once, so that
	// the refresher never floods STS (during throttling or an outage above
	// all).
	maxBackgroundRefreshes = 8
)

// CacheOptions configures the credential cache. Zero fields take the
// defaults named on each field.
type CacheOptions struct {
	// Disabled turns the cache off: every request calls AssumeRole.
	Disabled bool
	// MaxEntries bounds the cache (least recently used entries are evicted
	// and forgotten); default config.DefaultCacheMaxEntries.
	MaxEntries int
	// RefreshBefore: a hit starts a background refresh when less than
	// min(RefreshBefore, half the set's lifetime) remains, jittered; default
	// config.DefaultRefreshBefore.
	RefreshBefore time.Duration
	// ClientWindow is the AWS SDKs' expiry window: a set with less than
	// ClientWindow + config.ServingMargin left is never served, cached or
	// fresh from STS. Default config.DefaultClientWindow, at most
	// config.MaxClientWindow.
	ClientWindow time.Duration
}

// withDefaults returns o with every zero field set to its default, or an
// error naming a field that is out of range.
func (o CacheOptions) withDefaults() (CacheOptions, error) {
	err := errors.Join(
		orDefault("Cache.MaxEntries", &o.MaxEntries, config.DefaultCacheMaxEntries),
		orDefault("Cache.RefreshBefore", &o.RefreshBefore, config.DefaultRefreshBefore),
		orDefault("Cache.ClientWindow", &o.ClientWindow, config.DefaultClientWindow),
	)
	if err == nil && o.ClientWindow > config.MaxClientWindow {
		// Even a fresh 15-minute session would be inside the window.
		err = fmt.Errorf("vend: Cache.ClientWindow must be at most %s", config.MaxClientWindow)
	}
	return o, err
}

// orDefault sets *v to def when it is zero; a negative *v is an error
// naming field.
func orDefault[T int | time.Duration](field string, v *T, def T) error {
	switch {
	case *v < 0:
		return fmt.Errorf("vend: %s must not be negative", field)
	case *v == 0:
		*v = def
	}
	return nil
}

// freshness holds the rules deciding whether a credential set may be served
// and when it is refreshed. It applies with the cache disabled too: a set
// fresh from STS must be servable.
type freshness struct {
	// floor is the least remaining life of a served set: the client window
	// plus config.ServingMargin.
	floor         time.Duration
	refreshBefore time.Duration
}

func newFreshness(o CacheOptions) freshness {
	return freshness{floor: o.ClientWindow + config.ServingMargin, refreshBefore: o.RefreshBefore}
}

// servable reports whether a set expiring at exp may be served at now.
func (f freshness) servable(exp, now time.Time) bool { return exp.Sub(now) >= f.floor }

// refreshAt returns when a set expiring at exp, stored at now, is due for a
// background refresh: min(refreshBefore, half its lifetime) before expiry,
// delayed by a random jitter of up to a quarter of that lead above the floor
// so that sets stored together do not all refresh together.
func (f freshness) refreshAt(exp, now time.Time) time.Time {
	lead := min(f.refreshBefore, exp.Sub(now)/2)
	var jitter time.Duration
	if spread := (lead - f.floor) / 4; spread > 0 {
		jitter = rand.N(spread)
	}
	return exp.Add(-lead + jitter)
}

// cacheKey identifies one cached credential set. The policy is not part of
// the key because it is a pure function of (profile fingerprint, tenant):
// Fingerprint (profiles.Profile.Fingerprint) changes with anything a
// session is made of, so a set cached for a profile before a configuration
// reload changed it is never served for the new one, even when a fetch
// started before the reload stores it afterwards; the entry records the
// policy hash it was issued with. Subject is empty for per-tenant sessions.
// Duration is the requested session length, so a set is only ever served
// to requests for the same duration.
type cacheKey struct {
	Profile     string
	Fingerprint string
	Tenant      string
	Subject     string
	Duration    time.Duration
}

// String returns the single-flight key: every field is length-prefixed,
// so distinct keys never share a string.
func (k cacheKey) String() string {
	var b strings.Builder
	for _, f := range [...]string{k.Profile, k.Fingerprint, k.Tenant, strconv.FormatInt(int64(k.Duration), 10), k.Subject} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// entry is one cache slot: either a credential set or a negative (denied)
// result. Only key, creds and denied are set at creation; the other fields
// change under the cache's mutex.
type entry struct {
	key   cacheKey
	creds *Credentials // nil for a negative entry; never modified once stored
	// refreshAt is when a hit starts a background refresh (jittered).
	refreshAt  time.Time
	refreshing bool
	// hits counts the requests served from this set: a set served at
	// least once is in use, and the background refresher renews it.
	hits int
	// denied, until deniedUntil, is returned without calling STS.
	denied      *errs.Error
	deniedUntil time.Time
}

// servable reports whether e holds a set that may be served at now.
func (e *entry) servable(f freshness, now time.Time) bool {
	return e.creds != nil && f.servable(e.creds.Expiration, now)
}

// refreshDue reports whether a hit at now must start a background refresh
// of e: its refresh time has come and no refresh is running.
func (e *entry) refreshDue(now time.Time) bool {
	return e.creds != nil && !e.refreshing && !now.Before(e.refreshAt)
}

// deniedLive reports whether e is a negative entry still answered at now.
func (e *entry) deniedLive(now time.Time) bool {
	return e.denied != nil && now.Before(e.deniedUntil)
}

// credCache is the Vendor's bounded LRU of credential sets and AccessDenied
// results, with the freshness rules. Fetching is not its business: it
// stores what the Vendor fetched and says what may be served. It is safe for
// concurrent use.
//
// An entry that is evicted or purged stays forgotten: a background refresh
// that started before does not bring it back (replace). A purge is not
// undone by a fetch in flight across it either: every purge starts a new
// generation, a fetch stores its result only in the generation it started
// in (store, deny), and the single-flight key carries the generation, so a
// request made after a purge never joins a fetch begun before it.
type credCache struct {
	fresh freshness
	now   func() time.Time

	mu  sync.Mutex
	lru *simplelru.LRU[cacheKey, *entry]
	gen uint64 // purges so far
}

func newCredCache(maxEntries int, fresh freshness, now func() time.Time) (*credCache, error) {
	l, err := simplelru.NewLRU[cacheKey, *entry](maxEntries, nil)
	if err != nil {
		return nil, fmt.Errorf("vend: %w", err)
	}
	return &credCache{fresh: fresh, now: now, lru: l}, nil
}

// answer is what the cache holds for a key.
type answer struct {
	// creds is a copy of a servable set; nil when there is none.
	creds *Credentials
	// denied is a copy of a live AccessDenied result; nil when there is none.
	denied *errs.Error
	// refresh, set by serve, is an entry whose background refresh the caller
	// has claimed and must start (or release with endRefresh).
	refresh *entry
	// gen is the cache's generation at the lookup: a fetch for a miss
	// passes it to store or deny.
	gen uint64
}

// hit reports whether the answer serves the request.
func (a answer) hit() bool { return a.creds != nil || a.denied != nil }

// serve answers a request for key: a servable set (claiming its background
// refresh when one is due) or a live negative result. The key becomes the
// most recently used.
func (c *credCache) serve(key cacheKey) answer { return c.lookup(key, true) }

// peek is serve without claiming a refresh: the single-flight re-check.
func (c *credCache) peek(key cacheKey) answer { return c.lookup(key, false) }

func (c *credCache) lookup(key cacheKey, claim bool) answer {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	switch {
	case !ok:
		return answer{gen: c.gen}
	case e.servable(c.fresh, now):
		creds := *e.creds
		a := answer{creds: &creds, gen: c.gen}
		if claim {
			e.hits++
		}
		if claim && e.refreshDue(now) {
			e.refreshing = true
			a.refresh = e
		}
		return a
	case e.deniedLive(now):
		denied := *e.denied
		return answer{denied: &denied, gen: c.gen}
	}
	return answer{gen: c.gen}
}

// generation returns the cache's generation, for a fetch about to start.
func (c *credCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// claimDue claims, for the background refresher, at most limit sets that
// are due for a refresh at now, still servable and in use (served from the
// cache at least once since they were stored): a set that only its first
// requester ever saw is left to expire, so that a tenant's single client
// costs one AssumeRole per renewal, not one per refresh interval per replica.
// The caller starts each refresh or releases it with endRefresh.
func (c *credCache) claimDue(now time.Time, limit int) []*entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*entry
	for _, e := range c.lru.Values() {
		if len(out) == limit {
			break
		}
		if e.hits > 0 && e.refreshDue(now) && e.servable(c.fresh, now) {
			e.refreshing = true
			out = append(out, e)
		}
	}
	return out
}

// store caches creds, fresh from STS, under key, replacing any entry,
// unless a purge came since generation gen (when the fetch began).
func (c *credCache) store(key cacheKey, creds *Credentials, gen uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.storeLocked(key, creds, now)
	}
}

func (c *credCache) storeLocked(key cacheKey, creds *Credentials, now time.Time) {
	c.lru.Add(key, &entry{key: key, creds: creds, refreshAt: c.fresh.refreshAt(creds.Expiration, now)})
}

// deny caches an AccessDenied result under key for negativeTTL, unless a
// servable set is cached there (a failed fetch never hides a valid set) or
// a purge came since generation gen.
func (c *credCache) deny(key cacheKey, denied *errs.Error, gen uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(key); gen != c.gen || ok && old.servable(c.fresh, now) {
		return
	}
	c.lru.Add(key, &entry{key: key, denied: denied, deniedUntil: now.Add(negativeTTL)})
}

// replace stores the result of e's background refresh, but only while e is
// still the cached entry for its key: an evicted or purged entry stays
// forgotten.
func (c *credCache) replace(e *entry, creds *Credentials) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.lru.Peek(e.key); ok && cur == e {
		c.storeLocked(e.key, creds, now)
	}
}

// endRefresh releases the refresh claim on e. After a failure the next
// refresh of e waits refreshRetry; e keeps being served while servable.
func (c *credCache) endRefresh(e *entry, failed bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refreshing = false
	if failed {
		e.refreshAt = now.Add(refreshRetry)
	}
}

// PurgeProfile drops every entry of profile (for a configuration reload that
// changes or removes it) and returns how many it dropped.
func (c *credCache) PurgeProfile(profile string) int {
	return c.purge(func(k cacheKey) bool { return k.Profile == profile })
}

// PurgeTenant drops every entry of tenant, in every profile (for a tenant
// that is blocked), and returns how many it dropped. A fetch for the tenant
// that is in flight does not store its result, but still answers the
// requests made before the purge: block the tenant before purging.
func (c *credCache) PurgeTenant(tenant string) int {
	return c.purge(func(k cacheKey) bool { return k.Tenant == tenant })
}

// purge drops the entries whose key matches and returns how many. It
// starts a new generation even when nothing matched: a fetch in flight for
// a matching key must not store what it began before the purge.
func (c *credCache) purge(match func(cacheKey) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	n := 0
	for _, k := range c.lru.Keys() {
		if match(k) && c.lru.Remove(k) {
			n++
		}
	}
	return n
}

// len returns the number of entries.
func (c *credCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
