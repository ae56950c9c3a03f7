package cachedsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/mattn/go-sqlite3"
)

// The README's quick start: one line changes, reads are cached, writes invalidate.
func Example() {
	dir, _ := os.MkdirTemp("", "cachedsql-example")
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_journal_mode=WAL"

	db, err := sql.Open("cachedsql", "driver=sqlite3 dsn='"+dsn+"' ttl=5m")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`)
	db.Exec(`INSERT INTO users (name) VALUES ('ada')`)

	var name string
	for range 3 { // one database query, then two cache hits
		db.QueryRow(`SELECT name FROM users WHERE id = ?`, 1).Scan(&name)
	}
	db.Exec(`UPDATE users SET name = 'ann' WHERE id = 1`) // invalidates users
	db.QueryRow(`SELECT name FROM users WHERE id = ?`, 1).Scan(&name)

	s, _ := cachedsql.StatsOf(db)
	fmt.Println(name, "hits:", s.L1Hits, "database reads:", s.Fills)
	// Output: ann hits: 2 database reads: 2
}

// Per-query strategies: the context wins over comment hints, table rules and the default.
func ExampleWithStrategy() {
	dir, _ := os.MkdirTemp("", "cachedsql-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("cachedsql", "driver=sqlite3 dsn='"+filepath.Join(dir, "s.db")+"'")
	defer db.Close()
	db.Exec(`CREATE TABLE prices (sku TEXT, cents INTEGER)`)

	ctx := cachedsql.WithStrategy(context.Background(), cachedsql.NoCache)
	var n int
	db.QueryRowContext(ctx, `SELECT count(*) FROM prices`).Scan(&n)
	db.QueryRow(`/* cachedsql:ttl=30s */ SELECT count(*) FROM prices`).Scan(&n)
	db.QueryRow(`/* cachedsql:ttl=30s */ SELECT count(*) FROM prices`).Scan(&n)

	s, _ := cachedsql.StatsOf(db)
	fmt.Println("bypassed:", s.Bypass[cachedsql.BypassNoCache], "hits:", s.L1Hits)
	// Output: bypassed: 1 hits: 1
}

// Register wraps a driver value under a name of your choice, for ORMs that
// take a driver name and the inner driver's own DSN.
func ExampleRegister() {
	cachedsql.Register("sqlite3+cache", &sqlite3.SQLiteDriver{}, cachedsql.Config{TTL: cachedsql.Custom(time.Minute)})
	dir, _ := os.MkdirTemp("", "cachedsql-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite3+cache", filepath.Join(dir, "r.db"))
	defer db.Close()
	var v int
	db.QueryRow(`SELECT 40 + 2`).Scan(&v)
	db.QueryRow(`SELECT 40 + 2`).Scan(&v)
	s, _ := cachedsql.StatsOf(db)
	fmt.Println(v, "hits:", s.L1Hits)
	// Output: 42 hits: 1
}
