package cachedsql

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"

	"github.com/cachedsql/cachedsql/rowset"
)

// anyType is the scan type database/sql reports when a driver's rows do not.
var anyType = reflect.TypeFor[any]()

// cachedRows replays a result. It answers every column question the way the
// inner rows did, "not supported" included (as database/sql's fallbacks).
type cachedRows struct {
	res *rowset.Result
	set int
	row int
	// mem holds res when this reader alone has it (the leader of a fill
	// nobody joined): Close gives it back for another capture. Values already
	// handed to database/sql are copies of the interfaces; a []byte among
	// them points into mem, and is valid until Close, as the database/sql
	// contract gives a driver's buffers (fillMem.arena).
	mem *fillMem
	// closeErr is what Close returns: the inner rows' error from their own
	// Close, after every row had been read (which database/sql reports from
	// Rows.Err once the rows are done).
	closeErr error
	// ctx, when set, is the query's context, looked at before every row:
	// SQLite's rows stop with its error once it ends (go-sqlite3 checks it
	// in Next), and a replay of them does too (followContext).
	ctx context.Context
}

var (
	_ driver.Rows                           = (*cachedRows)(nil)
	_ driver.RowsNextResultSet              = (*cachedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*cachedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*cachedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*cachedRows)(nil)
)

// noResult is what a closed reader that gave its memory back replays.
var noResult rowset.Result

func newCachedRows(res *rowset.Result) *cachedRows { return &cachedRows{res: res} }

func (r *cachedRows) cols() []rowset.Column {
	if r.set >= len(r.res.Sets) {
		return nil
	}
	return r.res.Sets[r.set].Columns
}

func (r *cachedRows) Columns() []string {
	cols := r.cols()
	names := make([]string, len(cols))
	for i := range cols {
		names[i] = cols[i].Name
	}
	return names
}

func (r *cachedRows) Close() error {
	if r.mem != nil {
		putFillMem(r.mem)
		// A read after Close finds nothing rather than recycled values.
		r.mem, r.res = nil, &noResult
	}
	return r.closeErr
}

func (r *cachedRows) Next(dest []driver.Value) error {
	if r.ctx != nil {
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	if r.set >= len(r.res.Sets) {
		return io.EOF
	}
	rows := r.res.Sets[r.set].Rows
	if r.row >= len(rows) {
		return io.EOF
	}
	copy(dest, rows[r.row])
	r.row++
	return nil
}

func (r *cachedRows) HasNextResultSet() bool { return r.set+1 < len(r.res.Sets) }

func (r *cachedRows) NextResultSet() error {
	if !r.HasNextResultSet() {
		return io.EOF
	}
	r.set++
	r.row = 0
	return nil
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t := r.cols()[i].ScanType; t != nil {
		return t
	}
	return anyType
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.cols()[i].DatabaseTypeName
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	c := &r.cols()[i]
	return c.Length, c.HasLength
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	c := &r.cols()[i]
	return c.Nullable, c.HasNullable
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := &r.cols()[i]
	return c.Precision, c.Scale, c.HasPrecisionScale
}

// followContext makes a replay of a lazy driver's rows (SQLite) stop as
// the driver's own would once ctx ends: with ctx's error from the next
// Next, rather than whenever database/sql's watcher gets to closing them.
// Drivers that read a whole result at once hand out what they have read
// after a cancel, and so do replays of theirs.
func followContext(rows driver.Rows, ctx context.Context) {
	switch r := rows.(type) {
	case *cachedRows:
		r.ctx = ctx
	case *hotRows:
		r.cachedRows.ctx = ctx
	case *overflowRows:
		r.pre.ctx = ctx // the inner rows follow it themselves
	}
}

// liveRows forwards to inner rows, answering each optional question with
// database/sql's own fallback when the inner rows lack the interface.
type liveRows struct {
	inner driver.Rows
}

func (r liveRows) Columns() []string              { return r.inner.Columns() }
func (r liveRows) Next(dest []driver.Value) error { return r.inner.Next(dest) }

func (r liveRows) HasNextResultSet() bool {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r liveRows) NextResultSet() error {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r liveRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.inner.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return anyType
}

func (r liveRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.inner.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r liveRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.inner.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r liveRows) ColumnTypeNullable(i int) (bool, bool) {
	if x, ok := r.inner.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r liveRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if x, ok := r.inner.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// hookRows is live rows that run a function once when closed.
type hookRows struct {
	liveRows
	onClose func()
}

func newHookRows(inner driver.Rows, onClose func()) *hookRows {
	return &hookRows{liveRows{inner}, onClose}
}

func (r *hookRows) Close() error {
	err := r.inner.Close()
	if f := r.onClose; f != nil {
		r.onClose = nil
		f()
	}
	return err
}

// overflowRows hands a result that could not be cached to the caller whole:
// first the rows already read (held in pre), then the rest from the inner rows,
// which are positioned just after them in pre's last result set.
type overflowRows struct {
	pre    cachedRows
	live   liveRows
	last   int                // index of the result set the inner rows are in
	cancel context.CancelFunc // ends the inner query
	stop   func() bool        // stops following the reader's context
	// err, if not nil, is what the inner rows' Next returned after pre's
	// rows: Next returns it then, rather than reading on; told once it has.
	err  error
	told bool
	// atNextSet: err is what the inner rows' NextResultSet returned after
	// pre's last set, which is whole; it comes from NextResultSet, and the
	// inner rows are read no more.
	atNextSet bool
	// lazy: the inner driver computes rows as they are asked for (SQLite),
	// so a reader that stops before the failed row would never have met
	// its error.
	lazy bool
}

func newOverflowRows(pre *rowset.Result, inner driver.Rows, cancel context.CancelFunc) *overflowRows {
	return &overflowRows{pre: cachedRows{res: pre}, live: liveRows{inner}, last: len(pre.Sets) - 1, cancel: cancel}
}

// follow cancels the inner query when ctx ends: the rows now belong to the
// caller whose context that is.
func (r *overflowRows) follow(ctx context.Context) { r.stop = context.AfterFunc(ctx, r.cancel) }

func (r *overflowRows) replaying() bool { return r.pre.set < r.last }

// fromPre: the current set's columns are pre's.
func (r *overflowRows) fromPre() bool { return r.replaying() || r.atNextSet }

func (r *overflowRows) Columns() []string {
	if r.fromPre() {
		return r.pre.Columns()
	}
	return r.live.Columns()
}

func (r *overflowRows) Close() error {
	err := r.live.inner.Close()
	if r.stop != nil {
		r.stop()
	}
	r.cancel()
	if err == nil && r.err != nil && !r.told && !r.lazy {
		// The reader stops before the failed row. A driver whose Close reads
		// to the end would report it there (pgx, lib/pq, go-sql-driver).
		err = r.err
	}
	return err
}

func (r *overflowRows) Next(dest []driver.Value) error {
	if r.pre.set <= r.last {
		if err := r.pre.Next(dest); err != io.EOF || r.replaying() {
			return err
		}
		if r.atNextSet {
			return io.EOF // the last set is whole; the error comes with the next
		}
		r.pre.set = r.last + 1 // the prefix of the live set is used up
	}
	if r.err != nil {
		r.told = true
		return r.err
	}
	return r.live.Next(dest)
}

func (r *overflowRows) HasNextResultSet() bool {
	if r.replaying() || r.atNextSet {
		return true
	}
	return r.err == nil && r.live.HasNextResultSet()
}

func (r *overflowRows) NextResultSet() error {
	if r.replaying() {
		r.pre.set++
		r.pre.row = 0
		return nil
	}
	if r.atNextSet {
		r.told = true
		return r.err
	}
	r.pre.set = r.last + 1
	return r.live.NextResultSet()
}

func (r *overflowRows) ColumnTypeScanType(i int) reflect.Type {
	if r.fromPre() {
		return r.pre.ColumnTypeScanType(i)
	}
	return r.live.ColumnTypeScanType(i)
}

func (r *overflowRows) ColumnTypeDatabaseTypeName(i int) string {
	if r.fromPre() {
		return r.pre.ColumnTypeDatabaseTypeName(i)
	}
	return r.live.ColumnTypeDatabaseTypeName(i)
}

func (r *overflowRows) ColumnTypeLength(i int) (int64, bool) {
	if r.fromPre() {
		return r.pre.ColumnTypeLength(i)
	}
	return r.live.ColumnTypeLength(i)
}

func (r *overflowRows) ColumnTypeNullable(i int) (bool, bool) {
	if r.fromPre() {
		return r.pre.ColumnTypeNullable(i)
	}
	return r.live.ColumnTypeNullable(i)
}

func (r *overflowRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if r.fromPre() {
		return r.pre.ColumnTypePrecisionScale(i)
	}
	return r.live.ColumnTypePrecisionScale(i)
}
