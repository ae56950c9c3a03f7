package cachedsql

import (
	"database/sql/driver"
	"fmt"
	"reflect"
	"testing"
)

// TestCaptureWhateverTheHint: the size hint only sizes allocations; the
// captured result, the overflow decision and the values (a []byte copied,
// not shared with the driver) are the same for no hint, an exact one, one too
// small and one too large, and the hint capture returns is what it held.
func TestCaptureWhateverTheHint(t *testing.T) {
	mk := func(n int) [][]driver.Value {
		rows := make([][]driver.Value, n)
		for i := range rows {
			rows[i] = []driver.Value{int64(i), fmt.Sprintf("n%d", i), []byte{byte(i)}, nil}
		}
		return rows
	}
	for _, n := range []int{0, 1, 7, 100, 300} {
		for _, hint := range []int{0, 1, n, n + 1, 2 * n, 5000} {
			for _, maxRows := range []int{0, 50} {
				t.Run(fmt.Sprintf("rows=%d/hint=%d/max=%d", n, hint, maxRows), func(t *testing.T) {
					data := mk(n)
					h := sizeHint{rows: hint, small: hint, arena: hint}
					if hint == n+1 {
						h.small, h.arena = 1, 1 // rows right, the arena far too small
					}
					res, got, overflow, err := capture(&sliceRows{cols: []string{"a", "b", "c", "d"}, data: data}, maxRows, 0, h)
					if err != nil {
						t.Fatal(err)
					}
					if c := len(res.Sets[0].Rows); got != (sizeHint{rows: c, small: c, arena: c}) {
						t.Fatalf("capture of %d rows, each with one 1-byte []byte, returned hint %+v", c, got)
					}
					if want := maxRows > 0 && n > maxRows; overflow != want {
						t.Fatalf("overflow = %v, want %v", overflow, want)
					}
					want := mk(n)
					if overflow {
						want = want[:maxRows+1]
					}
					rows := res.Sets[0].Rows
					if len(rows) != len(want) || (len(want) > 0 && !reflect.DeepEqual(rows, want)) {
						t.Fatalf("captured %d rows %v, want %d", len(rows), rows, len(want))
					}
					for i := range rows {
						data[i][2].([]byte)[0] = 0xff // the driver reuses its buffer
						if rows[i][2].([]byte)[0] != byte(i) {
							t.Fatalf("row %d shares its []byte with the driver", i)
						}
					}
				})
			}
		}
	}
}

// TestPlanSizeHintRoundTrips: a plan keeps a capture's hint in one word,
// each field capped at what its bits hold rather than wrapping.
func TestPlanSizeHintRoundTrips(t *testing.T) {
	for _, tt := range []struct{ in, want sizeHint }{
		{sizeHint{}, sizeHint{}},
		{sizeHint{rows: 100, small: 100, arena: 1600}, sizeHint{rows: 100, small: 100, arena: 1600}},
		{sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}, sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}},
		{sizeHint{rows: 1 << 30, small: 1 << 25, arena: 1 << 40}, sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}},
	} {
		var p plan
		p.setSizeHint(tt.in)
		if got := p.sizeHint(); got != tt.want {
			t.Errorf("%+v stored, %+v read; want %+v", tt.in, got, tt.want)
		}
	}
}
