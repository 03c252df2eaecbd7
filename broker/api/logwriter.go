package api

import (
	"io"
	"sync"
	"time"
)

// Defaults of NewLogWriter.
const (
	// DefaultLogFlushInterval is how long a log record (an access log line,
	// an audit record) may wait in the buffer.
	DefaultLogFlushInterval = 50 * time.Millisecond
	// DefaultLogBufferBytes is the buffer size; a record that would
	// overflow it flushes the buffer first.
	DefaultLogBufferBytes = 64 << 10
)

// LogWriter batches the broker's log records (the access log line and the
// audit record of every request, each one Write by log/slog's handlers)
// into few writes to the underlying writer: one per flush instead of two
// per request. It never drops a record: a Write that would overflow the
// buffer first flushes it, synchronously; the buffer is also flushed every
// interval by a goroutine and by Close, which the broker calls on
// shutdown. A record is in the underlying writer at most one interval
// after it was written, so only the loss of the whole process (SIGKILL,
// an out-of-memory kill) can lose the records of the last interval.
//
// A *LogWriter is safe for concurrent use; records are never interleaved.
// Close stops the goroutine; Writes after Close go straight through.
type LogWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	size   int
	err    error // the first write error, returned by later Writes
	closed bool

	stop chan struct{}
	done chan struct{}
}

// NewLogWriter returns a LogWriter over w that flushes every interval
// (default DefaultLogFlushInterval) and holds up to size bytes (default
// DefaultLogBufferBytes).
func NewLogWriter(w io.Writer, interval time.Duration, size int) *LogWriter {
	if interval <= 0 {
		interval = DefaultLogFlushInterval
	}
	if size <= 0 {
		size = DefaultLogBufferBytes
	}
	l := &LogWriter{w: w, buf: make([]byte, 0, size), size: size, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run(interval)
	return l
}

func (l *LogWriter) run(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = l.Flush()
		case <-l.stop:
			return
		}
	}
}

// Write buffers p, one whole record. It fails only when an earlier write
// to the underlying writer failed (that error) or when writing p through
// fails.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.w.Write(p)
	}
	if len(l.buf)+len(p) > l.size {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > l.size {
			return l.w.Write(p)
		}
	}
	l.buf = append(l.buf, p...)
	return len(p), l.err
}

// Flush writes the buffered records to the underlying writer.
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *LogWriter) flushLocked() error {
	if len(l.buf) == 0 {
		return l.err
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	if err != nil && l.err == nil {
		l.err = err
	}
	return err
}

// Close flushes the buffer and stops the flushing goroutine; later Writes
// go straight to the underlying writer. It is idempotent.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.flushLocked()
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return err
}
