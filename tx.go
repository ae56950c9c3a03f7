package cachedsql

import (
	"context"
	"database/sql/driver"
	"regexp"
	"time"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// tx wraps an inner transaction. Reads inside it go to the database; the
// tables it writes are invalidated when it commits, not before (other
// connections cannot see uncommitted rows) and not at all if it rolls back.
type tx struct {
	cn    *conn
	inner driver.Tx
}

var _ driver.Tx = (*tx)(nil)

func (t *tx) Commit() error {
	err := t.inner.Commit()
	st := t.cn.tx
	t.cn.tx = nil
	// A failed COMMIT may still have committed (the connection broke after the
	// server did): invalidating costs a cold entry, not invalidating a stale one.
	st.flush(t.cn)
	return err
}

func (t *tx) Rollback() error {
	err := t.inner.Rollback()
	t.cn.tx = nil
	return err
}

// txState collects what a transaction wrote, with a mark per savepoint so that
// ROLLBACK TO forgets what it undid.
type txState struct {
	sql    bool     // begun with SQL (BEGIN) rather than driver BeginTx
	tables []string // written so far
	all    bool     // wrote something whose tables are unknown
	marks  []txMark
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

// find returns the index of the newest savepoint called name, or -1.
func (s *txState) find(name string) int {
	for i := len(s.marks) - 1; i >= 0; i-- {
		if equalFoldIdent(s.marks[i].name, name) {
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

func (s *txState) release(name string) {
	if i := s.find(name); i >= 0 {
		s.marks = s.marks[:i]
	}
}

func (s *txState) flush(cn *conn) {
	if s == nil || (len(s.tables) == 0 && !s.all) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cn.c.advance(ctx, s.tables, s.all)
}

func equalFoldIdent(a, b string) bool {
	return normTable(a) == normTable(b)
}

// afterStatement accounts for a statement that was sent to the database:
// writes move generations (now, or at commit inside a transaction),
// transaction statements sent as SQL open and close a transaction state, and
// session statements make the connection's reads uncacheable.
func (cn *conn) afterStatement(ctx context.Context, p *plan) {
	st := &p.st
	if p.setsSession {
		cn.session = true
	}
	switch st.Kind {
	case sqlscan.Read, sqlscan.Other:
		return
	case sqlscan.Begin:
		if cn.tx == nil {
			cn.tx = &txState{sql: true}
		}
		return
	case sqlscan.Commit:
		if s := cn.tx; s != nil {
			cn.endSQLTx(s)
			s.flush(cn)
		}
		return
	case sqlscan.Rollback:
		if s := cn.tx; s != nil {
			cn.endSQLTx(s)
		}
		return
	case sqlscan.Savepoint:
		if cn.tx != nil {
			cn.tx.savepoint(st.Savepoint)
		}
		return
	case sqlscan.RollbackTo:
		if cn.tx != nil {
			cn.tx.rollbackTo(st.Savepoint)
		}
		return
	case sqlscan.Release:
		if cn.tx != nil {
			cn.tx.release(st.Savepoint)
		}
		return
	case sqlscan.Session:
		cn.session = true
		if m := autocommitRe.FindStringSubmatch(p.text); m != nil {
			cn.setAutocommit(m[1] == "1" || equalFold(m[1], "on") || equalFold(m[1], "true"))
		}
		if len(st.Writes) == 0 && !st.WritesAll {
			return
		}
	}
	// Write, Unknown, or a session statement that also writes.
	all := st.WritesAll || st.Kind == sqlscan.Unknown
	if cn.tx != nil {
		cn.tx.add(p.writes, all)
		return
	}
	cn.c.advance(context.WithoutCancel(ctx), p.writes, all)
}

// autocommitRe finds MySQL's SET autocommit = 0/1: with autocommit off, every
// write is part of a transaction that later COMMITs, and invalidating before
// that commit would let a reader cache the old rows again.
var autocommitRe = regexp.MustCompile(`(?i)\bautocommit\s*(?::=|=)\s*'?(0|1|on|off|true|false)\b`)

func (cn *conn) setAutocommit(on bool) {
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

// endSQLTx ends the transaction state s after COMMIT or ROLLBACK sent as SQL.
func (cn *conn) endSQLTx(s *txState) {
	switch {
	case !s.sql:
		cn.tx = &txState{} // inside a driver transaction: what follows is new work
	case cn.manualCommit:
		cn.tx = &txState{sql: true} // autocommit off: the next statement opens a new one
	default:
		cn.tx = nil
	}
}

func equalFold(a, b string) bool { return len(a) == len(b) && normTable(a) == normTable(b) }
