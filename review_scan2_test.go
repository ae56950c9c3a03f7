package cachedsql

// Statements the SQL scanner misread in SQLite (found by a review of its
// classification): each writes through cachedsql and reads through
// cachedsql, and a failure is a cached read the database no longer
// returns.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mattn/go-sqlite3"
)

// SQLite reads $x(...) as one variable token up to the first white space
// or ')', so a quote inside it opens no string: the UPDATE after it runs.
func TestSQLiteTclVariableDoesNotHideWrite(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE u (id INTEGER PRIMARY KEY, v INTEGER)", "INSERT INTO u VALUES (1, 1)")
	const q = "SELECT v FROM u WHERE id = 1"
	rawIntIn(t, e.db, q)
	rawIntIn(t, e.db, q) // cached
	const w = "SELECT $x(') ; UPDATE u SET v = 2 WHERE id = 1; SELECT 1 --')"
	if _, err := e.db.ExecContext(context.Background(), w, 7); err != nil {
		t.Fatal(err)
	}
	if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
		t.Fatalf("after %s through cachedsql: cachedsql %d, database %d", w, got, want)
	}
}

// SQLite folds only ASCII letters in names: a CTE named Ä does not hide
// the table ä, which the read must be keyed under.
func TestSQLiteNonASCIICTEDoesNotHideTable(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE ä (v INTEGER)", "INSERT INTO ä VALUES (1)")
	const q = "WITH Ä AS (SELECT 0 AS v) SELECT v FROM ä"
	if got := rawIntIn(t, e.raw, q); got != 1 {
		t.Fatalf("SQLite read %d: the CTE hid the table after all", got)
	}
	rawIntIn(t, e.db, q)
	rawIntIn(t, e.db, q)
	if _, err := e.db.ExecContext(context.Background(), "UPDATE ä SET v = 2"); err != nil {
		t.Fatal(err)
	}
	if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
		t.Fatalf("after UPDATE ä through cachedsql: cachedsql %d, database %d", got, want)
	}
}

// A table alias that SQLite does not reserve but that can begin a clause
// (window, offset) must not end the FROM list: the table after the comma
// is read too.
func TestSQLiteKeywordAliasDoesNotHideJoin(t *testing.T) {
	for _, alias := range []string{"window", "offset"} {
		t.Run(alias, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{}, "CREATE TABLE a (id INTEGER)", "INSERT INTO a VALUES (1)",
				"CREATE TABLE b (v INTEGER)", "INSERT INTO b VALUES (1)")
			q := "SELECT b.v FROM a " + alias + ", b"
			rawIntIn(t, e.db, q)
			rawIntIn(t, e.db, q)
			if _, err := e.db.ExecContext(context.Background(), "UPDATE b SET v = 2"); err != nil {
				t.Fatal(err)
			}
			if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
				t.Fatalf("%s\nafter UPDATE b through cachedsql: cachedsql %d, database %d", q, got, want)
			}
		})
	}
}

// A function cachedsql does not know may write any table whatever the
// statement that calls it: an INSERT that calls one, through Exec or
// through Query (RETURNING), invalidates every table, a's too; unless
// Config.PureFunctions names the function.
func TestUnknownFunctionInWriteInvalidatesUnlessPure(t *testing.T) {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		return c.RegisterFunc("dbl", func(x int64) int64 { return 2 * x }, true)
	}}
	for _, pure := range []bool{false, true} {
		for i, w := range []string{"INSERT INTO c VALUES (3, dbl(2))", "INSERT INTO c VALUES (4, dbl(2)) RETURNING v"} {
			t.Run(fmt.Sprintf("pure=%v/%d", pure, i), func(t *testing.T) {
				cfg := Config{Driver: drv, DSN: sqliteDSN(filepath.Join(t.TempDir(), "fn.db")), Namespace: fmt.Sprintf("inv%d", invSeq.Add(1))}
				if pure {
					cfg.PureFunctions = []string{"dbl"}
				}
				c, err := NewConnector(cfg)
				if err != nil {
					t.Fatal(err)
				}
				db := sql.OpenDB(c)
				t.Cleanup(func() { db.Close() })
				for _, q := range abSchema {
					mustExec(t, db, q)
				}
				readInt(t, c, db, qA)
				if _, hit := readInt(t, c, db, qA); !hit {
					t.Fatal("second read of a was not a hit")
				}
				if i == 0 {
					mustExec(t, db, w)
				} else if v := rawInt(t, db, w); v != 4 {
					t.Fatalf("%s returned %d", w, v)
				}
				if _, hit := readInt(t, c, db, qA); hit != pure {
					t.Fatalf("after %s: next read of a a hit %v, want %v", w, hit, pure)
				}
			})
		}
	}
}

// VACUUM may renumber the rowids of a table without an INTEGER PRIMARY
// KEY (SQLite's documentation says so): a cached read of rowids must not
// outlive it.
func TestSQLiteVacuumInvalidatesRowids(t *testing.T) {
	e := newSQLiteEnv(t, Config{}, "CREATE TABLE r (v TEXT)",
		"INSERT INTO r VALUES ('a'), ('b'), ('c'), ('d')", "DELETE FROM r WHERE v IN ('a', 'b')")
	const q = "SELECT max(rowid) FROM r"
	rawIntIn(t, e.db, q)
	rawIntIn(t, e.db, q)
	if _, err := e.db.ExecContext(context.Background(), "VACUUM"); err != nil {
		t.Fatal(err)
	}
	if got, want := rawIntIn(t, e.db, q), rawIntIn(t, e.raw, q); got != want {
		t.Fatalf("after VACUUM through cachedsql: cachedsql %d, database %d", got, want)
	}
}
