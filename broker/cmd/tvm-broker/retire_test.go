package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
)

// TestRetireForgetsClosedVerifiers: a replaced verifier is closed after its
// grace period and then forgotten, so that every reload does not keep the
// former verifier (and its cache of verified tokens) for the life of the
// process; close still closes those within their grace period.
func TestRetireForgetsClosedVerifiers(t *testing.T) {
	cfg := config.Auth{Issuer: "https://issuer.example", Audiences: []string{"tvm"},
		HMACSecret: strings.Repeat("s", config.MinHMACSecretBytes), AllowHMAC: true}
	newVerifier := func() *auth.Verifier {
		v, err := auth.New(context.Background(), cfg, auth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	retired := func(b *service) int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.retired)
	}
	tests := []struct {
		name  string
		grace time.Duration
		want  int // retired verifiers still held after the wait
	}{
		{"grace over", 0, 0},
		{"in grace", time.Hour, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &service{}
			for range 3 {
				b.mu.Lock() // as commit holds it
				b.retire(newVerifier(), tc.grace)
				b.mu.Unlock()
			}
			deadline := time.Now().Add(5 * time.Second)
			for retired(b) != tc.want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if tc.want == 3 {
				time.Sleep(1500 * time.Millisecond) // past the one-second margin
			}
			if got := retired(b); got != tc.want {
				t.Errorf("retired verifiers held = %d, want %d", got, tc.want)
			}
			b.mu.Lock()
			for _, r := range b.retired { // what close does
				r.timer.Stop()
				r.v.Close()
			}
			b.mu.Unlock()
		})
	}
}
