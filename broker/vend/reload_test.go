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
