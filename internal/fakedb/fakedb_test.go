package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func openDB(t testing.TB, opts Options) (*Driver, *sql.DB) {
	t.Helper()
	d := New(opts)
	db := sql.OpenDB(d.Connector("test"))
	t.Cleanup(func() { db.Close() })
	return d, db
}

func usersTable(t testing.TB, d *Driver) {
	t.Helper()
	err := d.CreateTable("users", []Column{
		{Name: "id", DatabaseTypeName: "INTEGER", ScanType: reflect.TypeFor[int64](), Nullable: false, HasNullable: true},
		{Name: "name", DatabaseTypeName: "VARCHAR", ScanType: reflect.TypeFor[string](), Length: 64, HasLength: true, Nullable: true, HasNullable: true},
		{Name: "balance", DatabaseTypeName: "DECIMAL", ScanType: reflect.TypeFor[float64](), Precision: 10, Scale: 2, HasPrecisionScale: true},
	},
		[]driver.Value{int64(1), "ann", 10.5},
		[]driver.Value{int64(2), "bob", nil},
	)
	if err != nil {
		t.Fatal(err)
	}
}

// queryAll runs a query and returns every row of the first result set.
func queryAll(t testing.TB, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, [][]any, error) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

type step struct {
	name     string
	exec     bool
	query    string
	args     []any
	cols     []string
	rows     [][]any
	affected int64
	lastID   int64
	err      string // substring of the expected error
	needs    Iface  // skip unless the variant has these (database/sql refuses named args on legacy paths)
}

// TestStatementForms runs one script of statements, in order, through every
// way database/sql can reach the driver (all interfaces: QueryerContext /
// ExecerContext; none: Prepare + legacy Stmt; legacy Queryer/Execer only).
func TestStatementForms(t *testing.T) {
	script := []step{
		{name: "select all", query: "SELECT * FROM users", cols: []string{"id", "name", "balance"},
			rows: [][]any{{int64(1), "ann", 10.5}, {int64(2), "bob", nil}}},
		{name: "select cols where ?", query: "select name, id from USERS where id = ?", args: []any{2},
			cols: []string{"name", "id"}, rows: [][]any{{"bob", int64(2)}}},
		{name: "select where $1", query: "SELECT name FROM users WHERE name = $1;", args: []any{"ann"},
			cols: []string{"name"}, rows: [][]any{{"ann"}}},
		{name: "select where named", query: "SELECT id FROM users WHERE name = :who", args: []any{sql.Named("who", "bob")}, needs: ConnQueryerContext,
			cols: []string{"id"}, rows: [][]any{{int64(2)}}},
		{name: "select literal with comments", query: "/* hint */ SELECT id FROM users -- trailing\n WHERE name = 'ann'",
			cols: []string{"id"}, rows: [][]any{{int64(1)}}},
		{name: "select no match", query: "SELECT id FROM users WHERE id = ?", args: []any{99},
			cols: []string{"id"}},
		{name: "where null matches nothing", query: "SELECT id FROM users WHERE balance = NULL", cols: []string{"id"}},
		{name: "insert", exec: true, query: "INSERT INTO users VALUES (?, ?, ?)", args: []any{3, "cy", []byte("x")},
			affected: 1, lastID: 3},
		{name: "insert cols multi", exec: true, query: "INSERT INTO users (name, id) VALUES ('dee', 4), ('eve', 5)",
			affected: 2, lastID: 5},
		{name: "after insert", query: "SELECT id, name, balance FROM users WHERE id = ?", args: []any{4},
			cols: []string{"id", "name", "balance"}, rows: [][]any{{int64(4), "dee", nil}}},
		{name: "blob stored", query: "SELECT balance FROM users WHERE id = 3", cols: []string{"balance"},
			rows: [][]any{{[]byte("x")}}},
		{name: "update", exec: true, query: "UPDATE users SET name = ?, balance = ? WHERE id = ?", args: []any{"bo", 1.5, 2},
			affected: 1},
		{name: "after update", query: "SELECT * FROM users WHERE id = 2", cols: []string{"id", "name", "balance"},
			rows: [][]any{{int64(2), "bo", 1.5}}},
		{name: "update returning via query", query: "UPDATE users SET balance = $1 WHERE name = $2 RETURNING id, balance",
			args: []any{7.0, "ann"}, cols: []string{"id", "balance"}, rows: [][]any{{int64(1), 7.0}}},
		{name: "delete", exec: true, query: "DELETE FROM users WHERE id = ?", args: []any{5}, affected: 1},
		{name: "delete returning via query", query: "DELETE FROM users WHERE id = 4 RETURNING *",
			cols: []string{"id", "name", "balance"}, rows: [][]any{{int64(4), "dee", nil}}},
		{name: "insert via query without returning", query: "INSERT INTO users VALUES (6, 'f', NULL)", cols: []string{}},
		{name: "after deletes", query: "SELECT id FROM users", cols: []string{"id"},
			rows: [][]any{{int64(1)}, {int64(2)}, {int64(3)}, {int64(6)}}},
		{name: "delete all", exec: true, query: "DELETE FROM users", affected: 4},
		{name: "empty", query: "SELECT * FROM users", cols: []string{"id", "name", "balance"}},
		{name: "unknown table", query: "SELECT * FROM nope", err: "no table"},
		{name: "unknown column", query: "SELECT nope FROM users", err: "no column"},
		{name: "unsupported", query: "SELECT NOW()", err: "unsupported statement"},
		{name: "missing arg", exec: true, query: "DELETE FROM users WHERE id = :id", err: "missing named argument"},
		{name: "wrong arg count", query: "SELECT * FROM users WHERE id = ?", err: "argument"},
	}
	for _, v := range []Variant{{"all", AllIfaces}, {"none", 0}, {"legacy", ConnQueryer | ConnExecer}} {
		t.Run(v.Name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: v.Ifaces})
			usersTable(t, d)
			for _, s := range script {
				if v.Ifaces&s.needs != s.needs {
					continue
				}
				if s.exec {
					res, err := db.Exec(s.query, s.args...)
					if checkErr(t, s, err) {
						continue
					}
					aff, _ := res.RowsAffected()
					id, _ := res.LastInsertId()
					if aff != s.affected || id != s.lastID {
						t.Errorf("%s: affected %d lastID %d, want %d %d", s.name, aff, id, s.affected, s.lastID)
					}
					continue
				}
				cols, rows, err := queryAll(t, db, s.query, s.args...)
				if checkErr(t, s, err) {
					continue
				}
				if len(cols) != len(s.cols) || (len(cols) > 0 && !reflect.DeepEqual(cols, s.cols)) {
					t.Errorf("%s: columns %q, want %q", s.name, cols, s.cols)
				}
				if !reflect.DeepEqual(rows, s.rows) {
					t.Errorf("%s: rows %#v, want %#v", s.name, rows, s.rows)
				}
			}
		})
	}
}

func checkErr(t *testing.T, s step, err error) (stop bool) {
	t.Helper()
	switch {
	case s.err == "" && err != nil:
		t.Errorf("%s: %v", s.name, err)
		return true
	case s.err != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", s.name, s.err)
		return true
	case s.err != "" && !strings.Contains(err.Error(), s.err):
		t.Errorf("%s: error %q, want one containing %q", s.name, err, s.err)
		return true
	}
	return s.err != ""
}

func TestCounters(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces})
	usersTable(t, d)
	const q1, q2 = "SELECT * FROM users", "SELECT id FROM users WHERE id = ?"
	const e1 = "UPDATE users SET name = 'x' WHERE id = 1"
	for range 3 {
		if _, _, err := queryAll(t, db, q1); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.QueryRow(q2, 1).Scan(new(int64)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := db.Exec(e1); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	check("Queries", d.Queries(), 4)
	check("Execs", d.Execs(), 2)
	check("QueryCount(q1)", d.QueryCount(q1), 3)
	check("QueryCount(q2)", d.QueryCount(q2), 1)
	check("ExecCount(e1)", d.ExecCount(e1), 2)
	check("QueryCount(e1)", d.QueryCount(e1), 0)
	check("PathCount(QueryContext)", d.PathCount(PathQueryContext), 4)
	check("PathCount(ExecContext)", d.PathCount(PathExecContext), 2)
	if got := d.LastArgs(q2); len(got) != 1 || got[0].Value != int64(1) || got[0].Ordinal != 1 {
		t.Errorf("LastArgs = %#v", got)
	}
	d.Reset()
	check("Queries after Reset", d.Queries(), 0)
	check("QueryCount after Reset", d.QueryCount(q1), 0)
	check("Path after Reset", d.PathCount(PathQueryContext), 0)
	if _, _, err := queryAll(t, db, q1); err != nil {
		t.Fatal(err)
	}
	check("Queries after one more", d.Queries(), 1)
	if d.OpenRows() != 0 || d.OpenStmts() != 0 {
		t.Errorf("leaked rows %d stmts %d", d.OpenRows(), d.OpenStmts())
	}
}

func TestFailNext(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces})
	usersTable(t, d)
	const q = "SELECT * FROM users"
	boom := errors.New("boom")
	d.FailNext(q, boom)
	d.FailNext(q, driver.ErrBadConn) // database/sql retries ErrBadConn: the retry sees the third answer
	if _, _, err := queryAll(t, db, q); !errors.Is(err, boom) {
		t.Fatalf("first query: %v, want boom", err)
	}
	if _, rows, err := queryAll(t, db, q); err != nil || len(rows) != 2 {
		t.Fatalf("second query (retried after ErrBadConn): %d rows, %v", len(rows), err)
	}
	if got := d.QueryCount(q); got != 3 {
		t.Errorf("QueryCount = %d, want 3 (boom, bad conn, retry)", got)
	}
	d.FailNext("", boom)
	if _, err := db.Exec("DELETE FROM users WHERE id = 1"); !errors.Is(err, boom) {
		t.Errorf("exec after FailNext(\"\"): %v, want boom", err)
	}
}

func TestOnQuery(t *testing.T) {
	veto := errors.New("veto")
	var seen []string
	d, db := openDB(t, Options{Ifaces: AllIfaces, OnQuery: func(ctx context.Context, q string, args []driver.NamedValue) error {
		seen = append(seen, q) // database/sql serialises calls here: one conn in use at a time in this test
		if strings.Contains(q, "veto") {
			return veto
		}
		return nil
	}})
	usersTable(t, d)
	if _, _, err := queryAll(t, db, "SELECT id FROM users"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM users WHERE name = 'veto'"); !errors.Is(err, veto) {
		t.Errorf("exec: %v, want veto", err)
	}
	if len(d.Rows("users")) != 2 {
		t.Errorf("vetoed delete ran")
	}
	if want := []string{"SELECT id FROM users", "DELETE FROM users WHERE name = 'veto'"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("OnQuery saw %q, want %q", seen, want)
	}
}
