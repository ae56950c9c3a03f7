// Package probe tells, for one read made through cachedsql, where its answer
// came from, without any hook in cachedsql itself.
//
// Two facts are observable from outside: whether the inner database driver ran
// a query (Driver wraps it and counts), and whether a Redis call answered with
// a value (Hook is a go-redis hook on the client given to cachedsql as its L2).
// Both see the context of the read: cachedsql passes the caller's context to
// Redis, and runs a shared query on a context detached from the caller's
// cancellation but carrying its values. A Probe put in the context with With
// therefore learns what happened on behalf of that read, even when other reads
// run concurrently. Path turns what a Probe saw into a path name.
package probe

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Probe records what happened on behalf of one operation. Its zero value is
// ready to use; it is safe for concurrent use.
type Probe struct {
	DBQueries atomic.Int32 // queries the inner driver ran for this operation
	RedisOK   atomic.Int32 // Redis calls that answered with a value
	RedisMiss atomic.Int32 // Redis calls that answered nil or failed
}

type probeKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Probe) context.Context {
	return context.WithValue(ctx, probeKey{}, p)
}

func from(ctx context.Context) *Probe {
	p, _ := ctx.Value(probeKey{}).(*Probe)
	return p
}

// Paths of a read, as Path names them.
const (
	PathDatabase  = "database"  // this read ran the query on the database (a miss or a bypass)
	PathCoalesced = "coalesced" // missed every tier and waited for another read's query
	PathL1        = "L1 hit"    // answered from the in-process cache
	PathL2        = "L2 hit"    // answered from Redis
)

// Path classifies a read from what p saw. withL2 says whether cachedsql has an
// L2 whose client carries Hook. Without an L2 a read that waited for another
// read's query cannot be told from an L1 hit: both are reported as PathL1.
func Path(p *Probe, withL2 bool) string {
	switch {
	case p.DBQueries.Load() > 0:
		return PathDatabase
	case p.RedisOK.Load() > 0:
		return PathL2
	case withL2 && p.RedisMiss.Load() > 0:
		return PathCoalesced
	default:
		return PathL1
	}
}

// Hook is a go-redis hook that records, in the Probe of a command's context,
// whether the command answered with a value. Commands without a Probe in
// their context (cachedsql's background writes and its invalidation stream)
// are not looked at.
type Hook struct{}

var _ redis.Hook = Hook{}

func (Hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if p := from(ctx); p != nil {
			// go-redis sets cmd's error only after the hooks return: judge by err.
			record(p, cmd, err)
		}
		return err
	}
}

func (Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if p := from(ctx); p != nil {
			// A pipeline is one lookup (cachedsql's L2 sends GET and PTTL
			// together): it found a value only if every reply is one, since
			// on a miss GET answers nil while PTTL still answers -2.
			ok := len(cmds) > 0
			for _, c := range cmds {
				ok = ok && answered(c)
			}
			if ok {
				p.RedisOK.Add(1)
			} else {
				p.RedisMiss.Add(1)
			}
		}
		return err
	}
}

func record(p *Probe, cmd redis.Cmder, err error) {
	if err == nil && answered(cmd) {
		p.RedisOK.Add(1)
		return
	}
	// A script's first EVALSHA fails with NOSCRIPT and is retried as EVAL:
	// the retry says whether it was a hit.
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return
	}
	p.RedisMiss.Add(1)
}

// answered reports whether cmd succeeded with a value (a GET of an existing
// key, a script returning its pair): nil replies and errors are misses.
func answered(cmd redis.Cmder) bool {
	if cmd.Err() != nil {
		return false
	}
	if c, ok := cmd.(*redis.Cmd); ok {
		return c.Val() != nil
	}
	return true
}

// Driver wraps an inner database/sql driver, counting the queries and
// statements it runs and recording them in the Probe of their context. It
// exposes the optional interfaces that cachedsql and database/sql use from
// drivers such as sqlite3 (QueryerContext, ExecerContext,
// ConnPrepareContext, ConnBeginTx, Pinger); for an inner connection lacking
// one it does what database/sql does without it.
type Driver struct {
	Inner   driver.Driver
	queries atomic.Int64
	execs   atomic.Int64
}

// Queries returns how many queries (reads and statements sent through Query)
// reached the inner driver.
func (d *Driver) Queries() int64 { return d.queries.Load() }

// Execs returns how many statements were sent through Exec.
func (d *Driver) Execs() int64 { return d.execs.Load() }

// Open implements driver.Driver.
func (d *Driver) Open(name string) (driver.Conn, error) {
	c, err := d.Inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{d: d, inner: c}, nil
}

func (d *Driver) countQuery(ctx context.Context) {
	d.queries.Add(1)
	if p := from(ctx); p != nil {
		p.DBQueries.Add(1)
	}
}

type conn struct {
	d     *Driver
	inner driver.Conn
}

var (
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

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
		s, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{d: c.d, inner: s}, nil
}

func (c *conn) Close() error { return c.inner.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.inner.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, opts)
	}
	if opts.ReadOnly || opts.Isolation != 0 {
		return nil, errors.New("probe: the inner driver supports neither read-only transactions nor isolation levels")
	}
	return c.inner.Begin() //nolint:staticcheck // the documented fallback
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := qc.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.d.countQuery(ctx)
	}
	return rows, err
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := ec.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
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

type stmt struct {
	d     *Driver
	inner driver.Stmt
}

var (
	_ driver.StmtQueryContext = (*stmt)(nil)
	_ driver.StmtExecContext  = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	s.d.execs.Add(1)
	return s.inner.Exec(args) //nolint:staticcheck // the documented fallback
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	s.d.queries.Add(1)
	return s.inner.Query(args) //nolint:staticcheck // the documented fallback
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.d.countQuery(ctx)
	if sq, ok := s.inner.(driver.StmtQueryContext); ok {
		return sq.QueryContext(ctx, args)
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(vals) //nolint:staticcheck // the documented fallback
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.d.execs.Add(1)
	if se, ok := s.inner.(driver.StmtExecContext); ok {
		return se.ExecContext(ctx, args)
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Exec(vals) //nolint:staticcheck // the documented fallback
}

func values(named []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, errors.New("probe: the inner driver does not support named parameters")
		}
		out[i] = nv.Value
	}
	return out, nil
}
