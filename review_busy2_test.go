package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// A probe connection with QueryerContext and NamedValueChecker, so that
// database/sql converts a query's arguments on the connection (conn path)
// before it calls QueryContext.
type probeDriverN struct{ *probeDriver }

func (d probeDriverN) Open(string) (driver.Conn, error) {
	return &probeConnN{probeConn{d: d.probeDriver}}, nil
}

type probeConnN struct{ probeConn }

func (c *probeConnN) QueryContext(ctx context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.enter()
	defer c.exit()
	d := c.d
	if q == d.hold && d.held.CompareAndSwap(false, true) {
		d.entered <- struct{}{}
		<-d.gate
	}
	return &probeRows{c: &c.probeConn, cols: []string{"v"}, data: [][]driver.Value{{int64(1)}}}, nil
}

func (c *probeConnN) CheckNamedValue(nv *driver.NamedValue) error {
	c.enter()
	defer c.exit()
	c.lingerFor()
	return nil
}

var probeNSeq atomic.Int64

// A driver whose connection breaks when a running query is cancelled (as
// pgconn's does), which tells database/sql so through driver.Validator
// only (no SessionResetter), and answers queries on a broken connection
// with an error that is not driver.ErrBadConn.
type breakDriver struct {
	entered chan struct{}
	gate    chan struct{}
	broke   chan struct{}
	opened  atomic.Int64
}

func (d *breakDriver) Open(string) (driver.Conn, error) {
	d.opened.Add(1)
	return &breakConn{d: d}, nil
}

type breakConn struct {
	d      *breakDriver
	broken atomic.Bool
	held   bool
}

func (c *breakConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("break: no prepare") }
func (c *breakConn) Close() error                        { return nil }
func (c *breakConn) Begin() (driver.Tx, error)           { return nil, errors.New("break: no tx") }
func (c *breakConn) IsValid() bool                       { return !c.broken.Load() }
func (c *breakConn) QueryContext(ctx context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	if c.broken.Load() {
		return nil, errors.New("break: connection is broken")
	}
	if q == "SELECT v FROM slow" && !c.held {
		c.held = true
		// The connection fails mid-query (its socket died; a watcher
		// goroutine closed it): the driver knows it is broken while the
		// call is still unwinding.
		c.broken.Store(true)
		close(c.d.broke)
		c.d.entered <- struct{}{}
		<-c.d.gate
		return nil, errors.New("break: connection lost")
	}
	return &probeRows{c: &probeConn{d: newProbeDriver()}, cols: []string{"v"}, data: [][]driver.Value{{int64(1)}}}, nil
}

var breakSeq atomic.Int64

// TestBusyIsValidWhileBusyPoolsBrokenConn: conn.IsValid answers true
// while the shared query runs; nothing asked the inner Validator again
// (ResetSession returned nil when the inner connection has no
// SessionResetter), so a connection its driver knew was broken stayed in the
// pool and the next query failed, where database/sql unwrapped discards it
// (review E).
func TestBusyIsValidWhileBusyPoolsBrokenConn(t *testing.T) {
	d := &breakDriver{entered: make(chan struct{}, 1), gate: make(chan struct{}), broke: make(chan struct{})}
	name := fmt.Sprintf("break%d", breakSeq.Add(1))
	sql.Register(name, d)
	db := openCached(t, name, "")
	db.SetMaxOpenConns(1)

	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return db.QueryContext(ctx, "SELECT v FROM slow") })
	<-d.broke // the inner connection now says it is not valid
	close(d.gate)
	var v int64
	if err := db.QueryRow("SELECT v FROM other").Scan(&v); err != nil {
		t.Fatalf("next query: %v (inner connections opened: %d): a connection its driver reported invalid was kept in the pool", err, d.opened.Load())
	}
}

// A probe driver whose statements of the held query panic in Close (a
// driver bug), to see what becomes of the connection.
type panicDriver struct{ *probeDriver }

func (d panicDriver) Open(string) (driver.Conn, error) {
	return &panicConn{probeConn{d: d.probeDriver}}, nil
}

type panicConn struct{ probeConn }

func (c *panicConn) Prepare(query string) (driver.Stmt, error) {
	return &panicStmt{probeStmt{c: &c.probeConn, q: query}}, nil
}

type panicStmt struct{ probeStmt }

func (s *panicStmt) Close() error {
	if s.q == s.c.d.hold {
		panic("probe: Stmt.Close panicked")
	}
	return nil
}

var panicSeq atomic.Int64

// TestBusyPanickingDeferredCloseWedgesConn: clearBusy runs the deferred
// closes before it ends the busy state. When one panicked (flight recovers
// the panic on its worker and, the leader gone, drops it), the busy state
// never ended, so every later user of the connection waited for ever (or
// until its context ended), and database/sql's Close of it was deferred for
// ever (review E).
func TestBusyPanickingDeferredCloseWedgesConn(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold = q
	name := fmt.Sprintf("panic%d", panicSeq.Add(1))
	sql.Register(name, panicDriver{d})
	db := openCached(t, name, "")
	db.SetMaxOpenConns(1)

	s, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return s.QueryContext(ctx) })
	if err := s.Close(); err != nil { // deferred: the shared query still runs
		t.Fatal(err)
	}
	close(d.gate) // the shared query ends; the deferred Close panics
	nctx, ncancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ncancel()
	rows, err := db.QueryContext(nctx, "SELECT w FROM u")
	if err == nil {
		err = rows.Close()
	}
	if err != nil {
		t.Fatalf("next query on the connection: %v: it waits for a busy state that never ends", err)
	}
}

// countingPanicDriver is panicDriver, counting the closes of countedStmt.
type countingPanicDriver struct {
	*probeDriver
	closes *atomic.Int64
}

func (d countingPanicDriver) Open(string) (driver.Conn, error) {
	return &countingPanicConn{panicConn{probeConn{d: d.probeDriver}}, d.closes}, nil
}

type countingPanicConn struct {
	panicConn
	closes *atomic.Int64
}

func (c *countingPanicConn) Prepare(query string) (driver.Stmt, error) {
	return &countingPanicStmt{panicStmt{probeStmt{c: &c.probeConn, q: query}}, c.closes}, nil
}

type countingPanicStmt struct {
	panicStmt
	closes *atomic.Int64
}

func (s *countingPanicStmt) Close() error {
	err := s.panicStmt.Close()
	if s.q == countedStmt {
		s.closes.Add(1)
	}
	return err
}

// countedStmt is the text whose closes countingPanicStmt counts.
const countedStmt = "SELECT x FROM counted"

// TestBusyPanickingDeferredCloseDropsTheOthers: when one deferred close
// panicked, clearBusy dropped the closes queued behind it, the inner
// connection's own Close among them, which then leaked (review G's
// suspicion). Each runs now, and the first panic goes on after them.
func TestBusyPanickingDeferredCloseDropsTheOthers(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold = q
	var closes atomic.Int64
	name := fmt.Sprintf("panic%d", panicSeq.Add(1))
	sql.Register(name, countingPanicDriver{d, &closes})
	db := openCached(t, name, "")
	db.SetMaxOpenConns(1)

	s, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.Prepare(countedStmt)
	if err != nil {
		t.Fatal(err)
	}
	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return s.QueryContext(ctx) })
	if err := s.Close(); err != nil { // deferred: its Close will panic
		t.Fatal(err)
	}
	if err := other.Close(); err != nil { // deferred behind it
		t.Fatal(err)
	}
	if n := closes.Load(); n != 0 {
		t.Fatalf("%d statements closed while the shared query ran", n)
	}
	close(d.gate) // the shared query ends; the first deferred Close panics
	nctx, ncancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ncancel()
	rows, err := db.QueryContext(nctx, "SELECT w FROM u")
	if err == nil {
		err = rows.Close()
	}
	if err != nil {
		t.Fatalf("next query on the connection: %v", err)
	}
	// The next query could start only once the busy state had ended, after
	// every deferred close had run.
	if n := closes.Load(); n != 1 {
		t.Fatalf("%d inner statement closes after the shared query ended, want 1: the close queued behind the panicking one was dropped", n)
	}
}
