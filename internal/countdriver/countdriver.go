// Package countdriver is a database/sql driver for tests that wraps another
// driver and counts the statements that reach it, so a test can prove that a
// cached read never touched the database.
//
// Every call is delegated to the wrapped driver. A connection exposes each
// optional interface of database/sql/driver (QueryerContext, ExecerContext,
// ConnPrepareContext, ConnBeginTx, Pinger, SessionResetter, Validator,
// NamedValueChecker) and answers with the documented fallback when the wrapped
// connection lacks it (driver.ErrSkip for Query/Exec/CheckNamedValue, the
// context-free method otherwise). Rows and transactions are the wrapped
// driver's own values, untouched, so column metadata and result sets are
// exactly the inner driver's.
//
// Counted: Queries (every Query that reached the wrapped driver, through the
// connection or a prepared statement), Execs (likewise for Exec), Prepares
// and Begins. A call that returned driver.ErrSkip is not counted: the wrapped
// driver did no work.
package countdriver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync/atomic"
)

// Driver wraps an inner driver.Driver and counts what reaches it. It is safe
// for concurrent use.
type Driver struct {
	inner                            driver.Driver
	onQuery                          func(context.Context) // may be nil
	queries, execs, prepares, begins atomic.Int64
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// New wraps inner.
func New(inner driver.Driver) *Driver { return &Driver{inner: inner} }

// Observe wraps inner and also calls onQuery with the context of every query
// that reaches it (the prepared-statement and legacy paths included), so a
// caller can tell which of its reads went to the database.
func Observe(inner driver.Driver, onQuery func(context.Context)) *Driver {
	return &Driver{inner: inner, onQuery: onQuery}
}

// counted records one query that reached the wrapped driver.
func (d *Driver) counted(ctx context.Context) {
	d.queries.Add(1)
	if d.onQuery != nil {
		d.onQuery(ctx)
	}
}

// Register wraps inner and registers it with database/sql under name. Like
// sql.Register it panics when name is taken.
func Register(name string, inner driver.Driver) *Driver {
	d := New(inner)
	sql.Register(name, d)
	return d
}

// Queries is the number of queries that reached the wrapped driver.
func (d *Driver) Queries() int64 { return d.queries.Load() }

// Execs is the number of Exec calls that reached the wrapped driver.
func (d *Driver) Execs() int64 { return d.execs.Load() }

// Prepares is the number of statements the wrapped driver prepared.
func (d *Driver) Prepares() int64 { return d.prepares.Load() }

// Begins is the number of transactions the wrapped driver began.
func (d *Driver) Begins() int64 { return d.begins.Load() }

// Open implements driver.Driver.
func (d *Driver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{d: d, inner: c}, nil
}

// OpenConnector implements driver.DriverContext, using the wrapped driver's
// connector when it has one.
func (d *Driver) OpenConnector(name string) (driver.Connector, error) {
	if dc, ok := d.inner.(driver.DriverContext); ok {
		ic, err := dc.OpenConnector(name)
		if err != nil {
			return nil, err
		}
		return &connector{d: d, inner: ic}, nil
	}
	return &connector{d: d, dsn: name}, nil
}

type connector struct {
	d     *Driver
	inner driver.Connector // nil: open by DSN
	dsn   string
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.inner == nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return c.d.Open(c.dsn)
	}
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{d: c.d, inner: ic}, nil
}

func (c *connector) Driver() driver.Driver { return c.d }

type conn struct {
	d     *Driver
	inner driver.Conn
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Close() error { return c.inner.Close() }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		s   driver.Stmt
		err error
	)
	if pc, ok := c.inner.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	c.d.prepares.Add(1)
	return &stmt{d: c.d, inner: s}, nil
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var (
		tx  driver.Tx
		err error
	)
	if bt, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else {
		// database/sql's own fallback: only default options are possible.
		if opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
			return nil, errors.New("countdriver: the wrapped driver does not support isolation levels")
		}
		if opts.ReadOnly {
			return nil, errors.New("countdriver: the wrapped driver does not support read-only transactions")
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tx, err = c.inner.Begin() //nolint:staticcheck // the fallback database/sql uses
	}
	if err == nil {
		c.d.begins.Add(1)
	}
	return tx, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	var (
		r   driver.Rows
		err error
	)
	switch q := c.inner.(type) {
	case driver.QueryerContext:
		r, err = q.QueryContext(ctx, query, args)
	case driver.Queryer:
		vals, verr := values(args)
		if verr != nil {
			return nil, driver.ErrSkip
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err = q.Query(query, vals) //nolint:staticcheck // delegation of the deprecated form
	default:
		return nil, driver.ErrSkip
	}
	if !errors.Is(err, driver.ErrSkip) {
		c.d.counted(ctx)
	}
	return r, err
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	var (
		res driver.Result
		err error
	)
	switch e := c.inner.(type) {
	case driver.ExecerContext:
		res, err = e.ExecContext(ctx, query, args)
	case driver.Execer:
		vals, verr := values(args)
		if verr != nil {
			return nil, driver.ErrSkip
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err = e.Exec(query, vals) //nolint:staticcheck // delegation of the deprecated form
	default:
		return nil, driver.ErrSkip
	}
	if !errors.Is(err, driver.ErrSkip) {
		c.d.execs.Add(1)
	}
	return res, err
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// values converts named arguments for the context-free methods, which
// cannot take names.
func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("countdriver: named arguments need the context methods")
		}
		out[i] = a.Value
	}
	return out, nil
}

type stmt struct {
	d     *Driver
	inner driver.Stmt
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	res, err := s.inner.Exec(args) //nolint:staticcheck // delegation of the deprecated form
	s.d.execs.Add(1)
	return res, err
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	r, err := s.inner.Query(args) //nolint:staticcheck // delegation of the deprecated form
	s.d.counted(context.Background())
	return r, err
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		res, err := e.ExecContext(ctx, args)
		s.d.execs.Add(1)
		return res, err
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Exec(vals)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		r, err := q.QueryContext(ctx, args)
		s.d.counted(ctx)
		return r, err
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := s.inner.Query(vals) //nolint:staticcheck // the documented fallback
	s.d.counted(ctx)
	return r, err
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
