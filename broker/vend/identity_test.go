package vend

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// fakeIdentity answers GetCallerIdentity call n (1-based) with answers[n-1]
// (nil: success), and with success beyond them; every call is signalled on
// calls.
type fakeIdentity struct {
	mu      sync.Mutex
	n       int
	answers []error
	calls   chan int
}

var brokerIdentity = CallerIdentity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/broker", UserID: "AIDAX", KeySuffix: "0001"}

func (f *fakeIdentity) GetCallerIdentity(context.Context) (*CallerIdentity, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	var err error
	if n <= len(f.answers) {
		err = f.answers[n-1]
	}
	f.mu.Unlock()
	if f.calls != nil {
		f.calls <- n
	}
	if err != nil {
		return nil, err
	}
	id := brokerIdentity
	return &id, nil
}

// startKey marks the context of Start, whose pauses return at once.
type startKey struct{}

// startCtx is the context tests give Start.
func startCtx(t *testing.T) context.Context { return context.WithValue(t.Context(), startKey{}, true) }

// newIdentityCheck returns a check over fake whose pauses return at once
// during Start and, in the background re-check, once gate is closed (or
// the check is closed).
func newIdentityCheck(t *testing.T, fake *fakeIdentity, logs *testenv.SyncBuffer) (c *IdentityCheck, gate chan struct{}) {
	t.Helper()
	gate = make(chan struct{})
	c, err := NewIdentityCheck(fake, IdentityOptions{
		STS:    STSOptions{MaxAttempts: 3},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Sleep: func(ctx context.Context, _ time.Duration) error {
			if ctx.Value(startKey{}) != nil {
				return nil
			}
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, gate
}

// recheckUntilReady lets the background re-check run and waits for it to
// end: it ends only once STS accepted the credentials.
func recheckUntilReady(t *testing.T, c *IdentityCheck, gate chan struct{}) {
	t.Helper()
	close(gate)
	c.wg.Wait()
	if err := c.Ready(t.Context()); err != nil {
		t.Fatalf("not ready after the re-check: %v", err)
	}
}

func TestIdentityCheckStart(t *testing.T) {
	throttled := apiErr("Throttling", "Rate exceeded", 400)
	tests := map[string]struct {
		answers   []error
		wantKind  errs.Kind // of Start's error; 0 with wantErr false
		wantErr   bool
		wantReady bool
		wantCalls int
	}{
		"accepted":               {wantReady: true, wantCalls: 1},
		"throttled, then ok":     {answers: []error{throttled}, wantReady: true, wantCalls: 2},
		"unknown key":            {answers: []error{apiErr("InvalidClientTokenId", "The security token included in the request is invalid", 403)}, wantErr: true, wantKind: errs.KindMisconfigured, wantCalls: 1},
		"wrong secret":           {answers: []error{apiErr("SignatureDoesNotMatch", "x", 403)}, wantErr: true, wantKind: errs.KindMisconfigured, wantCalls: 1},
		"no credentials":         {answers: []error{&UpstreamError{NoCredentials: true, Err: errors.New("no EC2 IMDS role found")}}, wantErr: true, wantKind: errs.KindMisconfigured, wantCalls: 1},
		"STS throttling at boot": {answers: []error{throttled, throttled, throttled}, wantCalls: 3},
		"STS down at boot":       {answers: []error{&UpstreamError{Network: true, Err: errors.New("connection refused")}, apiErr("ServiceUnavailable", "x", 503), apiErr("InternalFailure", "x", 500)}, wantCalls: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			logs := &testenv.SyncBuffer{}
			fake := &fakeIdentity{answers: tc.answers, calls: make(chan int, 100)}
			c, gate := newIdentityCheck(t, fake, logs)
			err := c.Start(startCtx(t))
			if (err != nil) != tc.wantErr || tc.wantErr && errs.From(err).Kind != tc.wantKind {
				t.Fatalf("Start = %v, want error %v of kind %s", err, tc.wantErr, tc.wantKind)
			}
			if len(fake.calls) != tc.wantCalls {
				t.Errorf("GetCallerIdentity calls during Start = %d, want %d", len(fake.calls), tc.wantCalls)
			}
			ready := c.Ready(t.Context())
			if (ready == nil) != tc.wantReady {
				t.Fatalf("Ready = %v, want ready %v", ready, tc.wantReady)
			}
			if ready != nil && errs.From(ready).Code != errs.CodeNotReady {
				t.Errorf("Ready = %v, want not_ready", ready)
			}
			if tc.wantReady {
				if got := c.Identity(); got == nil || *got != brokerIdentity {
					t.Errorf("Identity = %+v", got)
				}
				if l := logs.String(); !strings.Contains(l, `"msg":"sts identity"`) || !strings.Contains(l, `"access_key_id_last4":"0001"`) {
					t.Errorf("identity not logged:\n%s", l)
				}
			}
			if !tc.wantErr && !tc.wantReady {
				// An outage at boot: ready once STS answers again.
				recheckUntilReady(t, c, gate)
			}
		})
	}
}

// TestIdentityCheckFollowsAssumeRole: a configuration fault from AssumeRole
// makes the broker not ready, until the background re-check sees STS
// accept the credentials again; STS outages and other refusals do not.
func TestIdentityCheckFollowsAssumeRole(t *testing.T) {
	tests := map[string]struct {
		answer    error
		wantReady bool
	}{
		"signature refused":   {apiErr("SignatureDoesNotMatch", "x", 403), false},
		"key unknown":         {apiErr("InvalidClientTokenId", "x", 403), false},
		"credentials missing": {&UpstreamError{NoCredentials: true, Err: errors.New("no source")}, false},
		"throttled":           {apiErr("Throttling", "Rate exceeded", 400), true},
		"STS unreachable":     {&UpstreamError{Network: true, Err: errors.New("connection refused")}, true},
		"role refused":        {apiErr("AccessDenied", "x", 403), true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// The re-check fails twice, then STS accepts the credentials.
			fake := &fakeIdentity{calls: make(chan int, 100)}
			c, gate := newIdentityCheck(t, fake, &testenv.SyncBuffer{})
			if err := c.Start(startCtx(t)); err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			fake.answers = []error{nil, tc.answer, tc.answer}
			fake.mu.Unlock()
			h := newHarness(t, nil, func(o *Options) { o.Identity = c })
			h.sts.respond = func(context.Context, int64, *AssumeRoleInput) (*AssumeRoleOutput, error) { return nil, tc.answer }
			_, err := h.v.Vend(t.Context(), readReq("acme"))
			if err == nil {
				t.Fatal("Vend succeeded")
			}
			if got := c.Ready(t.Context()); (got == nil) != tc.wantReady {
				t.Fatalf("Ready after the failure = %v, want ready %v", got, tc.wantReady)
			}
			if !tc.wantReady {
				recheckUntilReady(t, c, gate)
				if n := len(fake.calls); n != 4 {
					t.Errorf("GetCallerIdentity calls = %d, want 4 (start, two failed re-checks, one success)", n)
				}
			}
		})
	}
}

// TestIdentityCheckConfirmedByAssumeRole: while not ready, an AssumeRole
// success makes the broker ready and ends the re-check.
func TestIdentityCheckConfirmedByAssumeRole(t *testing.T) {
	fake := &fakeIdentity{answers: []error{apiErr("Throttling", "x", 400)}, calls: make(chan int, 100)}
	c, err := NewIdentityCheck(fake, IdentityOptions{STS: STSOptions{MaxAttempts: 1}, Logger: slog.New(slog.DiscardHandler),
		Sleep: func(ctx context.Context, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(t.Context()); err != nil || c.Ready(t.Context()) == nil {
		t.Fatalf("Start = %v, Ready = %v: want started, not ready", err, c.Ready(t.Context()))
	}
	h := newHarness(t, nil, func(o *Options) { o.Identity = c })
	if _, err := h.v.Vend(t.Context(), readReq("acme")); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(t.Context()); err != nil {
		t.Errorf("Ready after an AssumeRole success = %v", err)
	}
}

// TestIdentityCheckNil: a nil check is ready and ignores reports.
func TestIdentityCheckNil(t *testing.T) {
	var c *IdentityCheck
	c.report(&stsFailure{err: misconfigured(nil, "x")})
	if err := c.Ready(t.Context()); err != nil || c.Identity() != nil {
		t.Errorf("nil check: Ready %v, Identity %v", err, c.Identity())
	}
	c.Close()
}
