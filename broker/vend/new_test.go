package vend

import (
	"bytes"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/config"
)

func TestNewNilArguments(t *testing.T) {
	set := compile(t, baseConfig())
	if _, err := New(nil, &fakeSTS{}, Options{}); err == nil {
		t.Error("nil profile set accepted")
	}
	if _, err := New(set, nil, Options{}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestNewDefaults(t *testing.T) {
	cfg := baseConfig()
	cfg.DefaultProfile = ""
	cfg.Profiles = cfg.Profiles[:1]
	cfg.Profiles[0].DefaultDuration = 0
	v, err := New(compile(t, cfg), &fakeSTS{clock: newClock()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p := mustProfile(t, v, "read")
	got := []any{v.cur.Load().defaultProfile, v.fresh.refreshBefore, v.fresh.floor, v.sts.Timeout, v.sts.MaxAttempts, p.DefaultDuration(), p.MaxDuration(), p.PerSubject()}
	want := []any{"read", config.DefaultRefreshBefore, config.DefaultClientWindow + time.Minute,
		config.DefaultSTSTimeout, config.DefaultSTSMaxAttempts, config.DefaultDuration, config.DefaultMaxDuration, false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("default %d = %v, want %v", i, got[i], want[i])
		}
	}
	// The default leading-key format, Tenant#{tenant}.
	r, err := p.Render("1")
	if err != nil || !bytes.Contains(r.JSON, []byte(`"Tenant#1"`)) {
		t.Errorf("Render(1) = %v, %v; want the key Tenant#1", r, err)
	}
}

func TestNewFromParsedConfig(t *testing.T) {
	const doc = `
auth:
  issuer: https://idp.example.com/
  audiences: [tvm-broker]
  jwks_url: https://idp.example.com/.well-known/jwks.json
  tenant_claim: tenant_id
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
  - name: readwrite
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-readwrite
    template: dynamodb-readwrite
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
    sessions: subject
    source_identity: true
    session_tags: {tenant: "{tenant}"}
default_profile: read
`
	cfg, err := config.Parse([]byte(doc), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	clock := newClock()
	fake := &fakeSTS{clock: clock}
	v, err := New(compile(t, cfg), fake, Options{Clock: clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer v.Close()
	c, err := v.Vend(t.Context(), Request{Tenant: "1", Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "read" || c.SessionName != "t-1@read" || c.Expiration.Sub(clock.Now()) != config.DefaultDuration {
		t.Errorf("credentials %+v", c)
	}
	if _, err := v.Vend(t.Context(), Request{Tenant: "1", Subject: "alice", Profile: "readwrite", Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if si := fake.lastInput(t).SourceIdentity; si != "alice" {
		t.Errorf("SourceIdentity = %v", si)
	}
}
