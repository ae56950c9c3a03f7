package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"github.com/cachedsql/cachedsql"
)

// database is one inner database the benchmarks read directly and through
// cachedsql.
type database struct {
	name   string // sub-benchmark name
	driver string // registered database/sql driver
	dsn    func(b *testing.B) string
	param  string // the first placeholder: ? or $1
	// create is the DDL of the table, %s its name.
	create string
}

var databases = []database{
	{
		name: "sqlite", driver: "sqlite3", param: "?",
		dsn: func(b *testing.B) string {
			return "file:" + filepath.Join(b.TempDir(), "bench.db") + "?_journal_mode=WAL&_busy_timeout=5000"
		},
		create: "CREATE TABLE %s (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL, bin BLOB NOT NULL, at TIMESTAMP NOT NULL)",
	},
	{
		name: "postgres", driver: "pgx", param: "$1",
		dsn: func(*testing.B) string {
			return envOr("CACHEDSQL_BENCH_PG", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		},
		create: "CREATE TABLE %s (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, bin BYTEA NOT NULL, at TIMESTAMPTZ NOT NULL)",
	},
	{
		name: "mariadb", driver: "mysql", param: "?",
		dsn: func(*testing.B) string {
			return envOr("CACHEDSQL_BENCH_MYSQL", "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC")
		},
		create: "CREATE TABLE %s (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, score DOUBLE NOT NULL, bin BLOB NOT NULL, at DATETIME(6) NOT NULL)",
	},
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// tableRows is how many rows the benchmark table holds.
const tableRows = 1000

// setup opens d, skipping b with the reason when the server does not answer,
// creates a table of tableRows rows that no other run uses (dropped when b
// ends), and returns the DSN and the table's name.
func (d database) setup(b *testing.B) (dsn, table string) {
	b.Helper()
	dsn = d.dsn(b)
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		b.Fatalf("%s: %v", d.name, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		b.Skipf("%s does not answer (%v); set its address with the environment variable shown in the package doc", d.name, err)
	}
	table = fmt.Sprintf("cachedsql_bench_%d_%d", os.Getpid(), nsSeq.Add(1))
	if _, err := db.Exec(fmt.Sprintf(d.create, table)); err != nil {
		b.Fatalf("%s: %v", d.name, err)
	}
	b.Cleanup(func() {
		if db, err := sql.Open(d.driver, dsn); err == nil {
			db.Exec("DROP TABLE " + table)
			db.Close()
		}
	})
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins := "INSERT INTO " + table + " (id, name, score, bin, at) VALUES (?, ?, ?, ?, ?)"
	if d.param == "$1" {
		ins = "INSERT INTO " + table + " (id, name, score, bin, at) VALUES ($1, $2, $3, $4, $5)"
	}
	for i := range tableRows {
		r := rowAt(i)
		if _, err := tx.Exec(ins, r.ID, r.Name, r.Score, r.Blob, r.At); err != nil {
			tx.Rollback()
			b.Fatalf("%s: %v", d.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return dsn, table
}

// rangeQuery returns the first n rows (n is the argument).
func (d database) rangeQuery(table string) string {
	return "SELECT id, name, score, bin, at FROM " + table + " WHERE id < " + d.param + " ORDER BY id"
}

// BenchmarkDB reads n rows from each inner database directly (the baseline)
// and through cachedsql answered from L1.
func BenchmarkDB(b *testing.B) {
	for _, d := range databases {
		b.Run(d.name, func(b *testing.B) {
			dsn, table := d.setup(b)
			query := d.rangeQuery(table)
			for _, n := range sizes {
				for _, g := range goroutines {
					b.Run(fmt.Sprintf("rows=%d/g=%d", n, g), func(b *testing.B) {
						b.Run("direct", func(b *testing.B) {
							db, err := sql.Open(d.driver, dsn)
							if err != nil {
								b.Fatal(err)
							}
							db = poolFor(b, db, g)
							run(b, g, n, rowsRead(func(ctx context.Context) ([]Row, error) {
								return queryRows(ctx, db, query, n, n)
							}))
						})
						b.Run("cachedsql-l1", func(b *testing.B) {
							db, c := openCached(b, cachedsql.Config{DriverName: d.driver, DSN: dsn}, g)
							read := rowsRead(func(ctx context.Context) ([]Row, error) {
								return queryRows(ctx, db, query, n, n)
							})
							if got, err := read(context.Background()); err != nil || got != n {
								b.Fatalf("warming: %d rows, %v", got, err)
							}
							// A miss may count twice (go-sql-driver/mysql asks
							// database/sql to prepare and retry), so compare counts
							// instead of expecting 1.
							misses := c.Stats().L1Misses
							run(b, g, n, read)
							if s := c.Stats(); s.L1Misses != misses {
								b.Fatalf("%d L1 misses while measuring: not every read was a hit", s.L1Misses-misses)
							}
						})
					})
				}
			}
		})
	}
}

// BenchmarkMiss is the miss path's overhead: every read misses (its argument
// is new each time, its result the same 100 rows), so cachedsql queries the
// database, materialises, encodes and stores the result, against the same
// reads sent to the database directly. Each runs twice: with
// context.Background (a caller that cannot leave, so the shared query runs
// on its own goroutine), and with a cancellable context as a server
// handler's, where the shared query runs on a goroutine of its own (a caller
// that leaves must not take it down for the others; database/sql and some
// drivers also start a watcher goroutine for such a context, which is why
// the direct reads get the same context).
func BenchmarkMiss(b *testing.B) {
	const n = 100
	eachMissWorkload(b, func(b *testing.B, d database, dsn, query string, cancellable bool) {
		read := func(db *sql.DB, arg *int64) reader { return missRead(db, query, n, arg, cancellable) }
		b.Run("direct", func(b *testing.B) {
			db, err := sql.Open(d.driver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			db = poolFor(b, db, 1)
			arg := int64(-1)
			run(b, 1, n, read(db, &arg))
		})
		b.Run("cachedsql-miss", func(b *testing.B) {
			db, c := openCached(b, cachedsql.Config{DriverName: d.driver, DSN: dsn}, 1)
			arg := int64(-1)
			run(b, 1, n, read(db, &arg))
			if s := c.Stats(); s.L1Hits != 0 || s.Fills == 0 {
				b.Fatalf("%d hits and %d fills: want only misses that fill", s.L1Hits, s.Fills)
			}
		})
		// The same misses in a process whose L1 is full, as it is
		// after its first CapacityMiB of fills: the ring no longer
		// grows (cachedsql-miss above pays that growth, doubling and
		// copying each shard's ring), and each fill evicts the oldest.
		// Warmed once per workload, not per b.N.
		var full *sql.DB
		var fullC *cachedsql.Connector
		fullArg := int64(-1)
		wb := b
		b.Run("cachedsql-miss-l1full", func(b *testing.B) {
			if full == nil {
				c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: d.driver, DSN: dsn, Namespace: namespace(b)})
				if err != nil {
					b.Fatal(err)
				}
				// Closed with the workload, not with this b: the
				// function runs again for each b.N.
				db := sql.OpenDB(c)
				wb.Cleanup(func() { db.Close() })
				full, fullC = db, c
				fillL1(b, fullC, read(full, &fullArg))
			}
			fills := fullC.Stats().Fills
			run(b, 1, n, read(full, &fullArg))
			if s := fullC.Stats(); s.L1Hits != 0 || s.Fills-fills != int64(b.N)+1 {
				b.Fatalf("%d hits and %d fills for %d reads: want only misses that fill", s.L1Hits, s.Fills-fills, b.N+1)
			}
		})
	})
}

// eachMissWorkload runs fn as a sub-benchmark <database>/rows=100/ctx=<kind>
// for every database and both context kinds of the miss benchmarks, with the
// database's table set up and the query that reads 100 rows and whose
// argument (id >) makes each read a new key.
func eachMissWorkload(b *testing.B, fn func(b *testing.B, d database, dsn, query string, cancellable bool)) {
	for _, d := range databases {
		for _, cancellable := range []bool{false, true} {
			name := d.name + "/rows=100/ctx=background"
			if cancellable {
				name = d.name + "/rows=100/ctx=cancellable"
			}
			b.Run(name, func(b *testing.B) {
				dsn, table := d.setup(b)
				query := "SELECT id, name, score, bin, at FROM " + table + " WHERE id < 100 AND id > " + d.param + " ORDER BY id"
				fn(b, d, dsn, query, cancellable)
			})
		}
	}
}

// missRead reads the miss workload's n rows from db, each time with a new
// argument (*arg counts down), under context.Background or a cancellable
// context.
func missRead(db *sql.DB, query string, n int, arg *int64, cancellable bool) reader {
	return rowsRead(func(ctx context.Context) ([]Row, error) {
		*arg-- // no two reads share an argument
		if cancellable {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
		}
		return queryRows(ctx, db, query, n, *arg)
	})
}

// fillL1 misses through read until c's L1 has grown to its capacity.
func fillL1(b *testing.B, c *cachedsql.Connector, read reader) {
	b.Helper()
	for i := 0; ; i++ {
		s := c.Stats()
		if s.L1Capacity == 0 {
			b.Fatal("L1 is off")
		}
		if s.L1Bytes >= s.L1Capacity {
			return
		}
		if i == 1_000_000 {
			b.Fatalf("L1 has %d bytes after %d fills; its capacity is %d", s.L1Bytes, i, s.L1Capacity)
		}
		if _, err := read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMissPaired is BenchmarkMiss's PostgreSQL, SQLite and MariaDB
// ratios measured in pairs. Sequential sub-benchmarks see the machine at
// different moments, and on a shared 2-core machine the same direct read
// measures 150 to 300 µs from one minute to the next; the two halves of a
// pair run within a millisecond of each other. Each iteration sends one read
// directly and one through cachedsql (L1 full, every read a miss that fills),
// alternating which goes first, and times each (runPaired). It reports ns/op
// of the cachedsql reads, direct-ns/op of the direct ones, and x-direct, the
// ratio of their totals. B/op and allocs/op are of a pair. Two more
// contenders are paired with the same direct reads: direct-again (direct
// reads on a second pool: the pairing's own spread, which the cachedsql
// ratio must be read against) and cachedsql-nocache (reads cachedsql sends
// on uncached: what the wrapper alone costs).
func BenchmarkMissPaired(b *testing.B) {
	const n = 100
	eachMissWorkload(b, func(b *testing.B, d database, dsn, query string, cancellable bool) {
		direct, err := sql.Open(d.driver, dsn)
		if err != nil {
			b.Fatal(err)
		}
		direct = poolFor(b, direct, 1)
		c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: d.driver, DSN: dsn, Namespace: namespace(b)})
		if err != nil {
			b.Fatal(err)
		}
		arg := int64(-1) // shared, so that no cachedsql read finds a key a direct read used
		readDirect := missRead(direct, query, n, &arg, cancellable)
		// The pairing's own spread: direct reads against direct reads on a
		// pool of their own, whose ratio would be 1 on a quiet machine.
		b.Run("direct-again", func(b *testing.B) {
			again, err := sql.Open(d.driver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			runPaired(b, 1, n, "direct", readDirect, missRead(poolFor(b, again, 1), query, n, &arg, cancellable))
		})
		// What the wrapper costs a read it does not cache (a NoCache table,
		// a bypass): cachedsql's connection path without capture or L1.
		b.Run("cachedsql-nocache", func(b *testing.B) {
			nc, err := cachedsql.NewConnector(cachedsql.Config{DriverName: d.driver, DSN: dsn, Namespace: namespace(b), TTL: cachedsql.NoCache})
			if err != nil {
				b.Fatal(err)
			}
			runPaired(b, 1, n, "direct", readDirect, missRead(poolFor(b, sql.OpenDB(nc), 1), query, n, &arg, cancellable))
			if s := nc.Stats(); s.Fills != 0 || s.L1Hits != 0 {
				b.Fatalf("%d fills and %d hits: want every read sent to the database uncached", s.Fills, s.L1Hits)
			}
		})
		readCached := missRead(poolFor(b, sql.OpenDB(c), 1), query, n, &arg, cancellable)
		fillL1(b, c, readCached)
		b.Run("cachedsql-miss-l1full", func(b *testing.B) {
			fills := c.Stats().Fills
			reads := runPaired(b, 1, n, "direct", readDirect, readCached)
			// Every cachedsql read fills, the warming one included.
			if s := c.Stats(); s.L1Hits != 0 || s.Fills-fills != int64(reads)+1 {
				b.Fatalf("%d hits and %d fills for %d reads: want only misses that fill", s.L1Hits, s.Fills-fills, reads+1)
			}
		})
	})
}
