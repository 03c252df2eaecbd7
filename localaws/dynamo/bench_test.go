package dynamo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchOps are the operations the gateway benchmarks measure, each one a
// tenant-1 request its session policy allows.
var benchOps = []struct{ name, body string }{
	{"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"}}}`},
	{"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :pk","ExpressionAttributeValues":{":pk":{"S":"Tenant#1"}}}`},
	{"QueryIndex", `{"TableName":"tvm-demo","IndexName":"gsi","KeyConditionExpression":"PK1 = :pk","ExpressionAttributeValues":{":pk":{"S":"Tenant#1"}}}`},
}

// BenchmarkGateway measures each operation handled in process by the
// minidyn backend alone ("backend") and through the gateway: "gateway" as
// tvm-local runs it by default, every decision logged at info (here to
// io.Discard), and "gateway-warn" with the log at warn, where an allowed
// request writes no line (authentication by the fake authenticator,
// context extraction, the policy evaluations, gap fixes). gateway ÷ backend
// is the enforcement overhead (goal: at most 1.5×). "ratio" sends one
// request to each of the three per iteration, in rotating order, and
// reports the three times and the two ratios, so that a change in the
// machine's load during the run moves all three alike.
func BenchmarkGateway(b *testing.B) {
	backend := NewMinidynBackend()
	st := newTestStack(b, backend)
	seedDemo(b, context.Background(), st.client(adminKey, nil))
	gateway := func(level slog.Level) http.Handler {
		gw, err := NewGateway(GatewayOptions{Backend: backend, Auth: newFakeAuth(b),
			Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			b.Fatal(err)
		}
		return gw
	}
	handlers := []struct {
		name string
		h    http.Handler
	}{{"backend", backend}, {"gateway", gateway(slog.LevelInfo)}, {"gateway-warn", gateway(slog.LevelWarn)}}
	for _, op := range benchOps {
		target := op.name
		if target == "QueryIndex" {
			target = "Query"
		}
		call := func(b *testing.B, h http.Handler) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(op.body))
			r.Header.Set("X-Amz-Target", TargetPrefix+target)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+tenant1Key+"/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
		for _, h := range handlers {
			b.Run(op.name+"/"+h.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					call(b, h.h)
				}
			})
		}
		b.Run(op.name+"/ratio", func(b *testing.B) {
			spent := make([]time.Duration, len(handlers))
			n := 0
			for b.Loop() {
				for k := range handlers {
					i := (n + k) % len(handlers) // rotate which goes first
					start := time.Now()
					call(b, handlers[i].h)
					spent[i] += time.Since(start)
				}
				n++
			}
			for i, h := range handlers {
				b.ReportMetric(float64(spent[i].Nanoseconds())/float64(n), h.name+"-ns/op")
			}
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "gateway/backend")
			b.ReportMetric(float64(spent[2])/float64(spent[0]), "gateway-warn/backend")
		})
	}
}
