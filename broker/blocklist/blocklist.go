// Package blocklist is the broker's live block list: the tenants, and the
// subjects of a tenant, whose requests are refused (403 tenant_blocked or
// subject_blocked) after their token verified, before anything is vended.
//
// # Wire format
//
// A UTF-8 text file (at most MaxFileBytes), one entry a line:
//
//	# blocked tenants: the whole tenant
//	tenant-3
//	# one subject of a tenant: the tenant id, blanks, the subject (the rest of the line)
//	tenant-1 mallory@example.com
//
// Blank lines and lines whose first non-blank character is '#' are
// ignored; leading and trailing blanks are trimmed. A tenant id never holds
// whitespace (the tenant pattern refuses it: package policies/tenant), so
// the first blank ends it; a subject keeps its inner blanks. Tenant ids and
// subjects match exactly (case-sensitively) and may hold no control
// character; a subject is at most MaxSubjectLen characters and a tenant id
// at most MaxTenantLen bytes, obeying the fixed rule of every tenant id
// (tenant.CheckRunes: an entry no tenant can equal is an error, not an
// entry that blocks nothing). A leading byte-order mark is ignored. A file
// with any invalid line is refused as a whole, naming the line.
//
// # Watching
//
// Watch reads the file once (a missing or invalid file is an error: the
// broker refuses to start without the list it was told to enforce), then
// re-reads it every poll interval (DefaultPollInterval) and swaps in the new
// list when its content changed and parses; a change that unblocks
// something waits until the same content is read at the next poll (what it
// blocks takes effect at once), so that a file caught half-way through a
// rewrite unblocks nobody. A file that disappears or turns
// invalid keeps the previous list in force, is reported to OnError once
// per distinct content, and is retried at every poll. OnChange receives
// what each swap blocked and unblocked.
//
// Why a watched file and not an admin endpoint: the file is the one source
// of truth for every replica (a ConfigMap or a shared volume reaches them
// all, where an endpoint must be called on each and the state of one that
// restarts, or of a new replica, would be lost: a blocked tenant would come
// back), it survives restarts, it is versioned and reviewed with the rest
// of the configuration, and it adds no listener or credential to protect.
// Its cost is the delivery delay of the file itself (a ConfigMap volume
// follows the kubelet's sync period, about a minute).
//
// # Concurrency
//
// A *List is safe for concurrent use: Blocked loads an atomic pointer to
// an immutable set. Watch starts one polling goroutine, stopped by Close
// (which waits for it) or by the context's end.
package blocklist

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/internal/poll"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Limits of the file and its entries.
const (
	MaxFileBytes  = 1 << 20
	MaxTenantLen  = 256
	MaxSubjectLen = 256
	// DefaultPollInterval is how often Watch re-reads the file: a change
	// takes effect within this interval (plus the time to read it).
	DefaultPollInterval = 500 * time.Millisecond
)

// Scope says what a refusal matched.
type Scope string

// Scopes.
const (
	ScopeTenant  Scope = "tenant"
	ScopeSubject Scope = "subject"
)

// Entry is one blocked subject of a tenant.
type Entry struct {
	Tenant, Subject string
}

// Set is a parsed block list. It is immutable.
type Set struct {
	tenants  map[string]struct{}
	subjects map[Entry]struct{}
	digest   [sha256.Size]byte
}

// Parse parses the file format. An error names the first invalid line.
func Parse(data []byte) (*Set, error) {
	s := &Set{tenants: map[string]struct{}{}, subjects: map[Entry]struct{}{}, digest: sha256.Sum256(data)}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("blocklist: not UTF-8 text")
	}
	// A byte-order mark (some editors write one) would otherwise become
	// part of the first entry, which then matches no tenant.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tenantID, subject := line, ""
		if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
			tenantID, subject = line[:i], strings.TrimSpace(line[i:])
		}
		if err := checkEntry(tenantID, subject); err != nil {
			return nil, fmt.Errorf("blocklist: line %d: %w", n, err)
		}
		if subject == "" {
			s.tenants[tenantID] = struct{}{}
		} else {
			s.subjects[Entry{Tenant: tenantID, Subject: subject}] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	return s, nil
}

func checkEntry(tenantID, subject string) error {
	if len(tenantID) > MaxTenantLen {
		return fmt.Errorf("tenant id longer than %d bytes", MaxTenantLen)
	}
	if utf8.RuneCountInString(subject) > MaxSubjectLen {
		return fmt.Errorf("subject longer than %d characters", MaxSubjectLen)
	}
	if strings.IndexFunc(tenantID+subject, unicode.IsControl) >= 0 {
		return fmt.Errorf("control character")
	}
	// An entry no verified tenant id can equal (an invisible character
	// pasted in, a wildcard) would block nothing without a word: refuse it.
	if err := tenant.CheckRunes(tenantID); err != nil {
		return fmt.Errorf("tenant id: %w", err)
	}
	return nil
}

// Tenants returns the blocked tenants, sorted.
func (s *Set) Tenants() []string { return slices.Sorted(maps.Keys(s.tenants)) }

// Subjects returns the blocked subjects, sorted by tenant and subject.
func (s *Set) Subjects() []Entry {
	out := make([]Entry, 0, len(s.subjects))
	for e := range s.subjects {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

// Blocked reports whether a verified caller is blocked, and by what: the
// tenant first, then the subject of the tenant.
func (s *Set) Blocked(tenantID, subject string) (Scope, bool) {
	if _, ok := s.tenants[tenantID]; ok {
		return ScopeTenant, true
	}
	if _, ok := s.subjects[Entry{Tenant: tenantID, Subject: subject}]; ok {
		return ScopeSubject, true
	}
	return "", false
}

// Change is what one swap of the list blocked and unblocked, each sorted.
type Change struct {
	BlockedTenants, UnblockedTenants   []string
	BlockedSubjects, UnblockedSubjects []Entry
}

// Empty reports whether the change changes nothing.
func (c Change) Empty() bool {
	return len(c.BlockedTenants)+len(c.UnblockedTenants)+len(c.BlockedSubjects)+len(c.UnblockedSubjects) == 0
}

// Diff returns what replacing old by s blocks and unblocks; a nil old is
// the empty list.
func (s *Set) Diff(old *Set) Change {
	if old == nil {
		old = &Set{}
	}
	return Change{
		BlockedTenants:    notIn(s.Tenants(), old.tenants),
		UnblockedTenants:  notIn(old.Tenants(), s.tenants),
		BlockedSubjects:   notIn(s.Subjects(), old.subjects),
		UnblockedSubjects: notIn(old.Subjects(), s.subjects),
	}
}

// notIn returns the elements of list that are not keys of m, in order (nil
// when there is none).
func notIn[K comparable](list []K, m map[K]struct{}) []K {
	var out []K
	for _, k := range list {
		if _, ok := m[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// Options configures Watch.
type Options struct {
	// Path is the block list file. Required.
	Path string
	// PollInterval is how often the file is re-read; default
	// DefaultPollInterval.
	PollInterval time.Duration
	// OnChange, when set, receives every swap that blocks or unblocks
	// something, after the new list is in force (the first load too, as a
	// change from the empty list). It runs on the polling goroutine.
	OnChange func(Change)
	// OnError, when set, receives every refused read (once per distinct
	// content); the previous list stays in force.
	OnError func(error)
	// Logger receives the same events as a line each; nil discards.
	Logger *slog.Logger
}

// List is a watched block list.
type List struct {
	opts Options
	cur  atomic.Pointer[Set]
	err  atomic.Pointer[loadError] // the last refused read, nil after a good one
	// lastBad is the digest of the content last refused, so a refusal is
	// reported once.
	lastBad [sha256.Size]byte
	// unsettled is the digest of content read once that unblocks
	// something: it is put in force when read again (reload).
	unsettled [sha256.Size]byte
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

type loadError struct {
	err error
	at  time.Time
}

// Watch loads the file and starts re-reading it every poll interval until
// ctx ends or Close is called.
func Watch(ctx context.Context, opts Options) (*List, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("blocklist: no path")
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &List{opts: opts}
	set, err := l.read()
	if err != nil {
		return nil, err
	}
	l.swap(set)
	ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Go(func() { poll.Every(ctx, l.opts.PollInterval, l.reload) })
	return l, nil
}

// Close stops watching and waits for the polling goroutine. The list
// keeps answering with its last set. Close is idempotent.
func (l *List) Close() {
	l.cancel()
	l.wg.Wait()
}

// Blocked reports whether a verified caller is blocked, and by what.
func (l *List) Blocked(tenantID, subject string) (Scope, bool) {
	return l.cur.Load().Blocked(tenantID, subject)
}

// Current returns the list in force.
func (l *List) Current() *Set { return l.cur.Load() }

// Err returns when the last refused read happened and why, or a nil error
// once a read succeeded again (content unchanged or new).
func (l *List) Err() (time.Time, error) {
	if e := l.err.Load(); e != nil {
		return e.at, e.err
	}
	return time.Time{}, nil
}

func (l *List) read() (*Set, error) {
	data, err := filelimit.Read(l.opts.Path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	set, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.opts.Path, err)
	}
	return set, nil
}

// reload re-reads the file and swaps the list in when its content changed.
func (l *List) reload() {
	// Content that unblocks something is put in force when two consecutive
	// reads return it (see below): any other read starts the count again.
	unsettled := l.unsettled
	l.unsettled = [sha256.Size]byte{}
	data, err := filelimit.Read(l.opts.Path, MaxFileBytes)
	if err != nil {
		l.refuse(fmt.Errorf("blocklist: %w", err), [sha256.Size]byte{})
		return
	}
	sum := sha256.Sum256(data)
	cur := l.cur.Load()
	if sum == cur.digest {
		l.err.Store(nil)
		return
	}
	set, err := Parse(data)
	if err != nil {
		l.refuse(fmt.Errorf("%s: %w", l.opts.Path, err), sum)
		return
	}
	l.err.Store(nil)
	// A file rewritten in place reads empty or short for a moment
	// (truncated, then written): what it drops is unblocked only once the
	// same content is read again, while what it adds is blocked at once.
	if c := set.Diff(cur); len(c.UnblockedTenants)+len(c.UnblockedSubjects) > 0 && sum != unsettled {
		l.unsettled = sum
		if len(c.BlockedTenants)+len(c.BlockedSubjects) > 0 {
			l.swap(cur.union(set))
		}
		return
	}
	l.swap(set)
}

// union returns a set blocking what s or o blocks. Its digest is no
// file's, so the next read of the file is parsed again.
func (s *Set) union(o *Set) *Set {
	u := &Set{tenants: maps.Clone(s.tenants), subjects: maps.Clone(s.subjects)}
	maps.Copy(u.tenants, o.tenants)
	maps.Copy(u.subjects, o.subjects)
	return u
}

// refuse records a refused read, reporting it once per distinct content
// (an unreadable file counts as the zero digest).
func (l *List) refuse(err error, digest [sha256.Size]byte) {
	first := l.err.Load() == nil || digest != l.lastBad
	l.lastBad = digest
	l.err.Store(&loadError{err: err, at: time.Now()})
	if !first {
		return
	}
	l.opts.Logger.Error("block list refused: the previous list stays in force", slog.String("error", err.Error()))
	if l.opts.OnError != nil {
		l.opts.OnError(err)
	}
}

// swap puts set in force and reports the change.
func (l *List) swap(set *Set) {
	c := set.Diff(l.cur.Swap(set))
	l.opts.Logger.Info("block list loaded", slog.String("path", l.opts.Path),
		slog.Int("tenants", len(set.tenants)), slog.Int("subjects", len(set.subjects)))
	if !c.Empty() && l.opts.OnChange != nil {
		l.opts.OnChange(c)
	}
}
