package integration_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
)

const (
	defaultPGDSN    = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN = "root@tcp(127.0.0.1:3306)/test"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// pgURL is the PostgreSQL DSN in URL form, which both pgx and lib/pq accept.
func pgURL() string { return env("CACHEDSQL_PG_DSN", defaultPGDSN) }

// mysqlDSN is the go-sql-driver/mysql DSN.
func mysqlDSN() string { return env("CACHEDSQL_MYSQL_DSN", defaultMySQLDSN) }

// withParams adds query parameters to a URL or mysql DSN.
func withParams(dsn string, params ...string) string {
	if len(params) == 0 {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + strings.Join(params, "&")
}

// runID is unique to this test process, so parallel runs on one server do not
// collide: every table, schema and database a test makes starts with it.
var runID = func() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("cs%d_%s", os.Getpid()%100000, hex.EncodeToString(b[:]))
}()

var (
	reachMu sync.Mutex
	reached = map[string]error{}
)

// requireServer skips t when the server behind driverName/dsn does not answer,
// and says which server and why. The answer is remembered per DSN.
func requireServer(t testing.TB, what, driverName, dsn string) {
	t.Helper()
	reachMu.Lock()
	err, ok := reached[driverName+" "+dsn]
	if !ok {
		err = ping(driverName, dsn)
		reached[driverName+" "+dsn] = err
	}
	reachMu.Unlock()
	if err != nil {
		t.Skipf("%s does not answer (%s): %v", what, redactDSN(dsn), err)
	}
}

func ping(driverName, dsn string) error {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

func redactDSN(dsn string) string {
	// user:password@ in URLs (after "//") and in mysql DSNs (at the start)
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return dsn
	}
	start := strings.LastIndex(dsn[:at], "/") + 1
	if c := strings.Index(dsn[start:at], ":"); c >= 0 {
		return dsn[:start+c] + ":xxx" + dsn[at:]
	}
	return dsn
}

func requirePG(t testing.TB)    { requireServer(t, "PostgreSQL", "pgx", pgURL()) }
func requireMySQL(t testing.TB) { requireServer(t, "MariaDB/MySQL", "mysql", mysqlDSN()) }

// openDirect opens the inner driver without cachedsql.
func openDirect(t testing.TB, driverName, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", driverName, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openCached opens driverName/dsn through the "cachedsql" driver, L1 only, in
// a namespace of its own.
func openCached(t testing.TB, driverName, dsn string, extra ...string) *sql.DB {
	t.Helper()
	cfg := &cachedsql.Config{DriverName: driverName, DSN: dsn}
	s := cachedsql.FormatDSN(cfg)
	if len(extra) > 0 {
		s += " " + strings.Join(extra, " ")
	}
	db, err := sql.Open("cachedsql", s)
	if err != nil {
		t.Fatalf("sql.Open(cachedsql, %q): %v", s, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func stats(t testing.TB, db *sql.DB) cachedsql.Stats {
	t.Helper()
	s, err := cachedsql.StatsOf(db)
	if err != nil {
		t.Fatalf("StatsOf: %v", err)
	}
	return s
}

func mustExec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// hitCounter tells how many L1 hits and database reads (fills plus bypasses)
// happened between two points.
type hitCounter struct {
	t  testing.TB
	db *sql.DB
	s  cachedsql.Stats
}

func countHits(t testing.TB, db *sql.DB) *hitCounter {
	return &hitCounter{t: t, db: db, s: stats(t, db)}
}

// delta returns the L1 hits and the fills since the counter was made or last read.
func (h *hitCounter) delta() (hits, fills int64) {
	s := stats(h.t, h.db)
	hits, fills = s.L1Hits-h.s.L1Hits, s.Fills-h.s.Fills
	h.s = s
	return hits, fills
}
