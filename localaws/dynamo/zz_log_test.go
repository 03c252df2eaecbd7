package dynamo

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

func BenchmarkZZLog(b *testing.B) {
	auth := newFakeAuth(b)
	caller := auth.callers[tenant1Key]
	checks, err := Extract("GetItem", []byte(benchOps[0].body), testRegion, testAccount, demoLookup)
	if err != nil {
		b.Fatal(err)
	}
	c := checks[0]
	gw, _ := NewGateway(GatewayOptions{Backend: NewMinidynBackend(), Auth: auth, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	b.Run("evaluate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			caller.Session.Evaluate(c.Action, c.Resource, c.Context)
		}
	})
	d := caller.Session.Evaluate(c.Action, c.Resource, c.Context)
	b.Run("explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = d.Explain()
		}
	})
	b.Run("log", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			gw.logDecision(context.Background(), "GetItem", caller.ARN, c, d)
		}
	})
	b.Run("extract", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Extract("GetItem", []byte(benchOps[0].body), testRegion, testAccount, demoLookup)
		}
	})
}
