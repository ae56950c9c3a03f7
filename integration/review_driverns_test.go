package integration_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cachedsql/cachedsql"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// registerCaseSensitiveLike registers the hooked driver once per process
// (go test -count=N runs the test N times).
var registerCaseSensitiveLike sync.Once

// A driver value wrapped with Wrap/Register and DriverName "sqlite3" (the
// name that selects the SQLite dialect) gets the same default namespace as
// the registered sqlite3 driver on the same DSN, although its ConnectHook
// makes the same query answer differently.
func TestReviewWrappedDriverSharesNamespace(t *testing.T) {
	ctx := context.Background()
	registerCaseSensitiveLike.Do(func() {
		cachedsql.Register("sqlite3_cs_like_review", &sqlite3.SQLiteDriver{
			ConnectHook: func(c *sqlite3.SQLiteConn) error {
				_, err := c.Exec("PRAGMA case_sensitive_like = ON", nil)
				return err
			},
		}, cachedsql.Config{DriverName: "sqlite3"})
	})
	dsn := "file:" + filepath.Join(t.TempDir(), "like.db")
	admin := openDirect(t, "sqlite3", dsn)
	mustExec(t, admin, "CREATE TABLE names (n TEXT)")
	mustExec(t, admin, "INSERT INTO names VALUES ('abc')")
	q := "SELECT count(*) FROM names WHERE n LIKE 'ABC'"

	plain := openCached(t, "sqlite3", dsn)
	hooked, err := sql.Open("sqlite3_cs_like_review", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer hooked.Close()
	var a, b int
	if err := plain.QueryRowContext(ctx, q).Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := hooked.QueryRowContext(ctx, q).Scan(&b); err != nil {
		t.Fatal(err)
	}
	var want int
	direct := openDirect(t, "sqlite3_cs_like_review_direct", dsn)
	if err := direct.QueryRowContext(ctx, q).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if b != want {
		t.Errorf("case-sensitive LIKE through the wrapped driver: count %d, the driver itself says %d (plain sqlite3 through cachedsql said %d)", b, want, a)
	}
}

func init() {
	sql.Register("sqlite3_cs_like_review_direct", &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA case_sensitive_like = ON", nil)
			return err
		},
	})
}
