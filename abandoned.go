package cachedsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"
)

// A MySQL statement whose context ends (or whose read times out, or whose
// network fails) is not stopped: go-sql-driver/mysql closes its connection
// and returns, and the server goes on with the statement until it
// finishes, which may be after cachedsql invalidated its tables (an UPDATE
// waiting for a lock commits when the lock is released), with rows read
// meanwhile cached under the new generations. So a failed write that left
// its connection unusable is watched: the server thread that ran it (its
// CONNECTION_ID(), read when the connection opened) is looked for in
// information_schema.PROCESSLIST, from a connection of its own, until it
// has ended, and then its tables are invalidated again.

const (
	// watchFirstPoll and watchMaxPoll bound the pause between two looks
	// at the process list; it doubles from the first to the last.
	watchFirstPoll = 5 * time.Millisecond
	watchMaxPoll   = 500 * time.Millisecond
	// watchLimit is how long a thread is watched at most: a statement
	// still running then has its tables invalidated anyway.
	watchLimit = time.Hour
)

// watchThread invalidates tables (all: every table) once the MySQL server
// thread id has ended, or at the latest after watchLimit or when the
// Connector closes (its namespace's cache may live on in other Connectors
// and processes), and at every pause while the process list cannot be
// read. It returns at once.
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
		warned := false
		err := waitThreadEnd(ctx, c.inner, id, func(err error) {
			if !warned {
				warned = true
				c.log.Warn("cachedsql: cannot watch the server thread of an abandoned write yet; invalidating its tables until it can",
					"thread", id, "err", redactErr(err, c.cfg.DSN))
			}
			c.advance(context.WithoutCancel(ctx), tables, all)
		})
		if err != nil && c.closing.Err() == nil {
			c.log.Warn("cachedsql: stopped watching the server thread of an abandoned write",
				"thread", id, "err", redactErr(err, c.cfg.DSN))
		}
		c.advance(context.WithoutCancel(ctx), tables, all)
	})
}

// waitThreadEnd returns once no thread id is in the server's process list.
// While the list cannot be read (no connection to be had: the abandoned
// thread itself counts against the server's limits), it calls blind at
// every pause, and tries again.
func waitThreadEnd(ctx context.Context, inner driver.Connector, id int64, blind func(error)) error {
	q := fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %d", id)
	var dc driver.Conn
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	pause := watchFirstPoll
	for {
		var err error
		if dc == nil {
			dc, err = inner.Connect(ctx)
			if err != nil {
				dc = nil
			}
		}
		if err == nil {
			var v []driver.Value
			if v, err = queryRow(ctx, dc, q, 1); err == nil && valueText(v[0]) == "0" {
				return nil
			}
			if err != nil {
				dc.Close()
				dc = nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			blind(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, watchMaxPoll)
	}
}
