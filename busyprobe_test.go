package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// probeDriver is a tiny inner driver that records when one of its
// connections is used by two goroutines at once (database/sql promises a
// driver that a driver.Conn, and its statements and rows, never are).
type probeDriver struct {
	overlaps atomic.Int64
	overlap  chan struct{} // closed at the first overlap
	once     sync.Once

	// hold: queries of this text wait for gate (ignoring their context),
	// after signalling entered.
	hold    string
	entered chan struct{}
	gate    chan struct{}
	held    atomic.Bool

	// linger: Prepare of this text and Close of statements of hold wait
	// for an overlap or 500 ms, so that two uses that overlap are seen to.
	linger string

	// validator: connections implement driver.Validator.
	validator bool
}

func newProbeDriver() *probeDriver {
	return &probeDriver{overlap: make(chan struct{}), entered: make(chan struct{}, 8), gate: make(chan struct{})}
}

var probeSeq atomic.Int64

func (d *probeDriver) register() string {
	name := fmt.Sprintf("probe%d", probeSeq.Add(1))
	sql.Register(name, d)
	return name
}

func (d *probeDriver) Open(string) (driver.Conn, error) {
	if d.validator {
		return &probeConnV{probeConn{d: d}}, nil
	}
	return &probeConn{d: d}, nil
}

type probeConnV struct{ probeConn }

func (c *probeConnV) IsValid() bool { c.enter(); defer c.exit(); return true }

type probeConn struct {
	d      *probeDriver
	active atomic.Int32
}

func (c *probeConn) enter() {
	if c.active.Add(1) > 1 {
		c.d.overlaps.Add(1)
		c.d.once.Do(func() { close(c.d.overlap) })
	}
}
func (c *probeConn) exit() { c.active.Add(-1) }

func (c *probeConn) lingerFor() {
	select {
	case <-c.d.overlap:
	case <-time.After(500 * time.Millisecond):
	}
}

func (c *probeConn) Prepare(query string) (driver.Stmt, error) {
	c.enter()
	defer c.exit()
	if query == c.d.linger {
		c.lingerFor()
	}
	return &probeStmt{c: c, q: query}, nil
}
func (c *probeConn) Close() error              { c.enter(); defer c.exit(); return nil }
func (c *probeConn) Begin() (driver.Tx, error) { return nil, errors.New("probe: no tx") }

type probeStmt struct {
	c *probeConn
	q string
}

func (s *probeStmt) Close() error {
	s.c.enter()
	defer s.c.exit()
	if s.q == s.c.d.hold {
		s.c.lingerFor()
	}
	return nil
}
func (s *probeStmt) NumInput() int { return -1 }
func (s *probeStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("probe: no exec")
}
func (s *probeStmt) Query([]driver.Value) (driver.Rows, error) {
	s.c.enter()
	defer s.c.exit()
	d := s.c.d
	if s.q == d.hold && d.held.CompareAndSwap(false, true) {
		d.entered <- struct{}{}
		<-d.gate
	}
	return &probeRows{c: s.c, cols: []string{"v"}, data: [][]driver.Value{{int64(1)}}}, nil
}

type probeRows struct {
	c    *probeConn
	cols []string
	data [][]driver.Value
	i    int
}

func (r *probeRows) Columns() []string { return r.cols }
func (r *probeRows) Close() error {
	r.c.enter()
	defer r.c.exit()
	return nil
}
func (r *probeRows) Next(dest []driver.Value) error {
	r.c.enter()
	defer r.c.exit()
	if r.i >= len(r.data) {
		return io.EOF
	}
	copy(dest, r.data[r.i])
	r.i++
	return nil
}

// leaveHeldQuery runs query under a context it cancels once the inner
// driver says the query has begun (entered), and checks that the caller
// left with context.Canceled: the shared query goes on without it.
func leaveHeldQuery(t *testing.T, entered <-chan struct{}, query func(context.Context) (*sql.Rows, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		rows, err := query(ctx)
		if err == nil {
			rows.Close()
		}
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v, want context.Canceled", err)
	}
}
