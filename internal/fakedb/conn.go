package fakedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
)

// conn is the base connection: only driver.Conn's methods. Each optional
// interface is added by embedding its carrier type (below) in one of the
// generated combination types of combos_gen.go. database/sql uses a conn from
// one goroutine at a time, so its fields need no lock.
type conn struct {
	d      *Driver
	dsn    string
	tx     *tx
	closed bool
}

var _ driver.Conn = (*conn)(nil)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	c.d.count(PathPrepare)
	return c.prepare(query)
}

func (c *conn) Close() error {
	if c.closed {
		return errors.New("fakedb: conn closed twice")
	}
	c.closed = true
	c.d.openConns.Add(-1)
	return nil
}

func (c *conn) Begin() (driver.Tx, error) {
	c.d.count(PathBegin)
	return c.begin(driver.TxOptions{})
}

func (c *conn) begin(opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("fakedb: Begin while a transaction is open")
	}
	c.tx = &tx{c: c, tables: map[string]*table{}, readOnly: opts.ReadOnly}
	return c.tx, nil
}

func (c *conn) prepare(query string) (driver.Stmt, error) {
	n, err := c.d.check(query)
	if err != nil {
		return nil, err
	}
	c.d.openStmts.Add(1)
	s := &stmt{c: c, query: query, numInput: n}
	return stmtCombos[c.d.opts.Ifaces>>stmtShift&(1<<stmtWidth-1)](s), nil
}

func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.d.arrive(ctx, kindQuery, query, args); err != nil {
		return nil, err
	}
	out, err := c.d.execute(c.tx, query, args, true)
	if err != nil {
		return nil, err
	}
	return c.d.newRows(out.sets), nil
}

func (c *conn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.d.arrive(ctx, kindExec, query, args); err != nil {
		return nil, err
	}
	out, err := c.d.execute(c.tx, query, args, false)
	if err != nil {
		return nil, err
	}
	return result{out.lastInsertID, out.affected}, nil
}

type result struct{ lastInsertID, affected int64 }

func (r result) LastInsertId() (int64, error) { return r.lastInsertID, nil }
func (r result) RowsAffected() (int64, error) { return r.affected, nil }

// Carriers: one per optional conn interface.

type connQueryerContext struct{ c *conn }

func (x connQueryerContext) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	x.c.d.count(PathQueryContext)
	return x.c.query(ctx, query, args)
}

type connQueryer struct{ c *conn }

func (x connQueryer) Query(query string, args []driver.Value) (driver.Rows, error) {
	x.c.d.count(PathQuery)
	return x.c.query(context.Background(), query, namedValues(args))
}

type connExecerContext struct{ c *conn }

func (x connExecerContext) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	x.c.d.count(PathExecContext)
	return x.c.exec(ctx, query, args)
}

type connExecer struct{ c *conn }

func (x connExecer) Exec(query string, args []driver.Value) (driver.Result, error) {
	x.c.d.count(PathExec)
	return x.c.exec(context.Background(), query, namedValues(args))
}

type connPrepareContext struct{ c *conn }

func (x connPrepareContext) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	x.c.d.count(PathPrepareContext)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return x.c.prepare(query)
}

type connBeginTx struct{ c *conn }

// BeginTx records opts (Driver.TxOptions); a read-only transaction rejects
// writes. Every isolation level is accepted.
func (x connBeginTx) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	x.c.d.count(PathBeginTx)
	x.c.d.mu.Lock()
	x.c.d.txLog = append(x.c.d.txLog, opts)
	x.c.d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return x.c.begin(opts)
}

type connPinger struct{ c *conn }

func (x connPinger) Ping(ctx context.Context) error {
	x.c.d.count(PathPing)
	x.c.d.mu.Lock()
	defer x.c.d.mu.Unlock()
	return x.c.d.pingErr
}

type connSessionResetter struct{ c *conn }

func (x connSessionResetter) ResetSession(ctx context.Context) error {
	x.c.d.count(PathResetSession)
	x.c.d.mu.Lock()
	defer x.c.d.mu.Unlock()
	return x.c.d.rstErr
}

type connValidator struct{ c *conn }

func (x connValidator) IsValid() bool {
	x.c.d.count(PathIsValid)
	x.c.d.mu.Lock()
	defer x.c.d.mu.Unlock()
	return !x.c.d.invalid
}

type connNamedValueChecker struct{ c *conn }

func (x connNamedValueChecker) CheckNamedValue(nv *driver.NamedValue) error {
	x.c.d.count(PathConnCheckNamedValue)
	return checkNamedValue(nv)
}

// tx is a transaction: writes go to private copies of the tables they touch,
// which Commit installs (last commit wins per table) and Rollback drops.
type tx struct {
	c        *conn
	tables   map[string]*table
	readOnly bool
}

func (t *tx) Commit() error {
	t.c.d.count(PathCommit)
	if t.c.tx != t {
		return errors.New("fakedb: Commit of a finished transaction")
	}
	t.c.d.mu.Lock()
	for k, tb := range t.tables {
		t.c.d.tables[k] = tb
	}
	t.c.d.mu.Unlock()
	t.c.tx = nil
	return nil
}

func (t *tx) Rollback() error {
	t.c.d.count(PathRollback)
	if t.c.tx != t {
		return fmt.Errorf("fakedb: Rollback of a finished transaction")
	}
	t.c.tx = nil
	return nil
}
