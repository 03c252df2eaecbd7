package dynamo

import (
	"net/http"
	"strings"
	"testing"
)

func TestPutResponseBuffer(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantReset bool // small buffers are emptied for the pool; large ones left alone
	}{
		{"small", `{"Item":{}}`, true},
		{"large", strings.Repeat("x", maxPooledBuffer+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := getResponseBuffer()
			b.Header().Set("X-Amz-Crc32", "1")
			shared := b.Header()["X-Amz-Crc32"]
			b.WriteHeader(http.StatusTeapot)
			_, _ = b.Write([]byte(tc.body))
			putResponseBuffer(b)
			reset := len(b.header) == 0 && b.status == 0 && b.body.Len() == 0
			if reset != tc.wantReset {
				t.Errorf("after put: header %v, status %d, %d body bytes; want reset %v", b.header, b.status, b.body.Len(), tc.wantReset)
			}
			if len(shared) != 1 || shared[0] != "1" {
				t.Errorf("a header value handed out changed to %q", shared)
			}
		})
	}
}
