package cachedsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// A statement whose context ends (or whose read times out, or whose
// network fails) is not stopped: go-sql-driver/mysql, and pgx with its
// default context watcher, close the connection and return, and the server
// goes on with the statement until it finishes, which may be after
// cachedsql invalidated its tables (an UPDATE waiting for a lock commits
// when the lock is released), with rows read meanwhile cached under the new
// generations. So a failed write that left its connection unusable is
// watched: the server's own process for the connection (MySQL's
// CONNECTION_ID(), PostgreSQL's pg_backend_pid(), read when the connection
// opened) is looked up in information_schema.PROCESSLIST or pg_stat_activity,
// from a connection of its own, until it has ended, and then its tables are
// invalidated again. They are invalidated too each time it is seen to have
// finished a statement and sit idle: the server keeps a connection whose
// client went away unnoticed (a half-open connection behind a NAT, a proxy
// or a partition) until its timeouts, hours later.

const (
	// watchFirstPoll and watchMaxPoll bound the pause between two looks
	// at the process list; it doubles from the first to the last.
	watchFirstPoll = 5 * time.Millisecond
	watchMaxPoll   = 500 * time.Millisecond
	// watchLimit is how long a thread is watched at most: a statement
	// still running then has its tables invalidated anyway.
	watchLimit = time.Hour
	// watchLookTimeout bounds one look, the connection it may need
	// included.
	watchLookTimeout = 2 * time.Second
)

// watchThread invalidates tables (all: every table) once the server
// process id has ended, each time it is seen idle after a statement, at the
// latest after watchLimit or when the Connector closes (its namespace's
// cache may live on in other Connectors and processes), and at every pause
// while the process list cannot be read. It returns at once.
func (c *Connector) watchThread(id int64, tables []string, all bool) {
	tables = append([]string(nil), tables...)
	// No watch starts once Close has begun to wait for them (a WaitGroup
	// must not grow from zero while it is waited on).
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.closing.Err() != nil {
		return
	}
	c.watches.Go(func() {
		ctx, cancel := context.WithTimeout(c.closing, watchLimit)
		defer cancel()
		invalidate := func() { c.advance(context.WithoutCancel(ctx), tables, all) }
		warned := false
		err := waitThreadEnd(ctx, c.inner, c.dialect, id, invalidate, func(err error) {
			if !warned {
				warned = true
				c.log.Warn("cachedsql: cannot watch the server thread of an abandoned write yet; invalidating its tables until it can",
					"thread", id, "err", redactErr(err, c.cfg.DSN))
			}
			invalidate()
		})
		if err != nil && c.closing.Err() == nil {
			c.log.Warn("cachedsql: stopped watching the server thread of an abandoned write",
				"thread", id, "err", redactErr(err, c.cfg.DSN))
		}
		invalidate()
	})
}

// waitThreadEnd returns once no process id is in the server's process list.
// It calls idle when it first sees the process idle (the statement it ran
// has finished, committed or not), and again when it has run something
// since it was last seen idle. While the list cannot be read (no connection
// to be had: the abandoned process itself counts against the server's
// limits), it calls blind at every pause, and tries again.
func waitThreadEnd(ctx context.Context, inner driver.Connector, d sqlscan.Dialect, id int64, idle func(), blind func(error)) error {
	q := lookQuery(d, id)
	var dc driver.Conn
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	// look reads the process's row, on dc, connected first if need be.
	// Bounded: a connection into a network that went silent would hang (a
	// driver's dial and handshake wait as long as their context), and the
	// blind invalidations with it.
	look := func() (processLook, error) {
		ctx, cancel := context.WithTimeout(ctx, watchLookTimeout)
		defer cancel()
		if dc == nil {
			c, err := inner.Connect(ctx)
			if err != nil {
				return processLook{}, err
			}
			dc = c
		}
		v, err := queryRow(ctx, dc, q, 3)
		if err != nil {
			dc.Close()
			dc = nil
			return processLook{}, err
		}
		return readLook(d, v), nil
	}
	pause := watchFirstPoll
	var last processLook // the last look, while the process stays idle
	for {
		l, err := look()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			blind(err)
		case l.gone:
			return nil
		case !l.idle:
			last = processLook{}
		default:
			if l.finishedSince(d, last) {
				idle()
			}
			last = l
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, watchMaxPoll)
	}
}

// processLook is what one look at the process list found of a process.
type processLook struct {
	gone, idle bool
	// since marks when the process last went idle: MySQL's TIME (seconds
	// in its state, which starts again at 0 after a command), PostgreSQL's
	// state_change.
	since string
	secs  int64
}

// lookQuery asks for process id's count (0 or 1), its command or state, and
// the time it has been in that state; aggregates, so that a row comes back
// either way.
func lookQuery(d sqlscan.Dialect, id int64) string {
	if d == sqlscan.Postgres {
		return fmt.Sprintf("SELECT COUNT(*), COALESCE(MAX(state), ''), COALESCE(MAX(state_change)::text, '') FROM pg_stat_activity WHERE pid = %d", id)
	}
	return fmt.Sprintf("SELECT COUNT(*), COALESCE(MAX(COMMAND), ''), COALESCE(MAX(TIME), 0) FROM information_schema.PROCESSLIST WHERE ID = %d", id)
}

func readLook(d sqlscan.Dialect, v []driver.Value) processLook {
	if valueText(v[0]) == "0" {
		return processLook{gone: true}
	}
	state := valueText(v[1])
	if d == sqlscan.Postgres {
		// "idle", "idle in transaction", "idle in transaction (aborted)";
		// "" (not allowed to see it, or track_activities off) is taken for
		// busy: the watch then waits for the process to end.
		return processLook{idle: strings.HasPrefix(state, "idle"), since: valueText(v[2])}
	}
	secs, _ := strconv.ParseInt(valueText(v[2]), 10, 64)
	return processLook{idle: state == "sleep", secs: secs}
}

// finishedSince reports whether the process, idle at l, finished a
// statement since the look last: it was not idle then, or it ran a command
// in between (PostgreSQL's state_change moved, or MySQL's idle seconds went
// back; a command that began and ended within the second of last's look
// leaves MySQL's count as it was).
func (l processLook) finishedSince(d sqlscan.Dialect, last processLook) bool {
	switch {
	case !last.idle:
		return true
	case d == sqlscan.Postgres:
		return l.since != last.since
	default:
		return l.secs < last.secs
	}
}
