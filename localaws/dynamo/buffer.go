package dynamo

import (
	"bytes"
	"net/http"
)

// responseBuffer is an http.ResponseWriter that keeps the whole response in
// memory, so the gateway can fix it before the client sees it. DynamoDB
// responses are bounded (1 MB pages, 16 MB batches), so buffering is safe.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newResponseBuffer() *responseBuffer {
	return &responseBuffer{header: http.Header{}}
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// code is the status the handler wrote (200 when it wrote nothing).
func (b *responseBuffer) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}
