package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

var driverSeq atomic.Int64

// newFake registers a fresh fakedb driver with a users table and returns it
// with its registered name.
func newFake(t testing.TB, opts fakedb.Options) (*fakedb.Driver, string) {
	t.Helper()
	d := fakedb.New(opts)
	name := fmt.Sprintf("fake%d_%s", driverSeq.Add(1), strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	fakedb.Register(name, d)
	if err := d.CreateTable("users", fakedb.Cols("id", "name", "score"),
		[]driver.Value{int64(1), "ada", 9.5},
		[]driver.Value{int64(2), "bob", 7.25},
	); err != nil {
		t.Fatal(err)
	}
	return d, name
}

// openCached opens cachedsql over the registered inner driver name.
func openCached(t testing.TB, inner string, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("cachedsql", "driver="+inner+" dsn=x "+extra)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func stats(t testing.TB, db *sql.DB) Stats {
	t.Helper()
	s, err := StatsOf(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func queryName(t testing.TB, db interface {
	QueryRow(string, ...any) *sql.Row
}, id int64) string {
	t.Helper()
	var name string
	if err := db.QueryRow("SELECT name FROM users WHERE id = ?", id).Scan(&name); err != nil {
		t.Fatalf("query id %d: %v", id, err)
	}
	return name
}

// fakeMySQLConn is a connection of a cachedsql pool on d, read as MySQL,
// with cfg's other settings (Namespace, Logger); both close when t ends.
func fakeMySQLConn(t *testing.T, d *fakedb.Driver, cfg Config) *sql.Conn {
	t.Helper()
	cfg.DriverName, cfg.Driver, cfg.DSN = "mysql", d.AsDriver(), "x"
	c, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	cn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	return cn
}
