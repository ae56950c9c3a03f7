package cachedsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// tx wraps an inner transaction. Reads inside it go to the database; the
// tables it writes are invalidated when it commits, not before (other
// connections cannot see uncommitted rows) and not at all if it rolls back,
// but with MySQL, whose non-transactional tables keep their writes.
type tx struct {
	cn    *conn
	inner driver.Tx
}

var _ driver.Tx = (*tx)(nil)

func (t *tx) Commit() error {
	err := t.inner.Commit()
	st := t.cn.tx
	t.cn.endDriverTx()
	// A failed COMMIT may still have committed (the connection broke after the
	// server did): invalidating costs a cold entry, not invalidating a stale one.
	st.flush(t.cn)
	if err != nil && st != nil {
		t.cn.watchIfAbandoned(err, st.tables, st.all)
	}
	return err
}

func (t *tx) Rollback() error {
	err := t.inner.Rollback()
	st := t.cn.tx
	t.cn.endDriverTx()
	if st != nil && (st.uncertain || err != nil || t.cn.c.dialect == sqlscan.MySQL) {
		// MySQL: writes to MyISAM, Aria or MEMORY tables stay after a
		// rollback. A rollback that failed may have found no transaction
		// (SQLite left it on its own, and what followed committed).
		st.flush(t.cn)
	}
	return err
}

// endDriverTx leaves the state a driver transaction had: with MySQL
// autocommit off, or completion_type CHAIN, the next statement is in a
// transaction again.
func (cn *conn) endDriverTx() {
	switch {
	case cn.autocommitUnknown:
		cn.tx = &txState{sql: true, uncertain: true}
	case cn.manualCommit || cn.chainCommit:
		cn.tx = &txState{sql: true}
	default:
		cn.tx = nil
	}
}

// txState collects what a transaction wrote, with a mark per savepoint so that
// ROLLBACK TO forgets what it undid.
type txState struct {
	sql    bool     // begun with SQL (BEGIN) rather than driver BeginTx
	tables []string // written so far
	all    bool     // wrote something whose tables are unknown
	// reshapes: a statement may have linked two tables (hierarchy).
	reshapes bool
	marks    []txMark
	// bySavepoint: SQLite began this transaction with SAVEPOINT outside
	// BEGIN; releasing the outermost savepoint commits it.
	bySavepoint bool
	// uncertain: cachedsql cannot tell whether a transaction is open (a
	// COMMIT failed, a text mixed BEGIN with other statements, SAVEPOINT in an
	// unknown dialect). Reads still go to the database, and writes invalidate
	// at once and again when the state ends, which is right either way.
	uncertain bool
}

type txMark struct {
	name   string
	tables int
	all    bool
}

func (s *txState) add(tables []string, all bool) {
	for _, t := range tables {
		if !contains(s.tables, t) {
			s.tables = append(s.tables, t)
		}
	}
	s.all = s.all || all
}

func (s *txState) savepoint(name string) {
	s.marks = append(s.marks, txMark{name, len(s.tables), s.all})
}

// find returns the index of the newest savepoint called name, or -1. Names
// are compared whole (a dot in a quoted name is part of it) and folded:
// SQLite folds case even in quoted names, and may be read as Generic, which
// keeps the case of quoted names; in PostgreSQL, where "A" and a differ,
// folding can only match a newer savepoint than the database does, which
// forgets fewer writes on ROLLBACK TO.
func (s *txState) find(name string) int {
	for i := len(s.marks) - 1; i >= 0; i-- {
		if strings.EqualFold(s.marks[i].name, name) {
			return i
		}
	}
	return -1
}

func (s *txState) rollbackTo(name string) {
	i := s.find(name)
	if i < 0 {
		// An unknown savepoint: keep everything, which can only over-invalidate.
		return
	}
	m := s.marks[i]
	s.tables, s.all = s.tables[:m.tables], m.all
	s.marks = s.marks[:i+1] // the savepoint itself survives ROLLBACK TO
}

// release forgets the savepoint called name and those after it, and
// reports whether that was the outermost one, and whether an older one
// answers to the name too (ambiguous: the database, which folds names its
// own way, may have released that one instead).
func (s *txState) release(name string) (outermost, ambiguous bool) {
	if i := s.find(name); i >= 0 {
		for j := range i {
			if strings.EqualFold(s.marks[j].name, name) {
				ambiguous = true
			}
		}
		s.marks = s.marks[:i]
		return i == 0, ambiguous
	}
	return false, false
}

func (s *txState) flush(cn *conn) {
	if s == nil || (len(s.tables) == 0 && !s.all) {
		return
	}
	if s.reshapes {
		cn.c.kin.reshape()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cn.c.advance(ctx, s.tables, s.all)
}

// afterStatement accounts for a statement that was sent to the database
// (err is what it returned): writes move generations (now, or at commit
// inside a transaction), transaction statements sent as SQL open and close a
// transaction state, and session statements make the connection's reads
// uncacheable. A transaction statement that failed changes no state, except a
// failed COMMIT or ROLLBACK, after which cachedsql cannot know whether the
// transaction is still open and treats it as uncertain.
func (cn *conn) afterStatement(ctx context.Context, p *plan, err error) {
	st := &p.st
	failed := err != nil
	if p.setsSession {
		cn.session = true
	}
	if st.Opaque && !failed && (cn.c.dialect == sqlscan.MySQL || cn.c.dialect == sqlscan.Generic) {
		// A MySQL procedure may start a transaction and return with it open,
		// or turn autocommit off: from here cachedsql cannot tell whether
		// a transaction is open.
		if cn.tx == nil {
			cn.tx = &txState{sql: true, uncertain: true}
		} else {
			cn.tx.uncertain = true
		}
		if cn.c.dialect == sqlscan.MySQL && st.Procedural {
			// It may have turned autocommit off (EXECUTE of a prepared
			// SET autocommit = 0): ask the server, once nothing else is
			// on the wire (afterStatement runs again when the rows close).
			// (DO only evaluates expressions, which cannot.)
			cn.autocommitUnknown = true
			if !cn.rowsOpen {
				cn.askTxVars(ctx)
			}
		}
	}
	if st.ImplicitCommit && cn.tx != nil {
		// MySQL committed the open transaction before running this (even if
		// it then failed): what it wrote is in, and a ROLLBACK from here on
		// cannot undo it.
		cn.tx.flush(cn)
		cn.tx.uncertain = true
	}
	switch st.Kind {
	case sqlscan.Read, sqlscan.Other:
		if !p.mayWrite {
			return
		}
	case sqlscan.Begin:
		if !failed {
			cn.openSQLTx()
		}
		return
	case sqlscan.Commit, sqlscan.Rollback:
		s := cn.tx
		if s == nil {
			if st.WritesAll && !failed {
				// XA COMMIT of a transaction this connection did not see.
				cn.c.advance(context.WithoutCancel(ctx), nil, true)
			}
			if (st.Chain || (cn.chainCommit && !st.NoChain)) && !failed {
				cn.tx = &txState{sql: true, uncertain: true}
			}
			return
		}
		if failed {
			s.flush(cn) // it may have committed
			s.uncertain = true
			if st.Kind == sqlscan.Commit {
				cn.watchIfAbandoned(err, s.tables, s.all)
			}
			return
		}
		if st.WritesAll && st.Kind == sqlscan.Commit {
			s.all = true // XA COMMIT: maybe of another connection's transaction
		}
		cn.endSQLTx(s, st.Chain || (cn.chainCommit && !st.NoChain))
		if st.Kind == sqlscan.Commit || s.uncertain || cn.c.dialect == sqlscan.MySQL {
			s.flush(cn) // MySQL: a rollback leaves non-transactional tables written
		}
		return
	case sqlscan.Savepoint:
		if failed {
			return
		}
		if cn.tx == nil {
			if cn.c.dialect != sqlscan.SQLite && cn.c.dialect != sqlscan.Generic {
				return // outside a transaction PostgreSQL refuses it and MySQL ignores it
			}
			// SQLite opens a transaction that RELEASE of this savepoint commits.
			cn.tx = &txState{sql: true, bySavepoint: true, uncertain: cn.c.dialect != sqlscan.SQLite}
		}
		cn.tx.savepoint(st.Savepoint)
		return
	case sqlscan.RollbackTo:
		if cn.ac != nil && cn.rowsOpen {
			// Sent through Query, it may never run (rows closed unread): keep
			// what it would undo, which can only over-invalidate.
			return
		}
		if !failed && cn.tx != nil && cn.c.dialect != sqlscan.MySQL {
			cn.tx.rollbackTo(st.Savepoint)
		}
		return
	case sqlscan.Release:
		s := cn.tx
		if failed || s == nil {
			return
		}
		ac := cn.ac
		if ac != nil && cn.rowsOpen {
			// Sent through Query: mattn/go-sqlite3 runs it only as its rows
			// are read, if at all. Whether it committed is decided when they
			// close (settleTx); its savepoints are kept, which can only make
			// a ROLLBACK TO forget less.
			return
		}
		outermost, ambiguous := s.release(st.Savepoint)
		if !s.bySavepoint {
			return // inside BEGIN: no RELEASE commits
		}
		if ac != nil {
			// The driver can say whether the connection is back in
			// autocommit: no need to match names.
			outermost, ambiguous = ac.AutoCommit(), false
		}
		switch {
		case outermost:
			cn.endSQLTx(s, false)
			s.flush(cn)
		case ambiguous:
			// Maybe committed: invalidate now, and again when the state ends.
			s.uncertain = true
			s.flush(cn)
		}
		return
	case sqlscan.Session:
		cn.session = true
		if !failed {
			cn.setVars(st.SessionVars)
			if cn.autocommitUnknown && setsAutocommit(st.SessionVars) && cn.c.dialect == sqlscan.MySQL && !cn.rowsOpen {
				// Ask the server what it made of the value, within the
				// caller's time: failing leaves the state uncertain, which is
				// safe. Only after such a SET, and warned about once per
				// connection.
				cn.askTxVars(ctx)
			}
		}
		if len(st.Writes) == 0 && !st.WritesAll && !p.mayWrite {
			return // SET @x = f() may write through f
		}
		if cn.tx != nil && setsAutocommit(st.SessionVars) {
			// "UPDATE t; SET autocommit=0" or the other way round: whether
			// the writes are in the transaction cannot be told.
			cn.tx.uncertain = true
		}
	}
	// Write, Unknown, a session statement that also writes, or a read that
	// may write through a function cachedsql does not know.
	all := st.WritesAll || st.Kind == sqlscan.Unknown || p.mayWrite
	if st.TxControl && cn.tx == nil {
		// "BEGIN; UPDATE t" may leave a transaction open, or may not.
		cn.tx = &txState{sql: true, uncertain: true}
	} else if st.TxControl && !cn.tx.uncertain {
		// "COMMIT; BEGIN" may have committed what the state holds.
		cn.tx.flush(cn)
		cn.tx.uncertain = true
	}
	if s := cn.tx; s != nil && !cn.rowsOpen && cn.txRowsOpen == 0 && !cn.manualCommit {
		if cn.ac != nil && cn.ac.AutoCommit() {
			// SQLite left the transaction on its own (ON CONFLICT ROLLBACK,
			// RAISE(ROLLBACK)): this write committed at once. A state begun
			// with SQL ends; a driver transaction's goes on, uncertain, until
			// its Commit or Rollback (which will fail).
			if s.sql {
				cn.endSQLTx(s, false)
			} else {
				s.uncertain = true
			}
			s.flush(cn)
		}
	}
	if failed {
		cn.watchIfAbandoned(err, p.writes, all)
	}
	if s := cn.tx; s != nil {
		s.add(p.writes, all)
		s.reshapes = s.reshapes || p.reshapes
		if !s.uncertain {
			return
		}
	}
	if p.reshapes {
		cn.c.kin.reshape()
	}
	cn.c.advance(context.WithoutCancel(ctx), p.writes, all)
}

// openSQLTx opens a transaction state for BEGIN sent as SQL.
func (cn *conn) openSQLTx() {
	if cn.tx == nil {
		cn.tx = &txState{sql: true}
		return
	}
	// BEGIN inside a transaction: MySQL commits the open one first, PostgreSQL
	// only warns. Invalidate what it wrote, and stop trusting the state.
	cn.tx.flush(cn)
	cn.tx.uncertain = true
}

// setVars follows what a SET statement did to MySQL's autocommit and
// completion_type: with autocommit off every write is part of a
// transaction that a later COMMIT ends, and with completion_type CHAIN
// (or 1) every COMMIT and ROLLBACK begins a new one; invalidating before
// that commit would let a reader cache the old rows again. A value it
// cannot read (an expression, DEFAULT, whose value is the server's)
// leaves it unable to tell whether a transaction is open.
func (cn *conn) setVars(vars []sqlscan.SessionVar) {
	for _, v := range vars {
		if v.Name == "" {
			// A setting whose name the scanner cannot read may be either:
			// until the server is asked, as an autocommit of unknown value.
			v.Value = ""
			v.Name = "autocommit"
		}
		switch v.Name {
		case "autocommit":
			switch v.Value {
			case "1", "on", "true":
				cn.setAutocommit(true)
			case "0", "off", "false":
				cn.setAutocommit(false)
			default:
				// SET autocommit = ?, = @saved: the server knows; until it
				// is asked, every transaction end leaves the state uncertain.
				// Turning it on would have committed what the state holds.
				if cn.tx != nil {
					cn.tx.flush(cn)
				}
				cn.autocommitUnknown = true
				cn.unsure()
			}
		case "completion_type":
			switch v.Value {
			case "0", "no_chain", "2", "release":
				cn.chainCommit = false
			case "1", "chain":
				cn.chainCommit = true
			default:
				cn.chainCommit = true // chaining only makes cachedsql wait for more COMMITs
				cn.unsure()
			}
		}
	}
}

// askTxVars is readTxVars after a statement that may have changed
// autocommit: a failure leaves the state uncertain, which is safe, and is
// logged once per connection.
func (cn *conn) askTxVars(ctx context.Context) {
	// Bounded: it may run as rows close, under no context of a caller's,
	// and a silent network would hold that Close for ever.
	ctx, cancel := context.WithTimeout(ctx, askTxVarsTimeout)
	defer cancel()
	if err := cn.readTxVars(ctx); err != nil && !cn.probeWarned {
		cn.probeWarned = true
		cn.c.log.Warn("cachedsql: could not read the connection's autocommit after SET; treating its transactions as uncertain",
			"err", redactErr(err, cn.c.cfg.DSN))
	}
}

// askTxVarsTimeout bounds askTxVars.
const askTxVarsTimeout = 2 * time.Second

// watchIfAbandoned watches the server process of the connection when a
// write or COMMIT that failed with err left the connection unusable (its
// context ended, a read timeout, the network): the server may still run
// it, as go-sql-driver/mysql and pgx leave it to when they close the
// connection (watchThread). A statement the server refused leaves the
// connection usable: it has ended.
func (cn *conn) watchIfAbandoned(err error, tables []string, all bool) {
	if cn.threadID != 0 && (len(tables) > 0 || all) && cn.innerBroken(err) {
		cn.c.watchThread(cn.threadID, cn.server, tables, all)
	}
}

// innerBroken reports whether the failed statement's error, or the inner
// connection since, says the connection cannot be used any more, having
// maybe sent the statement. A driver
// without driver.Validator (pgx) is pinged, unless the server answered
// with an error of its own (it has then ended the statement): pgx fails
// a ping of a connection it closed at once, without a round trip.
func (cn *conn) innerBroken(err error) bool {
	if errors.Is(err, driver.ErrBadConn) {
		// database/sql's contract: a driver returns it only when the
		// server cannot have run the statement (pgx: pgconn.SafeToRetry,
		// its connection often intact). A connection that is broken too
		// gets a watch all the same, where a Validator says so.
		v, ok := cn.inner.(driver.Validator)
		return ok && !v.IsValid()
	}
	if v, ok := cn.inner.(driver.Validator); ok {
		return !v.IsValid()
	}
	var answered interface{ SQLState() string } // pgx's *pgconn.PgError, lib/pq's *pq.Error
	if errors.As(err, &answered) || cn.ping == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokenPingTimeout)
	defer cancel()
	return cn.ping.Ping(ctx) != nil
}

// brokenPingTimeout bounds innerBroken's ping.
const brokenPingTimeout = time.Second

// txVarsQuery is what readTxVars asks.
const txVarsQuery = "SELECT @@autocommit, @@completion_type, CONNECTION_ID()"

// mysqlServer names the MySQL server a connection is on, for the watch
// (watchThread) to tell whether its own connection reached the same one:
// behind a balancer (HAProxy in front of a Galera cluster) it may not. It
// is asked apart from txVarsQuery, so that a MySQL-speaking server or proxy
// that refuses it costs only that check. (PostgreSQL has one primary to
// write to; the names it could give, its address or its start time, move
// with the route to it or with a restart, which ends every process.)
const mysqlServer = "CONCAT(@@hostname, ':', @@port)"

// readTxVars asks a MySQL server for the connection's autocommit and
// completion_type, which a DSN parameter (go-sql-driver/mysql's
// autocommit=0), the server's configuration or init_connect may have set
// before cachedsql saw any SQL.
func (cn *conn) readTxVars(ctx context.Context) error {
	v, err := queryRow(ctx, cn.inner, txVarsQuery, 3)
	if err != nil {
		return err
	}
	cn.threadID, _ = strconv.ParseInt(valueText(v[2]), 10, 64)
	cn.setVars([]sqlscan.SessionVar{{Name: "autocommit", Value: valueText(v[0])}, {Name: "completion_type", Value: valueText(v[1])}})
	return nil
}

// readBackendPID reads the PostgreSQL backend that serves the connection.
// (Reading it from pg_stat_activity, to learn at once whether the watch can
// look there, made a new connection 1.7 to 5 times as slow to open:
// BenchmarkConnectPaired. A server that refuses the look ends the watch
// instead: pollWatched.)
func (cn *conn) readBackendPID(ctx context.Context) error {
	v, err := queryRow(ctx, cn.inner, "SELECT pg_backend_pid()", 1)
	if err != nil {
		return err
	}
	cn.threadID, _ = strconv.ParseInt(valueText(v[0]), 10, 64)
	return nil
}

func setsAutocommit(vars []sqlscan.SessionVar) bool {
	for _, v := range vars {
		if v.Name == "autocommit" || v.Name == "" {
			return true
		}
	}
	return false
}

// unsure marks the connection's transaction state uncertain: reads go to
// the database, and writes invalidate at once and again when a transaction
// ends.
func (cn *conn) unsure() {
	if cn.tx == nil {
		cn.tx = &txState{sql: true}
	}
	cn.tx.uncertain = true
}

func (cn *conn) setAutocommit(on bool) {
	cn.autocommitUnknown = false
	switch {
	case !on && !cn.manualCommit:
		cn.manualCommit = true
		if cn.tx == nil {
			cn.tx = &txState{sql: true}
		}
	case on && cn.manualCommit:
		// Turning autocommit back on commits the open transaction.
		cn.manualCommit = false
		if s := cn.tx; s != nil && s.sql {
			cn.tx = nil
			s.flush(cn)
		}
	}
}

// endSQLTx ends the transaction state s after COMMIT, ROLLBACK or a
// committing RELEASE sent as SQL; chain: a new transaction began at once.
// autoCommitter is a connection that can say whether it is in autocommit,
// that is outside any transaction (mattn/go-sqlite3).
type autoCommitter interface{ AutoCommit() bool }

// settlesTx reports a statement sent through Query whose effect on the
// transaction state only the driver can tell once its rows have closed:
// mattn/go-sqlite3 runs such a statement as its rows are read, and not at
// all if they are closed unread.
func (cn *conn) settlesTx(k sqlscan.Kind) bool {
	switch k {
	case sqlscan.Begin, sqlscan.Commit, sqlscan.Rollback, sqlscan.Savepoint, sqlscan.RollbackTo, sqlscan.Release:
		return cn.ac != nil
	}
	return false
}

// settleTx runs when the rows of such a statement close, and brings the
// transaction state in line with what the driver says. A state begun with
// SQL ends once the driver is back in autocommit (a COMMIT, ROLLBACK or
// RELEASE that ran as its rows were read; a SAVEPOINT or BEGIN that never
// ran), and what it wrote is invalidated then; while the driver is still in
// a transaction (the statement failed when SQLite ran it, or its rows closed
// unread) the state goes on, uncertain since writeQuery. A state that ended
// before (prev, no longer the connection's) is invalidated again: its
// COMMIT may have run after the first invalidation, which a reader could
// have undone by filling from the old rows.
func (cn *conn) settleTx(prev *txState) {
	ac := cn.ac
	if ac == nil {
		return
	}
	if s := cn.tx; s != nil && !cn.manualCommit && ac.AutoCommit() {
		if s.sql {
			cn.endSQLTx(s, false)
		} else {
			// A driver transaction SQLite left on its own: its Commit or
			// Rollback is still to come (and will fail); what was written
			// since committed at once.
			s.uncertain = true
		}
		s.flush(cn)
	}
	if prev != nil && prev != cn.tx {
		prev.flush(cn)
	}
}

func (cn *conn) endSQLTx(s *txState, chain bool) {
	switch {
	case chain:
		cn.tx = &txState{sql: s.sql, uncertain: s.uncertain}
	case cn.autocommitUnknown:
		cn.tx = &txState{sql: s.sql, uncertain: true}
	case !s.sql:
		// Inside a driver transaction: the database is back in autocommit
		// (or, with autocommit off, in a new transaction), but the driver's
		// Commit or Rollback is still to come. Uncertain is right either way.
		cn.tx = &txState{uncertain: true}
	case cn.manualCommit:
		cn.tx = &txState{sql: true} // autocommit off: the next statement opens a new one
	default:
		cn.tx = nil
	}
}
