package cachedsql

// Statement classification found wrong by a review (SQLite): each test
// writes through cachedsql and then reads through cachedsql; a failure
// means the read returned what the database no longer holds.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	_ "github.com/mattn/go-sqlite3"
)

// A schema-qualified catalog (main.sqlite_master) is not recognised as a
// catalog: the read is cached under a table named "sqlite_master", which
// no DDL ever writes.
func TestScanQualifiedSQLiteMaster(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE a (id INTEGER)")
	q := "SELECT count(*) FROM main.sqlite_master WHERE type = 'table'"
	ctx := context.Background()
	if got := rawIntIn(t, e.db, q); got != 1 {
		t.Fatalf("before: %d tables, want 1", got)
	}
	rawIntIn(t, e.db, q) // now cached
	if _, err := e.db.ExecContext(ctx, "CREATE TABLE b (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
		t.Fatalf("after CREATE TABLE through cachedsql: cached read says %d tables, database %d", got, want)
	}
}

// Same with a schema-qualified table-valued pragma: its read set is empty.
func TestScanQualifiedPragmaFunction(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE a (id INTEGER)")
	q := "SELECT count(*) FROM main.pragma_table_info('a')"
	ctx := context.Background()
	if got := rawIntIn(t, e.db, q); got != 1 {
		t.Fatalf("before: %d columns, want 1", got)
	}
	rawIntIn(t, e.db, q)
	if _, err := e.db.ExecContext(ctx, "ALTER TABLE a ADD COLUMN b TEXT"); err != nil {
		t.Fatal(err)
	}
	if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
		t.Fatalf("after ALTER TABLE a through cachedsql: cached read says %d columns, database %d", got, want)
	}
}

// A CTE named t hides every reference whose last component is t, even
// main.t, which names the real table (a qualified name never refers to a CTE).
func TestScanCTEShadowsQualifiedTable(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE t (v INTEGER)", "INSERT INTO t VALUES (1)")
	q := "WITH t AS (SELECT 0 AS v) SELECT v FROM main.t"
	ctx := context.Background()
	if got := rawIntIn(t, e.db, q); got != 1 {
		t.Fatalf("before: %d, want 1", got)
	}
	rawIntIn(t, e.db, q)
	if _, err := e.db.ExecContext(ctx, "UPDATE t SET v = 2"); err != nil {
		t.Fatal(err)
	}
	if got := rawIntIn(t, e.db, q); got != 2 {
		t.Fatalf("after UPDATE t through cachedsql: cached read returns %d, database holds 2", got)
	}
}

// The 'now' check of SQLite's date functions skips nested parentheses:
// strftime(fmt, coalesce(x, 'now')) reads the clock and is cached.
func TestScanSQLiteNowNested(t *testing.T) {
	e := newSQLiteEnv(t, Config{})
	q := "SELECT strftime('%Y-%m-%d %H:%M:%f', coalesce(NULL, 'now'))"
	var a, b string
	if err := e.db.QueryRow(q).Scan(&a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := e.db.QueryRow(q).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("a clock read was cached: %q twice, 20ms apart", a)
	}
}

// After JOIN ... ON, a clause keyword inside the ON expression (CASE WHEN,
// or a column named like an unreserved keyword: qualify, minus) ends the
// FROM list for the walker, and a comma-joined table after it is not read.
func TestScanCommaAfterJoinOn(t *testing.T) {
	for _, q := range []string{
		"SELECT c.v FROM a JOIN b ON CASE WHEN a.id = b.id THEN 1 END, c",
		"SELECT c.v FROM a JOIN b ON a.qualify = b.id, c",
	} {
		t.Run(q, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{},
				"CREATE TABLE a (id INTEGER, qualify INTEGER)", "INSERT INTO a VALUES (1, 1)",
				"CREATE TABLE b (id INTEGER)", "INSERT INTO b VALUES (1)",
				"CREATE TABLE c (v INTEGER)", "INSERT INTO c VALUES (1)")
			ctx := context.Background()
			if got := rawIntIn(t, e.db, q); got != 1 {
				t.Fatalf("before: %d, want 1", got)
			}
			rawIntIn(t, e.db, q)
			if _, err := e.db.ExecContext(ctx, "UPDATE c SET v = 2"); err != nil {
				t.Fatal(err)
			}
			if got := rawIntIn(t, e.db, q); got != 2 {
				t.Fatalf("after UPDATE c through cachedsql: cached read returns %d, database holds 2", got)
			}
		})
	}
}

// A Config.Tables rule for a PostgreSQL table name over 63 bytes applies
// to reads of it, which the scanner files under the first 63 bytes; a key
// in capitals applies too, and of two keys for one table the stricter wins.
func TestScanTablesRuleLongPostgresName(t *testing.T) {
	long := "t_" + strings.Repeat("x", 70)
	c, err := NewConnector(Config{
		Connector: fakedb.NewNoop([]string{"v"}, nil), DriverName: "postgres", Namespace: l2Namespace(t),
		Tables: map[string]Strategy{long: NoCache, "Orders": ShortTerm, "orders": LongTerm},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.planFor("SELECT v FROM " + long); p.rule != NoCache {
		t.Errorf("Tables[%d-byte name] = NoCache: the read's rule is %v", len(long), p.rule)
	}
	if p := c.planFor("SELECT v FROM orders"); p.rule != ShortTerm {
		t.Errorf("Tables Orders=Short, orders=Long: the read's rule is %v, want the shorter", p.rule)
	}
}
