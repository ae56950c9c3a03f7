// Package fakedb is an in-memory database/sql driver for tests and
// benchmarks: the inner driver that cachedsql wraps.
//
// A Driver holds named tables (CreateTable) and canned answers (Canned), and
// understands a few statement forms, matched by a tiny tokenizer, not a real
// SQL parser:
//
//	SELECT * | col, ... FROM t [WHERE col = v] [;]
//	INSERT INTO t [(col, ...)] VALUES (v, ...) [, (v, ...)] [RETURNING * | col, ...]
//	UPDATE t SET col = v [, col = v] [WHERE col = v] [RETURNING * | col, ...]
//	DELETE FROM t [WHERE col = v] [RETURNING * | col, ...]
//
// where v is a placeholder (?, $N, :name or @name), a number, a 'string',
// NULL, TRUE or FALSE. Keywords are case-insensitive, comments (-- and /* */)
// are ignored. Rows come back in insertion order. Any other text is an error
// unless it was registered with Canned, which answers that exact text.
//
// Options.Ifaces picks which optional driver interfaces the conn, stmt and
// rows values implement; every one of the 2^20 combinations is supported
// (generated types, see gen_combos.go), and Matrix lists the usual test
// points. Each interface, when present, behaves observably (see Path,
// Celsius, Bad, SetPingError, SetValid, SetResetSessionError, TxOptions) so a
// test can tell which path database/sql took.
//
// Transactions write to private copies of the tables they change: the
// transaction reads its own writes, others see them at Commit (which installs
// those tables whole: the last commit wins), and Rollback drops them. Reads
// of tables a transaction has not written see the committed state.
//
// Tests observe and steer the driver with counters (Queries, Execs,
// QueryCount, PathCount), Block (hold a statement until released), FailNext,
// Options.Delay and Options.OnQuery. Everything is safe for concurrent use.
// The package never prints.
//
// NewNoop is a separate, minimal driver that answers every query with the
// same precomputed rows: the cost floor of database/sql for benchmarks.
package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Driver. The zero value is a driver with no optional
// interfaces, no delay and no hook.
type Options struct {
	// Ifaces is the set of optional interfaces the conn, stmt and rows values
	// implement. Zero means none: the bare driver.Conn, driver.Stmt and
	// driver.Rows. Bits outside AllIfaces are ignored.
	Ifaces Iface

	// DriverContext makes AsDriver return a value that also implements
	// driver.DriverContext (OpenConnector). False: a plain driver.Driver.
	DriverContext bool

	// ReuseBuffers makes every rows value return []byte values in one buffer
	// per column that each Next overwrites, as real drivers do; a caller that
	// keeps a []byte past Next sees it change. False: a fresh copy per value.
	ReuseBuffers bool

	// Delay is how long each query and exec waits, in wall time, before it
	// runs; it ends early with ctx.Err() when the context ends. Zero or
	// negative: no delay.
	Delay time.Duration

	// OnQuery, if set, is called for every query and exec that reaches the
	// driver (after Block and Delay, before FailNext and execution) with the
	// converted arguments; a non-nil error is returned to database/sql as the
	// statement's error. It may be called from many goroutines at once.
	OnQuery func(ctx context.Context, query string, args []driver.NamedValue) error
}

// Driver is the fake database: its tables, canned answers, counters and
// hooks. Its Open method makes it a driver.Driver; use AsDriver for the value
// that honours Options.DriverContext. It is not registered with database/sql
// unless Register is called.
type Driver struct {
	opts Options

	mu      sync.Mutex
	tables  map[string]*table // by lower-case name
	canned  map[string][]ResultSet
	plans   map[string]*plan // parse cache, by exact text
	texts   map[string]*textStats
	fails   map[string][]error
	gates   []*Gate
	txLog   []driver.TxOptions
	dsns    []string
	pingErr error
	rstErr  error
	invalid bool

	queries   atomic.Int64
	execs     atomic.Int64
	opens     atomic.Int64
	openConns atomic.Int64
	openStmts atomic.Int64
	openRows  atomic.Int64
	paths     [pathEnd]atomic.Int64
}

type textStats struct {
	queries, execs int64
	lastArgs       []driver.NamedValue
}

// New returns an empty Driver configured by opts.
func New(opts Options) *Driver {
	opts.Ifaces &= AllIfaces
	return &Driver{
		opts:   opts,
		tables: map[string]*table{},
		canned: map[string][]ResultSet{},
		plans:  map[string]*plan{},
		texts:  map[string]*textStats{},
		fails:  map[string][]error{},
	}
}

// Register registers d.AsDriver() with database/sql under name. Like
// sql.Register it panics if name is already taken, so use a unique name per
// test (for example t.Name()).
func Register(name string, d *Driver) { sql.Register(name, d.AsDriver()) }

// Options returns the options d was built with.
func (d *Driver) Options() Options { return d.opts }

// Open opens a connection. The dsn is only recorded (DSNs): every
// connection of d sees the same tables.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	d.mu.Lock()
	d.dsns = append(d.dsns, dsn)
	d.mu.Unlock()
	d.opens.Add(1)
	d.openConns.Add(1)
	return connCombos[d.opts.Ifaces>>connShift&(1<<connWidth-1)](&conn{d: d, dsn: dsn}), nil
}

// AsDriver returns d as a driver.Driver that also implements
// driver.DriverContext when Options.DriverContext is set.
func (d *Driver) AsDriver() driver.Driver {
	if d.opts.DriverContext {
		return driverContext{d}
	}
	return plainDriver{d}
}

// Connector returns a connector for sql.OpenDB whose connections use dsn.
func (d *Driver) Connector(dsn string) driver.Connector { return &connector{d: d, dsn: dsn} }

type plainDriver struct{ d *Driver }

func (p plainDriver) Open(dsn string) (driver.Conn, error) { return p.d.Open(dsn) }

type driverContext struct{ d *Driver }

func (p driverContext) Open(dsn string) (driver.Conn, error) { return p.d.Open(dsn) }
func (p driverContext) OpenConnector(dsn string) (driver.Connector, error) {
	return p.d.Connector(dsn), nil
}

type connector struct {
	d   *Driver
	dsn string
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.d.Open(c.dsn)
}
func (c *connector) Driver() driver.Driver { return c.d.AsDriver() }

// Queries returns how many queries (conn or stmt Query, with or without
// context) reached the driver since the last Reset, failed ones included.
func (d *Driver) Queries() int64 { return d.queries.Load() }

// Execs returns how many execs reached the driver since the last Reset.
func (d *Driver) Execs() int64 { return d.execs.Load() }

// QueryCount returns how many queries with exactly this text reached the
// driver since the last Reset.
func (d *Driver) QueryCount(query string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.texts[query]; s != nil {
		return s.queries
	}
	return 0
}

// ExecCount returns how many execs with exactly this text reached the driver
// since the last Reset.
func (d *Driver) ExecCount(query string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.texts[query]; s != nil {
		return s.execs
	}
	return 0
}

// LastArgs returns a copy of the arguments of the last query or exec with
// exactly this text, as the driver received them (after conversion), or nil.
func (d *Driver) LastArgs(query string) []driver.NamedValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.texts[query]; s != nil {
		return append([]driver.NamedValue(nil), s.lastArgs...)
	}
	return nil
}

// PathCount returns how many times database/sql called the method p names
// since the last Reset.
func (d *Driver) PathCount(p Path) int64 {
	if p < 0 || p >= pathEnd {
		return 0
	}
	return d.paths[p].Load()
}

// TxOptions returns the options of every BeginTx call since the last Reset,
// in order.
func (d *Driver) TxOptions() []driver.TxOptions {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]driver.TxOptions(nil), d.txLog...)
}

// DSNs returns the dsn of every connection opened since the last Reset.
func (d *Driver) DSNs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dsns...)
}

// Opens returns how many connections were opened since the last Reset.
func (d *Driver) Opens() int64 { return d.opens.Load() }

// OpenConns, OpenStmts and OpenRows return how many conns, stmts and rows are
// open now (not reset by Reset): a wrapper that leaks them shows here.
func (d *Driver) OpenConns() int64 { return d.openConns.Load() }

// OpenStmts: see OpenConns.
func (d *Driver) OpenStmts() int64 { return d.openStmts.Load() }

// OpenRows: see OpenConns.
func (d *Driver) OpenRows() int64 { return d.openRows.Load() }

// Reset zeroes the counters (Queries, Execs, QueryCount, ExecCount,
// PathCount, Opens), forgets LastArgs, TxOptions and DSNs, and drops pending
// FailNext errors. Tables, canned answers, gates and the Set* faults stay.
func (d *Driver) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.texts = map[string]*textStats{}
	d.fails = map[string][]error{}
	d.txLog = nil
	d.dsns = nil
	d.queries.Store(0)
	d.execs.Store(0)
	d.opens.Store(0)
	for i := range d.paths {
		d.paths[i].Store(0)
	}
}

// FailNext makes the next query or exec with exactly this text fail with err
// (after Block, Delay and OnQuery). Calls queue: each error is used once.
// An empty query matches every statement.
func (d *Driver) FailNext(query string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails[query] = append(d.fails[query], err)
}

// SetPingError sets what Ping returns (nil: success).
func (d *Driver) SetPingError(err error) {
	d.mu.Lock()
	d.pingErr = err
	d.mu.Unlock()
}

// SetResetSessionError sets what ResetSession returns (nil: success;
// driver.ErrBadConn makes database/sql discard the connection).
func (d *Driver) SetResetSessionError(err error) {
	d.mu.Lock()
	d.rstErr = err
	d.mu.Unlock()
}

// SetValid sets what IsValid reports (true by default); false makes
// database/sql discard a connection instead of returning it to the pool.
func (d *Driver) SetValid(valid bool) {
	d.mu.Lock()
	d.invalid = !valid
	d.mu.Unlock()
}

// ErrUnsupported is wrapped by errors for statements outside the forms fakedb
// understands.
var ErrUnsupported = errors.New("fakedb: unsupported statement")

type stmtKind int

const (
	kindQuery stmtKind = iota
	kindExec
)

// arrive runs the instrumentation every statement goes through: counting,
// gates, delay, the OnQuery hook and injected failures, in that order.
func (d *Driver) arrive(ctx context.Context, kind stmtKind, query string, args []driver.NamedValue) error {
	saved := append([]driver.NamedValue(nil), args...)
	d.mu.Lock()
	s := d.texts[query]
	if s == nil {
		s = &textStats{}
		d.texts[query] = s
	}
	if kind == kindQuery {
		s.queries++
		d.queries.Add(1)
	} else {
		s.execs++
		d.execs.Add(1)
	}
	s.lastArgs = saved
	var gates []*Gate
	for _, g := range d.gates {
		if g.query == "" || g.query == query {
			gates = append(gates, g)
		}
	}
	d.mu.Unlock()

	for _, g := range gates {
		if err := g.hold(ctx); err != nil {
			return err
		}
	}
	if d.opts.Delay > 0 {
		t := time.NewTimer(d.opts.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if d.opts.OnQuery != nil {
		if err := d.opts.OnQuery(ctx, query, args); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, key := range [2]string{query, ""} {
		if q := d.fails[key]; len(q) > 0 {
			err := q[0]
			if len(q) == 1 {
				delete(d.fails, key)
			} else {
				d.fails[key] = q[1:]
			}
			return err
		}
	}
	return nil
}

// Block installs a gate: from now on every query and exec with exactly this
// text (every statement, if query is empty) is counted, then waits at the
// gate until Gate.Release, or returns ctx.Err() as soon as its context ends.
// Legacy paths (Queryer, Execer, Stmt.Query, Stmt.Exec) have no context and
// wait for Release.
func (d *Driver) Block(query string) *Gate {
	g := &Gate{d: d, query: query, released: make(chan struct{}), arrived: make(chan struct{})}
	d.mu.Lock()
	d.gates = append(d.gates, g)
	d.mu.Unlock()
	return g
}

func (d *Driver) removeGate(g *Gate) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.gates {
		if x == g {
			d.gates = append(d.gates[:i:i], d.gates[i+1:]...)
			return
		}
	}
}

// Gate holds statements until released; see Driver.Block.
type Gate struct {
	d            *Driver
	query        string
	released     chan struct{}
	releaseOnce  sync.Once
	arrived      chan struct{}
	arrivedOnce  sync.Once
	waiting      atomic.Int64
	arrivals     atomic.Int64
	cancelations atomic.Int64
}

// Release lets every held and future statement through and removes the
// gate. It is safe to call more than once.
func (g *Gate) Release() {
	g.releaseOnce.Do(func() {
		g.d.removeGate(g)
		close(g.released)
	})
}

// Arrived is closed when the first statement reaches the gate.
func (g *Gate) Arrived() <-chan struct{} { return g.arrived }

// Waiting returns how many statements are held at the gate now.
func (g *Gate) Waiting() int64 { return g.waiting.Load() }

// Arrivals returns how many statements have reached the gate in total.
func (g *Gate) Arrivals() int64 { return g.arrivals.Load() }

// Canceled returns how many held statements left because their context
// ended.
func (g *Gate) Canceled() int64 { return g.cancelations.Load() }

func (g *Gate) hold(ctx context.Context) error {
	g.arrivals.Add(1)
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	g.arrivedOnce.Do(func() { close(g.arrived) })
	select {
	case <-g.released:
		return nil
	case <-ctx.Done():
		g.cancelations.Add(1)
		return ctx.Err()
	}
}

// Path names a driver method database/sql can call; PathCount counts calls.
type Path int

// The paths fakedb counts.
const (
	PathQueryContext        Path = iota // conn QueryerContext.QueryContext
	PathQuery                           // conn Queryer.Query (legacy)
	PathExecContext                     // conn ExecerContext.ExecContext
	PathExec                            // conn Execer.Exec (legacy)
	PathPrepareContext                  // ConnPrepareContext.PrepareContext
	PathPrepare                         // Conn.Prepare
	PathBeginTx                         // ConnBeginTx.BeginTx
	PathBegin                           // Conn.Begin (legacy)
	PathPing                            // Pinger.Ping
	PathResetSession                    // SessionResetter.ResetSession
	PathIsValid                         // Validator.IsValid
	PathConnCheckNamedValue             // conn NamedValueChecker.CheckNamedValue
	PathStmtQueryContext                // StmtQueryContext.QueryContext
	PathStmtQuery                       // Stmt.Query (legacy)
	PathStmtExecContext                 // StmtExecContext.ExecContext
	PathStmtExec                        // Stmt.Exec (legacy)
	PathStmtCheckNamedValue             // stmt NamedValueChecker.CheckNamedValue
	PathColumnConverter                 // the ColumnConverter's ConvertValue
	PathCommit                          // Tx.Commit
	PathRollback                        // Tx.Rollback
	PathNextResultSet                   // RowsNextResultSet.NextResultSet
	pathEnd
)

var pathNames = [pathEnd]string{
	"QueryContext", "Query", "ExecContext", "Exec", "PrepareContext", "Prepare",
	"BeginTx", "Begin", "Ping", "ResetSession", "IsValid", "ConnCheckNamedValue",
	"StmtQueryContext", "StmtQuery", "StmtExecContext", "StmtExec",
	"StmtCheckNamedValue", "ColumnConverter", "Commit", "Rollback", "NextResultSet",
}

func (p Path) String() string {
	if p < 0 || p >= pathEnd {
		return fmt.Sprintf("Path(%d)", int(p))
	}
	return pathNames[p]
}

func (d *Driver) count(p Path) { d.paths[p].Add(1) }

func lower(s string) string { return strings.ToLower(s) }
