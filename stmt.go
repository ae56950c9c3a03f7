package cachedsql

import (
	"bytes"
	"context"
	"database/sql/driver"
)

// stmt wraps an inner prepared statement. Queries through it are cached like
// plain queries. It always implements NamedValueChecker (delegating to the
// inner statement, then the connection, as database/sql would) and implements
// ColumnConverter only when the inner statement does (stmtCC), because
// database/sql takes a different conversion path when it is present.
type stmt struct {
	cn    *conn
	inner driver.Stmt
	query string
	// fallback holds the arguments of the call the connection skipped
	// (driver.ErrSkip) when database/sql prepared this statement for it, until
	// its first query. That query, with those arguments, is keyed apart from
	// reads of statements the program prepared, so that the connection path
	// can use its result for a call with the same arguments, which the driver
	// skips again.
	fallback []driver.NamedValue
	sqc      driver.StmtQueryContext
	sec      driver.StmtExecContext
	nvc      driver.NamedValueChecker
}

type stmtCC struct {
	*stmt
	cc driver.ColumnConverter
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = stmtCC{}
)

func newStmt(cn *conn, si driver.Stmt, query string, fallback []driver.NamedValue) driver.Stmt {
	s := &stmt{cn: cn, inner: si, query: query, fallback: fallback}
	s.sqc, _ = si.(driver.StmtQueryContext)
	s.sec, _ = si.(driver.StmtExecContext)
	s.nvc, _ = si.(driver.NamedValueChecker)
	if cc, ok := si.(driver.ColumnConverter); ok {
		return stmtCC{s, cc}
	}
	return s
}

func (s stmtCC) ColumnConverter(idx int) driver.ValueConverter { return s.cc.ColumnConverter(idx) }

func (s *stmt) Close() error  { return s.cn.afterBusy(s.inner.Close) }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

// Exec and Query are driver.Stmt's legacy forms. database/sql calls the
// Context forms, but a program holding the driver connection (sql.Conn.Raw)
// may call these: they take the same path, so that a write through them
// invalidates what it wrote and a read is cached as any other.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

// valuesToNamed numbers legacy arguments as database/sql would.
func valuesToNamed(args []driver.Value) []driver.NamedValue {
	named := make([]driver.NamedValue, len(args))
	for i, v := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return named
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if s.nvc != nil {
		return s.nvc.CheckNamedValue(nv)
	}
	return s.cn.CheckNamedValue(nv)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.cn.wait(ctx); err != nil {
		return nil, err
	}
	var res driver.Result
	var err error
	if s.sec != nil {
		res, err = s.sec.ExecContext(ctx, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err != nil {
			return nil, err
		}
		res, err = s.inner.Exec(dargs)
	}
	s.cn.afterStatement(ctx, s.cn.c.planFor(s.query), err)
	return res, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.cn.query(ctx, s.query, args, s)
}

// skipped reports (once) whether args are those of the skipped call this
// statement was prepared for.
func (s *stmt) skipped(args []driver.NamedValue) bool {
	fb := s.fallback
	if fb == nil {
		return false
	}
	s.fallback = nil
	if len(fb) != len(args) {
		return false
	}
	for i := range args {
		if !sameSkippedArg(&args[i], &fb[i]) {
			return false
		}
	}
	return true
}

// sameSkippedArg is sameArg, and also []byte and uint64 values, which
// go-sql-driver/mysql passes on as they are (the key memo leaves them out:
// it would have to keep a copy).
func sameSkippedArg(a, b *driver.NamedValue) bool {
	switch x := a.Value.(type) {
	case []byte:
		y, ok := b.Value.([]byte)
		return ok && a.Ordinal == b.Ordinal && a.Name == b.Name && (x == nil) == (y == nil) && bytes.Equal(x, y)
	case uint64:
		y, ok := b.Value.(uint64)
		return ok && a.Ordinal == b.Ordinal && a.Name == b.Name && x == y
	}
	return sameArg(a, b)
}

func (s *stmt) innerQuery(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.sqc != nil {
		return s.sqc.QueryContext(ctx, args)
	}
	dargs, err := legacyArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(dargs)
}
