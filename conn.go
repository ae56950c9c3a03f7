package cachedsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/sqlscan"
)

// conn wraps an inner driver.Conn. It implements every optional connection
// interface, each with exactly the fallback database/sql applies when the inner
// connection lacks it, so that the program behaves as it would unwrapped.
type conn struct {
	c     *Connector
	inner driver.Conn
	lane  uint32 // its lane of striped counters

	qc   driver.QueryerContext
	q    driver.Queryer
	ec   driver.ExecerContext
	e    driver.Execer
	pc   driver.ConnPrepareContext
	bt   driver.ConnBeginTx
	ping driver.Pinger
	rs   driver.SessionResetter
	val  driver.Validator
	nvc  driver.NamedValueChecker
	ac   autoCommitter // can say whether it is in autocommit (mattn/go-sqlite3)

	tx      *txState // non-nil inside a transaction (driver Tx or SQL BEGIN)
	session bool     // session state changed: results here may differ from other connections
	// manualCommit is set while MySQL autocommit is off on this connection.
	manualCommit bool
	// chainCommit is set while MySQL's completion_type is CHAIN here: every
	// COMMIT and ROLLBACK begins a new transaction.
	chainCommit bool
	// autocommitUnknown is set after SET autocommit to a value cachedsql
	// could not read (and, with MySQL, the server could not be asked).
	autocommitUnknown bool
	// threadID is the server's own id of the connection: MySQL's
	// CONNECTION_ID() (read with autocommit) or PostgreSQL's
	// pg_backend_pid(); 0 when unknown: see watchThread.
	threadID    int64
	server      string // the MySQL server threadID is on (mysqlServer); "" when unknown
	probeWarned bool   // the failure of readTxVars after a SET was logged
	// txRowsOpen counts transaction statements sent through Query whose rows
	// are still open: the driver may not have run them yet (settleTx).
	txRowsOpen int
	// rowsOpen is set while afterStatement runs for a query whose rows the
	// caller has not read: the connection cannot be asked anything.
	rowsOpen bool

	kb       keying.Builder
	gens     []uint64
	memo     keyMemo // keys of reads on the connection
	stmtMemo keyMemo // keys of reads through prepared statements
	skipMemo keyMemo // keys of reads through statements prepared after a skip
	// skipped is the text (and skippedArgs its arguments) the inner
	// connection last answered driver.ErrSkip on the connection path, until
	// the next prepare or query: database/sql prepares it at once on this
	// connection and queries it with the same arguments, and that query is
	// keyed apart (Connector.skipNamespace).
	skipped     string
	skippedArgs []driver.NamedValue
	hasSkipped  bool
	// last remembers the plan of the connection's last query: a connection
	// repeating a query skips the plan cache's lookup.
	lastQuery string
	lastPlan  *plan

	// busy is non-nil while a shared query that outlived its caller still runs
	// on this connection; whoever uses the connection next waits for it to close.
	busy    atomic.Pointer[chan struct{}]
	closing atomic.Bool
	// unchecked: IsValid answered while busy without asking the inner
	// connection; ResetSession asks it.
	unchecked atomic.Bool
	// mu guards setting and clearing busy against deferred, the closes that
	// arrived while it was set; they run in order once the shared query ends.
	mu       sync.Mutex
	deferred []func() error
}

// database/sql converts a query's arguments for the connection path before it
// calls QueryContext, and for the statement path (with the statement's own
// converters) when the connection has no Queryer. So the wrapper offers
// QueryerContext and ExecerContext only when the inner connection has a
// form of them; the four combinations are these types.
type (
	connQ  struct{ *conn }
	connE  struct{ *conn }
	connQE struct{ *conn }
)

func (c connQ) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.query(ctx, query, args, nil)
}

func (c connE) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.execContext(ctx, query, args)
}

func (c connQE) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.query(ctx, query, args, nil)
}

func (c connQE) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.execContext(ctx, query, args)
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.QueryerContext     = connQ{}
	_ driver.ExecerContext      = connE{}
	_ driver.QueryerContext     = connQE{}
	_ driver.ExecerContext      = connQE{}
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// api is cn as database/sql should see it: with exactly the query and exec
// interfaces the inner connection has a form of.
func (cn *conn) api() driver.Conn {
	q, e := cn.qc != nil || cn.q != nil, cn.ec != nil || cn.e != nil
	switch {
	case q && e:
		return connQE{cn}
	case q:
		return connQ{cn}
	case e:
		return connE{cn}
	}
	return cn
}

func wrapConn(c *Connector, ic driver.Conn) *conn {
	cn := &conn{c: c, inner: ic, lane: laneSeq.Add(1)}
	cn.qc, _ = ic.(driver.QueryerContext)
	cn.q, _ = ic.(driver.Queryer)
	cn.ec, _ = ic.(driver.ExecerContext)
	cn.e, _ = ic.(driver.Execer)
	cn.pc, _ = ic.(driver.ConnPrepareContext)
	cn.bt, _ = ic.(driver.ConnBeginTx)
	cn.ping, _ = ic.(driver.Pinger)
	cn.rs, _ = ic.(driver.SessionResetter)
	cn.val, _ = ic.(driver.Validator)
	cn.nvc, _ = ic.(driver.NamedValueChecker)
	cn.ac, _ = ic.(autoCommitter)
	return cn
}

// wait blocks until no shared query runs on the connection, or ctx ends.
func (cn *conn) wait(ctx context.Context) error {
	if ch := cn.busy.Load(); ch != nil {
		select {
		case <-*ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// afterBusy runs f now, or when the shared query on the connection ends
// (database/sql may close a connection and its statements while a query it
// no longer knows about still runs there). Deferred functions run one after
// another, in the order they arrived, so the inner driver never sees two at once.
func (cn *conn) afterBusy(f func() error) error {
	cn.mu.Lock()
	if cn.busy.Load() != nil {
		cn.deferred = append(cn.deferred, f)
		cn.mu.Unlock()
		return nil
	}
	cn.mu.Unlock()
	return f()
}

// setBusy marks the connection as running a shared query.
func (cn *conn) setBusy(ch *chan struct{}) {
	cn.mu.Lock()
	cn.busy.Store(ch)
	cn.mu.Unlock()
}

// clearBusy runs what waited for the shared query to end, then ends the
// busy state. In that order: the next user of the connection, woken by the
// end, must not meet a deferred close still running on the inner
// connection. A close deferred while those run is run too.
//
// A deferred close that panics (a driver bug) does not stop the others,
// the inner connection's own Close among them, which would leak: the
// first panic goes on once every close has run and the busy state has
// ended.
func (cn *conn) clearBusy(ch *chan struct{}) {
	ended := false
	defer func() {
		if !ended {
			// A deferred close called runtime.Goexit: the busy state ends
			// anyway, or every later user of the connection would wait for
			// ever. What was left to run is dropped, as the exit drops it.
			cn.mu.Lock()
			cn.busy.Store(nil)
			cn.deferred = nil
			cn.mu.Unlock()
			close(*ch)
		}
	}()
	var first *deferredPanic
	for {
		cn.mu.Lock()
		fs := cn.deferred
		cn.deferred = nil
		if len(fs) == 0 {
			cn.busy.Store(nil)
			cn.mu.Unlock()
			ended = true
			close(*ch)
			if first != nil {
				panic(first.value)
			}
			return
		}
		cn.mu.Unlock()
		for _, f := range fs {
			if p := runDeferred(f); p != nil && first == nil {
				first = p
			}
		}
	}
}

// deferredPanic is what a deferred close panicked with.
type deferredPanic struct{ value any }

// runDeferred runs f, and returns what it panicked with, if it did.
func runDeferred(f func() error) (p *deferredPanic) {
	normal := false
	defer func() {
		if !normal {
			p = &deferredPanic{recover()}
		}
	}()
	f()
	normal = true
	return nil
}

func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	// database/sql's prepare of a query the connection just skipped.
	var fallback []driver.NamedValue
	if cn.hasSkipped && cn.skipped == query {
		fallback = slices.Clone(cn.skippedArgs)
	}
	cn.hasSkipped, cn.skipped = false, ""
	clear(cn.skippedArgs)
	if err := cn.wait(ctx); err != nil {
		return nil, err
	}
	var si driver.Stmt
	var err error
	if cn.pc != nil {
		si, err = cn.pc.PrepareContext(ctx, query)
	} else {
		si, err = cn.inner.Prepare(query)
		if err == nil {
			select {
			default:
			case <-ctx.Done():
				si.Close()
				return nil, ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return newStmt(cn, si, query, fallback), nil
}

// closeRollbackTimeout bounds the ROLLBACK that Close sends first on a
// MySQL connection inside a transaction.
const closeRollbackTimeout = 5 * time.Second

func (cn *conn) Close() error {
	cn.closing.Store(true)
	return cn.afterBusy(func() error {
		if s := cn.tx; s != nil && (!s.uncertain || len(s.tables) > 0) && cn.c.dialect == sqlscan.MySQL {
			// The server rolls the transaction back at its own pace once
			// the connection has gone, and a reader could cache its rows
			// meanwhile (READ UNCOMMITTED): roll back first, and wait.
			// (Only a transaction known to be open, or one that wrote known
			// tables: a state left uncertain by a CALL alone, as after
			// every CALL, would cost each Close a round trip.)
			if ex, ok := cn.inner.(driver.ExecerContext); ok {
				ctx, cancel := context.WithTimeout(context.Background(), closeRollbackTimeout)
				ex.ExecContext(ctx, "ROLLBACK", nil)
				cancel()
			}
		}
		err := cn.inner.Close()
		// A transaction still open ends with the connection. MySQL keeps
		// what it wrote to MyISAM, Aria and MEMORY tables, and under READ
		// UNCOMMITTED others may have read and cached its rows: its tables
		// are invalidated, as at any MySQL rollback. So are an uncertain
		// state's, which may have been no transaction at all.
		if s := cn.tx; s != nil && (s.uncertain || cn.c.dialect == sqlscan.MySQL || cn.c.dialect == sqlscan.Generic) {
			s.flush(cn)
		}
		return err
	})
}

// Begin is required by driver.Conn; database/sql calls BeginTx instead.
func (cn *conn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := cn.wait(ctx); err != nil {
		return nil, err
	}
	var itx driver.Tx
	var err error
	if cn.bt != nil {
		itx, err = cn.bt.BeginTx(ctx, opts)
	} else {
		// database/sql's fallback for drivers without ConnBeginTx, word for word.
		if opts.Isolation != driver.IsolationLevel(0) {
			return nil, errors.New("sql: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("sql: driver does not support read-only transactions")
		}
		itx, err = cn.inner.Begin()
		if err == nil && ctx.Done() != nil {
			select {
			default:
			case <-ctx.Done():
				itx.Rollback()
				return nil, ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	next := &txState{}
	if prev := cn.tx; prev != nil {
		// A transaction begun while another state was open (MySQL with
		// autocommit off, or BEGIN sent as SQL): MySQL's START TRANSACTION
		// commits what was pending. Invalidate it, and trust nothing after.
		prev.flush(cn)
		next.uncertain = true
	}
	cn.tx = next
	return &tx{cn: cn, inner: itx}, nil
}

func (cn *conn) Ping(ctx context.Context) error {
	if cn.ping == nil {
		return nil
	}
	if err := cn.wait(ctx); err != nil {
		return err
	}
	return cn.ping.Ping(ctx)
}

func (cn *conn) ResetSession(ctx context.Context) error {
	if err := cn.wait(ctx); err != nil {
		return err
	}
	if cn.unchecked.Load() {
		// IsValid answered for the inner connection while a shared query ran
		// on it: ask now, and have database/sql discard it if it broke.
		cn.unchecked.Store(false)
		if !cn.val.IsValid() {
			return driver.ErrBadConn
		}
	}
	if cn.rs == nil {
		return nil
	}
	return cn.rs.ResetSession(ctx)
}

func (cn *conn) IsValid() bool {
	if cn.closing.Load() {
		return false
	}
	if cn.val == nil {
		return true
	}
	if cn.busy.Load() != nil {
		// Not while a shared query runs on the inner connection, which its
		// driver does not expect to be used by two goroutines at once: the
		// connection's next checkout asks, once that query has ended
		// (ResetSession).
		cn.unchecked.Store(true)
		return true
	}
	return cn.val.IsValid()
}

// CheckNamedValue, and the statement's NumInput, CheckNamedValue and
// ColumnConverter, reach the inner driver without waiting for a shared
// query that still runs on the connection: they have no context, and
// database/sql holds the connection's lock meanwhile, so a wait there could
// neither end with the caller's deadline nor, if the shared query waits for
// this caller (a lock its transaction holds), end at all. The drivers known
// here answer them from the value alone, with no I/O.
func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if cn.nvc == nil {
		return driver.ErrSkip // database/sql then applies its default conversion
	}
	return cn.nvc.CheckNamedValue(nv)
}

func (cn *conn) execContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := cn.wait(ctx); err != nil {
		return nil, err
	}
	var res driver.Result
	var err error
	if cn.ec != nil {
		res, err = cn.ec.ExecContext(ctx, query, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err != nil {
			return nil, err
		}
		res, err = cn.e.Exec(query, dargs)
	}
	if err == driver.ErrSkip {
		return nil, err
	}
	cn.afterStatement(ctx, cn.c.planFor(query), err)
	return res, err
}

// innerQuery runs a query on the inner connection or statement, with
// database/sql's fallbacks. It returns driver.ErrSkip when database/sql must
// prepare the statement itself.
func (cn *conn) innerQuery(ctx context.Context, query string, args []driver.NamedValue, st *stmt) (driver.Rows, error) {
	if st != nil {
		return st.innerQuery(ctx, args)
	}
	if cn.qc != nil {
		return cn.qc.QueryContext(ctx, query, args)
	}
	if cn.q != nil {
		dargs, err := legacyArgs(ctx, args)
		if err != nil {
			return nil, err
		}
		return cn.q.Query(query, dargs)
	}
	return nil, driver.ErrSkip
}

// legacyArgs is what database/sql does before calling a driver's
// context-less method: refuse named arguments, and look at ctx one last time.
func legacyArgs(ctx context.Context, args []driver.NamedValue) ([]driver.Value, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	select {
	default:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return dargs, nil
}

// namedValueToValue is database/sql's conversion for legacy interfaces.
func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		dargs[n] = param.Value
	}
	return dargs, nil
}
