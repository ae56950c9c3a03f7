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

// TestSQLiteMemoryDSNs: which SQLite DSNs name an in-memory database, whose
// default namespace must be the opener's alone (a helper's review of the
// first version found _journal_mode=MEMORY, a file, taken for one).
func TestSQLiteMemoryDSNs(t *testing.T) {
	for _, tc := range []struct {
		driver, dsn string
		want        int
	}{
		{"sqlite3", "file:app.db", memoryNone},
		{"sqlite3", "file:app.db?_journal_mode=MEMORY", memoryNone},
		{"sqlite3", "/var/app.db?mode=rwc", memoryNone},
		{"sqlite3", "", memoryPrivate},
		{"sqlite3", ":memory:", memoryPrivate},
		{"sqlite3", "file::memory:", memoryPrivate},
		{"sqlite3", "file:x?mode=memory", memoryPrivate},
		{"sqlite3", "file:x?mode=memory&_fk=1", memoryPrivate},
		{"sqlite3", "file:x?MODE=memory", memoryNone},       // SQLite reads the name exactly
		{"sqlite3", ":memory:?cache=shared", memoryPrivate}, // not a URI: no shared cache
		{"sqlite3", "file:db?vfs=memdb", memoryPrivate},
		{"sqlite3", "file::memory:?cache=shared", memoryShared},
		{"sqlite3", "file:x?mode=memory&cache=shared", memoryShared},
		{"sqlite3", "file:/db?vfs=memdb", memoryShared},
		{"sqlite3", "/db?vfs=memdb", memoryShared}, // the drivers read vfs from any DSN
		{"sqlite3", "db?vfs=memdb", memoryPrivate},
		{"pgx", ":memory:", memoryNone},
	} {
		if got := sqliteMemory(&Config{DriverName: tc.driver, DSN: tc.dsn}); got != tc.want {
			t.Errorf("%s %q: %d, want %d", tc.driver, tc.dsn, got, tc.want)
		}
	}
}
