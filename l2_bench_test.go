package cachedsql

// The L2 benchmarks of issue 3, each beside its baseline so one run gives
// the ratios:
//
//	go test -run '^$' -bench 'L2Hit|L2RawGet|Fill|DirectInner' -benchmem .
//
// BenchmarkL2Hit (L1 off, every query answered from Redis) against
// BenchmarkL2RawGet (a go-redis GET of the same stored bytes from the same
// kind of server); BenchmarkFill (a miss per query: a fresh argument each
// time) against BenchmarkDirectInner (the same query on the inner driver
// alone). BenchmarkFill/*/l2-on-path waits for the L2 write after each query,
// which is what a fill costs its caller if the write were on the caller's
// path; l2-off-path is the library as it is (the write runs in the
// background, and its CPU is in cpu-ns/op).

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql/internal/cputime"
	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/internal/redistest"
)

// l2BenchQuery returns 10 rows × 5 columns from the SQLite table below (the
// no-op driver returns its 10 rows whatever the query); the second argument
// only makes each key fresh in the fill benchmarks.
const l2BenchQuery = "SELECT id, name, score, blob, at FROM t WHERE id < ? AND ? >= 0"

func l2BenchData() ([]string, [][]driver.Value) {
	cols := []string{"id", "name", "score", "blob", "at"}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := make([][]driver.Value, 10)
	for i := range rows {
		rows[i] = []driver.Value{int64(i), fmt.Sprintf("name-%d", i), float64(i) / 2, []byte("blob"), at}
	}
	return cols, rows
}

// l2BenchSQLite makes a SQLite file whose table t holds the same 10 rows plus
// 990 more, and returns its DSN.
func l2BenchSQLite(b *testing.B) string {
	b.Helper()
	dsn := sqliteInnerDSN(filepath.Join(b.TempDir(), "bench.db"))
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL, blob BLOB NOT NULL, at TIMESTAMP NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 1000 {
		if _, err := db.Exec("INSERT INTO t VALUES (?, ?, ?, ?, ?)", i, fmt.Sprintf("name-%d", i), float64(i)/2, []byte("blob"), at); err != nil {
			b.Fatal(err)
		}
	}
	return dsn
}

type l2BenchRow struct {
	id    int64
	name  string
	score float64
	blob  []byte
	at    time.Time
}

// l2BenchRead runs l2BenchQuery and scans every row, as an application would.
func l2BenchRead(ctx context.Context, db *sql.DB, r *l2BenchRow, arg int64) error {
	rows, err := db.QueryContext(ctx, l2BenchQuery, 10, arg)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.name, &r.score, &r.blob, &r.at); err != nil {
			rows.Close()
			return err
		}
		n++
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if n != 10 {
		return fmt.Errorf("%d rows, want 10", n)
	}
	return rows.Err()
}

// l2HitSetup is cachedsql with L1 off over the no-op driver, with the
// benchmark query filled into Redis.
func l2HitSetup(b *testing.B) (*redistest.Server, *Connector, *sql.DB, *fakedb.Noop) {
	s := redistest.Start(b)
	cols, data := l2BenchData()
	noop := fakedb.NewNoop(cols, data)
	c, err := NewConnector(Config{Connector: noop, Namespace: l2Namespace(b), RedisURL: s.URL(), L1MiB: -1})
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	b.Cleanup(func() { db.Close() })
	if err := waitStream(c, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	var r l2BenchRow
	if err := l2BenchRead(context.Background(), db, &r, 1); err != nil {
		b.Fatal(err)
	}
	c.sh.bg.Wait()
	return s, c, db, noop
}

// BenchmarkL2Hit is a query answered from Redis (L1 off): 10 rows × 5 columns.
func BenchmarkL2Hit(b *testing.B) {
	_, c, db, noop := l2HitSetup(b)
	ctx := context.Background()
	var r l2BenchRow
	before := c.Stats().L2Hits
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		if err := l2BenchRead(ctx, db, &r, 1); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, cpu)
	if hits := c.Stats().L2Hits - before; noop.Queries() != 1 || hits != int64(b.N) {
		b.Fatalf("%d L2 hits for %d queries, inner queries %d: the benchmark did not measure L2 hits", hits, b.N, noop.Queries())
	}
}

// BenchmarkL2RawGet is a go-redis GET of the bytes BenchmarkL2Hit reads.
func BenchmarkL2RawGet(b *testing.B) {
	s, c, _, _ := l2HitSetup(b)
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rc.Close()
	keys, err := rc.Keys(ctx, "cachedsql:"+c.Namespace()+":*").Result()
	if err != nil || len(keys) != 1 {
		b.Fatalf("L2 keys %q, %v: want exactly one", keys, err)
	}
	want, err := rc.Get(ctx, keys[0]).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(want)))
	cpu := cputime.Process()
	for b.Loop() {
		v, err := rc.Get(ctx, keys[0]).Bytes()
		if err != nil || len(v) != len(want) {
			b.Fatalf("GET: %d bytes, %v", len(v), err)
		}
	}
	cputime.Report(b, cpu)
}

// l2BenchInners are the inner databases of the fill benchmarks.
var l2BenchInners = []struct {
	name string
	open func(b *testing.B) (cfg Config, direct func() *sql.DB)
}{
	{"noop", func(b *testing.B) (Config, func() *sql.DB) {
		cols, data := l2BenchData()
		noop := fakedb.NewNoop(cols, data)
		return Config{Connector: noop}, func() *sql.DB { return sql.OpenDB(noop) }
	}},
	{"sqlite", func(b *testing.B) (Config, func() *sql.DB) {
		dsn := l2BenchSQLite(b)
		return Config{DriverName: "sqlite3", DSN: dsn}, func() *sql.DB {
			db, err := sql.Open("sqlite3", dsn)
			if err != nil {
				b.Fatal(err)
			}
			return db
		}
	}},
}

// BenchmarkFill is a miss per query (a fresh argument each time): the inner
// query, materialising, encoding, the L1 write and the L2 write.
func BenchmarkFill(b *testing.B) {
	for _, inner := range l2BenchInners {
		for _, mode := range []string{"no-redis", "l2-off-path", "l2-on-path"} {
			b.Run(inner.name+"/"+mode, func(b *testing.B) {
				cfg, _ := inner.open(b)
				cfg.Namespace = l2Namespace(b)
				if mode != "no-redis" {
					cfg.RedisURL = redistest.Start(b).URL()
				}
				c, err := NewConnector(cfg)
				if err != nil {
					b.Fatal(err)
				}
				db := sql.OpenDB(c)
				defer db.Close()
				if err := waitStream(c, 10*time.Second); err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				var r l2BenchRow
				before := c.Stats().Fills
				arg := int64(0)
				b.ReportAllocs()
				cpu := cputime.Process()
				for b.Loop() {
					arg++
					if err := l2BenchRead(ctx, db, &r, arg); err != nil {
						b.Fatal(err)
					}
					if mode == "l2-on-path" {
						c.sh.bg.Wait()
					}
				}
				c.sh.bg.Wait()
				cputime.Report(b, cpu)
				st := c.Stats()
				if fills := st.Fills - before; fills != int64(b.N) {
					b.Fatalf("%d fills for %d queries: the benchmark did not measure misses", fills, b.N)
				}
				if mode != "no-redis" && (st.L2Errors != 0 || st.L2BytesWritten == 0) {
					b.Fatalf("L2 errors %d, bytes written %d: the L2 writes did not all land", st.L2Errors, st.L2BytesWritten)
				}
			})
		}
	}
}

// BenchmarkDirectInner is BenchmarkFill's query on the inner driver alone.
func BenchmarkDirectInner(b *testing.B) {
	for _, inner := range l2BenchInners {
		b.Run(inner.name, func(b *testing.B) {
			_, direct := inner.open(b)
			db := direct()
			defer db.Close()
			ctx := context.Background()
			var r l2BenchRow
			arg := int64(0)
			b.ReportAllocs()
			cpu := cputime.Process()
			for b.Loop() {
				arg++
				if err := l2BenchRead(ctx, db, &r, arg); err != nil {
					b.Fatal(err)
				}
			}
			cputime.Report(b, cpu)
		})
	}
}
