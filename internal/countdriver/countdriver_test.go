package countdriver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// script runs the statements every case runs, returning what was read. It
// uses each path database/sql has to a driver: Query, QueryRow, a prepared
// statement, Exec, and a transaction.
func script(t *testing.T, db *sql.DB) []string {
	t.Helper()
	ctx := context.Background()
	var got []string
	read := func(rows *sql.Rows, err error) {
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s", id, name))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	read(db.QueryContext(ctx, "SELECT id, name FROM users WHERE id = ?", 1))
	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", 2).Scan(&name); err != nil {
		t.Fatal(err)
	}
	got = append(got, name)
	st, err := db.PrepareContext(ctx, "SELECT id, name FROM users WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	read(st.QueryContext(ctx, 2))
	st.Close()
	if _, err := db.ExecContext(ctx, "UPDATE users SET name = ? WHERE id = ?", "ann", 1); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	read(tx.QueryContext(ctx, "SELECT id, name FROM users WHERE id = ?", 1))
	if _, err := tx.ExecContext(ctx, "UPDATE users SET name = ? WHERE id = ?", "bea", 2); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	read(db.QueryContext(ctx, "SELECT id, name FROM users WHERE id = ?", 2))
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	return got
}

var want = []string{"1 ada", "bob", "2 bob", "1 ann", "2 bea"}

func newFake(t *testing.T, opts fakedb.Options) *fakedb.Driver {
	d := fakedb.New(opts)
	if err := d.CreateTable("users", fakedb.Cols("id", "name"),
		[]driver.Value{int64(1), "ada"}, []driver.Value{int64(2), "bob"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCountsMatchTheInnerDriver runs the same script over fake inner drivers
// with and without each optional interface: the rows are those of the
// unwrapped driver, and the counts are the fake's own.
func TestCountsMatchTheInnerDriver(t *testing.T) {
	cases := []struct {
		name string
		opts fakedb.Options
	}{
		{"bare", fakedb.Options{}},
		{"all", fakedb.Options{Ifaces: fakedb.AllIfaces}},
		{"all+DriverContext", fakedb.Options{Ifaces: fakedb.AllIfaces, DriverContext: true}},
		{"conn-only", fakedb.Options{Ifaces: fakedb.AllConnIfaces}},
		{"stmt-only", fakedb.Options{Ifaces: fakedb.AllStmtIfaces, DriverContext: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain := newFake(t, tc.opts)
			plainDB := sql.OpenDB(plain.Connector("x"))
			defer plainDB.Close()
			if got := script(t, plainDB); !reflect.DeepEqual(got, want) {
				t.Fatalf("unwrapped: %q, want %q", got, want)
			}

			inner := newFake(t, tc.opts)
			cd := New(inner.AsDriver())
			c, err := cd.OpenConnector("x")
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			if got := script(t, db); !reflect.DeepEqual(got, want) {
				t.Fatalf("wrapped: %q, want %q", got, want)
			}
			if cd.Queries() != inner.Queries() || cd.Execs() != inner.Execs() {
				t.Fatalf("counted %d queries, %d execs; the inner driver saw %d, %d",
					cd.Queries(), cd.Execs(), inner.Queries(), inner.Execs())
			}
			if cd.Queries() != 5 || cd.Execs() != 2 || cd.Begins() != 1 {
				t.Fatalf("counted %d queries, %d execs, %d begins; the script ran 5, 2, 1", cd.Queries(), cd.Execs(), cd.Begins())
			}
		})
	}
}

// TestSQLite wraps the real SQLite driver by name, as the root tests do.
func TestSQLite(t *testing.T) {
	name := "countdriver-test-sqlite3"
	cd := Register(name, &sqlite3.SQLiteDriver{})
	db, err := sql.Open(name, "file:"+filepath.Join(t.TempDir(), "t.db")+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO users VALUES (1, 'ada'), (2, 'bob')"); err != nil {
		t.Fatal(err)
	}
	q0, e0 := cd.Queries(), cd.Execs()
	if got := script(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if q, e := cd.Queries()-q0, cd.Execs()-e0; q != 5 || e != 2 {
		t.Fatalf("counted %d queries and %d execs; the script ran 5 and 2", q, e)
	}
	// The rows are SQLite's own: column metadata passes through.
	rows, err := db.Query("SELECT id, name FROM users")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	if cts[0].DatabaseTypeName() != "INTEGER" || cts[1].DatabaseTypeName() != "TEXT" {
		t.Fatalf("column types %q %q, want INTEGER TEXT", cts[0].DatabaseTypeName(), cts[1].DatabaseTypeName())
	}
}
