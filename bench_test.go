package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/cachedsql/cachedsql/internal/cputime"
	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// The benchmarks of the hit and miss paths, each beside its baseline so one
// run gives the ratios of issues 2 and 7:
//
//	go test -run '^$' -bench 'L1Hit|Floor|SQLitePK|MissNoop' -benchmem .
//
// BenchmarkL1Hit against BenchmarkFloor (the database/sql floor: the same
// query through a no-op driver), BenchmarkL1HitSQLitePK against
// BenchmarkSQLitePK (a primary-key read from SQLite directly), and
// BenchmarkMissNoop against BenchmarkFloorMiss (what a miss adds, with no
// database time to hide it).

// benchQuery is the query every hit benchmark runs; its one argument keeps
// the keying of arguments on the measured path.
const benchQuery = "SELECT id, name, score, blob, at FROM t WHERE id = ?"

// benchParallelism makes b.RunParallel run 64 goroutines on any GOMAXPROCS
// of at least 1 (the goal is stated for 64 goroutines on 2 cores).
func benchParallelism() int { return max(1, 64/runtime.GOMAXPROCS(0)) }

// benchRows is the 10 rows × 5 columns result: one column of each common type.
func benchRows(n int) ([]string, [][]driver.Value) {
	cols := []string{"id", "name", "score", "blob", "at"}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := make([][]driver.Value, n)
	for i := range rows {
		rows[i] = []driver.Value{int64(i), fmt.Sprintf("name-%d", i), float64(i) / 2, []byte("blob"), at}
	}
	return cols, rows
}

// scanned holds one row's typed destinations.
type scanned struct {
	id    int64
	name  string
	score float64
	blob  []byte
	at    time.Time
}

// readAll runs benchQuery and scans every row into typed variables, as an
// application would; it returns the number of rows.
func readAll(ctx context.Context, db *sql.DB, s *scanned, arg int64) (int, error) {
	rows, err := db.QueryContext(ctx, benchQuery, arg)
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&s.id, &s.name, &s.score, &s.blob, &s.at); err != nil {
			rows.Close()
			return n, err
		}
		n++
	}
	if err := rows.Close(); err != nil {
		return n, err
	}
	return n, rows.Err()
}

// openBenchDB sizes the idle pool for the parallel benchmarks (database/sql
// keeps 2 idle connections by default, which would make 64 goroutines open
// and close connections instead of querying) and closes db after b.
func openBenchDB(b *testing.B, db *sql.DB) *sql.DB {
	b.Helper()
	db.SetMaxIdleConns(benchParallelism()*runtime.GOMAXPROCS(0) + 1)
	b.Cleanup(func() { db.Close() })
	return db
}

func floorDB(b *testing.B, nrows int) *sql.DB {
	cols, data := benchRows(nrows)
	return openBenchDB(b, sql.OpenDB(fakedb.NewNoop(cols, data)))
}

// l1HitDB is cachedsql (L1 only) over the no-op driver, warmed so every
// benchmarked query is an L1 hit; the inner driver's query count proves it.
func l1HitDB(b *testing.B, nrows int) (*sql.DB, *fakedb.Noop) {
	db, _, noop := cachedNoopDB(b, nrows)
	var s scanned
	if n, err := readAll(context.Background(), db, &s, 1); err != nil || n != nrows {
		b.Fatalf("warming: %d rows, %v", n, err)
	}
	return db, noop
}

// cachedNoopDB is cachedsql (L1 only, a namespace of its own) over a no-op
// driver returning nrows rows.
func cachedNoopDB(b *testing.B, nrows int) (*sql.DB, *Connector, *fakedb.Noop) {
	cols, data := benchRows(nrows)
	noop := fakedb.NewNoop(cols, data)
	c, err := NewConnector(Config{Connector: noop, Namespace: "bench-" + b.Name()})
	if err != nil {
		b.Fatal(err)
	}
	return openBenchDB(b, sql.OpenDB(c)), c, noop
}

// checkHits fails b when a benchmarked query reached the inner driver.
func checkHits(b *testing.B, noop *fakedb.Noop) {
	b.Helper()
	if q := noop.Queries(); q != 1 {
		b.Fatalf("the inner driver saw %d queries, want 1 (the warming one): the benchmark did not measure hits", q)
	}
}

func benchSerial(b *testing.B, db *sql.DB, nrows int) {
	ctx := context.Background()
	var s scanned
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		if n, err := readAll(ctx, db, &s, 1); err != nil || n != nrows {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	cputime.Report(b, start)
}

func benchParallel(b *testing.B, db *sql.DB, nrows int) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(benchParallelism())
	start := cputime.Process()
	defer cputime.Report(b, start)
	b.RunParallel(func(pb *testing.PB) {
		var s scanned
		for pb.Next() {
			if n, err := readAll(ctx, db, &s, 1); err != nil || n != nrows {
				b.Errorf("%d rows, %v", n, err)
				return
			}
		}
	})
}

// BenchmarkFloor is the database/sql floor: 10 rows × 5 columns through a
// no-op driver that returns precomputed rows.
func BenchmarkFloor(b *testing.B) {
	benchSerial(b, floorDB(b, 10), 10)
}

// BenchmarkL1Hit is the same query answered from L1.
func BenchmarkL1Hit(b *testing.B) {
	db, noop := l1HitDB(b, 10)
	benchSerial(b, db, 10)
	checkHits(b, noop)
}

// BenchmarkFloorParallel is the floor at 64 goroutines.
func BenchmarkFloorParallel(b *testing.B) {
	benchParallel(b, floorDB(b, 10), 10)
}

// BenchmarkL1HitParallel is the L1 hit at 64 goroutines.
func BenchmarkL1HitParallel(b *testing.B) {
	db, noop := l1HitDB(b, 10)
	benchParallel(b, db, 10)
	checkHits(b, noop)
}

// sqliteFile creates a SQLite file holding table t with 1000 rows of the
// benchmark's shape, and returns its DSN.
func sqliteFile(b *testing.B) string {
	b.Helper()
	dsn := "file:" + filepath.Join(b.TempDir(), "bench.db") + "?_journal_mode=WAL"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL, blob BLOB NOT NULL, at TIMESTAMP NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 1000 {
		if _, err := tx.Exec("INSERT INTO t VALUES (?, ?, ?, ?, ?)", i, fmt.Sprintf("name-%d", i), float64(i)/2, []byte("blob"), at); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return dsn
}

// BenchmarkSQLitePK is a primary-key read (one row, five columns) from a
// SQLite file directly.
func BenchmarkSQLitePK(b *testing.B) {
	db, err := sql.Open("sqlite3", sqliteFile(b))
	if err != nil {
		b.Fatal(err)
	}
	benchSerial(b, openBenchDB(b, db), 1)
}

// BenchmarkL1HitSQLitePK is the same read through cachedsql over sqlite3,
// answered from L1.
func BenchmarkL1HitSQLitePK(b *testing.B) {
	c, err := NewConnector(Config{DriverName: "sqlite3", DSN: sqliteFile(b), Namespace: "bench-" + b.Name()})
	if err != nil {
		b.Fatal(err)
	}
	db := openBenchDB(b, sql.OpenDB(c))
	benchSerial(b, db, 1)
	if s := c.Stats(); s.L1Misses != 1 || s.L1Hits < 1 {
		b.Fatalf("L1 misses %d, hits %d: want 1 miss (the first query) and the rest hits", s.L1Misses, s.L1Hits)
	}
}

// BenchmarkSQLitePKParallel and BenchmarkL1HitSQLitePKParallel are the
// primary-key read at 64 goroutines.
func BenchmarkSQLitePKParallel(b *testing.B) {
	db, err := sql.Open("sqlite3", sqliteFile(b))
	if err != nil {
		b.Fatal(err)
	}
	benchParallel(b, openBenchDB(b, db), 1)
}

func BenchmarkL1HitSQLitePKParallel(b *testing.B) {
	c, err := NewConnector(Config{DriverName: "sqlite3", DSN: sqliteFile(b), Namespace: "bench-" + b.Name()})
	if err != nil {
		b.Fatal(err)
	}
	db := openBenchDB(b, sql.OpenDB(c))
	var s scanned
	if n, err := readAll(context.Background(), db, &s, 1); err != nil || n != 1 {
		b.Fatalf("warming: %d rows, %v", n, err)
	}
	benchParallel(b, db, 1)
	if s := c.Stats(); s.L1Misses != 1 || s.L1Hits != int64(b.N) {
		b.Fatalf("L1 misses %d, hits %d: want 1 miss (the warming read) and %d hits", s.L1Misses, s.L1Hits, b.N)
	}
}

// BenchmarkMissNoop is the miss path's own cost with no database behind it:
// 1 and 100 rows × 5 columns from the no-op driver, every query a miss (a
// fresh argument each time) that captures, encodes and stores the result in
// L1. Its baseline is BenchmarkFloorMiss, the same reads through the no-op
// driver alone; the difference is what a miss adds to any database's time.
// ctx=cancellable reads under a context that can be cancelled, as a server
// handler's, for which the shared query runs on a goroutine of its own.
func BenchmarkMissNoop(b *testing.B) {
	for _, nrows := range []int{1, 100} {
		for _, cancellable := range []bool{false, true} {
			b.Run(fmt.Sprintf("rows=%d/%s", nrows, ctxName(cancellable)), func(b *testing.B) {
				db, c, _ := cachedNoopDB(b, nrows)
				var s scanned
				arg := int64(0)
				before := c.Stats().Fills
				b.ReportAllocs()
				start := cputime.Process()
				for b.Loop() {
					arg++
					ctx, cancel := benchCtx(cancellable)
					n, err := readAll(ctx, db, &s, arg)
					cancel()
					if err != nil || n != nrows {
						b.Fatalf("%d rows, %v", n, err)
					}
				}
				cputime.Report(b, start)
				if fills := c.Stats().Fills - before; fills != int64(b.N) {
					b.Fatalf("%d fills for %d queries: not every query was a miss", fills, b.N)
				}
			})
		}
	}
}

// BenchmarkFloorMiss is BenchmarkMissNoop's baseline.
func BenchmarkFloorMiss(b *testing.B) {
	for _, nrows := range []int{1, 100} {
		for _, cancellable := range []bool{false, true} {
			b.Run(fmt.Sprintf("rows=%d/%s", nrows, ctxName(cancellable)), func(b *testing.B) {
				db := floorDB(b, nrows)
				var s scanned
				b.ReportAllocs()
				start := cputime.Process()
				for b.Loop() {
					ctx, cancel := benchCtx(cancellable)
					n, err := readAll(ctx, db, &s, 1)
					cancel()
					if err != nil || n != nrows {
						b.Fatalf("%d rows, %v", n, err)
					}
				}
				cputime.Report(b, start)
			})
		}
	}
}

func ctxName(cancellable bool) string {
	if cancellable {
		return "ctx=cancellable"
	}
	return "ctx=background"
}

func benchCtx(cancellable bool) (context.Context, context.CancelFunc) {
	if cancellable {
		return context.WithCancel(context.Background())
	}
	return context.Background(), func() {}
}
