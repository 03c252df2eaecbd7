package vend

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/ctxsleep"
)

// IdentitySTS is STS's GetCallerIdentity in the Vendor's terms: the broker
// asks STS who it is, to learn before any tenant does whether STS accepts
// its own credentials. broker/stsclient implements it. As with STS, one
// call is one attempt, a failure is, or wraps, an *UpstreamError, and
// implementations must be safe for concurrent use.
type IdentitySTS interface {
	GetCallerIdentity(ctx context.Context) (*CallerIdentity, error)
}

// CallerIdentity is who STS says the broker is.
type CallerIdentity struct {
	Account, ARN, UserID string
	// KeySuffix is the last 4 characters of the access key id the call was
	// signed with (KeySuffix), "" when unknown.
	KeySuffix string
}

// Re-check schedule of an IdentityCheck that is not ready: exponential from
// recheckMin to recheckMax.
const (
	recheckMin = time.Second
	recheckMax = 30 * time.Second
)

// IdentityOptions configures an IdentityCheck. Zero fields take defaults.
type IdentityOptions struct {
	// STS bounds each check (Timeout) and the attempts of the start-up
	// check (MaxAttempts), as for AssumeRole.
	STS STSOptions
	// Logger receives the identity and the failures; nil means slog.Default().
	Logger *slog.Logger
	// Sleep waits d or until ctx ends; nil means a timer. Used between
	// attempts and re-checks.
	Sleep func(ctx context.Context, d time.Duration) error
}

// IdentityCheck tracks whether STS accepts the broker's own credentials,
// for the readiness probe. Start asks STS once at start-up; afterwards every
// AssumeRole outcome a Vendor reports keeps it current (Options.Identity):
// a success confirms the credentials, a configuration fault
// (errs.KindMisconfigured: SignatureDoesNotMatch, InvalidClientTokenId, no
// credentials, ...) makes the check not ready, and anything else (throttling,
// STS unreachable or failing) changes nothing, because cached tenants are
// still served through an STS outage. While not ready it re-checks with
// GetCallerIdentity in the background (1 s doubling to 30 s) until STS
// accepts the credentials again.
//
// An IdentityCheck is safe for concurrent use; its background goroutine is
// owned by it and stopped by Close. Its methods are no-ops on a nil
// *IdentityCheck, which is always ready.
type IdentityCheck struct {
	client IdentitySTS
	sts    STSOptions
	log    *slog.Logger
	sleep  func(context.Context, time.Duration) error
	ctx    context.Context // owns the background re-check; cancelled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	notReady  *errs.Error // nil when STS last accepted the credentials
	rechecks  bool        // a background re-check is running
	closed    bool
	wg        sync.WaitGroup
	confirmed *CallerIdentity
}

// NewIdentityCheck returns a check over client; it is not ready until Start
// (or a reported AssumeRole success) confirms the credentials.
func NewIdentityCheck(client IdentitySTS, opts IdentityOptions) (*IdentityCheck, error) {
	if client == nil {
		return nil, errors.New("vend: nil IdentitySTS client")
	}
	stsOpts, err := opts.STS.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &IdentityCheck{client: client, sts: stsOpts, log: opts.Logger, sleep: opts.Sleep,
		notReady: errs.NotReady("STS has not confirmed the broker's AWS credentials yet", nil)}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.sleep == nil {
		c.sleep = ctxsleep.Sleep
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start asks STS who the broker is (GetCallerIdentity, retried as
// AssumeRole is) and logs the answer: account, ARN and the access key id's
// last 4 characters. A configuration fault is returned as an *errs.Error
// of kind errs.KindMisconfigured: the broker must not start with
// credentials STS refuses. Any other failure (STS unreachable, throttling,
// a 5xx, a timeout) is logged and returns nil: the check stays not ready
// and re-checks in the background, so that a broker started during an STS
// outage becomes ready when STS returns.
func (c *IdentityCheck) Start(ctx context.Context) error {
	var last stsFailure
	for attempt := 1; ; attempt++ {
		id, err := c.call(ctx)
		if err == nil {
			c.confirm(id)
			return nil
		}
		last = classify(err)
		c.log.Warn("sts identity check failed", "attempt", attempt, "aws_error_code", last.code,
			"request_id", last.requestID, "kind", last.err.Kind.String(), "error", err.Error())
		if last.misconfiguredFault() {
			return last.err
		}
		if !last.retryable || attempt >= c.sts.MaxAttempts || c.sleep(ctx, backoff(attempt)) != nil {
			break
		}
	}
	c.fail(last.err)
	return nil
}

// call makes one GetCallerIdentity attempt within the STS timeout.
func (c *IdentityCheck) call(ctx context.Context) (*CallerIdentity, error) {
	ctx, cancel := context.WithTimeout(ctx, c.sts.Timeout)
	defer cancel()
	id, err := c.client.GetCallerIdentity(ctx)
	if err == nil && id == nil {
		err = &UpstreamError{Err: errors.New("GetCallerIdentity answered no identity")}
	}
	return id, err
}

// Ready returns nil while STS accepts the broker's credentials, else a
// not_ready *errs.Error saying why.
func (c *IdentityCheck) Ready(context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notReady == nil {
		return nil
	}
	e := *c.notReady
	return &e
}

// Identity returns the identity STS last confirmed, nil if none.
func (c *IdentityCheck) Identity() *CallerIdentity {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.confirmed
}

// report records the outcome of one AssumeRole attempt: f nil for a
// success, else its classified failure.
func (c *IdentityCheck) report(f *stsFailure) {
	switch {
	case c == nil:
	case f == nil:
		c.mu.Lock()
		c.notReady = nil
		c.mu.Unlock()
	case f.misconfiguredFault():
		c.fail(f.err)
	}
}

// confirm records a successful GetCallerIdentity and logs it once per
// change of identity.
func (c *IdentityCheck) confirm(id *CallerIdentity) {
	c.mu.Lock()
	changed := c.confirmed == nil || *c.confirmed != *id
	c.notReady, c.confirmed = nil, id
	c.mu.Unlock()
	if changed {
		c.log.Info("sts identity", "account", id.Account, "arn", id.ARN, "access_key_id_last4", id.KeySuffix)
	}
}

// fail makes the check not ready because of cause and starts the
// background re-check unless one runs (or the check is closed).
func (c *IdentityCheck) fail(cause *errs.Error) {
	msg := "STS has not confirmed the broker's AWS credentials: " + cause.Message
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notReady = errs.NotReady(msg, cause)
	if c.rechecks || c.closed {
		return
	}
	c.rechecks = true
	c.wg.Add(1)
	go c.recheck()
}

// recheck asks STS again, with growing pauses, until it accepts the
// credentials or the check is closed.
func (c *IdentityCheck) recheck() {
	defer c.wg.Done()
	for wait := recheckMin; ; wait = min(2*wait, recheckMax) {
		if c.sleep(c.ctx, wait) != nil || c.confirmedMeanwhile() {
			return
		}
		id, err := c.call(c.ctx)
		if err == nil {
			c.mu.Lock()
			c.rechecks = false
			c.mu.Unlock()
			c.confirm(id)
			return
		}
		if c.ctx.Err() != nil {
			return
		}
		f := classify(err)
		c.mu.Lock()
		if c.notReady != nil { // an AssumeRole success may have confirmed meanwhile
			c.notReady = errs.NotReady("STS has not confirmed the broker's AWS credentials: "+f.err.Message, f.err)
		}
		c.mu.Unlock()
		c.log.Warn("sts identity re-check failed", "aws_error_code", f.code, "kind", f.err.Kind.String(),
			"next_in", min(2*wait, recheckMax), "error", err.Error())
	}
}

// confirmedMeanwhile reports whether an AssumeRole success made the check
// ready while the re-check waited; the re-check then ends.
func (c *IdentityCheck) confirmedMeanwhile() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notReady == nil {
		c.rechecks = false
		return true
	}
	return false
}

// Close stops the background re-check and waits for it. It is idempotent.
func (c *IdentityCheck) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
