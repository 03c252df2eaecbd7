package api

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvmkit/tvm/internal/testenv"
)

func TestLogWriterKeepsEveryRecord(t *testing.T) {
	var out testenv.SyncBuffer
	l := NewLogWriter(&out, time.Millisecond, 256)
	const writers, records = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range records {
				// Sizes from a few bytes to more than the buffer.
				rec := fmt.Sprintf("w%d r%d x%s\n", w, i, strings.Repeat("x", (i*37)%300))
				if n, err := l.Write([]byte(rec)); err != nil || n != len(rec) {
					t.Errorf("Write = %d, %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != writers*records {
		t.Fatalf("%d records written, want %d", len(lines), writers*records)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var w, i int
		f := strings.Fields(line)
		if _, err := fmt.Sscanf(line, "w%d r%d", &w, &i); err != nil || len(f) != 3 || f[2] != "x"+strings.Repeat("x", (i*37)%300) {
			t.Fatalf("record torn or interleaved: %q", line)
		}
		seen[f[0]+f[1]] = true
	}
	if len(seen) != writers*records {
		t.Errorf("%d distinct records, want %d", len(seen), writers*records)
	}
}

func TestLogWriterFlushes(t *testing.T) {
	t.Run("when full", func(t *testing.T) {
		var out bytes.Buffer
		l := NewLogWriter(&out, time.Hour, 100)
		defer l.Close()
		for _, rec := range []string{strings.Repeat("a", 59) + "\n", strings.Repeat("b", 59) + "\n"} {
			if _, err := l.Write([]byte(rec)); err != nil {
				t.Fatal(err)
			}
		}
		l.mu.Lock()
		got := out.String()
		l.mu.Unlock()
		if got != strings.Repeat("a", 59)+"\n" {
			t.Errorf("after overflow the writer holds %q, want the first record", got)
		}
	})
	t.Run("on its interval", func(t *testing.T) {
		var out testenv.SyncBuffer
		l := NewLogWriter(&out, time.Millisecond, 0)
		defer l.Close()
		if _, err := l.Write([]byte("one\n")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); out.String() == ""; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the record was never flushed")
			}
		}
	})
	t.Run("on close, then writes go through", func(t *testing.T) {
		var out bytes.Buffer
		l := NewLogWriter(&out, time.Hour, 0)
		_, _ = l.Write([]byte("one\n"))
		if err := l.Close(); err != nil || out.String() != "one\n" {
			t.Fatalf("after Close: %q, %v", out.String(), err)
		}
		_, _ = l.Write([]byte("two\n"))
		if out.String() != "one\ntwo\n" || l.Close() != nil {
			t.Errorf("after Close the writer holds %q", out.String())
		}
	})
}

func TestLogWriterWriteThrough(t *testing.T) {
	var out bytes.Buffer
	l := NewLogWriter(&out, time.Hour, 0)
	defer l.Close()
	_, _ = l.Write([]byte("buffered\n"))
	l.SetWriteThrough(true) // flushes what is pending
	_, _ = l.Write([]byte("through\n"))
	if out.String() != "buffered\nthrough\n" {
		t.Fatalf("write-through: %q", out.String())
	}
	l.SetWriteThrough(false)
	_, _ = l.Write([]byte("buffered again\n"))
	if out.String() != "buffered\nthrough\n" {
		t.Errorf("buffering back on, yet the writer holds %q", out.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLogWriterReportsErrors(t *testing.T) {
	l := NewLogWriter(failingWriter{}, time.Hour, 10)
	if _, err := l.Write([]byte("12345678\n")); err != nil {
		t.Fatalf("buffered Write: %v", err)
	}
	if _, err := l.Write([]byte("12345678\n")); err == nil {
		t.Error("a Write that flushed into a failing writer succeeded")
	}
	if err := l.Close(); err == nil {
		t.Error("Close after a failed write returned nil")
	}
}
