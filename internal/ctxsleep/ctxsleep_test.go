package ctxsleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for name, tc := range map[string]struct {
		ctx  context.Context
		d    time.Duration
		want error
	}{
		"waits":          {context.Background(), time.Millisecond, nil},
		"zero":           {context.Background(), 0, nil},
		"negative":       {context.Background(), -time.Second, nil},
		"ended":          {ended, time.Hour, context.Canceled},
		"ended and zero": {ended, 0, context.Canceled},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Sleep(tc.ctx, tc.d); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Sleep = %v, want %v", err, tc.want)
			}
		})
	}
}
