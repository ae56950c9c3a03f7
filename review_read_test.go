package cachedsql

// Tests from an independent review of the read path: each failed on the
// code as reviewed and states the bug it showed.

import (
	"database/sql"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// Two separate in-memory SQLite databases opened with the same DSN share one
// default namespace, hence one L1 and one generation clock.
func TestReadPathMemoryDatabasesShareNamespace(t *testing.T) {
	open := func(val string) *sql.DB {
		db, err := sql.Open("cachedsql", `driver=sqlite3 dsn=':memory:'`)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		for _, q := range []string{"CREATE TABLE t (v TEXT)", "INSERT INTO t VALUES ('" + val + "')"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	a, b := open("a"), open("b")
	var va, vb string
	if err := a.QueryRow("SELECT v FROM t").Scan(&va); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow("SELECT v FROM t").Scan(&vb); err != nil {
		t.Fatal(err)
	}
	if va != "a" || vb != "b" {
		t.Fatalf("database a read %q, database b read %q; want a and b", va, vb)
	}
}
