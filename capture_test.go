package cachedsql

import (
	"database/sql/driver"
	"fmt"
	"reflect"
	"testing"
)

// TestCaptureWhateverTheHint: the row-count hint only sizes allocations; the
// captured result, the overflow decision and the values (a []byte copied,
// not shared with the driver) are the same for no hint, an exact one, one too
// small and one too large.
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
					res, overflow, err := capture(&sliceRows{cols: []string{"a", "b", "c", "d"}, data: data}, maxRows, 0, hint)
					if err != nil {
						t.Fatal(err)
					}
					if want := maxRows > 0 && n > maxRows; overflow != want {
						t.Fatalf("overflow = %v, want %v", overflow, want)
					}
					want := mk(n)
					if overflow {
						want = want[:maxRows+1]
					}
					got := res.Sets[0].Rows
					if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
						t.Fatalf("captured %d rows %v, want %d", len(got), got, len(want))
					}
					for i := range got {
						data[i][2].([]byte)[0] = 0xff // the driver reuses its buffer
						if got[i][2].([]byte)[0] != byte(i) {
							t.Fatalf("row %d shares its []byte with the driver", i)
						}
					}
				})
			}
		}
	}
}
