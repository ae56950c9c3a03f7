package integration_test

// Review W: writes abandoned on connections the server keeps (half-open:
// the client went away and the server never heard), on MariaDB and
// PostgreSQL.

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	gomysql "github.com/go-sql-driver/mysql"
)

// wConnector is a cachedsql connector and pool on dsn whose watch must
// never go blind: a warning that it cannot look at the server's processes
// fails the test (a look that fails for good still invalidates, at every
// pause, and would pass the tests that wait for an invalidation).
func wConnector(t *testing.T, driverName, dsn, ns string) (*cachedsql.Connector, *sql.DB) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(blindWatch{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: driverName, DSN: dsn, Namespace: ns, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return c, db
}

type blindWatch struct{ t *testing.T }

func (b blindWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("cannot watch")) {
		b.t.Errorf("the watch went blind: %s", p)
	}
	return len(p), nil
}

// halfOpenProxy forwards TCP to addr. cut makes every connection open then
// a black hole: bytes are swallowed both ways and neither end is closed, as
// a NAT or a balancer that lost a flow leaves it, so the server keeps the
// connection while the client has given it up. Connections opened later
// forward, but a PostgreSQL CancelRequest sent on one after cut is
// swallowed too, as on a network that came back only after pgx gave up.
type halfOpenProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	cutting bool
	frozen  bool           // every connection is cut, new ones too
	conns   []*atomic.Bool // per connection: cut
	// cancels gets a value for each CancelRequest swallowed.
	cancels chan struct{}
}

func newHalfOpenProxy(t *testing.T, addr string) *halfOpenProxy {
	t.Helper()
	p := &halfOpenProxy{cancels: make(chan struct{}, 16)}
	// A CancelRequest: length 16, code 80877102.
	cancelRequest := []byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e}
	p.ln = listenProxy(t, addr, func(c, s net.Conn) {
		cut := new(atomic.Bool)
		p.mu.Lock()
		cut.Store(p.frozen)
		p.conns = append(p.conns, cut)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn, first bool) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if first && p.isCutting() && bytes.HasPrefix(buf[:n], cancelRequest) {
					cut.Store(true)
					p.cancels <- struct{}{}
				}
				first = false
				if n > 0 && !cut.Load() {
					if _, werr := dst.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					if !cut.Load() {
						dst.Close()
					}
					return
				}
			}
		}
		go pipe(s, c, true)
		go pipe(c, s, false)
	})
	return p
}

// proxiedMySQL is a DSN for database name through a half-open proxy of
// its own.
func proxiedMySQL(t *testing.T, name string) (*halfOpenProxy, string) {
	t.Helper()
	cfg, err := gomysql.ParseDSN(mysqlDSNFor(t, name, nil))
	if err != nil {
		t.Fatal(err)
	}
	p := newHalfOpenProxy(t, cfg.Addr)
	cfg.Addr = p.addr()
	return p, cfg.FormatDSN()
}

// pgWaiting counts the UPDATEs of u waiting for a lock on PostgreSQL.
const pgWaiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'UPDATE u SET%' AND wait_event_type = 'Lock'"

// cancelLost waits for the proxy to swallow pgx's CancelRequest.
func cancelLost(t *testing.T, p *halfOpenProxy) {
	t.Helper()
	select {
	case <-p.cancels:
	case <-time.After(10 * time.Second):
		t.Fatal("pgx sent no CancelRequest in 10 s")
	}
}

// proxiedPG is the PostgreSQL URL dsn through a half-open proxy of its own.
func proxiedPG(t *testing.T, dsn string) (*halfOpenProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newHalfOpenProxy(t, u.Host)
	u.Host = p.addr()
	return p, u.String()
}

// listenProxy accepts TCP on a loopback port of its own, dials addr for
// each connection and hands both ends to serve; it closes them all when
// the test ends.
func listenProxy(t *testing.T, addr string, serve func(client, server net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			serve(c, s)
		}
	}()
	return ln
}

func (p *halfOpenProxy) addr() string { return p.ln.Addr().String() }

func (p *halfOpenProxy) isCutting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutting
}

func (p *halfOpenProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutting = true
	for _, c := range p.conns {
		c.Store(true)
	}
}

// freeze cuts every connection, and every one opened from now on: a
// network that went silent.
func (p *halfOpenProxy) freeze() {
	p.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

// waitFor polls q on admin until it reads more than 0.
func waitFor(t *testing.T, admin *sql.DB, q, what string) {
	t.Helper()
	until(t, func() bool { return scalar(t, admin, q) != "0" }, what)
}

// pgU makes a schema of its own with u(id, v) = (1, 1) on PostgreSQL, and
// returns a direct pool on it, its name and its DSN.
func pgU(t *testing.T, suffix string) (admin *sql.DB, schema, dsn string) {
	t.Helper()
	requirePG(t)
	root := openDirect(t, "pgx", pgURL())
	schema, dsn = pgSchema(t, root, suffix)
	admin = openDirect(t, "pgx", dsn)
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int)")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	return admin, schema, dsn
}

// halfOpenWriteCommitsLater runs the UPDATE of u's row 1 through db, on c,
// while a lock holds the row; cuts the proxy under it once the server shows
// it waiting (waiting counts such statements, and beforeCut runs then) and
// cancels it; reads the row once afterCut has returned; releases the lock;
// and wants the row the UPDATE then commits to be read after the next
// invalidation.
func halfOpenWriteCommitsLater(t *testing.T, p *halfOpenProxy, admin *sql.DB, c *cachedsql.Connector, db *sql.DB, waiting string, beforeCut, afterCut func()) {
	t.Helper()
	const q = "SELECT v FROM u WHERE id = 1"
	lock := lockRow(t, admin)
	defer lock.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = 1")
		done <- err
	}()
	waitFor(t, admin, waiting, "the UPDATE waiting for the lock")
	beforeCut()
	p.cut()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the UPDATE did not wait for the lock")
	}
	afterCut()
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	events := invalidationsOfU(t, c)
	mustExec(t, lock, "COMMIT")
	waitFor(t, admin, "SELECT COUNT(*) FROM u WHERE v = 2", "the abandoned UPDATE's commit")
	readsFreshAfter(t, events, db, q, "after an UPDATE abandoned on a half-open connection committed")
}

// go-sql-driver/mysql gives up a statement whose context ends by closing
// its connection; when the close never reaches the server (a half-open
// connection), the server thread finishes the UPDATE once the lock is
// released, commits, and sleeps until wait_timeout, hours later. The watch
// waited for the thread to end, so the row read meanwhile stayed cached
// for up to an hour (watchLimit); it now invalidates when it sees the
// thread idle after its statement.
func TestWMariaDBHalfOpenWriteCommitsLater(t *testing.T) {
	admin, name, _ := uSetup(t, "_who")
	p, dsn := proxiedMySQL(t, name)
	c, db := wConnector(t, "mysql", dsn, name)
	halfOpenWriteCommitsLater(t, p, admin, c, db,
		"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE u SET%' AND ID <> CONNECTION_ID()", func() {}, func() {})
}

// pgx gives up a statement whose context ends by closing its connection
// and sending a CancelRequest on another. When neither reaches the server,
// the backend finishes the UPDATE once the lock is released, commits, and
// waits for the client's next message for ever (TCP keepalive aside). The
// backend is watched in pg_stat_activity, and its tables invalidated when
// it is seen idle after its statement.
func TestWPGHalfOpenWriteCommitsLater(t *testing.T) {
	admin, schema, dsn := pgU(t, "_who")
	p, dsn := proxiedPG(t, dsn)
	c, db := wConnector(t, "pgx", dsn, schema)
	halfOpenWriteCommitsLater(t, p, admin, c, db, pgWaiting, func() {}, func() { cancelLost(t, p) })
}

// updateInTx sets v = 2 in u's row 1 in a transaction on db, begun with
// BeginTx (how is "Tx.Commit") or as SQL ("COMMIT"), and returns what
// commits it that way.
func updateInTx(t *testing.T, db *sql.DB, how string) (commit func() error) {
	t.Helper()
	ctx := context.Background()
	app := conn(t, db)
	if how == "Tx.Commit" {
		tx, err := app.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, "UPDATE u SET v = 2 WHERE id = 1")
		return tx.Commit
	}
	mustExec(t, app, "BEGIN")
	mustExec(t, app, "UPDATE u SET v = 2 WHERE id = 1")
	return func() error { _, err := app.ExecContext(ctx, "COMMIT"); return err }
}

// A COMMIT whose connection fails (a read timeout here) may still commit on
// the server after cachedsql invalidated the transaction's tables: a COMMIT
// waits behind FLUSH TABLES WITH READ LOCK (a backup), a slow disk or a
// semi-synchronous replica. Only abandoned writes were watched; the row
// read meanwhile stayed cached until its TTL.
func TestWMariaDBAbandonedCommit(t *testing.T) {
	for _, how := range []string{"Tx.Commit", "COMMIT"} {
		t.Run(how, func(t *testing.T) {
			admin, name, _ := uSetup(t, "_wac"+map[string]string{"Tx.Commit": "d", "COMMIT": "s"}[how])
			c, db := wConnector(t, "mysql", mysqlDSNFor(t, name, map[string]string{"readTimeout": "500ms"}), name)
			const q = "SELECT v FROM u WHERE id = 1"
			commit := updateInTx(t, db, how)
			backup := conn(t, admin)
			mustExec(t, backup, "FLUSH TABLES WITH READ LOCK")
			if err := commit(); err == nil {
				t.Fatal("the COMMIT did not wait for the read lock")
			}
			if got := scalar(t, db, q); got != "1" {
				t.Fatalf("read %s while the COMMIT waits, want 1", got)
			}
			events := invalidationsOfU(t, c)
			mustExec(t, backup, "UNLOCK TABLES")
			waitFor(t, admin, "SELECT COUNT(*) FROM u WHERE v = 2", "the abandoned COMMIT")
			readsFreshAfter(t, events, db, q, "after "+how+" abandoned by readTimeout committed")
		})
	}
}

// Timeouts come in bursts on an overloaded server, and each abandoned
// write had a watch with a server connection of its own: one poller per
// Connector now looks at every watched thread on one connection.
func TestWMariaDBWatchesShareAConnection(t *testing.T) {
	admin, name, dsn := uSetup(t, "_wsc")
	mustExec(t, admin, "INSERT INTO u VALUES (2, 1), (3, 1)")
	_, db := wConnector(t, "mysql", dsn, name)
	counter := conn(t, admin)
	lock := conn(t, admin)
	mustExec(t, lock, "BEGIN")
	mustExec(t, lock, "SELECT v FROM u FOR UPDATE")
	defer lock.Close()
	before := otherThreads(t, counter, name)
	for id := 1; id <= 3; id++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := db.ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = ?", id)
		cancel()
		if err == nil {
			t.Fatal("the UPDATE did not wait for the lock")
		}
	}
	// The poller connects at once; then, for half a second, no second
	// watch connection may appear (there is no signal for one that would).
	extra := func() int { return otherThreads(t, counter, name) - before }
	until(t, func() bool { return extra() >= 1 }, "a watch connection")
	most := 1
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		most = max(most, extra())
	}
	if most > 1 {
		t.Errorf("3 abandoned UPDATEs watched with %d server connections, want 1", most)
	}
	// The threads end once their UPDATEs have run, and the watch with them.
	mustExec(t, lock, "COMMIT")
	until(t, func() bool { return extra() == 0 }, "the watch connection to close after the UPDATEs ran")
	if got := scalar(t, db, "SELECT SUM(v) FROM u"); got != "6" {
		t.Errorf("after the abandoned UPDATEs committed: cachedsql read a sum of %s, want 6", got)
	}
}

// until polls cond for up to 10 s: what a test waits for is on a server,
// which has no signal to give.
func until(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("10 s without %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lateProxy forwards TCP to addr. late makes every connection open then
// slow and half-open: what its client sends reaches the server delay
// later, and its client's close never does (the server keeps the
// connection), as on a congested path behind a NAT that then loses the flow.
type lateProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*atomic.Bool
	delay time.Duration
}

func newLateProxy(t *testing.T, addr string, delay time.Duration) *lateProxy {
	t.Helper()
	p := &lateProxy{delay: delay}
	p.ln = listenProxy(t, addr, func(c, s net.Conn) {
		late := new(atomic.Bool)
		p.mu.Lock()
		p.conns = append(p.conns, late)
		p.mu.Unlock()
		type chunk struct {
			b  []byte
			at time.Time
		}
		q := make(chan chunk, 1024)
		go func() { // client -> server, in order, late when late
			for ch := range q {
				time.Sleep(time.Until(ch.at))
				if _, err := s.Write(ch.b); err != nil {
					return
				}
			}
		}()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					at := time.Now()
					if late.Load() {
						at = at.Add(p.delay)
					}
					q <- chunk{append([]byte(nil), buf[:n]...), at}
				}
				if err != nil {
					if !late.Load() {
						close(q)
						// the close reaches the server once what came before it has
						go func() { time.Sleep(10 * time.Millisecond); s.Close() }()
					}
					return
				}
			}
		}()
		go func() { // server -> client; drained once the client is gone
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					c.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	})
	return p
}

func (p *lateProxy) addr() string { return p.ln.Addr().String() }

func (p *lateProxy) makeLate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Store(true)
	}
}

// A COMMIT that reaches MariaDB late, after the client gave up on it (its
// readTimeout) and on the connection, whose close never arrives: the watch
// sees the thread asleep (TIME 0, the UPDATE before it just ran) and
// invalidates; the COMMIT then arrives, commits at once, and the thread
// sleeps again with TIME 0. TIME counts whole seconds: a command that began
// and ended within the second after a look went unseen, and the row read in
// between stayed cached until the thread ended (wait_timeout, 8 h) or the
// watch's limit (1 h) (review X).
func TestWMariaDBLateCommitWithinASecond(t *testing.T) {
	for _, how := range []string{"Tx.Commit", "COMMIT"} {
		t.Run(how, func(t *testing.T) {
			admin, name, _ := uSetup(t, "_xlc"+map[string]string{"Tx.Commit": "d", "COMMIT": "s"}[how])
			cfg, err := gomysql.ParseDSN(mysqlDSNFor(t, name, map[string]string{"readTimeout": "300ms"}))
			if err != nil {
				t.Fatal(err)
			}
			p := newLateProxy(t, cfg.Addr, 700*time.Millisecond)
			cfg.Addr = p.addr()
			c, db := wConnector(t, "mysql", cfg.FormatDSN(), name)
			const q = "SELECT v FROM u WHERE id = 1"
			commit := updateInTx(t, db, how)
			events := invalidationsOfU(t, c)
			p.makeLate()
			if err := commit(); err == nil {
				t.Fatal("the COMMIT did not time out")
			}
			// The watch's first look (thread idle in its transaction) invalidates.
			select {
			case <-events:
			case <-time.After(time.Second):
			}
			time.Sleep(50 * time.Millisecond)
			select {
			case <-events:
			default:
			}
			if got := scalar(t, db, q); got != "1" {
				t.Fatalf("read %s before the COMMIT arrived, want 1", got)
			}
			waitFor(t, admin, "SELECT COUNT(*) FROM u WHERE v = 2", "the late COMMIT")
			readsFreshAfter(t, events, db, q, "after "+how+" that arrived late committed")
		})
	}
}

// pgx returns driver.ErrBadConn for a statement it did not send (conn
// busy, a context already done: pgconn.SafeToRetry), the connection intact.
// innerBroken took ErrBadConn for a broken connection and the watch started
// on a backend that lives on in the pool: every time it was seen idle after
// a statement it invalidated, each miss that followed ran a statement on
// it, and the table was not served from the cache for an hour (review X).
func TestWPGErrBadConnWatchesALiveBackend(t *testing.T) {
	_, schema, dsn := pgU(t, "_wbc")
	c, db := wConnector(t, "pgx", dsn, schema)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT g FROM generate_series(1, 3) g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = 1"); err == nil {
		t.Fatal("the UPDATE ran while the rows were open")
	} else {
		t.Logf("UPDATE not sent: %v", err)
	}
	rows.Close()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	events := invalidationsOfU(t, c)
	n := 0
	for range 30 {
		scalar(t, db, "SELECT v FROM u WHERE id = 1")
		time.Sleep(100 * time.Millisecond)
		select {
		case <-events:
			n++
		default:
		}
	}
	if n > 0 {
		t.Errorf("%d invalidations of u in 3 s of reads after an UPDATE that never reached the server", n)
	}
}

// The premise of TestWatchLookBoundedWhenTheDriverIgnoresItsContext (root
// package): lib/pq does not end a query when its context does: it sends a
// CancelRequest and waits for the server's answer. On a connection whose
// network went silent the query, and so a look of the watch, blocks until
// TCP gives up. This test passes while that is so.
func TestWLibPQQueryIgnoresContextOnSilentNetwork(t *testing.T) {
	requirePG(t)
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	p := newHalfOpenProxy(t, u.Host)
	u.Host = p.addr()
	db := openDirect(t, "postgres", u.String())
	db.SetMaxOpenConns(1)
	scalar(t, db, "SELECT 1")
	p.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var n int
		done <- db.QueryRowContext(ctx, "SELECT 1").Scan(&n)
	}()
	select {
	case err := <-done:
		t.Errorf("lib/pq's query returned at its context's end (%v): the premise no longer holds", err)
	case <-time.After(3 * time.Second):
		t.Logf("lib/pq's query with a 500 ms context still blocks after 3 s")
	}
}
