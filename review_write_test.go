package cachedsql

// Tests from an independent review of the write path: each failed on the
// code as reviewed and states the bug it showed.

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// CREATE TABLE temp.x makes a temporary table (like CREATE TEMP TABLE) that
// shadows main.x on that connection only; the scanner does not treat it as
// session state, so that connection's reads are cached and served to others.
func TestWritePathSQLiteTempSchemaShadow(t *testing.T) {
	e := newSQLiteEnv(t, Config{Namespace: "rw-temp"})
	db, raw := e.db, e.raw
	ctx := context.Background()
	if _, err := raw.Exec("CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c1.ExecContext(ctx, "CREATE TABLE temp.orders AS SELECT 999 AS id"); err != nil {
		t.Fatal(err)
	}
	if got := rawIntIn(t, c1, "SELECT id FROM orders"); got != 999 {
		t.Fatalf("c1 sees %d, want its temp table's 999", got)
	}
	want := rawIntIn(t, raw, "SELECT id FROM orders")
	if got := rawIntIn(t, c2, "SELECT id FROM orders"); got != want {
		t.Errorf("another connection read %d through cachedsql; the database holds %d", got, want)
	}
}

// SQLite's strftime(format) with no time value means 'now'.
func TestWritePathSQLiteStrftimeNoTimeValue(t *testing.T) {
	e := newSQLiteEnv(t, Config{Namespace: "rw-strftime"})
	db, raw := e.db, e.raw
	q := "SELECT CAST(strftime('%s') AS INTEGER)"
	first := rawIntIn(t, db, q)
	time.Sleep(1100 * time.Millisecond)
	want := rawIntIn(t, raw, q)
	if got := rawIntIn(t, db, q); got != want {
		t.Errorf("%s: cachedsql %d, database %d (first read %d)", q, got, want, first)
	}
}

// Config.Dependencies is made symmetric but not transitive: with a chain of
// views declared link by link, a write to the base table does not reach a
// view three links away.
func TestWritePathDependencyChain(t *testing.T) {
	e := newSQLiteEnv(t, Config{Namespace: "rw-deps", Dependencies: map[string][]string{
		"v1": {"t"}, "v2": {"v1"}, "v3": {"v2"}, "v4": {"v3"},
	}})
	db, raw := e.db, e.raw
	if _, err := raw.Exec(`CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);
		CREATE VIEW v1 AS SELECT * FROM t; CREATE VIEW v2 AS SELECT * FROM v1; CREATE VIEW v3 AS SELECT * FROM v2; CREATE VIEW v4 AS SELECT * FROM v3`); err != nil {
		t.Fatal(err)
	}
	q := "SELECT count(*) FROM v4"
	rawIntIn(t, db, q)
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	want := rawIntIn(t, raw, q)
	if got := rawIntIn(t, db, q); got != want {
		t.Errorf("%s: cachedsql %d, database %d", q, got, want)
	}
}

// A date function whose time value is a bound 'now' is cached under the
// argument "now".
func TestWritePathSQLiteNowAsArgument(t *testing.T) {
	e := newSQLiteEnv(t, Config{Namespace: "rw-nowarg"})
	db, raw := e.db, e.raw
	q := "SELECT CAST(strftime('%s', ?) AS INTEGER)"
	scan := func(d *sql.DB, v *int64) {
		t.Helper()
		if err := d.QueryRow(q, "now").Scan(v); err != nil {
			t.Fatal(err)
		}
	}
	var first, got, want int64
	scan(db, &first)
	time.Sleep(1100 * time.Millisecond) // the clock is what is tested
	scan(raw, &want)
	scan(db, &got)
	if got != want {
		t.Errorf("%s with 'now': cachedsql %d, database %d", q, got, want)
	}
}
