package cachedsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestBusyArgumentCheckKeepsTheDeadline: on a *sql.Conn whose previous
// caller left a shared query running (another caller, with a context that
// never ends, still waits for it), the next query's argument check
// (conn.CheckNamedValue -> settle) blocks with no context. Its own ctx
// cannot end the wait (before 8faeb72 the query's wait(ctx) returned
// ctx.Err()). When the shared query waits for something this goroutine
// would do next (a lock its own transaction holds, modelled by the gate),
// nothing ever ends: a deadlock.
func TestBusyArgumentCheckKeepsTheDeadline(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold = q
	name := fmt.Sprintf("probeN%d", probeNSeq.Add(1))
	sql.Register(name, probeDriverN{d})
	db := openCached(t, name, "")
	bg := context.Background()
	sc, err := db.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sh := mustConnector(t, db).sh

	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		rows, err := sc.QueryContext(ctx, q)
		if err == nil {
			rows.Close()
		}
		done <- err
	}()
	<-d.entered // the shared query runs on sc's inner connection
	joiner := make(chan error, 1)
	go func() { // another caller of the same query, which never gives up
		rows, err := db.QueryContext(bg, q)
		if err == nil {
			rows.Close()
		}
		joiner <- err
	}()
	waitFor(t, "the joiner waiting on the shared query", func() bool { return sh.flights.Waiters() == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v, want context.Canceled", err)
	}

	// The program's next query on sc, with a deadline. Once it returns, the
	// program would go on (commit its transaction: here, open the gate).
	qctx, qcancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer qcancel()
	var once sync.Once
	open := func() { once.Do(func() { close(d.gate) }) }
	next := make(chan error, 1)
	go func() {
		rows, err := sc.QueryContext(qctx, "SELECT w FROM u WHERE id = ?", int64(1))
		if err == nil {
			rows.Close()
		}
		next <- err
		open() // what the shared query waits for
	}()
	select {
	case err := <-next:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("next query: %v; want its deadline, while the shared query runs", err)
		}
	case <-time.After(5 * time.Second):
		open()
		<-next
		t.Fatalf("QueryContext with a 200ms deadline still blocked after 5s: the argument check waits for the shared query without a context, and the shared query waits for this goroutine: deadlock")
	}
	<-joiner
}
