package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/cputime"
	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// Row is the row every workload returns: one column of each common type.
// The msgpack tags are what a user caching []Row by hand would write.
type Row struct {
	ID    int64     `msgpack:"id"`
	Name  string    `msgpack:"name"`
	Score float64   `msgpack:"score"`
	Blob  []byte    `msgpack:"blob"`
	At    time.Time `msgpack:"at"`
}

var columns = []string{"id", "name", "score", "bin", "at"}

// rowAt is row i of the table every workload reads (the same in the no-op
// driver and in the real databases).
func rowAt(i int) Row {
	return Row{
		ID:    int64(i),
		Name:  fmt.Sprintf("name-%d", i),
		Score: float64(i) / 2,
		Blob:  []byte("blob-0123456789"),
		At:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second),
	}
}

// noopValues is the first n rows as driver values, for fakedb.NewNoop.
func noopValues(n int) [][]driver.Value {
	rows := make([][]driver.Value, n)
	for i := range rows {
		r := rowAt(i)
		rows[i] = []driver.Value{r.ID, r.Name, r.Score, r.Blob, r.At}
	}
	return rows
}

// sizes are the result sizes of every workload.
var sizes = []int{1, 10, 100, 1000}

// goroutines are the concurrency levels: 1 runs the loop in the benchmark's
// goroutine, more runs b.RunParallel with that many goroutines in all (the
// paired benchmarks start exactly that many themselves: runPaired).
var goroutines = []int{1, 64}

// noopQuery is the query sent to the no-op driver; the driver ignores its
// text, cachedsql keys on it and on the argument.
const noopQuery = "SELECT id, name, score, bin, at FROM t WHERE id < ?"

// scanRows reads every row into a fresh []Row, as an application's data
// layer would before returning them.
func scanRows(rows *sql.Rows, hint int) ([]Row, error) {
	out := make([]Row, 0, hint)
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.Name, &r.Score, &r.Blob, &r.At); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// queryRows runs query through db and scans the result.
func queryRows(ctx context.Context, db *sql.DB, query string, hint int, args ...any) ([]Row, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows, hint)
}

// reader is one contender: it reads the workload's result and says how many
// rows it holds.
type reader func(ctx context.Context) (int, error)

// rowsRead adapts a contender that returns rows to a reader.
func rowsRead(read func(ctx context.Context) ([]Row, error)) reader {
	return func(ctx context.Context) (int, error) {
		rows, err := read(ctx)
		return len(rows), err
	}
}

// run measures read at g goroutines and checks every result has n rows.
func run(b *testing.B, g, n int, read reader) {
	b.Helper()
	ctx := context.Background()
	if got, err := read(ctx); err != nil || got != n { // warm, and check once
		b.Fatalf("warming: %d rows, %v; want %d rows", got, err, n)
	}
	b.ReportAllocs()
	defer cputime.Report(b, cputime.Process())
	b.ResetTimer()
	if g <= 1 {
		for i := 0; i < b.N; i++ {
			if got, err := read(ctx); err != nil || got != n {
				b.Fatalf("%d rows, %v; want %d", got, err, n)
			}
		}
		return
	}
	b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
	var failed atomic.Bool
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got, err := read(ctx); err != nil || got != n {
				if !failed.Swap(true) {
					b.Errorf("%d rows, %v; want %d", got, err, n)
				}
				return
			}
		}
	})
}

// poolFor sizes db's idle pool for g goroutines: database/sql keeps 2 idle
// connections by default, and 64 goroutines would otherwise spend the run
// opening and closing connections. The same setting goes to every contender.
func poolFor(b *testing.B, db *sql.DB, g int) *sql.DB {
	db.SetMaxIdleConns(g + runtime.GOMAXPROCS(0) + 2)
	b.Cleanup(func() { db.Close() })
	return db
}

var nsSeq atomic.Int64

// namespace is a namespace no other benchmark in the process uses, so each
// contender starts with an empty cache of its own.
func namespace(b *testing.B) string {
	return fmt.Sprintf("bench-%d-%s", nsSeq.Add(1), b.Name())
}

// openCached opens cachedsql with cfg (given a fresh namespace) and a pool
// sized for g goroutines.
func openCached(b *testing.B, cfg cachedsql.Config, g int) (*sql.DB, *cachedsql.Connector) {
	b.Helper()
	cfg.Namespace = namespace(b)
	c, err := cachedsql.NewConnector(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return poolFor(b, sql.OpenDB(c), g), c
}

// noopDB is the database/sql floor for n rows, with the driver to count its queries.
func noopDB(b *testing.B, n, g int) (*sql.DB, *fakedb.Noop) {
	noop := fakedb.NewNoop(columns, noopValues(n))
	return poolFor(b, sql.OpenDB(noop), g), noop
}

// wantInner fails b when the counted inner queries are not want: a hit
// benchmark whose queries reached the database measured something else.
func wantInner(b *testing.B, got func() int64, want int64) {
	b.Helper()
	if n := got(); n != want {
		b.Fatalf("the inner database saw %d queries, want %d: not every measured read was a hit", n, want)
	}
}
