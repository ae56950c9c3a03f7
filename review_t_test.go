package cachedsql

// Review of the transaction, prepared-statement and connection-session
// paths. Each test fails on a cached read that returns rows the database
// does not hold for the reading connection.

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// tSQLite opens a cachedsql pool over a fresh SQLite file with a table
// users (id, name) holding (1, 'real').
func tSQLite(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	direct, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'real')"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("cachedsql", "driver=sqlite3 dsn='file:"+path+"?_busy_timeout=5000'")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tScalar(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func tExec(t *testing.T, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string) {
	t.Helper()
	if _, err := e.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// SQLite takes a string literal where it expects a name: CREATE TABLE
// 'temp'.users makes a temporary table users, private to the connection,
// that hides main.users there. The scanner reads it as a write of unknown
// tables rather than as a session statement, so the connection keeps
// caching: its read of the temporary table is stored and served to every
// other connection, which sees main.users.
func TestTSQLiteQuotedTempSchemaShadows(t *testing.T) {
	db := tSQLite(t)
	const q = "SELECT name FROM users WHERE id = 1"
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tExec(t, c, "CREATE TABLE 'temp'.users (id INTEGER PRIMARY KEY, name TEXT)")
	tExec(t, c, "INSERT INTO temp.users VALUES (1, 'temp')")
	if got := tScalar(t, c, q); got != "temp" {
		t.Fatalf("the connection with the temporary table read %q, want temp", got)
	}
	// c is held: this read runs on another connection, where users is main.users.
	if got := tScalar(t, db, q); got != "real" {
		t.Errorf("another connection read %q from the cache: the temporary table's row (want real)", got)
	}
}

// BEGIN sent through Query on SQLite runs only when its rows are read
// (mattn/go-sqlite3 steps the statement in Next). While its rows are open
// and unread, cachedsql keeps a transaction state it trusts (only a
// COMMIT or ROLLBACK sent through Query is made uncertain): an UPDATE sent
// on the connection meanwhile autocommits, but its invalidation is kept
// for a commit, so other connections go on reading the old row from the
// cache until the rows close.
func TestTSQLiteUnreadBeginHoldsAutocommittedWrite(t *testing.T) {
	db := tSQLite(t)
	const q = "SELECT name FROM users WHERE id = 1"
	tScalar(t, db, q)
	tScalar(t, db, q) // cached: real
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, "BEGIN")
	if err != nil {
		t.Fatal(err)
	}
	tExec(t, c, "UPDATE users SET name = 'new' WHERE id = 1") // no transaction: committed
	var ac bool
	c.Raw(func(dc any) error {
		if cq, ok := dc.(connQE); ok && cq.ac != nil {
			ac = cq.ac.AutoCommit()
		}
		return nil
	})
	got := tScalar(t, db, q) // another connection
	rows.Close()
	if !ac {
		t.Skip("the driver ran BEGIN after all")
	}
	if got != "new" {
		t.Errorf("after an UPDATE that committed (the connection is in autocommit), another connection read %q from the cache, want new", got)
	}
}
