package cachedsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// watchBehindFirst and watchBehindMax bound how long a look left
	// behind holds the next one back; it doubles with each look left
	// behind in a row.
	watchBehindFirst = 5 * time.Second
	watchBehindMax   = 5 * time.Minute
)

// lookBehind is the last look left behind: no other look starts until it
// returns or until retry, so that a look that never returns (on a flow
// that went silent) does not keep the watch blind for good, and one that
// never answers costs a connection per backoff, not per look.
type lookBehind struct {
	done  chan struct{} // closed when it returns
	retry time.Time
	wait  time.Duration
}

// procWatch is one abandoned write's watch.
type procWatch struct {
	id       int64  // the server's process
	server   string // the server it is on; "" when unknown
	tables   []string
	all      bool
	deadline time.Time   // watchLimit after it began
	last     processLook // the last look, while the process stays idle
}

// watchThread invalidates tables (all: every table) once the server
// process id has ended, each time it is seen idle after a statement, at the
// latest after watchLimit or when the Connector closes (its namespace's
// cache may live on in other Connectors and processes), and at every pause
// while the process list cannot be read. It returns at once: the
// Connector's one poller (started here when none runs) looks at every
// watched process with one query on one connection of its own, so that a
// burst of timeouts on an overloaded server costs it one connection, not
// one per write.
func (c *Connector) watchThread(id int64, server string, tables []string, all bool) {
	w := &procWatch{id: id, server: server, tables: append([]string(nil), tables...), all: all, deadline: time.Now().Add(watchLimit)}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	// No watch starts once Close has begun to wait for them (a WaitGroup
	// must not grow from zero while it is waited on).
	if c.closing.Err() != nil {
		return
	}
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	c.watched = append(c.watched, w)
	if !c.polling {
		// The poller leaves, under watchMu, when it finds nothing to
		// watch, and clears polling as it does: a list emptied by the
		// poller it still runs is not a poller gone.
		c.polling = true
		c.watches.Go(c.pollWatched)
		return
	}
	select {
	case c.wake <- struct{}{}: // look soon: the new process may end at once
	default:
	}
}

// pollWatched looks at the watched processes, from the first pause to the
// last (again from the first after a new watch), until none is left.
func (c *Connector) pollWatched() {
	var dc driver.Conn
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	var behind lookBehind
	refusals := 0 // looks refused in a row
	pause := watchFirstPoll
	warned := false
	for {
		c.watchMu.Lock()
		ws := slices.Clone(c.watched)
		if len(ws) == 0 {
			c.polling = false
			c.watchMu.Unlock()
			return
		}
		c.watchMu.Unlock()
		ids := make([]int64, len(ws))
		named := false // a watch knows its server: the look asks its own
		for i, w := range ws {
			ids[i] = w.id
			named = named || w.server != ""
		}
		looks, err := c.lookProcesses(&dc, &behind, ids, named)
		var refused *lookRefusedError
		switch {
		case err == nil:
			c.looked.Store(true)
			refusals = 0
		case errors.As(err, &refused):
			// A server that answered a look once has what it needs; one
			// refusal may be a fluke of one connection (a search_path, a
			// grant being changed): the next look dials again.
			if refusals++; c.looked.Load() || refusals < 2 {
				refused = nil
			}
		}
		if refused != nil {
			// Invalidating at every pause for an hour would turn the
			// cache off for these tables; one invalidation is what there
			// was before the watch.
			c.log.Warn("cachedsql: cannot watch the server threads of abandoned writes on this server; invalidating their tables once",
				"threads", ids, "err", redactErr(err, c.cfg.DSN))
		} else if err != nil && c.closing.Err() == nil && !warned {
			warned = true
			c.log.Warn("cachedsql: cannot watch the server thread of an abandoned write yet; invalidating its tables until it can",
				"threads", ids, "err", redactErr(err, c.cfg.DSN))
		}
		now := time.Now()
		server := looks[0].server
		elsewhere := false            // a watch is of a server the look did not reach
		var ended, stale []*procWatch // stale: to invalidate, ended or not
		for _, w := range ws {
			l, seen := looks[w.id]
			switch {
			case c.closing.Err() != nil, refused != nil:
				ended = append(ended, w)
			case now.After(w.deadline):
				c.log.Warn("cachedsql: stopped watching the server thread of an abandoned write after an hour",
					"thread", w.id)
				ended = append(ended, w)
			case err == nil && w.server != "" && server != "" && w.server != server:
				// A balancer gave the look another server, where the id
				// is absent or someone else's: blind, as if it had failed.
				elsewhere = true
				stale = append(stale, w)
				w.last = processLook{}
			case err != nil:
				stale = append(stale, w) // blind
				w.last = processLook{}   // it may run something unseen meanwhile
			case !seen:
				ended = append(ended, w) // gone
			case !l.idle:
				w.last = processLook{}
			default:
				if l.finishedSince(c.dialect, w.last) {
					stale = append(stale, w)
				}
				w.last = l
			}
		}
		if len(ended) > 0 {
			c.watchMu.Lock()
			c.watched = slices.DeleteFunc(c.watched, func(w *procWatch) bool { return slices.Contains(ended, w) })
			c.watchMu.Unlock()
		}
		c.invalidateWatched(append(stale, ended...))
		if elsewhere {
			if !warned {
				warned = true
				c.log.Warn("cachedsql: cannot watch the server thread of an abandoned write yet: the watch's connection reached another server; invalidating its tables until it can",
					"threads", ids, "server", server)
			}
			if dc != nil {
				// The next look dials again, and may reach the other server.
				dc.Close()
				dc = nil
			}
		}
		select {
		case <-c.closing.Done():
		case <-c.wake:
			pause = watchFirstPoll
		case <-time.After(pause):
			pause = min(2*pause, watchMaxPoll)
		}
	}
}

// invalidateWatched invalidates the tables of ws, with one advance: a
// look that finds many processes idle, or none because it failed, makes one
// event, not one per write.
func (c *Connector) invalidateWatched(ws []*procWatch) {
	if len(ws) == 0 {
		return
	}
	var tables []string
	all := false
	for _, w := range ws {
		all = all || w.all
		for _, t := range w.tables {
			if !slices.Contains(tables, t) {
				tables = append(tables, t)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.advance(ctx, tables, all)
}

// lookProcesses reads the rows of processes ids, on *dc, connected first if
// need be; a process with no row has ended. Bounded to watchLookTimeout:
// a connection into a network that went silent would hang, and the blind
// invalidations with it. The bound is more than a context's: a driver's
// dial and handshake wait as long as their context, but lib/pq's query
// sends a CancelRequest when its context ends and waits for the answer,
// which a silent network never gives. Such a look is left to end (and
// close its connection) on its own.
func (c *Connector) lookProcesses(dc *driver.Conn, behind *lookBehind, ids []int64, named bool) (map[int64]processLook, error) {
	ctx, cancel := context.WithTimeout(c.closing, watchLookTimeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if behind.done != nil {
		// One look left behind at a time, for a while: a server that
		// accepts connections and never answers would take one more
		// connection and goroutine with every look.
		select {
		case <-behind.done:
			*behind = lookBehind{}
		default:
			if time.Now().Before(behind.retry) {
				return nil, errors.New("looking at the server's processes: the last look has not returned")
			}
		}
	}
	done := make(chan struct{})
	type result struct {
		dc    driver.Conn
		looks map[int64]processLook
		err   error
	}
	var mu sync.Mutex
	left := false // guarded by mu: nobody waits for the look any more
	res := make(chan result, 1)
	go func(conn driver.Conn) {
		r := result{dc: conn}
		r.looks, r.err = c.look(ctx, &r.dc, ids, named)
		defer close(done)
		mu.Lock()
		defer mu.Unlock()
		if left {
			if r.dc != nil {
				r.dc.Close()
			}
			return
		}
		res <- r
	}(*dc)
	*dc = nil // the look's until it returns
	select {
	case r := <-res:
		*dc = r.dc
		return r.looks, r.err
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case r := <-res: // it returned as the time ran out
		*dc = r.dc
		return r.looks, r.err
	default:
		left = true
		wait := watchBehindFirst
		if behind.done != nil {
			wait = min(2*behind.wait, watchBehindMax)
		}
		*behind = lookBehind{done: done, retry: time.Now().Add(wait), wait: wait}
		return nil, fmt.Errorf("looking at the server's processes: %w", ctx.Err())
	}
}

// look is one look of lookProcesses, on *dc, which it connects first if
// it is nil, and leaves nil if it fails.
func (c *Connector) look(ctx context.Context, dc *driver.Conn, ids []int64, named bool) (map[int64]processLook, error) {
	start := time.Now()
	if *dc == nil {
		conn, err := c.inner.Connect(ctx)
		if err != nil {
			return nil, err
		}
		*dc = conn
	}
	looks := make(map[int64]processLook, len(ids)+1)
	err := queryEach(ctx, *dc, lookQuery(c.dialect, ids, named), 3, func(v []driver.Value) bool {
		id, _ := strconv.ParseInt(valueText(v[0]), 10, 64)
		if id == 0 {
			looks[0] = processLook{server: valueText(v[1])}
		} else {
			looks[id] = readLook(c.dialect, v[1:])
		}
		return true
	})
	if err != nil {
		(*dc).Close()
		*dc = nil
		var answered interface{ SQLState() string } // pgx's *pgconn.PgError, lib/pq's *pq.Error
		if errors.As(err, &answered) && slices.Contains(lookRefusals, answered.SQLState()) {
			return nil, &lookRefusedError{err}
		}
		return nil, err
	}
	end := time.Now()
	for id, l := range looks {
		l.start, l.end = start, end
		looks[id] = l
	}
	return looks, nil
}

// lookRefusals are the errors of a server that speaks PostgreSQL's
// protocol without its pg_stat_activity (no such relation, column or
// function), or of a role that may not read it. Other errors, even of the
// same class (42P05, a prepared statement a pooler's backend already has),
// may pass.
var lookRefusals = []string{"42P01", "42703", "42883", "42501"}

// lookRefusedError is a look the server refused, maybe for good: the watch
// ends when two looks in a row are refused, on fresh connections, by a
// server that never answered one (pollWatched).
type lookRefusedError struct{ err error }

func (e *lookRefusedError) Error() string {
	return "the server refuses to list its processes: " + e.err.Error()
}
func (e *lookRefusedError) Unwrap() error { return e.err }

// processLook is what one look at the process list found of a process
// that is there.
type processLook struct {
	idle bool
	// since marks when the process last went idle: MySQL's TIME (seconds
	// in its state, which starts again at 0 after a command), PostgreSQL's
	// state_change.
	since string
	secs  int64
	// start and end bound when the server took the look, on this clock.
	start, end time.Time
	// server is, in the look of id 0, the server looked at.
	server string
}

// lookQuery asks for the processes ids: each one's id, command or state,
// and the time it has been in that state; and, on MySQL when server, in a
// row of id 0 (which no thread has), the server it asks (mysqlServer).
func lookQuery(d sqlscan.Dialect, ids []int64, server bool) string {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	if d == sqlscan.Postgres {
		return "SELECT pid, state, state_change::text FROM pg_stat_activity WHERE pid IN (" + strings.Join(list, ", ") + ")"
	}
	q := "SELECT ID, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID IN (" + strings.Join(list, ", ") + ")"
	if server {
		q += " UNION ALL SELECT 0, " + mysqlServer + ", 0"
	}
	return q
}

// readLook reads a process's command or state and its time in it.
func readLook(d sqlscan.Dialect, v []driver.Value) processLook {
	state := valueText(v[0])
	if d == sqlscan.Postgres {
		// "idle", "idle in transaction", "idle in transaction (aborted)";
		// NULL (not allowed to see it, or track_activities off) is taken
		// for busy: the watch then waits for the process to end.
		return processLook{idle: strings.HasPrefix(state, "idle"), since: valueText(v[1])}
	}
	secs, _ := strconv.ParseInt(valueText(v[1]), 10, 64)
	return processLook{idle: state == "sleep", secs: secs}
}

// finishedSince reports whether the process, idle at l, may have finished
// a statement since the look last: it was not idle then, or it ran a
// command in between: PostgreSQL's state_change moved; MySQL's idle
// seconds went back, or are fewer than the looks are apart (TIME counts
// whole seconds, so a command that began and ended within a second of
// last's look may leave it as it was, or one more).
func (l processLook) finishedSince(d sqlscan.Dialect, last processLook) bool {
	switch {
	case !last.idle:
		return true
	case d == sqlscan.Postgres:
		return l.since != last.since
	default:
		// MySQL's TIME is a difference of whole-second clocks: it reads up to
		// 1 more than the seconds elapsed (MariaDB's is their floor).
		return l.secs < last.secs || time.Duration(l.secs-1)*time.Second < l.end.Sub(last.start)
	}
}
