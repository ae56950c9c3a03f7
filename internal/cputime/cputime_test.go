package cputime

import (
	"runtime"
	"testing"
)

// TestProcessCountsWork: spinning for a while moves the clock forward, on
// the platforms where it is read.
func TestProcessCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("process CPU time is not read on " + runtime.GOOS)
	}
	start := Process()
	x := 0
	for n := 0; Process()-start < 20e6 && n < 1e6; n++ { // 20 ms of CPU, bounded
		for i := range 1 << 12 {
			x += i
		}
	}
	_ = x
	if d := Process() - start; d < 20e6 {
		t.Fatalf("Process advanced %v over a busy loop; want at least 20ms", d)
	}
}
