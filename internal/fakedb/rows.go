package fakedb

import (
	"bytes"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
)

// rows is the base result: only driver.Rows's methods; the ColumnType and
// NextResultSet interfaces come from the carriers below via combos_gen.go.
type rows struct {
	d      *Driver
	sets   []ResultSet
	set    int // current result set
	next   int // next row of the current set
	names  []string
	bufs   [][]byte // per column, with Options.ReuseBuffers
	closed bool
}

var _ driver.Rows = (*rows)(nil)

func (d *Driver) newRows(sets []ResultSet) driver.Rows {
	if len(sets) == 0 {
		sets = []ResultSet{{}}
	}
	if d.opts.Ifaces&RowsNextResultSet == 0 {
		sets = sets[:1]
	}
	r := &rows{d: d, sets: sets}
	r.enter(0)
	d.openRows.Add(1)
	return rowsCombos[d.opts.Ifaces>>rowsShift&(1<<rowsWidth-1)](r)
}

// enter makes set i current. With ReuseBuffers each []byte column gets one
// buffer large enough for every value of the set, so every Next writes into
// the same backing array.
func (r *rows) enter(i int) {
	r.set, r.next = i, 0
	cols := r.sets[i].Columns
	r.names = make([]string, len(cols))
	for n, c := range cols {
		r.names[n] = c.Name
	}
	r.bufs = nil
	if !r.d.opts.ReuseBuffers {
		return
	}
	r.bufs = make([][]byte, len(cols))
	for _, row := range r.sets[i].Rows {
		for n, v := range row {
			if b, ok := v.([]byte); ok && n < len(r.bufs) && len(b) > cap(r.bufs[n]) {
				r.bufs[n] = make([]byte, 0, len(b))
			}
		}
	}
	for n := range r.bufs {
		if r.bufs[n] == nil {
			r.bufs[n] = make([]byte, 0, 1)
		}
	}
}

func (r *rows) Columns() []string { return r.names }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.d.openRows.Add(-1)
	return nil
}

// Next copies the next row into dest; []byte values are copied (into the
// column's reused buffer with ReuseBuffers) so no caller can alter a table.
func (r *rows) Next(dest []driver.Value) error {
	if r.closed {
		return errors.New("fakedb: Next on closed rows")
	}
	set := &r.sets[r.set]
	if r.next >= len(set.Rows) {
		return io.EOF
	}
	row := set.Rows[r.next]
	r.next++
	if len(row) != len(dest) {
		return errors.New("fakedb: result row width differs from its columns")
	}
	for i, v := range row {
		if b, ok := v.([]byte); ok && b != nil {
			if r.bufs != nil {
				v = append(r.bufs[i][:0], b...)
			} else {
				v = bytes.Clone(b)
			}
		}
		dest[i] = v
	}
	return nil
}

func (r *rows) column(i int) Column {
	cols := r.sets[r.set].Columns
	if i < 0 || i >= len(cols) {
		return Column{}
	}
	return cols[i]
}

type rowsScanType struct{ r *rows }

func (x rowsScanType) ColumnTypeScanType(i int) reflect.Type {
	if t := x.r.column(i).ScanType; t != nil {
		return t
	}
	return reflect.TypeFor[any]()
}

type rowsDatabaseTypeName struct{ r *rows }

func (x rowsDatabaseTypeName) ColumnTypeDatabaseTypeName(i int) string {
	return x.r.column(i).DatabaseTypeName
}

type rowsLength struct{ r *rows }

func (x rowsLength) ColumnTypeLength(i int) (int64, bool) {
	c := x.r.column(i)
	return c.Length, c.HasLength
}

type rowsNullable struct{ r *rows }

func (x rowsNullable) ColumnTypeNullable(i int) (nullable, ok bool) {
	c := x.r.column(i)
	return c.Nullable, c.HasNullable
}

type rowsPrecisionScale struct{ r *rows }

func (x rowsPrecisionScale) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	c := x.r.column(i)
	return c.Precision, c.Scale, c.HasPrecisionScale
}

type rowsNextResultSet struct{ r *rows }

func (x rowsNextResultSet) HasNextResultSet() bool { return x.r.set+1 < len(x.r.sets) }

func (x rowsNextResultSet) NextResultSet() error {
	x.r.d.count(PathNextResultSet)
	if x.r.set+1 >= len(x.r.sets) {
		return io.EOF
	}
	x.r.enter(x.r.set + 1)
	return nil
}
