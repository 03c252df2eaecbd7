// Package readyaddr finds, in a server's output, the address it reports
// having bound, so that a harness starts the server on port 0 and never
// picks a port in advance (a port found free can be taken by another
// process before the server binds it: "address already in use"). It knows
// the project's ready lines:
//
//	{"time":…,"level":"INFO","msg":"ready","addr":"127.0.0.1:PORT",…}   tvm-broker serve (stderr, JSON)
//	tvm-local ready on http://127.0.0.1:PORT (region …)                  tvm-local serve (stdout)
//	tvm-bench baseline ready on http://127.0.0.1:PORT                    tvm-bench baseline (stdout)
//
// # Concurrency
//
// A Watcher is safe for concurrent use; each of its Stream writers is
// written by one goroutine at a time (exec.Cmd's copying goroutine of one
// output stream).
package readyaddr

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"sync"
)

// maxLine bounds the bytes of a line a Stream keeps while it waits for the
// rest of it; a longer line is passed over.
const maxLine = 64 << 10

// readyOn matches the plain-text ready lines.
var readyOn = regexp.MustCompile(`^tvm-[a-z-]+(?: [a-z]+)? ready on https?://([^\s/]+)(?:\s|$)`)

// Parse returns the address line announces as bound, if it is a ready line
// (see the package documentation).
func Parse(line []byte) (addr string, ok bool) {
	line = bytes.TrimSpace(line)
	if m := readyOn.FindSubmatch(line); m != nil {
		return string(m[1]), true
	}
	if !bytes.HasPrefix(line, []byte("{")) || !bytes.Contains(line, []byte(`"ready"`)) {
		return "", false
	}
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &rec) != nil || rec.Msg != "ready" || rec.Addr == "" {
		return "", false
	}
	return rec.Addr, true
}

// Watcher watches the output streams of one process for its first ready
// line.
type Watcher struct {
	once  sync.Once
	found chan struct{}
	addr  string
}

// New returns a Watcher that has found nothing yet.
func New() *Watcher { return &Watcher{found: make(chan struct{})} }

// Found is closed once a ready line has been written to one of the
// watcher's streams.
func (w *Watcher) Found() <-chan struct{} { return w.found }

// Addr returns the address of the first ready line ("" before Found is
// closed).
func (w *Watcher) Addr() string {
	select {
	case <-w.found:
		return w.addr
	default:
		return ""
	}
}

func (w *Watcher) report(addr string) {
	w.once.Do(func() {
		w.addr = addr
		close(w.found)
	})
}

// Stream returns a writer for one output stream of the process (stdout or
// stderr: each needs its own, lines are split per stream). It never fails
// and stops looking once the watcher has found an address.
func (w *Watcher) Stream() io.Writer { return &stream{w: w} }

type stream struct {
	w       *Watcher
	partial []byte // the start of the current line
	long    bool   // the current line is longer than maxLine: passed over
}

func (s *stream) Write(p []byte) (int, error) {
	select {
	case <-s.w.found:
		s.partial = nil
		return len(p), nil
	default:
	}
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			s.keep(rest)
			break
		}
		s.keep(rest[:i])
		if !s.long {
			if addr, ok := Parse(s.partial); ok {
				s.w.report(addr)
				s.partial = nil
				break
			}
		}
		s.partial, s.long = s.partial[:0], false
		rest = rest[i+1:]
	}
	return len(p), nil
}

// keep appends b to the current line, unless that makes it too long.
func (s *stream) keep(b []byte) {
	if s.long || len(s.partial)+len(b) > maxLine {
		s.partial, s.long = s.partial[:0], true
		return
	}
	s.partial = append(s.partial, b...)
}
