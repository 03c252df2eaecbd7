package dynamo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
// evaluations, gap fixes); gateway ÷ backend is the enforcement overhead
// (goal: at most 1.5×).
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
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(op.body))
				r.Header.Set("X-Amz-Target", TargetPrefix+target)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+tenant1Key+"/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		}
		b.Run(op.name+"/backend", func(b *testing.B) { call(b, backend) })
		b.Run(op.name+"/gateway", func(b *testing.B) { call(b, gw) })
	}
}
