package cachedsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// readLook and finishedSince decide when a watched server process has
// finished a statement: each idle look that follows a busy one, or that
// shows a command may have run since the last idle look, invalidates.
func TestProcessLook(t *testing.T) {
	pg, my := sqlscan.Postgres, sqlscan.MySQL
	look := func(d sqlscan.Dialect, v ...driver.Value) processLook { return readLook(d, v) }
	t0 := time.Now()
	// at is l as taken from start to end after t0.
	at := func(l processLook, start, end time.Duration) processLook {
		l.start, l.end = t0.Add(start), t0.Add(end)
		return l
	}
	sleeping := func(secs string) processLook { return look(my, []byte("Sleep"), []byte(secs)) }
	ms := time.Millisecond
	cases := []struct {
		name      string
		d         sqlscan.Dialect
		last, now processLook
		idle      bool
		ran       bool
	}{
		{"pg active", pg, processLook{}, look(pg, "active", "2026-11-22 07:00:00+00"), false, false},
		{"pg hidden state is busy", pg, processLook{}, look(pg, nil, nil), false, false},
		{"pg idle in transaction", pg, processLook{}, look(pg, "idle in transaction", "x"), true, true},
		{"pg still idle", pg, look(pg, "idle", "t1"), look(pg, "idle", "t1"), true, false},
		{"pg idle again after a command", pg, look(pg, "idle", "t1"), look(pg, "idle", "t2"), true, true},
		{"mysql query", my, processLook{}, look(my, []byte("Query"), []byte("3")), false, false},
		{"mysql sleep", my, processLook{}, sleeping("0"), true, true},
		{"mysql still asleep", my, at(sleeping("4"), 0, 10*ms), at(sleeping("5"), 600*ms, 610*ms), true, false},
		{"mysql asleep again after a command", my, at(sleeping("4"), 0, 10*ms), at(look(my, "Sleep", int64(1)), 600*ms, 610*ms), true, true},
		// TIME counts whole seconds: a COMMIT that arrived and ended within
		// the second after a look leaves it at 0 (review X).
		{"mysql asleep at 0 again 600 ms on", my, at(sleeping("0"), 0, 10*ms), at(sleeping("0"), 600*ms, 610*ms), true, true},
		// MySQL's TIME 1 may be 1 ms past a second boundary (review Y).
		{"mysql asleep 1 s, 600 ms after 0", my, at(sleeping("0"), 0, 10*ms), at(sleeping("1"), 600*ms, 610*ms), true, true},
		{"mysql asleep 2 s, 600 ms after 1", my, at(sleeping("1"), 0, 10*ms), at(sleeping("2"), 600*ms, 610*ms), true, false},
		{"mysql asleep 2 s, looks 2.5 s apart", my, at(sleeping("1"), 0, 10*ms), at(sleeping("2"), 2500*ms, 2510*ms), true, true},
		// MySQL's TIME is a difference of whole-second clocks (sql_show.cc:
		// my_micro_time()/1000000 - query_start_in_secs()): a COMMIT that
		// ran 100 ms before a look reads 1 when a second boundary fell in
		// between, so two looks 500 ms apart at TIME 1 may have a command
		// between them (review Y).
		{"mysql asleep 1 s again 500 ms on", my, at(sleeping("1"), 0, 10*ms), at(sleeping("1"), 500*ms, 510*ms), true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.now.idle != c.idle {
				t.Fatalf("look %+v: idle %v, want %v", c.now, c.now.idle, c.idle)
			}
			if ran := c.now.idle && c.now.finishedSince(c.d, c.last); ran != c.ran {
				t.Errorf("after %+v, %+v: invalidates %v, want %v", c.last, c.now, ran, c.ran)
			}
		})
	}
}

// silentConnector's connections answer no query: like lib/pq's on a
// network gone silent, a query ignores its context (lib/pq sends a
// CancelRequest and waits for an answer that never comes) and returns only
// when the connection is closed.
type silentConnector struct{}

type silentConn struct {
	once   sync.Once
	closed chan struct{}
}

func (silentConnector) Connect(context.Context) (driver.Conn, error) {
	return &silentConn{closed: make(chan struct{})}, nil
}
func (silentConnector) Driver() driver.Driver { return nil }

func (c *silentConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no") }
func (c *silentConn) Close() error                        { c.once.Do(func() { close(c.closed) }); return nil }
func (c *silentConn) Begin() (driver.Tx, error)           { return nil, errors.New("no") }
func (c *silentConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	<-c.closed
	return nil, driver.ErrBadConn
}

// A look was bounded by its context only, and a driver whose query does
// not return when its context ends held the watch: no blind invalidation,
// no end at its limit, and Connector.Close, which waits for the watches,
// hung (review X).
func TestWatchLookBoundedWhenTheDriverIgnoresItsContext(t *testing.T) {
	c, err := NewConnector(Config{DriverName: "mysql", Connector: silentConnector{}, Namespace: "watch-silent"})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 16)
	stop := c.Subscribe(func(e Event) {
		select {
		case events <- e:
		default:
		}
	})
	defer stop()
	c.watchThread(42, "", []string{"u"}, false)
	select {
	case e := <-events:
		if !slices.Contains(e.Tables, "u") {
			t.Errorf("invalidated %v, want u", e.Tables)
		}
	case <-time.After(3 * watchLookTimeout):
		t.Errorf("no blind invalidation in %v of looks that cannot answer", 3*watchLookTimeout)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(3 * watchLookTimeout):
		t.Errorf("Connector.Close still waiting for the watch after %v", 3*watchLookTimeout)
	}
}

// procServer is a fake MySQL server's process list (id -> COMMAND; absent:
// ended) that counts the connections open at once and signals each look.
type procServer struct {
	name    string // what mysqlServer reads on it
	mu      sync.Mutex
	procs   map[int64]string
	open    atomic.Int64
	maxOpen atomic.Int64
	looked  chan struct{}
	refuse  atomic.Bool // every look fails as on a server without the process list
}

func newProcServer() *procServer {
	return &procServer{name: "db1:3306", procs: map[int64]string{}, looked: make(chan struct{}, 1024)}
}

func (s *procServer) set(id int64, cmd string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cmd == "" {
		delete(s.procs, id)
	} else {
		s.procs[id] = cmd
	}
}

func (s *procServer) Connect(context.Context) (driver.Conn, error) {
	n := s.open.Add(1)
	for m := s.maxOpen.Load(); n > m && !s.maxOpen.CompareAndSwap(m, n); m = s.maxOpen.Load() {
	}
	return &procConn{s: s}, nil
}
func (s *procServer) Driver() driver.Driver { return nil }

type procConn struct {
	s      *procServer
	closed atomic.Bool
}

func (c *procConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no") }
func (c *procConn) Begin() (driver.Tx, error)           { return nil, errors.New("no") }
func (c *procConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.s.open.Add(-1)
	}
	return nil
}

func (c *procConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	defer func() {
		select {
		case c.s.looked <- struct{}{}:
		default:
		}
	}()
	if c.s.refuse.Load() {
		return nil, sqlStateError("42P01")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	in := q[strings.Index(q, "IN (")+4:]
	in = in[:strings.Index(in, ")")]
	r := &sliceRows{cols: []string{"ID", "COMMAND", "TIME"}}
	for _, x := range strings.Split(in, ", ") {
		id, _ := strconv.ParseInt(x, 10, 64)
		if cmd, ok := c.s.procs[id]; ok {
			r.data = append(r.data, []driver.Value{id, []byte(cmd), int64(100)})
		}
	}
	if strings.Contains(q, "UNION ALL") {
		r.data = append(r.data, []driver.Value{int64(0), []byte(c.s.name), int64(0)}) // the server
	}
	return r, nil
}

// watchEvents subscribes to c's invalidations.
func watchEvents(t *testing.T, c *Connector) <-chan Event {
	events := make(chan Event, 1024)
	t.Cleanup(c.Subscribe(func(e Event) {
		select {
		case events <- e:
		default:
		}
	}))
	return events
}

// receive waits for n values on ch, for up to 15 s.
func receive[T any](t *testing.T, ch <-chan T, n int, what string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for i := range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("15 s for %d of %d %s", i, n, what)
		}
	}
}

// A poller that had just removed its last watch paused before it found
// the list empty and left; a watch added meanwhile started a second poller,
// and both looked at (and wrote w.last of) the same watches, each on a
// connection of its own (review Y).
func TestWatchOnePollerAfterTheLastWatchEnded(t *testing.T) {
	s := newProcServer()
	c, err := NewConnector(Config{DriverName: "mysql", Connector: s, Namespace: "watch-one-poller"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	s.set(1, "Query")
	c.watchThread(1, "", []string{"a"}, false)
	receive(t, s.looked, 9, "looks") // the pause has grown to watchMaxPoll
	s.set(1, "")                     // ended: the poller removes the watch, invalidates, pauses
	receive(t, events, 1, "invalidations")
	s.set(2, "Query")
	c.watchThread(2, "", []string{"b"}, false)
	receive(t, s.looked, 4, "looks after the second watch")
	if m := s.maxOpen.Load(); m > 1 {
		t.Errorf("%d look connections open at once, want 1 (two pollers)", m)
	}
}

// countingSilent is silentConnector counting its connections still open.
type countingSilent struct{ open atomic.Int64 }

type countedSilentConn struct {
	*silentConn
	n    *atomic.Int64
	once sync.Once
}

func (c *countedSilentConn) Close() error {
	c.once.Do(func() { c.n.Add(-1) })
	return c.silentConn.Close()
}

func (s *countingSilent) Connect(ctx context.Context) (driver.Conn, error) {
	dc, _ := silentConnector{}.Connect(ctx)
	s.open.Add(1)
	return &countedSilentConn{silentConn: dc.(*silentConn), n: &s.open}, nil
}
func (s *countingSilent) Driver() driver.Driver { return nil }

// A look left behind after watchLookTimeout keeps its connection and
// goroutine until its driver gives up, and the next look opened another:
// on a server or network that accepts connections but never answers (lib/pq
// ignores the context in its startup, and waits for its CancelRequest's
// answer), one more of each per look, for the watch's hour (review Y).
func TestWatchLeavesAtMostOneLookBehind(t *testing.T) {
	s := &countingSilent{}
	c, err := NewConnector(Config{DriverName: "mysql", Connector: s, Namespace: "watch-one-behind"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	c.watchThread(42, "", []string{"u"}, false)
	receive(t, events, 4, "blind invalidations")
	if open := s.open.Load(); open > 1 {
		t.Errorf("%d look connections open after 4 failed looks, want at most 1", open)
	}
}

// Each watch made an event of its own: a look that found many processes
// ended, or none because it failed, made a burst of Redis writes. One look
// now makes one event, with the tables of every watch it invalidates
// (review Y).
func TestWatchOneEventPerLook(t *testing.T) {
	s := newProcServer()
	c, err := NewConnector(Config{DriverName: "mysql", Connector: s, Namespace: "watch-one-event"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	for i, table := range []string{"a", "b", "c"} {
		s.set(int64(i+1), "Query")
		c.watchThread(int64(i+1), "", []string{table}, false)
	}
	receive(t, s.looked, 2, "looks")
	s.mu.Lock()
	clear(s.procs) // all three end at once
	s.mu.Unlock()
	e := <-events
	slices.Sort(e.Tables)
	if !slices.Equal(e.Tables, []string{"a", "b", "c"}) {
		t.Errorf("the look that found all three ended invalidated %v, want [a b c] in one event", e.Tables)
	}
}

// stuckOnceServer's first connection never answers (lib/pq on a flow a NAT
// dropped with keepalives off, or a proxy that accepted and froze: its
// query waits for an answer, whatever the context); every later one is a
// working procServer connection.
type stuckOnceServer struct {
	*procServer
	mu      sync.Mutex
	dials   int
	release chan struct{}
}

type stuckConn struct{ release chan struct{} }

func (c *stuckConn) Prepare(string) (driver.Stmt, error) { return nil, context.Canceled }
func (c *stuckConn) Begin() (driver.Tx, error)           { return nil, context.Canceled }
func (c *stuckConn) Close() error                        { return nil }
func (c *stuckConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	<-c.release
	return nil, driver.ErrBadConn
}

func (s *stuckOnceServer) Connect(ctx context.Context) (driver.Conn, error) {
	s.mu.Lock()
	s.dials++
	first := s.dials == 1
	s.mu.Unlock()
	if first {
		return &stuckConn{release: s.release}, nil
	}
	return s.procServer.Connect(ctx)
}

// A look that never returns made the poller refuse every later look for
// as long as it runs (it runs while any watch does, so for good under a
// steady trickle of abandoned writes): the watch stays blind, invalidating
// its tables every half second, although a new connection would show at
// once that the process has ended. Before review Y the next look dialled
// again and the watch ended (review Z).
func TestWatchLooksAgainAfterALookStuckForGood(t *testing.T) {
	s := &stuckOnceServer{procServer: newProcServer(), release: make(chan struct{})}
	t.Cleanup(func() { close(s.release) })
	c, err := NewConnector(Config{DriverName: "mysql", Connector: s, Namespace: "watch-z-stuck"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	c.watchThread(42, "", []string{"u"}, false) // 42 is not in s.procs: ended
	// The first look is stuck for good; a later one, on a new connection,
	// finds the process gone and ends the watch.
	receive(t, s.looked, 1, "looks on a new connection")
	for {
		c.watchMu.Lock()
		n := len(c.watched)
		c.watchMu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("5 s after a look found the process gone, the watch goes on")
		}
	}
}

// balanced hands out connections to its servers in turn, as a balancer in
// front of a Galera cluster does.
type balanced struct {
	servers []*procServer
	next    atomic.Int64
}

func (b *balanced) Connect(ctx context.Context) (driver.Conn, error) {
	return b.servers[int(b.next.Add(1)-1)%len(b.servers)].Connect(ctx)
}
func (b *balanced) Driver() driver.Driver { return nil }

// Behind a balancer the watch's connection may reach another server than
// the abandoned write's, where its thread id is absent (and the watch
// ended at once, though the write still ran on its own server) or someone
// else's. Each look now names its server, and a watch of another server's
// thread is blind for that look, and the next look dials again.
func TestWatchBehindABalancer(t *testing.T) {
	db1, db2 := newProcServer(), newProcServer()
	db2.name = "db2:3306"
	b := &balanced{servers: []*procServer{db2, db1}} // the first look reaches db2
	c, err := NewConnector(Config{DriverName: "mysql", Connector: b, Namespace: "watch-balanced"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	db1.set(7, "Query") // the write still runs on db1
	c.watchThread(7, "db1:3306", []string{"u"}, false)
	receive(t, db1.looked, 3, "looks on db1")
	c.watchMu.Lock()
	n := len(c.watched)
	c.watchMu.Unlock()
	if n != 1 {
		t.Fatalf("a look on db2, where thread 7 is absent, ended the watch of db1's thread 7")
	}
	if db2.maxOpen.Load() == 0 {
		t.Fatal("no look reached db2: the test shows nothing")
	}
	db1.set(7, "") // it ends on db1
	for {
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("5 s after the thread ended on db1, the watch goes on")
		}
		c.watchMu.Lock()
		n := len(c.watched)
		c.watchMu.Unlock()
		if n == 0 {
			return
		}
	}
}

// refusingConnector's connections refuse every query as a server without
// pg_stat_activity does (42P01, undefined_table).
type refusingConnector struct{}

type refusingConn struct{}

type sqlStateError string

func (e sqlStateError) Error() string {
	return "ERROR: relation \"pg_stat_activity\" does not exist (SQLSTATE " + string(e) + ")"
}
func (e sqlStateError) SQLState() string { return string(e) }

func (refusingConnector) Connect(context.Context) (driver.Conn, error) { return refusingConn{}, nil }
func (refusingConnector) Driver() driver.Driver                        { return nil }
func (refusingConn) Prepare(string) (driver.Stmt, error)               { return nil, errors.New("no") }
func (refusingConn) Close() error                                      { return nil }
func (refusingConn) Begin() (driver.Tx, error)                         { return nil, errors.New("no") }
func (refusingConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return nil, sqlStateError("42P01")
}

// The backend pid is read with pg_backend_pid() alone (BenchmarkConnectPaired:
// from pg_stat_activity a connection took 1.7-5 times as long to open), so a
// server that speaks PostgreSQL's protocol without pg_stat_activity gets a
// watch that cannot look: it would invalidate at every pause for an hour.
// Two looks in a row the server refuses end the watch.
func TestWatchEndsWhenTheServerRefusesToLook(t *testing.T) {
	c, err := NewConnector(Config{DriverName: "pgx", Connector: refusingConnector{}, Namespace: "watch-refused"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := watchEvents(t, c)
	c.watchThread(42, "", []string{"u"}, false)
	for n := 1; ; n++ {
		receive(t, events, 1, "invalidations")
		c.watchMu.Lock()
		left := len(c.watched)
		c.watchMu.Unlock()
		if left == 0 {
			return
		}
		if n == 3 {
			t.Fatalf("after %d invalidations the watch of a server that refuses to look goes on", n)
		}
	}
}

// A refusal from a server that answered a look before is a fluke of one
// connection (review AB: a pooler's backend that already has pgx's
// statement name answers 42P05, a search_path or a grant being changed
// 42P01 or 42501): the watch goes on, blind.
func TestWatchOutlivesARefusalAfterAnAnswer(t *testing.T) {
	s := newProcServer()
	c, err := NewConnector(Config{DriverName: "mysql", Connector: s, Namespace: "watch-refused-later"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.set(7, "Query")
	c.watchThread(7, "", []string{"u"}, false)
	receive(t, s.looked, 2, "looks")
	s.refuse.Store(true)
	receive(t, s.looked, 3, "refused looks")
	c.watchMu.Lock()
	left := len(c.watched)
	c.watchMu.Unlock()
	if left != 1 {
		t.Errorf("3 refused looks after an answered one ended the watch of a running thread")
	}
}
