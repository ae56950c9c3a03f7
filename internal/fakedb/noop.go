package fakedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"
	"time"
)

// Noop is the benchmark floor: a driver (and connector) whose every query
// answers with the same precomputed rows, doing only what any real driver
// must: one rows value per query and a copy of each row's values into dest.
// Values are shared, not copied: callers must not modify a []byte they get
// (database/sql's Scan into *[]byte copies; sql.RawBytes does not).
//
// Its conn implements driver.QueryerContext and driver.ExecerContext (so
// database/sql never prepares), its rows the RowsColumnType* interfaces with
// metadata derived from the first row's Go types. Exec affects 0 rows.
type Noop struct {
	cols    []string
	data    [][]driver.Value
	meta    []noopCol
	err     error // set when the rows do not fit the columns
	queries atomic.Int64
}

type noopCol struct {
	dbType   string
	scanType reflect.Type
}

// NewNoop returns a Noop answering every query with cols and rows. A row
// whose width is not len(cols) makes every query fail with an error naming
// it. The slices are kept, not copied.
func NewNoop(cols []string, rows [][]driver.Value) *Noop {
	n := &Noop{cols: cols, data: rows, meta: make([]noopCol, len(cols))}
	for i, r := range rows {
		if len(r) != len(cols) {
			n.err = fmt.Errorf("fakedb: noop row %d has %d values for %d columns", i, len(r), len(cols))
			break
		}
	}
	for i := range n.meta {
		n.meta[i] = noopCol{dbType: "", scanType: reflect.TypeFor[any]()}
		if n.err != nil || len(rows) == 0 {
			continue
		}
		switch rows[0][i].(type) {
		case int64:
			n.meta[i] = noopCol{"INTEGER", reflect.TypeFor[int64]()}
		case float64:
			n.meta[i] = noopCol{"REAL", reflect.TypeFor[float64]()}
		case string:
			n.meta[i] = noopCol{"TEXT", reflect.TypeFor[string]()}
		case []byte:
			n.meta[i] = noopCol{"BLOB", reflect.TypeFor[[]byte]()}
		case bool:
			n.meta[i] = noopCol{"BOOLEAN", reflect.TypeFor[bool]()}
		case time.Time:
			n.meta[i] = noopCol{"TIMESTAMP", reflect.TypeFor[time.Time]()}
		}
	}
	return n
}

// Queries returns how many queries reached the Noop driver.
func (n *Noop) Queries() int64 { return n.queries.Load() }

// Open implements driver.Driver; the dsn is ignored.
func (n *Noop) Open(string) (driver.Conn, error) { return &noopConn{n}, nil }

// Connect implements driver.Connector.
func (n *Noop) Connect(context.Context) (driver.Conn, error) { return &noopConn{n}, nil }

// Driver implements driver.Connector.
func (n *Noop) Driver() driver.Driver { return n }

type noopConn struct{ n *Noop }

var (
	_ driver.QueryerContext = (*noopConn)(nil)
	_ driver.ExecerContext  = (*noopConn)(nil)
)

func (c *noopConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	c.n.queries.Add(1)
	if c.n.err != nil {
		return nil, c.n.err
	}
	return &noopRows{n: c.n}, nil
}

func (c *noopConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(0), nil
}

func (c *noopConn) Prepare(string) (driver.Stmt, error) { return &noopStmt{c}, nil }
func (c *noopConn) Close() error                        { return nil }
func (c *noopConn) Begin() (driver.Tx, error)           { return noopTx{}, nil }

type noopStmt struct{ c *noopConn }

func (s *noopStmt) Close() error  { return nil }
func (s *noopStmt) NumInput() int { return -1 }
func (s *noopStmt) Exec([]driver.Value) (driver.Result, error) {
	return driver.RowsAffected(0), nil
}
func (s *noopStmt) Query([]driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), "", nil)
}

type noopTx struct{}

func (noopTx) Commit() error   { return nil }
func (noopTx) Rollback() error { return nil }

type noopRows struct {
	n    *Noop
	next int
}

var (
	_ driver.RowsColumnTypeScanType         = (*noopRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*noopRows)(nil)
	_ driver.RowsColumnTypeLength           = (*noopRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*noopRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*noopRows)(nil)
)

func (r *noopRows) Columns() []string { return r.n.cols }
func (r *noopRows) Close() error      { return nil }

func (r *noopRows) Next(dest []driver.Value) error {
	if r.next >= len(r.n.data) {
		return io.EOF
	}
	if len(dest) != len(r.n.cols) {
		return errNoopDest
	}
	copy(dest, r.n.data[r.next])
	r.next++
	return nil
}

var errNoopDest = errors.New("fakedb: noop Next with a dest of the wrong width")

func (r *noopRows) col(i int) noopCol {
	if uint(i) >= uint(len(r.n.meta)) {
		return noopCol{scanType: reflect.TypeFor[any]()}
	}
	return r.n.meta[i]
}

func (r *noopRows) ColumnTypeScanType(i int) reflect.Type   { return r.col(i).scanType }
func (r *noopRows) ColumnTypeDatabaseTypeName(i int) string { return r.col(i).dbType }
func (r *noopRows) ColumnTypeLength(int) (int64, bool)      { return 0, false }
func (r *noopRows) ColumnTypeNullable(int) (bool, bool)     { return true, true }
func (r *noopRows) ColumnTypePrecisionScale(int) (int64, int64, bool) {
	return 0, 0, false
}
