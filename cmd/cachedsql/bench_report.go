package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/probe"
)

// benchReport is the final report; its JSON form is the --json output.
type benchReport struct {
	Target      string  `json:"target"`
	Interrupted bool    `json:"interrupted"` // stopped by Ctrl-C before the end
	Seconds     float64 `json:"seconds"`

	Config struct {
		Reads       float64 `json:"reads"`
		Keys        int     `json:"keys"`
		Distrib     string  `json:"distribution"` // "uniform" or "zipf s=S"
		Concurrency int     `json:"concurrency"`
		Duration    string  `json:"duration,omitempty"`
		Ops         int64   `json:"ops,omitempty"`
		Rows        int     `json:"rows_per_read"`
		L2          bool    `json:"l2"`
	} `json:"config"`

	Ops        int64    `json:"ops"` // completed operations, errors excluded
	ReadOps    int64    `json:"read_ops"`
	WriteOps   int64    `json:"write_ops"`
	OpsPerSec  float64  `json:"ops_per_sec"`
	Errors     int64    `json:"errors"`
	ErrSamples []string `json:"error_samples,omitempty"`

	// HitRatio is the share of completed reads that did not query the database.
	HitRatio float64 `json:"hit_ratio"`
	// Tiers are hit ratios from cachedsql.StatsOf: hits / lookups of each tier.
	Tiers struct {
		L1         tierRatio `json:"l1"`
		L2         tierRatio `json:"l2"`
		Coalesced  int64     `json:"coalesced_waits"`
		Fills      int64     `json:"fills"`
		Uncachable int64     `json:"uncacheable"`
	} `json:"tiers"`
	// DBQueries counts the queries the inner driver ran during the run
	// (including those of operations cut short by its end, not counted in Ops);
	// DBQueriesSaved = reads - reads that queried the database.
	DBQueries      int64 `json:"db_queries"`
	DBQueriesSaved int64 `json:"db_queries_saved"`

	Paths []pathReport `json:"paths"`
	Chart string       `json:"chart,omitempty"`
}

type tierRatio struct {
	Hits    int64   `json:"hits"`
	Lookups int64   `json:"lookups"`
	Ratio   float64 `json:"ratio"`
}

type pathReport struct {
	Path   string  `json:"path"`
	Ops    uint64  `json:"ops"`
	Share  float64 `json:"share"` // of all completed operations
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P95US  float64 `json:"p95_us"`
	P99US  float64 `json:"p99_us"`
	MaxUS  float64 `json:"max_us"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func makeReport(bc *benchConfig, t *benchTarget, res *benchResult) *benchReport {
	r := &benchReport{Target: t.label, Interrupted: res.interrupted, Seconds: res.elapsed.Seconds()}
	r.Config.Reads, r.Config.Keys, r.Config.Concurrency, r.Config.Rows, r.Config.L2 = bc.reads, bc.keys, bc.concurrency, bc.rows, t.withL2
	r.Config.Distrib = fmt.Sprintf("zipf s=%g", bc.zipf)
	if bc.uniform {
		r.Config.Distrib = "uniform"
	}
	if bc.duration > 0 {
		r.Config.Duration = bc.duration.String()
	}
	r.Config.Ops = bc.ops
	for _, p := range benchPaths {
		h := res.paths[p]
		r.Ops += int64(h.Count())
		if p == pathWrite {
			r.WriteOps += int64(h.Count())
		} else {
			r.ReadOps += int64(h.Count())
		}
	}
	for _, p := range benchPaths {
		h := res.paths[p]
		if h.Count() == 0 {
			continue
		}
		r.Paths = append(r.Paths, pathReport{
			Path: p, Ops: h.Count(), Share: ratio(int64(h.Count()), r.Ops),
			MeanUS: us(h.Mean()), P50US: us(h.Quantile(0.50)), P95US: us(h.Quantile(0.95)), P99US: us(h.Quantile(0.99)), MaxUS: us(h.Max()),
		})
	}
	r.OpsPerSec = ratio(r.Ops, 1) / max(res.elapsed.Seconds(), 1e-9)
	r.Errors, r.ErrSamples = res.errors, res.errSamples
	dbReads := int64(res.paths[probe.PathDatabase].Count())
	r.HitRatio = ratio(r.ReadOps-dbReads, r.ReadOps)
	r.DBQueries = res.dbQueries
	r.DBQueriesSaved = r.ReadOps - dbReads
	b, a := res.before, res.after
	l1h, l1l := a.L1Hits-b.L1Hits, a.L1Hits-b.L1Hits+a.L1Misses-b.L1Misses
	l2h, l2l := a.L2Hits-b.L2Hits, a.L2Hits-b.L2Hits+a.L2Misses-b.L2Misses
	r.Tiers.L1 = tierRatio{l1h, l1l, ratio(l1h, l1l)}
	r.Tiers.L2 = tierRatio{l2h, l2l, ratio(l2h, l2l)}
	r.Tiers.Coalesced = a.CoalescedWaits - b.CoalescedWaits
	r.Tiers.Fills = a.Fills - b.Fills
	r.Tiers.Uncachable = a.Uncacheable - b.Uncacheable
	return r
}

func writeJSON(out io.Writer, r *benchReport) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func printReport(out io.Writer, r *benchReport) {
	w := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	run := r.Config.Duration
	if r.Config.Ops > 0 {
		run = fmt.Sprintf("%d ops", r.Config.Ops)
	}
	w("cachedsql bench: %s, concurrency %d, %s reads, %d keys (%s), %d rows per read\n",
		run, r.Config.Concurrency, pct(r.Config.Reads), r.Config.Keys, r.Config.Distrib, r.Config.Rows)
	w("  target      %s\n", r.Target)
	if r.Interrupted {
		w("  INTERRUPTED after %.1fs: the numbers below cover what ran until Ctrl-C\n", r.Seconds)
	}
	w("\n")
	w("  throughput  %s ops/s (%d ops in %.2fs: %d reads, %d writes)\n", humanRate(r.OpsPerSec), r.Ops, r.Seconds, r.ReadOps, r.WriteOps)
	w("  errors      %d", r.Errors)
	if len(r.ErrSamples) > 0 {
		w(" (first: %s)", r.ErrSamples[0])
	}
	w("\n")
	w("  hit ratio   %s of reads did not query the database\n", pct(r.HitRatio))
	w("              L1 %s (%d hits / %d lookups)", pct(r.Tiers.L1.Ratio), r.Tiers.L1.Hits, r.Tiers.L1.Lookups)
	if r.Config.L2 {
		w(", L2 %s (%d / %d)", pct(r.Tiers.L2.Ratio), r.Tiers.L2.Hits, r.Tiers.L2.Lookups)
	} else {
		w(", no L2")
	}
	w(", %d coalesced waits\n", r.Tiers.Coalesced)
	w("  database    %d queries for %d reads and %d writes: %d reads saved (%s)\n",
		r.DBQueries, r.ReadOps, r.WriteOps, r.DBQueriesSaved, pct(ratio(r.DBQueriesSaved, r.ReadOps)))
	w("\n  %-10s %9s %7s %9s %9s %9s %9s\n", "PATH", "OPS", "SHARE", "P50", "P95", "P99", "MAX")
	for _, p := range r.Paths {
		w("  %-10s %9d %7s %9s %9s %9s %9s\n", p.Path, p.Ops, pct(p.Share), fmtDurUS(p.P50US), fmtDurUS(p.P95US), fmtDurUS(p.P99US), fmtDurUS(p.MaxUS))
	}
	if !r.Config.L2 {
		w("  (without Redis, reads that waited for another read's query count as L1 hits)\n")
	}
	if r.Chart != "" {
		w("\n  chart       %s\n", r.Chart)
	}
}
