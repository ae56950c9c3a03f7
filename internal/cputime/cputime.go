// Package cputime gives benchmarks the process's CPU time, so that they can
// report cpu-ns/op beside ns/op. The machines they run on are shared, so
// wall-clock ns/op swings with the load; CPU time per operation (the garbage
// collector's included) is the steadier figure to compare within one run.
//
// Where the process's CPU time cannot be read, Process returns 0 and Report
// reports nothing.
package cputime

import (
	"testing"
	"time"
)

// Report adds cpu-ns/op to b: the CPU time used since start (a Process
// reading) per operation.
func Report(b *testing.B, start time.Duration) {
	if cpu := Process() - start; cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
