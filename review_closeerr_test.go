package cachedsql

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
)

// closeErrDriver answers every query with three rows whose Close fails, as
// a driver does that learns of an error only once the result is done.
type closeErrDriver struct{ queries atomic.Int64 }

var errRowsClose = errors.New("closeerr: the result ended badly")

func (d *closeErrDriver) Open(string) (driver.Conn, error) { return closeErrConn{d}, nil }

type closeErrConn struct{ d *closeErrDriver }

func (c closeErrConn) Prepare(q string) (driver.Stmt, error) { return closeErrStmt(c), nil }
func (c closeErrConn) Close() error                          { return nil }
func (c closeErrConn) Begin() (driver.Tx, error)             { return nil, errors.New("closeerr: no tx") }

type closeErrStmt struct{ d *closeErrDriver }

func (s closeErrStmt) Close() error  { return nil }
func (s closeErrStmt) NumInput() int { return -1 }
func (s closeErrStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("closeerr: no exec")
}
func (s closeErrStmt) Query([]driver.Value) (driver.Rows, error) {
	s.d.queries.Add(1)
	return &closeErrRows{}, nil
}

type closeErrRows struct{ i int64 }

func (r *closeErrRows) Columns() []string { return []string{"v"} }
func (r *closeErrRows) Close() error      { return errRowsClose }
func (r *closeErrRows) Next(dest []driver.Value) error {
	if r.i == 3 {
		return io.EOF
	}
	r.i++
	dest[0] = r.i
	return nil
}

var closeErrSeq atomic.Int64

// TestRowsCloseErrorAfterEveryRow: when the inner rows fail only in Close,
// after every row was read, database/sql hands over the rows and reports
// the error from Rows.Err. cachedsql's fill turned that into an error from
// Query with no rows at all (review B). The reader now gets the rows, then
// the error; nothing is cached.
func TestRowsCloseErrorAfterEveryRow(t *testing.T) {
	d := &closeErrDriver{}
	name := fmt.Sprintf("closeerr%d", closeErrSeq.Add(1))
	sql.Register(name, d)
	read := func(db *sql.DB) (got []int64, err error) {
		rows, err := db.Query("SELECT v FROM t")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return got, err
			}
			got = append(got, v)
		}
		return got, rows.Err()
	}
	direct, err := sql.Open(name, "")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	want, wantErr := read(direct)
	db := openCached(t, name, "")
	for i := range 2 {
		got, err := read(db)
		if fmt.Sprint(got) != fmt.Sprint(want) || !errors.Is(err, errRowsClose) || !errors.Is(wantErr, errRowsClose) {
			t.Fatalf("read %d through cachedsql: rows %v, %v; directly: rows %v, %v", i, got, err, want, wantErr)
		}
	}
	if q := d.queries.Load(); q != 3 {
		t.Fatalf("%d inner queries for one direct and two cached reads: want 3 (nothing cached)", q)
	}
}
