package bench

import (
	"context"
	"database/sql/driver"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	"github.com/cachedsql/cachedsql/tier"
)

// entries is how many cached results the memory benchmark holds.
const entries = 1_000_000

// BenchmarkL1Million holds 1,000,000 cached one-row results and reports the
// live heap they take (heap-MiB) and what a full garbage collection then
// costs: its wall time (gc-ms, mostly marking, which scales with the
// pointers in the heap) and its stop-the-world pauses (stw-us).
//
//   - map-decoded: the baseline, a map from key to the decoded []Row, as a
//     hand-written in-process cache would hold them;
//   - cachedsql-l1: cachedsql's L1 tier (bigcache) holding the same results
//     as encoded row sets, which the collector does not have to scan.
//
// The figures do not depend on b.N: one build per run, ns/op is not reported.
func BenchmarkL1Million(b *testing.B) {
	keys := make([]keying.Key, entries)
	var kb keying.Builder
	for i := range keys {
		kb.Reset("bench")
		kb.Query(noopQuery)
		if err := kb.Arg(driver.NamedValue{Ordinal: 1, Value: int64(i)}); err != nil {
			b.Fatal(err)
		}
		keys[i] = kb.Sum()
	}
	b.Run("map-decoded", func(b *testing.B) {
		measureHeap(b, func() (any, int) {
			m := make(map[keying.Key][]Row)
			for i, k := range keys {
				m[k] = []Row{rowAt(i)}
			}
			return m, len(m)
		})
	})
	b.Run("cachedsql-l1", func(b *testing.B) {
		measureHeap(b, func() (any, int) {
			l1, err := tier.NewL1(tier.L1Config{CapacityMiB: 1024})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l1.Close() })
			cols := make([]rowset.Column, len(columns))
			for i, c := range columns {
				cols[i] = rowset.Column{Name: c}
			}
			ctx := context.Background()
			var buf []byte
			for i, k := range keys {
				r := rowAt(i)
				res := &rowset.Result{Sets: []rowset.Set{{
					Columns: cols,
					Rows:    [][]driver.Value{{r.ID, r.Name, r.Score, r.Blob, r.At}},
				}}}
				if buf, err = rowset.Append(buf[:0], res); err != nil {
					b.Fatal(err)
				}
				if err := l1.Set(ctx, k, buf, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			return l1, int(l1.Stats().Entries)
		})
	})
}

// measureHeap builds a store with build (which returns it and how many
// entries it holds) and reports its live heap and the cost of collecting
// while it is alive.
func measureHeap(b *testing.B, build func() (store any, n int)) {
	b.Helper()
	// The framework calls a benchmark again with a larger b.N when the first
	// call (b.N = 1) was quick; the figures do not depend on b.N, so such a
	// call reports the first call's figures instead of building again.
	if m, ok := measured[b.Name()]; ok && b.N > 1 {
		m.report(b)
		return
	}
	var before, after runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&before)
	store, n := build()
	if n != entries {
		b.Fatalf("the store holds %d entries, want %d", n, entries)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	const rounds = 5
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	pauses, gcs := ms.PauseTotalNs, ms.NumGC
	start := time.Now()
	for range rounds {
		runtime.GC()
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(store)

	m := heapFigures{
		heapMiB: heap / (1 << 20),
		gcMs:    float64(elapsed.Microseconds()) / 1000 / rounds,
		stwUs:   float64(ms.PauseTotalNs-pauses) / 1000 / float64(ms.NumGC-gcs),
	}
	measured[b.Name()] = m
	m.report(b)
}

type heapFigures struct{ heapMiB, gcMs, stwUs float64 }

// measured holds each sub-benchmark's figures across the framework's calls
// (benchmarks run one at a time, so no lock).
var measured = map[string]heapFigures{}

func (m heapFigures) report(b *testing.B) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(m.heapMiB, "heap-MiB")
	b.ReportMetric(m.gcMs, "gc-ms")
	b.ReportMetric(m.stwUs, "stw-us")
}
