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

// TestInvalidateNameAsGiven: a table whose name holds a dot or brackets
// (created quoted) is filed by readers whole, in lower case ("Shop.Items" is
// shop.items), and scripts name it as given: the command publishes the
// whole argument in lower case as well as filed (review 14: filing alone cut
// it to items; review 15: publishing it as given missed the capitals).
func TestInvalidateNameAsGiven(t *testing.T) {
	s := redistest.Start(t)
	dir := t.TempDir()
	for i, tc := range []struct{ sqlName, arg string }{
		{`"shop.items"`, `shop.items`},
		{`"[items]"`, `[items]`},
		{`"Shop.Items"`, `Shop.Items`},
		{`"[Items]"`, `[Items]`},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("names%d.db", i))
			raw, err := sql.Open("sqlite3", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`CREATE TABLE ` + tc.sqlName + ` (id INTEGER PRIMARY KEY, price INTEGER); INSERT INTO ` + tc.sqlName + ` VALUES (1, 100)`); err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("names%d", i)
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
