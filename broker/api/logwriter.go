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
	mu      sync.Mutex // guards buf, spare, err and closed
	buf     []byte
	spare   []byte // the other buffer, while it is not being written
	size    int
	err     error // the first write error, returned by later Writes
	closed  bool
	through bool // SetWriteThrough: no buffering for now

	// wmu serializes the writes to w; it is taken while mu is held, so
	// buffers reach w in the order they were filled, and Writes only wait
	// for a flush to swap buffers, not for w.
	wmu sync.Mutex
	w   io.Writer

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
	l := &LogWriter{w: w, buf: make([]byte, 0, size), spare: make([]byte, 0, size), size: size,
		stop: make(chan struct{}), done: make(chan struct{})}
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
	if l.closed || l.through {
		l.mu.Unlock()
		return l.writeThrough(p)
	}
	if len(l.buf)+len(p) > l.size {
		err := l.flushLocked() // unlocks mu
		if err == nil && len(p) > l.size {
			return l.writeThrough(p)
		}
		if err != nil {
			return 0, err
		}
		l.mu.Lock()
	}
	l.buf = append(l.buf, p...)
	err := l.err
	l.mu.Unlock()
	return len(p), err
}

// writeThrough writes p to w, in order with the flushed buffers.
func (l *LogWriter) writeThrough(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.w.Write(p)
}

// SetWriteThrough turns buffering off (on true: pending records are
// written first, then every Write goes straight through) or back on. The
// broker writes its start-up records through, so that they are on stderr
// when it reports ready, and buffers from then on.
func (l *LogWriter) SetWriteThrough(on bool) {
	l.mu.Lock()
	l.through = on
	_ = l.flushLocked()
}

// Flush writes the buffered records to the underlying writer.
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	return l.flushLocked()
}

// flushLocked, called with mu held, swaps the buffer out, releases mu and
// writes the swapped-out buffer to w.
func (l *LogWriter) flushLocked() error {
	if len(l.buf) == 0 {
		err := l.err
		l.mu.Unlock()
		return err
	}
	l.wmu.Lock() // before mu is released: flushes write in order
	data := l.buf
	for l.spare == nil { // the other buffer is still being written
		l.mu.Unlock()
		l.wmu.Unlock()
		l.mu.Lock()
		l.wmu.Lock()
		data = l.buf
	}
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	_, err := l.w.Write(data)
	l.wmu.Unlock()
	l.mu.Lock()
	l.spare = data[:0]
	if err != nil && l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
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
	close(l.stop)
	<-l.done
	return err
}
