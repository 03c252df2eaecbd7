// Package vend is the broker's vending core: it turns a verified identity
// (tenant, subject, scopes) and a profile name into temporary AWS
// credentials. It has no HTTP in it.
//
// # Flow
//
// Vend validates the tenant against the configured pattern, resolves the
// profile (AllowedTenants, RequiredScope), checks the duration against
// [900 s, profile max], renders the profile's policy template for the
// tenant (rendering lints the result), and calls STS AssumeRole through
// its STS port (an interface declared here, with plain request, answer and
// error types; broker/stsclient adapts the AWS SDK to it, so this package
// imports neither the SDK nor net/http) with:
//
//	RoleArn           the profile's role
//	RoleSessionName   t-<tenant>@<first 8 hex of sha256(subject)>  (per-subject sessions)
//	                  t-<tenant>@<profile>                         (per-tenant sessions)
//	                  2-64 characters of [\w+=,.@-]; parts that do not fit or carry
//	                  other characters (for the tenant, '@' and '.' too) are shortened
//	                  to prefix + "." + 8 hex of their hash, so that "t-<tenant>@*"
//	                  matches one tenant's sessions only (profiles.SessionNamePattern)
//	SourceIdentity    the sanitized subject (per-subject sessions, when configured)
//	DurationSeconds   the requested or default duration, capped by the token's
//	                  remaining lifetime (Request.NotAfter - now) rounded down to a
//	                  multiple of 15 minutes, never below STS's 15-minute minimum
//	Policy            the rendered session policy (compact JSON)
//	ExternalId, Tags, TransitiveTagKeys  from the profile; tag values may use
//	                  {tenant} and {subject} (the latter only for per-subject sessions)
//
// For every set STS issues, the size shares it reported (PackedPolicySize,
// SessionTokenUtilization; see SessionSize) go to the Observer and into
// Credentials.Size, and a share above SizeWarnPercent is logged as a
// warning naming the profile.
//
// STS errors (an *UpstreamError: code, request id, HTTP status, fault,
// network failure; or the context's error) become *errs.Error values in
// one place, classify in sts.go, each with a kind that the HTTP
// layer maps to a status: throttling is retried with exponential backoff
// and jitter, then answered upstream_throttled (errs.KindUpstreamThrottled)
// with a RetryAfter; AccessDenied is upstream_access_denied
// (KindUpstreamDenied, cached negatively for 30 s per cache key);
// MalformedPolicyDocument and PackedPolicyTooLarge are
// upstream_policy_invalid and ValidationError and unusable answers (empty
// key, secret or token, expiry not in the future) are upstream_invalid (both
// KindUpstreamInvalid); STS refusing the broker's own credentials or region
// (SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken,
// RegionDisabledException, ...) and no credentials at all are a
// configuration fault, broker_misconfigured (KindMisconfigured: never
// retried, no RetryAfter, and IdentityCheck makes the broker not ready);
// network errors, STS's own faults (a server fault or a 5xx status) and a
// credential source that is unreachable or throttled are retried, then
// upstream_unavailable (KindUpstreamUnavailable); a deadline is
// upstream_timeout (KindUpstreamTimeout). Public messages never carry STS's
// message; it is logged with the AWS error code and request id.
//
// # Credentials and the token's lifetime
//
// Temporary credentials cannot be revoked, so a session that outlived the
// JWT it was vended for would keep a signed-out or removed user's access.
// When Request.NotAfter is set, a duration longer than the token's
// remaining lifetime is cut to that lifetime rounded down to a multiple of
// 15 minutes, and never below 15 minutes (STS's minimum), so vended
// credentials (fresh or cached) expire no later than max(NotAfter, now +
// 15 min). The rounding keeps the cached durations, and so the number of
// AssumeRole calls, few: at most one per quarter hour of max_duration.
//
// # Cache
//
// Credentials are cached per (profile and its fingerprint, tenant, subject
// for per-subject sessions, session duration after the token cap); the
// policy hash is fixed by (profile fingerprint, tenant) and recorded with
// each set. Swap replaces the profile set (a configuration reload) and
// drops the entries of profiles that changed; Pin gives a view vending with
// the set current when it was taken; PurgeTenant drops a tenant's entries
// (a block). The rules live in reload.go. A set is served only to requests for the same duration and only
// while more than CacheOptions.ClientWindow + config.ServingMargin of its
// life remains (the AWS SDKs treat credentials as expired 5 minutes early);
// otherwise the request fetches synchronously, and a fresh set from STS with
// less left is refused as upstream_invalid. When less than
// min(CacheOptions.RefreshBefore, half the set's lifetime) remains
// (jittered), a hit starts one background refresh for the key and keeps
// serving the current set meanwhile; a failed refresh keeps the still-valid
// set and is retried later, never served. A background refresher, owned by
// the Vendor, also renews every set that is due and in use (served from the
// cache at least once), looking every 10 s, at most 8 at a time
// (refresher.go), so that clients that all come back at their SDKs' expiry
// window find a fresh set. The cache is a bounded LRU
// (github.com/hashicorp/golang-lru/v2); evicted sets are forgotten. The
// rules live in cache.go.
//
// # Concurrency
//
// A Vendor is safe for concurrent use. With the cache enabled, concurrent
// misses for one key share one AssumeRole call (single-flight); that call runs on a context owned by
// the Vendor with the STS timeout, so a caller whose context ends returns at
// once without cancelling the call for the others. Background refreshes are
// owned by the Vendor: Close cancels in-flight calls and waits for them;
// Vend answers not_ready (errs.KindNotReady) afterwards.
package vend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/internal/ctxsleep"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// Request is one vend request from a verified identity.
type Request struct {
	Tenant, Subject string
	// Profile names the profile; "" means the default profile.
	Profile string
	// Duration is the session length; 0 means the profile's default.
	Duration time.Duration
	// Scopes are the token's scopes, checked against the profile's RequiredScope.
	Scopes []string
	// NotAfter, when set, is the expiry of the token the request was made
	// with: the session is shortened so that it does not outlive the token
	// by more than STS's 15-minute minimum (see "Credentials and the
	// token's lifetime" in the package documentation). Zero means no cap.
	NotAfter time.Time
}

// Credentials are vended temporary credentials with what they were issued for.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
	// AccountID is the role's account, from the AssumedRoleUser ARN ("" if unknown).
	AccountID string
	Tenant    string
	Profile   string
	// SessionName is the RoleSessionName used.
	SessionName string
	// PolicyHash is the hex sha256 of the session policy; PolicySize its length.
	PolicyHash string
	PolicySize int
	// CacheHit is true when the set came from the cache.
	CacheHit bool
	// Size is what STS reported about the size of the session's policy
	// and tags when it issued the set.
	Size SessionSize
}

// Observer receives metrics events; broker/metrics implements it. Its
// methods must be safe for concurrent use and fast.
type Observer interface {
	// CacheLookup reports a cache lookup (negative-cache answers count as hits).
	CacheLookup(profile string, hit bool)
	// STSCall reports one AssumeRole attempt; errCode is "" on success, else
	// the AWS error code or Timeout, NetworkError, Canceled, InvalidResponse, Unknown.
	STSCall(profile string, d time.Duration, errCode string)
	// PolicyRendered reports the size of a policy rendered for an STS call.
	PolicyRendered(profile string, size int)
	// SessionSize reports, for each set STS issued, the shares (percent)
	// of its size limits that the session policy and tags used:
	// PackedPolicySize and SessionTokenUtilization, each SizeNotReported
	// when STS did not answer it (see SessionSize).
	SessionSize(profile string, packedPolicyPercent, tokenUtilizationPercent int)
}

// Options are the Vendor's settings and optional collaborators. The zero
// value is usable: every setting has a default.
type Options struct {
	// Cache configures the credential cache.
	Cache CacheOptions
	// STS configures the AssumeRole calls.
	STS STSOptions
	// Observer receives metrics events; nil means none.
	Observer Observer
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Sleep waits d or until ctx ends (returning ctx.Err()); nil means a timer.
	// Used between STS retries.
	Sleep func(ctx context.Context, d time.Duration) error
	// Identity, when set, is told the outcome of every AssumeRole attempt,
	// so that the readiness probe reflects whether STS accepts the broker's
	// own credentials (see IdentityCheck). The Vendor does not own it.
	Identity *IdentityCheck
	// RefreshTicks, when set, drives the background refresher (one scan
	// per tick) instead of its own 10-second ticker: for tests and
	// simulations on a clock of their own. nil in production.
	RefreshTicks <-chan time.Time
}

// Vendor vends credentials; create it with New and release it with Close.
type Vendor struct {
	// cur is the profile set Vend uses; Swap replaces it (reload.go).
	cur    atomic.Pointer[profileState]
	client STS
	obs    Observer
	log    *slog.Logger
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	// identity, when set, is the broker's own STS identity check: a
	// configuration fault STS reports re-arms it (not ready until it passes).
	identity *IdentityCheck

	fresh freshness
	cache *credCache // nil when the cache is disabled
	sts   STSOptions

	group  singleflight.Group
	ctx    context.Context // owns STS calls made for the cache; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// refreshSlots bounds the background refreshes running at once;
	// refreshQueue holds the sets the refresher claimed; refresherDone is
	// closed when the background refresher has stopped (nil without a
	// cache).
	refreshSlots  chan struct{}
	refreshQueue  chan queuedRefresh
	refresherDone chan struct{}

	// mu orders track against Close, so that no work is added to wg once
	// Close waits on it; closed is also read without mu on the hot path.
	mu     sync.Mutex
	closed atomic.Bool
}

// errClosed returns the error of a Vend after Close (a new value each time:
// callers may annotate errors).
func errClosed() *errs.Error {
	return errs.NotReady("the broker is shutting down", nil)
}

// New returns a Vendor for the compiled, proved profiles of set (package
// profiles), used as they are, calling STS through client with the cache
// and STS settings of opts.
func New(set *profiles.Set, client STS, opts Options) (*Vendor, error) {
	switch {
	case client == nil:
		return nil, errors.New("vend: nil STS client")
	case set == nil:
		return nil, errors.New("vend: nil profile set")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cacheOpts, err := opts.Cache.withDefaults()
	if err != nil {
		return nil, err
	}
	stsOpts, err := opts.STS.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Vendor{
		client:   client,
		obs:      opts.Observer,
		log:      log,
		now:      opts.Clock,
		sleep:    opts.Sleep,
		fresh:    newFreshness(cacheOpts),
		sts:      stsOpts,
		identity: opts.Identity,
	}
	v.cur.Store(newProfileState(set))
	if v.obs == nil {
		v.obs = nopObserver{}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.sleep == nil {
		v.sleep = ctxsleep.Sleep
	}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	v.refreshSlots = make(chan struct{}, maxBackgroundRefreshes)
	if !cacheOpts.Disabled {
		if v.cache, err = newCredCache(cacheOpts.MaxEntries, v.fresh, v.now); err != nil {
			v.cancel()
			return nil, err
		}
		v.startRefresher(opts.RefreshTicks)
	}
	return v, nil
}

type nopObserver struct{}

func (nopObserver) CacheLookup(string, bool)              {}
func (nopObserver) STSCall(string, time.Duration, string) {}
func (nopObserver) PolicyRendered(string, int)            {}
func (nopObserver) SessionSize(string, int, int)          {}

// Close stops the background refresher and background refreshes, cancels
// in-flight STS calls made for the cache and waits for them. Vend returns
// not_ready afterwards. Close is idempotent.
func (v *Vendor) Close() {
	v.mu.Lock()
	v.closed.Store(true)
	v.mu.Unlock()
	v.cancel()
	if v.refresherDone != nil {
		<-v.refresherDone
	}
	v.wg.Wait()
}

// track registers one piece of work that Close must wait for, unless Close
// has been called: then it returns false and the work must not start. The
// caller calls v.wg.Done when the work ends.
func (v *Vendor) track() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed.Load() {
		return false
	}
	v.wg.Add(1)
	return true
}

// Vend returns credentials for req, from the cache when it can, for a
// session no longer than the requested duration capped by req.NotAfter.
// Every error is an *errs.Error.
func (v *Vendor) Vend(ctx context.Context, req Request) (*Credentials, error) {
	return v.vend(ctx, v.cur.Load(), req)
}

// vend is Vend with the profile set st.
func (v *Vendor) vend(ctx context.Context, st *profileState, req Request) (*Credentials, error) {
	p, dur, err := v.resolve(st, req)
	if err != nil {
		return nil, err
	}
	key := cacheKey{Profile: p.Name(), Fingerprint: p.Fingerprint(), Tenant: req.Tenant, Duration: dur}
	if p.PerSubject() {
		key.Subject = req.Subject
	}
	if v.closed.Load() {
		return nil, errClosed()
	}
	if v.cache == nil {
		v.obs.CacheLookup(p.Name(), false)
		ctx, cancel := context.WithTimeout(ctx, v.sts.Timeout)
		defer cancel()
		return v.fetch(ctx, p, key)
	}
	return v.vendCached(ctx, p, key)
}

// vendCached serves a request from the cache, or joins (or starts) the
// single-flight fetch for its key.
func (v *Vendor) vendCached(ctx context.Context, p *profiles.Profile, key cacheKey) (*Credentials, error) {
	a := v.cache.serve(key)
	if a.refresh != nil {
		v.startRefresh(a.refresh, p)
	}
	v.obs.CacheLookup(p.Name(), a.hit())
	switch {
	case a.denied != nil:
		return nil, a.denied
	case a.creds != nil:
		a.creds.CacheHit = true
		return a.creds, nil
	}
	ch := v.group.DoChan(flightKey(key, a.gen), func() (any, error) { return v.fill(key, p, a.gen) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		c := *r.Val.(*Credentials)
		return &c, nil
	case <-ctx.Done():
		return nil, classify(ctx.Err()).err
	}
}

// resolve validates req against the profile set st and returns its
// profile and duration (capped by req.NotAfter).
func (v *Vendor) resolve(st *profileState, req Request) (*profiles.Profile, time.Duration, error) {
	if err := st.pattern.Check(req.Tenant); err != nil {
		return nil, 0, errs.InvalidTenant("the tenant id is not valid", err)
	}
	if req.Subject == "" {
		return nil, 0, errs.InvalidToken("the token has no subject", nil)
	}
	name := req.Profile
	if name == "" {
		name = st.defaultProfile
		if name == "" {
			return nil, 0, errs.InvalidRequest("no default profile is configured: name a profile")
		}
	}
	p, ok := st.set.Profile(name)
	if !ok {
		return nil, 0, errs.New(errs.KindNotFound, errs.CodeProfileNotFound, "no such profile")
	}
	if !p.Allows(req.Tenant) {
		return nil, 0, errs.New(errs.KindForbidden, errs.CodeForbidden, "the profile is not available to this tenant")
	}
	if scope := p.RequiredScope(); scope != "" && !slices.Contains(req.Scopes, scope) {
		return nil, 0, errs.New(errs.KindForbidden, errs.CodeForbidden, "the token lacks the scope this profile requires")
	}
	dur := req.Duration
	if dur == 0 {
		dur = p.DefaultDuration()
	}
	if maxDur := p.MaxDuration(); dur < config.MinSessionDuration || dur > maxDur || dur%time.Second != 0 {
		return nil, 0, errs.InvalidRequest(fmt.Sprintf("duration must be a whole number of seconds between %d and %d",
			config.MinSessionDuration/time.Second, maxDur/time.Second))
	}
	if !req.NotAfter.IsZero() {
		dur = capToToken(dur, req.NotAfter.Sub(v.now()))
	}
	return p, dur, nil
}

// capToToken shortens a session duration dur (at least
// config.MinSessionDuration) that is longer than remaining, the token's
// remaining lifetime, to remaining rounded down to a multiple of
// config.MinSessionDuration, and never below config.MinSessionDuration.
func capToToken(dur, remaining time.Duration) time.Duration {
	if remaining >= dur {
		return dur
	}
	return max(remaining.Truncate(config.MinSessionDuration), config.MinSessionDuration)
}

// flightKey returns the single-flight key of key in cache generation gen:
// a request made after a purge starts a fetch of its own.
func flightKey(key cacheKey, gen uint64) string {
	return key.String() + "#" + strconv.FormatUint(gen, 10)
}

// fill is the single-flight body of a miss in cache generation gen: it
// re-checks the cache (a flight for the same key may just have stored a
// set), then calls STS on the Vendor's context and stores the result, or an
// AccessDenied, unless a purge came meanwhile.
func (v *Vendor) fill(key cacheKey, p *profiles.Profile, gen uint64) (*Credentials, error) {
	if !v.track() {
		return nil, errClosed()
	}
	defer v.wg.Done()
	switch a := v.cache.peek(key); {
	case a.denied != nil:
		return nil, a.denied
	case a.creds != nil:
		return a.creds, nil
	}
	ctx, cancel := context.WithTimeout(v.ctx, v.sts.Timeout)
	defer cancel()
	c, err := v.fetch(ctx, p, key)
	if err != nil {
		if e := errs.From(err); e.Code == errs.CodeUpstreamAccessDenied {
			v.cache.deny(key, e, gen)
		}
		return nil, err
	}
	v.cache.store(key, c, gen)
	return c, nil
}

// startRefresh starts the background refresh of e, which the caller has
// claimed from the cache, unless the Vendor is closed.
func (v *Vendor) startRefresh(e *entry, p *profiles.Profile) {
	if !v.track() {
		v.cache.endRefresh(e, false)
		return
	}
	go v.refresh(e, p)
}

// refresh renews e's credentials in the background. On failure the current
// set stays (it is still valid) and the next refresh waits refreshRetry.
func (v *Vendor) refresh(e *entry, p *profiles.Profile) {
	defer v.wg.Done()
	if !v.acquireSlot(v.ctx) {
		v.cache.endRefresh(e, false)
		return
	}
	defer v.releaseSlot()
	ctx, cancel := context.WithTimeout(v.ctx, v.sts.Timeout)
	defer cancel()
	_, err, _ := v.group.Do(flightKey(e.key, v.cache.generation()), func() (any, error) {
		c, err := v.fetch(ctx, p, e.key)
		if err != nil {
			return nil, err
		}
		v.cache.replace(e, c)
		return c, nil
	})
	v.cache.endRefresh(e, err != nil)
	if err != nil {
		v.log.Warn("background credential refresh failed; serving the current set while it is valid",
			"profile", p.Name(), "tenant", e.key.Tenant, "expiration", e.creds.Expiration, "error", err)
	}
}

// fetch renders the policy and calls STS for key.
func (v *Vendor) fetch(ctx context.Context, p *profiles.Profile, key cacheKey) (*Credentials, error) {
	name := sessionName(key.Tenant, p.Name(), key.Subject, p.PerSubject())
	log := v.log.With("profile", p.Name(), "tenant", key.Tenant, "session_name", name, "role_arn", p.RoleARN())
	r, err := p.Render(key.Tenant)
	if err != nil {
		var le *policies.LintError
		if errors.As(err, &le) {
			log.Error("rendered policy refused by the linter", "rule", le.Rule, "detail", le.Detail)
		} else {
			log.Error("rendering the policy failed", "error", err)
		}
		return nil, errs.Internal(err)
	}
	if r.Size > 0 { // none for a session-tags profile without a template
		v.obs.PolicyRendered(p.Name(), r.Size)
	}
	out, err := v.assumeRole(ctx, p, assumeRoleInput(p, key, name, string(r.JSON)), log.With("policy_hash", r.Hash))
	if err != nil {
		return nil, err
	}
	v.reportSize(p.Name(), out.Size, log)
	return &Credentials{
		AccessKeyID:     out.AccessKeyID,
		SecretAccessKey: out.SecretAccessKey,
		SessionToken:    out.SessionToken,
		Expiration:      out.Expiration,
		AccountID:       iam.ARNAccount(out.AssumedRoleARN),
		Tenant:          key.Tenant,
		Profile:         p.Name(),
		SessionName:     name,
		PolicyHash:      r.Hash,
		PolicySize:      r.Size,
		Size:            out.Size,
	}, nil
}

// assumeRoleInput builds the AssumeRole request for key; policy is "" for
// a session-tags profile without a template (no session policy is sent).
func assumeRoleInput(p *profiles.Profile, key cacheKey, name, policy string) *AssumeRoleInput {
	in := &AssumeRoleInput{
		RoleARN:           p.RoleARN(),
		RoleSessionName:   name,
		Duration:          key.Duration,
		Policy:            policy,
		ExternalID:        p.ExternalID(),
		TransitiveTagKeys: p.TransitiveTagKeys(),
	}
	if p.SourceIdentity() && p.PerSubject() {
		in.SourceIdentity = sourceIdentity(key.Subject)
	}
	for _, t := range p.Tags() {
		in.Tags = append(in.Tags, STSTag{Key: t.Key, Value: tagValue(t.Value, key.Tenant, key.Subject)})
	}
	return in
}
