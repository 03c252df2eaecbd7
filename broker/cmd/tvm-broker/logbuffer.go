package main

import (
	"context"
	"log/slog"

	"github.com/tvmkit/tvm/broker/api"
)

// bufferAfterReady is a slog.Handler that writes every record through its
// LogWriter until the "ready" record, then lets the writer buffer: the
// start-up records are on stderr before the broker answers a request,
// the records of requests (an access log line and an audit record each)
// reach it in batches (api.LogWriter).
type bufferAfterReady struct {
	slog.Handler
	out *api.LogWriter
}

// newBufferingLogger returns log writing through out until its "ready"
// record.
func newBufferingLogger(log *slog.Logger, out *api.LogWriter) *slog.Logger {
	out.SetWriteThrough(true)
	return slog.New(bufferAfterReady{Handler: log.Handler(), out: out})
}

func (h bufferAfterReady) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Message == "ready" {
		h.out.SetWriteThrough(false)
	}
	return err
}

func (h bufferAfterReady) WithAttrs(attrs []slog.Attr) slog.Handler {
	return bufferAfterReady{Handler: h.Handler.WithAttrs(attrs), out: h.out}
}

func (h bufferAfterReady) WithGroup(name string) slog.Handler {
	return bufferAfterReady{Handler: h.Handler.WithGroup(name), out: h.out}
}
