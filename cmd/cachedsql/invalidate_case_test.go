package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/redistest"
)

// TestInvalidateNameAsGivenCase: a table created quoted with capitals and a
// dot or brackets ("Shop.Items") is filed by readers whole, in lower case
// (shop.items); the command's whole-name filing must match (review 15: it
// published the argument as given, Shop.Items).
func TestInvalidateNameAsGivenCase(t *testing.T) {
	s := redistest.Start(t)
	dir := t.TempDir()
	for i, tc := range []struct{ sqlName, arg string }{
		{`"Shop.Items"`, `Shop.Items`},
		{`"[Items]"`, `[Items]`},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("r15_%d.db", i))
			raw, err := sql.Open("sqlite3", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`CREATE TABLE ` + tc.sqlName + ` (id INTEGER PRIMARY KEY, price INTEGER); INSERT INTO ` + tc.sqlName + ` VALUES (1, 100)`); err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("r15_%d", i)
			cfg, err := cachedsql.ParseDSN("driver=sqlite3 dsn='file:" + path + "' namespace=" + ns + " redis=" + s.URL())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := cachedsql.NewConnector(*cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(conn)
			defer db.Close()
			events := make(chan cachedsql.Event, 10)
			defer conn.Subscribe(func(e cachedsql.Event) { events <- e })()
			price := func() int {
				t.Helper()
				var p int
				if err := db.QueryRow(`SELECT price FROM `+tc.sqlName+` WHERE id = ?`, 1).Scan(&p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			for deadline := time.Now().Add(10 * time.Second); !conn.Stats().StreamConnected; {
				if time.Now().After(deadline) {
					t.Fatal("stream did not connect")
				}
				time.Sleep(5 * time.Millisecond)
			}
			price()
			if _, err := raw.Exec(`UPDATE ` + tc.sqlName + ` SET price = 200 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			if got := price(); got != 100 {
				t.Fatalf("before invalidate: %d, want the cached 100", got)
			}
			r := runCLI(t, "invalidate", "--redis", s.URL(), "--namespace", ns, tc.arg)
			if r.code != 0 {
				t.Fatalf("invalidate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			select {
			case e := <-events:
				t.Logf("event tables %q; stdout %q", e.Tables, r.stdout)
			case <-time.After(10 * time.Second):
				t.Fatal("no event")
			}
			if got := price(); got != 200 {
				t.Errorf("after `cachedsql invalidate %s` (reader table %s): price %d, database 200", tc.arg, tc.sqlName, got)
			}
		})
	}
}
