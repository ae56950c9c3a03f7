package cachedsql

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// After the caller's context ends, go-sqlite3's Rows.Next returns the
// context's error: no row is read after a cancel. A hit replays rows with no
// regard for the context until database/sql's watcher goroutine closes them.
func TestHitStopsAtCancelLikeSQLite(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "c.db")
	direct, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.Exec("CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		direct.Exec("INSERT INTO t VALUES (?)", i)
	}
	cached, err := sql.Open("cachedsql", "driver=sqlite3 dsn='"+dsn+"' namespace=review-stmt-cancel")
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close()
	const q = "SELECT v FROM t ORDER BY v"
	// rowsAfterCancel reads one row, cancels, and counts the rows Next still gives.
	rowsAfterCancel := func(db *sql.DB) (n int, errAfter error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatal("no first row")
		}
		cancel()
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	if r, err := cached.Query(q); err == nil { // fill
		r.Close()
	}
	for i := range 50 {
		dn, derr := rowsAfterCancel(direct)
		cn, cerr := rowsAfterCancel(cached)
		if dn != cn || (derr == nil) != (cerr == nil) {
			t.Fatalf("attempt %d: after cancel, direct read %d more rows (Err %v), cached hit %d (Err %v)", i, dn, derr, cn, cerr)
		}
	}
}
