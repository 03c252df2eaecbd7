// Package ctxsleep waits for a duration or a context, whichever ends first:
// the one wait of the retry and fault-injection paths (the vending core's
// STS retries, the client's retries, the local AWS's injected latency).
//
// Sleep holds no state and is safe for concurrent use.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d and returns nil, or returns ctx.Err() as soon as ctx
// ends first. A d of zero or less returns at once (ctx.Err() if ctx has
// already ended).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
