package rowset

import (
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachedsql/cachedsql/internal/cputime"
)

// benchResult is n rows of (int64, string, string, float64, time.Time), the
// shape of the 10 x 5 benchmark.
func benchResult(n int) *Result {
	s := Set{Columns: []Column{{Name: "id"}, {Name: "name"}, {Name: "email"}, {Name: "score"}, {Name: "created"}}}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		s.Rows = append(s.Rows, []driver.Value{
			int64(100000 + i*7919),
			fmt.Sprintf("user %d", i),
			fmt.Sprintf("user%d@example.com", i),
			float64(i) * 1.25,
			base.Add(time.Duration(i) * time.Hour),
		})
	}
	return &Result{Sets: []Set{s}}
}

func benchRows(n int) [][]any {
	r := benchResult(n)
	out := make([][]any, n)
	for i, row := range r.Sets[0].Rows {
		for _, v := range row {
			out[i] = append(out[i], v)
		}
	}
	return out
}

func BenchmarkDecode10x5(b *testing.B) {
	enc, err := Append(nil, benchResult(10))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	defer cputime.Report(b, cputime.Process())
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeShared is Decode against ColumnCache.Decode sharing the
// columns, as cachedsql decodes a query's entries (an L2 hit, or an L1 entry
// the hot set does not hold).
func BenchmarkDecodeShared(b *testing.B) {
	for _, n := range []int{1, 10} {
		enc, err := Append(nil, benchResult(n))
		if err != nil {
			b.Fatal(err)
		}
		var cc ColumnCache
		for _, m := range []struct {
			name   string
			decode func([]byte) (*Result, error)
		}{{"plain", Decode}, {"shared", cc.Decode}} {
			b.Run(fmt.Sprintf("rows=%d/%s", n, m.name), func(b *testing.B) {
				b.SetBytes(int64(len(enc)))
				b.ReportAllocs()
				defer cputime.Report(b, cputime.Process())
				for b.Loop() {
					if _, err := m.decode(enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkAppend10x5(b *testing.B) {
	r := benchResult(10)
	buf, err := Append(nil, r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	defer cputime.Report(b, cputime.Process())
	for b.Loop() {
		if buf, err = Append(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
}

// Baselines: msgpack v5 on the same rows as [][]any, the obvious hand-written codec.
func BenchmarkMsgpackUnmarshal10x5(b *testing.B) {
	enc, err := msgpack.Marshal(benchRows(10))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	defer cputime.Report(b, cputime.Process())
	for b.Loop() {
		var rows [][]any
		if err := msgpack.Unmarshal(enc, &rows); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgpackMarshal10x5(b *testing.B) {
	rows := benchRows(10)
	b.ReportAllocs()
	defer cputime.Report(b, cputime.Process())
	for b.Loop() {
		if _, err := msgpack.Marshal(rows); err != nil {
			b.Fatal(err)
		}
	}
}
