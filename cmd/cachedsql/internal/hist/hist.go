// Package hist is a fixed-size latency histogram: log-linear buckets (64 per
// power of two, so a quantile is within 1.6% of the true value), constant
// memory whatever the number of samples, mergeable across goroutines.
// A Histogram is not safe for concurrent use: give each goroutine its own and
// Merge them.
package hist

import (
	"math/bits"
	"time"
)

const (
	sub     = 64 // buckets per power of two
	subBits = 6
	nBucket = 64 * sub
)

// Histogram counts durations.
type Histogram struct {
	counts   [nBucket]uint64
	n        uint64
	sum      time.Duration
	min, max time.Duration
}

func index(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < sub {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [sub, 2*sub)
	return (e+1)*sub + int(v>>e) - sub
}

// bounds returns the range [lo, hi) of bucket i.
func bounds(i int) (lo, hi time.Duration) {
	if i < sub {
		return time.Duration(i), time.Duration(i + 1)
	}
	e := i/sub - 1
	m := uint64(i%sub + sub)
	return time.Duration(m << e), time.Duration((m + 1) << e)
}

// Record adds one duration; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[index(d)]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample (0 when empty).
func (h *Histogram) Max() time.Duration { return h.max }

// Min returns the smallest sample (0 when empty).
func (h *Histogram) Min() time.Duration { return h.min }

// Mean returns the average sample (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the q-quantile (0 <= q <= 1) by nearest rank: the middle of
// the bucket holding that sample, kept within the observed min and max. It
// returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			mid := lo + (hi-lo)/2
			if i < sub {
				mid = lo
			}
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}

// Bin is a range of durations and how many samples fell in it.
type Bin struct {
	Lo, Hi time.Duration
	Count  uint64
}

// Bins returns the non-empty part of the histogram coarsened to perOctave bins
// per power of two (a divisor of 64: 1, 2, 4, 8, 16, 32 or 64), from the first
// to the last non-empty bin, empty bins in between included.
func (h *Histogram) Bins(perOctave int) []Bin {
	if h.n == 0 {
		return nil
	}
	if perOctave < 1 || perOctave > sub || sub%perOctave != 0 {
		perOctave = 8
	}
	group := sub / perOctave
	var bins []Bin
	for i := 0; i < nBucket; {
		lo, _ := bounds(i)
		j := i + group
		if i < sub {
			j = sub // the exact nanosecond buckets below 64ns form one bin
		}
		_, hi := bounds(j - 1)
		b := Bin{Lo: lo, Hi: hi}
		for k := i; k < j; k++ {
			b.Count += h.counts[k]
		}
		bins = append(bins, b)
		i = j
	}
	first, last := -1, -1
	for i, b := range bins {
		if b.Count > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return bins[first : last+1]
}
