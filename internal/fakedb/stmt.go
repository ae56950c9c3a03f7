package fakedb

import (
	"context"
	"database/sql/driver"
	"errors"
)

// stmt is the base prepared statement: only driver.Stmt's methods; optional
// interfaces come from the carriers below via combos_gen.go.
type stmt struct {
	c        *conn
	query    string
	numInput int
	closed   bool
}

var _ driver.Stmt = (*stmt)(nil)

func (s *stmt) Close() error {
	if s.closed {
		return errors.New("fakedb: stmt closed twice")
	}
	s.closed = true
	s.c.d.openStmts.Add(-1)
	return nil
}

// NumInput is the number of placeholders (the highest ordinal), or -1 for a
// canned query or one with named placeholders, so database/sql checks the
// argument count the way it does for real drivers.
func (s *stmt) NumInput() int { return s.numInput }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	s.c.d.count(PathStmtExec)
	return s.c.exec(context.Background(), s.query, namedValues(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	s.c.d.count(PathStmtQuery)
	return s.c.query(context.Background(), s.query, namedValues(args))
}

type stmtQueryContext struct{ s *stmt }

func (x stmtQueryContext) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	x.s.c.d.count(PathStmtQueryContext)
	return x.s.c.query(ctx, x.s.query, args)
}

type stmtExecContext struct{ s *stmt }

func (x stmtExecContext) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	x.s.c.d.count(PathStmtExecContext)
	return x.s.c.exec(ctx, x.s.query, args)
}

type stmtNamedValueChecker struct{ s *stmt }

func (x stmtNamedValueChecker) CheckNamedValue(nv *driver.NamedValue) error {
	x.s.c.d.count(PathStmtCheckNamedValue)
	return checkNamedValue(nv)
}

type stmtColumnConverter struct{ s *stmt }

func (x stmtColumnConverter) ColumnConverter(idx int) driver.ValueConverter {
	return celsiusConverter{x.s.c.d}
}
