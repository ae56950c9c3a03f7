package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestIndexBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, time.Microsecond, 12345678, time.Hour, 1<<63 - 1} {
		lo, hi := bounds(index(d))
		if d < lo || d >= hi && d != 1<<63-1 {
			t.Errorf("%d: bucket %d is [%d, %d)", d, index(d), lo, hi)
		}
		if index(d) < 0 || index(d) >= nBucket {
			t.Errorf("%d: index %d out of range", d, index(d))
		}
	}
	for i := 1; i < nBucket; i++ {
		_, prevHi := bounds(i - 1)
		lo, _ := bounds(i)
		if i < 3775 && prevHi != lo {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestQuantileMatchesSort(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform µs", func(r *rand.Rand) time.Duration { return time.Duration(1000 + r.IntN(100000)) }},
		{"exponential", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * 50000) }},
		{"bimodal", func(r *rand.Rand) time.Duration {
			if r.IntN(10) == 0 {
				return time.Duration(2e6 + r.IntN(1e6))
			}
			return time.Duration(3000 + r.IntN(2000))
		}},
		{"tiny", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(60)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var a, b Histogram
			var all []time.Duration
			for i := range 20000 {
				d := tc.gen(r)
				all = append(all, d)
				if i%2 == 0 {
					a.Record(d)
				} else {
					b.Record(d)
				}
			}
			a.Merge(&b)
			slices.Sort(all)
			if a.Count() != uint64(len(all)) || a.Min() != all[0] || a.Max() != all[len(all)-1] {
				t.Fatalf("count/min/max = %d/%v/%v, want %d/%v/%v", a.Count(), a.Min(), a.Max(), len(all), all[0], all[len(all)-1])
			}
			for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
				rank := max(1, int(q*float64(len(all))+0.5))
				want := all[rank-1]
				got := a.Quantile(q)
				diff := float64(got-want) / float64(max(want, 1))
				if diff > 0.016 || diff < -0.016 {
					if want >= 64 || got != want {
						t.Errorf("q%.2f = %v, want %v (off by %.2f%%)", q, got, want, 100*diff)
					}
				}
			}
			var n uint64
			for _, bin := range a.Bins(8) {
				n += bin.Count
				if bin.Hi <= bin.Lo {
					t.Fatalf("bin %+v is empty", bin)
				}
			}
			if n != a.Count() {
				t.Errorf("bins hold %d samples, want %d", n, a.Count())
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Bins(8) != nil || h.Mean() != 0 {
		t.Fatalf("empty histogram: q50=%v bins=%v mean=%v", h.Quantile(0.5), h.Bins(8), h.Mean())
	}
	h.Record(-5)
	if h.Count() != 1 || h.Max() != 0 {
		t.Fatalf("negative sample: count %d max %v", h.Count(), h.Max())
	}
}

func FuzzQuantile(f *testing.F) {
	f.Add(int64(0), int64(1), int64(1000), 0.5)
	f.Add(int64(63), int64(64), int64(65), 0.99)
	f.Add(int64(1<<62), int64(5), int64(-3), 1.0)
	f.Fuzz(func(t *testing.T, a, b, c int64, q float64) {
		var h Histogram
		for _, v := range []int64{a, b, c} {
			h.Record(time.Duration(v))
		}
		if q != q { // NaN
			q = 0.5
		}
		got := h.Quantile(q)
		if got < h.Min() || got > h.Max() {
			t.Fatalf("quantile %v = %v outside [%v, %v]", q, got, h.Min(), h.Max())
		}
		if h.Quantile(0) > h.Quantile(0.5) || h.Quantile(0.5) > h.Quantile(1) {
			t.Fatalf("quantiles not monotone")
		}
		var n uint64
		for _, b := range h.Bins(8) {
			n += b.Count
		}
		if n != 3 {
			t.Fatalf("bins hold %d samples, want 3", n)
		}
	})
}
