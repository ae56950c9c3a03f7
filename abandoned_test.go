package cachedsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"slices"
	"sync"
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
		{"mysql asleep 1 s, 600 ms after 0", my, at(sleeping("0"), 0, 10*ms), at(sleeping("1"), 600*ms, 610*ms), true, false},
		{"mysql asleep 2 s, looks 2.5 s apart", my, at(sleeping("1"), 0, 10*ms), at(sleeping("2"), 2500*ms, 2510*ms), true, true},
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
	c.watchThread(42, []string{"u"}, false)
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
