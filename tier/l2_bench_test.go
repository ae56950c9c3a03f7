package tier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// The L2 benchmarks share one redis-server per benchmark function and
// compare, in the same run, L2 against go-redis used directly on the same
// bytes. Values are row-set-like (see compressible).

var benchSizes = []int{1 << 10, 16 << 10}

func sizeName(n int) string { return fmt.Sprintf("%dKiB", n>>10) }

func BenchmarkRawGet(b *testing.B) {
	s := redistest.Start(b)
	c := s.Client()
	ctx := context.Background()
	for _, n := range append(benchSizes, 64<<10, 512<<10) {
		b.Run(sizeName(n), func(b *testing.B) {
			k := fmt.Sprintf("raw:%d", n)
			c.Set(ctx, k, compressible(n), time.Hour)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				v, err := c.Get(ctx, k).Bytes()
				if err != nil || len(v) != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkL2Get is the L2 hit with the default settings (compression from
// DefaultCompressAbove), to compare with BenchmarkRawGet.
func BenchmarkL2Get(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			l, err := NewL2(L2Config{URL: s.URL(), Namespace: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			k := testKey(uint64(n))
			if err := l.Set(ctx, k, compressible(n), time.Hour); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				v, _, ok, err := l.Get(ctx, k)
				if !ok || len(v) != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkL2GetLarge measures whether S2 pays for large row sets: the
// same value through an L2 that compresses and one that does not,
// interleaved (see interleave).
func BenchmarkL2GetLarge(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	for _, n := range []int{4 << 10, 16 << 10, 32 << 10, 64 << 10, 512 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			value := compressible(n)
			on, err := NewL2(L2Config{URL: s.URL(), Namespace: "s2", CompressAbove: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer on.Close()
			off, err := NewL2(L2Config{URL: s.URL(), Namespace: "raw", CompressAbove: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer off.Close()
			k := testKey(1)
			on.Set(ctx, k, value, time.Hour)
			off.Set(ctx, k, value, time.Hour)
			interleave(b, []namedCall{
				{"raw", func() error { return expectHit(off.Get(ctx, k))(n) }},
				{"s2", func() error { return expectHit(on.Get(ctx, k))(n) }},
			})
			b.ReportMetric(float64(on.Stats().BytesWritten)/float64(n), "s2-stored/size")
		})
	}
}

// namedCall is one contender in interleave.
type namedCall struct {
	name string
	call func() error
}

// interleave runs every call once per iteration, rotating their order, and
// reports each one's mean as <name>-ns/op and its ratio to the first as
// <name>/<first>. On a shared machine the load of other processes changes
// from second to second; calls measured side by side, in turn, meet the
// same load, which sequential sub-benchmarks do not.
func interleave(b *testing.B, calls []namedCall) {
	b.Helper()
	sums := make([]time.Duration, len(calls))
	i := 0
	for b.Loop() {
		for j := range calls {
			c := (i + j) % len(calls)
			t0 := time.Now()
			if err := calls[c].call(); err != nil {
				b.Fatalf("%s: %v", calls[c].name, err)
			}
			sums[c] += time.Since(t0)
		}
		i++
	}
	for c, call := range calls {
		b.ReportMetric(float64(sums[c].Nanoseconds())/float64(b.N), call.name+"-ns/op")
		if c > 0 {
			b.ReportMetric(float64(sums[c])/float64(sums[0]), call.name+"/"+calls[0].name)
		}
	}
}

// expectHit turns a Get's results into an error unless it hit with n bytes.
func expectHit(v []byte, ttl time.Duration, ok bool, err error) func(n int) error {
	return func(n int) error {
		if !ok || len(v) != n || ttl <= 0 {
			return fmt.Errorf("want a hit of %d bytes: got ok=%v len=%d ttl=%v err=%v", n, ok, len(v), ttl, err)
		}
		return nil
	}
}

func BenchmarkRawSet(b *testing.B) {
	s := redistest.Start(b)
	c := s.Client()
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			v := compressible(n)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := c.Set(ctx, "raw:set", v, time.Hour).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkL2Set(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			l, err := NewL2(L2Config{URL: s.URL(), Namespace: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			v := compressible(n)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := l.Set(ctx, testKey(1), v, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkL2GetInterleaved compares a raw GET with L2's lookup
// (pipeline) and the alternatives (Lua script, MULTI/EXEC) on the same
// bytes, interleaved, without compression.
func BenchmarkL2GetInterleaved(b *testing.B) {
	s := redistest.Start(b)
	c := s.Client()
	ctx := context.Background()
	for _, n := range append(benchSizes, 64<<10) {
		b.Run(sizeName(n), func(b *testing.B) {
			value := compressible(n)
			c.Set(ctx, "raw", value, time.Hour)
			l, err := NewL2(L2Config{URL: s.URL(), Namespace: "bench", CompressAbove: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			k := testKey(1)
			l.Set(ctx, k, value, time.Hour)
			// One L2 per method, each with its own connection pool.
			using := func(method string) func() error {
				alt, err := NewL2(L2Config{URL: s.URL(), Namespace: "bench", CompressAbove: -1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { alt.Close() })
				switch method {
				case "script":
					alt.fetch = alt.fetchScript
				case "multi":
					alt.fetch = alt.fetchMulti
				}
				return func() error { return expectHit(alt.Get(ctx, k))(n) }
			}
			interleave(b, []namedCall{
				{"raw", func() error {
					v, err := c.Get(ctx, "raw").Bytes()
					if err == nil && len(v) != n {
						err = fmt.Errorf("GET returned %d bytes", len(v))
					}
					return err
				}},
				{"pipeline", using("pipeline")},
				{"script", using("script")},
				{"multi", using("multi")},
			})
		})
	}
}
