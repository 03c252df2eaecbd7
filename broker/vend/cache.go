package vend

import (
	"container/list"
	"strconv"
	"strings"
	"time"

	"github.com/tvmkit/tvm/broker/errs"
)

// cacheKey identifies one cached credential set. The policy is not part of
// the key because it is a pure function of (profile, tenant) for the life
// of a Vendor (profiles and templates are immutable after New); the entry
// records the policy hash it was issued with. Subject is empty for
// per-tenant sessions. Duration is the requested session length, so a set
// is only ever served to requests for the same duration.
type cacheKey struct {
	Profile  string
	Tenant   string
	Subject  string
	Duration time.Duration
}

// String returns the single-flight key: every field is length-prefixed,
// so distinct keys never share a string.
func (k cacheKey) String() string {
	var b strings.Builder
	for _, f := range [...]string{k.Profile, k.Tenant, strconv.FormatInt(int64(k.Duration), 10), k.Subject} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// entry is one cache slot: either a credential set or a negative (denied) result.
type entry struct {
	key   cacheKey
	creds *Credentials // nil for a negative entry
	// refreshAt is when a hit starts a background refresh (jittered).
	refreshAt  time.Time
	refreshing bool
	// denied, until deniedUntil, is returned without calling STS.
	denied      *errs.Error
	deniedUntil time.Time
	elem        *list.Element
}

// lru is a bounded least-recently-used map. It is not safe for concurrent
// use: the Vendor guards it with its mutex.
type lru struct {
	max   int
	order *list.List // front = most recent; values are *entry
	items map[cacheKey]*entry
}

func newLRU(maxEntries int) *lru {
	return &lru{max: maxEntries, order: list.New(), items: make(map[cacheKey]*entry)}
}

// get returns the entry for k and marks it recently used.
func (c *lru) get(k cacheKey) *entry {
	e := c.items[k]
	if e != nil {
		c.order.MoveToFront(e.elem)
	}
	return e
}

// put stores e under e.key, replacing any previous entry, and evicts the
// least recently used entries beyond the bound.
func (c *lru) put(e *entry) {
	if old := c.items[e.key]; old != nil {
		c.order.Remove(old.elem)
	}
	e.elem = c.order.PushFront(e)
	c.items[e.key] = e
	for c.order.Len() > c.max {
		back := c.order.Back()
		victim := back.Value.(*entry)
		c.order.Remove(back)
		delete(c.items, victim.key)
	}
}

// len returns the number of entries.
func (c *lru) len() int { return c.order.Len() }
