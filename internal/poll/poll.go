// Package poll runs a check at a fixed interval until a context ends: the
// one polling loop of the watchers that re-read files while the broker
// runs (the block list, the TLS certificates, the configuration).
//
// # Concurrency
//
// Every runs f on the calling goroutine, one call at a time; callers start
// it on a goroutine of their own and wait for it to return after ending
// the context.
package poll

import (
	"context"
	"time"
)

// Every calls f every interval (the first call one interval from now)
// until ctx ends, and then returns; f is not called once ctx has ended. A
// call that outlasts the interval delays the next one; ticks missed
// meanwhile are dropped.
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ctx.Err() != nil {
				return
			}
			f()
		}
	}
}
