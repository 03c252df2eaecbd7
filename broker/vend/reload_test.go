package vend

import (
	"context"
	"testing"

	"github.com/tvmkit/tvm/broker/errs"
)

// TestSwap: a reload keeps the cached sessions of an unchanged profile,
// drops those of a changed or removed one, and serves the new set; a view
// pinned before keeps vending with the set it started with.
func TestSwap(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	userReq := Request{Tenant: "acme", Subject: "alice", Profile: "user", Scopes: []string{"tvm:write"}}
	for _, req := range []Request{readReq("acme"), readReq("globex"), userReq} {
		if _, err := h.v.Vend(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.sts.calls.Load(); n != 3 {
		t.Fatalf("%d STS calls, want 3", n)
	}
	pinned := h.v.Pin()

	// The next configuration: read unchanged, user's external id changed,
	// a new profile "extra".
	next := baseConfig()
	next.Profiles[1].ExternalID = "rotated-external-id"
	extra := next.Profiles[0]
	extra.Name = "extra"
	next.Profiles = append(next.Profiles, extra)
	dropped := h.v.Swap(compile(t, next))
	if len(dropped) != 1 || dropped["user"] != 1 {
		t.Errorf("dropped = %v, want only user's one entry", dropped)
	}

	if c, err := h.v.Vend(ctx, readReq("acme")); err != nil || !c.CacheHit {
		t.Errorf("unchanged profile after the swap: hit %v, err %v", c != nil && c.CacheHit, err)
	}
	c, err := h.v.Vend(ctx, userReq)
	if err != nil || c.CacheHit {
		t.Fatalf("changed profile after the swap: hit %v, err %v", c != nil && c.CacheHit, err)
	}
	if in := h.sts.lastInput(t); in.ExternalID != "rotated-external-id" {
		t.Errorf("external id %q: the new profile was not used", in.ExternalID)
	}
	if _, err := h.v.Vend(ctx, Request{Tenant: "acme", Subject: "a", Profile: "extra"}); err != nil {
		t.Errorf("new profile: %v", err)
	}

	// The pinned view still has the old set: no "extra", the old user.
	_, err = pinned.Vend(ctx, Request{Tenant: "acme", Subject: "a", Profile: "extra"})
	wantErr(t, err, errs.KindNotFound, errs.CodeProfileNotFound)
	calls := h.sts.calls.Load()
	if _, err := pinned.Vend(ctx, userReq); err != nil {
		t.Fatal(err)
	}
	if in := h.sts.lastInput(t); h.sts.calls.Load() != calls+1 || in.ExternalID != "tvm-external-id" {
		t.Errorf("pinned view: %d new calls, external id %q; want one call with the old profile", h.sts.calls.Load()-calls, in.ExternalID)
	}
	// ... and the set it cached under the old fingerprint never serves the
	// new profile, which keeps its own.
	if again, err := h.v.Vend(ctx, userReq); err != nil || !again.CacheHit || again.AccessKeyID != c.AccessKeyID {
		t.Errorf("new profile after the pinned vend: err %v, want a hit on its own set %s", err, c.AccessKeyID)
	}
}

// TestSwapNewFingerprintNeverServesOldSet: a set stored under a profile's
// old fingerprint after the swap (a fetch that started before) is not
// served to requests for the new profile.
func TestSwapNewFingerprintNeverServesOldSet(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pinned := h.v.Pin()
	next := baseConfig()
	next.Profiles[0].RoleARN = "arn:aws:iam::123456789012:role/other"
	h.v.Swap(compile(t, next))
	old, err := pinned.Vend(ctx, readReq("acme")) // stored after the swap, old fingerprint
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.v.Vend(ctx, readReq("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheHit || c.AccessKeyID == old.AccessKeyID || h.sts.lastInput(t).RoleARN != next.Profiles[0].RoleARN {
		t.Errorf("the new profile got the old profile's set (hit %v, same key %v)", c.CacheHit, c.AccessKeyID == old.AccessKeyID)
	}
}

func TestPurgeTenant(t *testing.T) {
	for name, disabled := range map[string]bool{"cache": false, "no cache": true} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil, func(o *Options) { o.Cache.Disabled = disabled })
			ctx := context.Background()
			for _, tn := range []string{"acme", "acme", "globex"} {
				if _, err := h.v.Vend(ctx, readReq(tn)); err != nil {
					t.Fatal(err)
				}
			}
			want := 1
			if disabled {
				want = 0
			}
			if n := h.v.PurgeTenant("acme"); n != want {
				t.Errorf("PurgeTenant = %d, want %d", n, want)
			}
			calls := h.sts.calls.Load()
			c1, _ := h.v.Vend(ctx, readReq("acme"))
			c2, _ := h.v.Vend(ctx, readReq("globex"))
			if c1.CacheHit || c2.CacheHit == disabled || h.sts.calls.Load() != calls+1+map[bool]int64{true: 1}[disabled] {
				t.Errorf("after the purge: acme hit %v, globex hit %v, %d new calls", c1.CacheHit, c2.CacheHit, h.sts.calls.Load()-calls)
			}
		})
	}
}

// TestPurgeDuringFetch checks that a purge racing an AssumeRole in flight
// is not undone: the flight's result (a set or an AccessDenied) is not
// cached, and a request made after the purge never joins the flight that
// began before it.
func TestPurgeDuringFetch(t *testing.T) {
	tests := map[string]struct {
		denied bool // the pre-purge call answers AccessDenied
		// whileInFlight: the post-purge request comes while the pre-purge
		// call is still in flight; else once it has ended.
		whileInFlight bool
	}{
		"set, request after the flight":     {},
		"denied, request after the flight":  {denied: true},
		"set, request during the flight":    {whileInFlight: true},
		"denied, request during the flight": {denied: true, whileInFlight: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			gate := make(chan struct{})
			h.sts.started = make(chan int64, 4)
			h.sts.respond = func(ctx context.Context, n int64, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
				if n == 1 { // the call in flight across the purge
					select {
					case <-gate:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					if tc.denied {
						return nil, apiErr("AccessDenied", "not authorized", 403)
					}
				}
				return h.sts.success(n, in), nil
			}
			before := make(chan struct{})
			go func() {
				defer close(before)
				_, _ = h.v.Vend(context.Background(), readReq("acme"))
			}()
			<-h.sts.started
			h.v.PurgeTenant("acme")
			if !tc.whileInFlight {
				close(gate)
				<-before
				h.waitBackground()
			}
			after := make(chan *Credentials, 1)
			go func() {
				c, err := h.v.Vend(context.Background(), readReq("acme"))
				if err != nil {
					t.Errorf("Vend after the purge: %v", err)
				}
				after <- c
			}()
			// The fake STS signals started before it answers, so once the
			// request is answered its own call, if it made one, has
			// signalled. (Selecting on both would pick either at random when
			// both are ready.)
			c2 := <-after
			select {
			case <-h.sts.started: // a call of its own
			default:
				t.Errorf("the request after the purge was answered without an AssumeRole of its own: %+v", c2)
			}
			if tc.whileInFlight {
				close(gate)
				<-before
				h.waitBackground()
			}
			// What the pre-purge call answered was not stored over it.
			c3, err := h.v.Vend(context.Background(), readReq("acme"))
			if c2 == nil || err != nil || c3.AccessKeyID != c2.AccessKeyID {
				t.Errorf("after the purge: %+v, then %+v, %v; want one post-purge set", c2, c3, err)
			}
		})
	}
}
