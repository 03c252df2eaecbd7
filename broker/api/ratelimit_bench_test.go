package api

import (
	"strconv"
	"testing"
)

// benchKeys returns n distinct limiter keys.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkLimiterHit looks up buckets that all fit in the limiter (the
// steady state: every key is already present).
func BenchmarkLimiterHit(b *testing.B) {
	keys := benchKeys(1000)
	l, err := newLRULimiter(Rate{RPS: 1, Burst: 1}, len(keys))
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		l.get(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.get(keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkLimiterChurn looks up four times more keys than the limiter
// holds, so most lookups create a bucket and evict the oldest.
func BenchmarkLimiterChurn(b *testing.B) {
	keys := benchKeys(4000)
	l, err := newLRULimiter(Rate{RPS: 1, Burst: 1}, len(keys)/4)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.get(keys[i%len(keys)])
			i++
		}
	})
}
