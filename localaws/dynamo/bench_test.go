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
// minidyn backend alone ("backend") and through the gateway ("gateway":
// authentication by the fake authenticator, context extraction, the policy
// evaluations, the decision log, gap fixes); gateway ÷ backend is the
// enforcement overhead (goal: at most 1.5×). "ratio" alternates one backend
// and one gateway request per iteration and reports both times and their
// ratio, so that a change in the machine's load between two sub-benchmarks
// does not move the ratio.
func BenchmarkGateway(b *testing.B) {
	backend := NewMinidynBackend()
	st := newTestStack(b, backend)
	seedDemo(b, context.Background(), st.client(adminKey, nil))
	// tvm-local's default: every decision logged at info (here to io.Discard).
	gw, err := NewGateway(GatewayOptions{Backend: backend, Auth: newFakeAuth(b), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
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
		loop := func(h http.Handler) func(*testing.B) {
			return func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					call(b, h)
				}
			}
		}
		b.Run(op.name+"/backend", loop(backend))
		b.Run(op.name+"/gateway", loop(gw))
		b.Run(op.name+"/ratio", func(b *testing.B) {
			var spent [2]time.Duration // backend, gateway
			n := 0
			for b.Loop() {
				for k := range 2 {
					i := (n + k) % 2 // alternate which goes first
					start := time.Now()
					call(b, []http.Handler{backend, gw}[i])
					spent[i] += time.Since(start)
				}
				n++
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "backend-ns/op")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "gateway-ns/op")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "gateway/backend")
		})
	}
}
