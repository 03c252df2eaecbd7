package dynamo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGetItem measures one GetItem handled in process by the minidyn
// backend alone and through the gateway (authentication by the fake
// authenticator, context extraction, two policy evaluations, gap fixes);
// the difference is the gateway's overhead.
func BenchmarkGetItem(b *testing.B) {
	backend := NewMinidynBackend()
	st := newTestStack(b, backend)
	seedDemo(b, context.Background(), st.client(adminKey, nil))
	body := `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"}}}`
	call := func(b *testing.B, h http.Handler) {
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("X-Amz-Target", TargetPrefix+"GetItem")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+tenant1Key+"/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("backend", func(b *testing.B) { call(b, backend) })
	b.Run("gateway", func(b *testing.B) { call(b, st.gw) })
}
