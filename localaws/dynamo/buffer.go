package dynamo

import (
	"bytes"
	"net/http"
	"sync"
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

// maxPooledBuffer is the largest body buffer putResponseBuffer keeps: a
// rare large page (DynamoDB pages hold up to 1 MB) is left to the garbage
// collector rather than held by the pool.
const maxPooledBuffer = 64 << 10

var responseBuffers = sync.Pool{New: func() any { return newResponseBuffer() }}

// getResponseBuffer returns an empty buffer from the pool, for a response
// that is copied out (writeBody) before putResponseBuffer.
func getResponseBuffer() *responseBuffer {
	return responseBuffers.Get().(*responseBuffer)
}

// putResponseBuffer empties b and returns it to the pool. Header values
// handed to another header map stay valid: the map is cleared, the value
// slices are not reused.
func putResponseBuffer(b *responseBuffer) {
	if b.body.Cap() > maxPooledBuffer {
		return
	}
	clear(b.header)
	b.status = 0
	b.body.Reset()
	responseBuffers.Put(b)
}
