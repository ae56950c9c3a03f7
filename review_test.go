package cachedsql

// Tests written by an independent review of the root package. Each one fails
// on the code as reviewed and states the bug it demonstrates.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// failOnceConnector opens SQLite connections whose ExecContext fails the
// first exec of each text in fail without sending it: the database state is
// then exactly as if the statement had failed (SQLITE_BUSY on BEGIN
// IMMEDIATE or on COMMIT leaves the connection as it was).
type failOnceConnector struct {
	dsn  string
	mu   sync.Mutex
	fail map[string]bool
}

var errInjected = errors.New("review: injected failure (as SQLITE_BUSY)")

func (c *failOnceConnector) Connect(context.Context) (driver.Conn, error) {
	ic, err := (&sqlite3.SQLiteDriver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &failOnceConn{Conn: ic, c: c}, nil
}
func (c *failOnceConnector) Driver() driver.Driver { return &sqlite3.SQLiteDriver{} }

type failOnceConn struct {
	driver.Conn
	c *failOnceConnector
}

func (cn *failOnceConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return cn.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (cn *failOnceConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	cn.c.mu.Lock()
	f := cn.c.fail[q]
	delete(cn.c.fail, q)
	cn.c.mu.Unlock()
	if f {
		return nil, errInjected
	}
	return cn.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

// TestReviewFailedTxStatementKeepsTxState: afterStatement runs on a statement
// that failed. A BEGIN that failed opens a phantom transaction state, so the
// autocommitted writes that follow are held for a COMMIT that never comes; a
// COMMIT that failed (the transaction is still open, as after SQLITE_BUSY)
// ends the state, so the writes after it invalidate before they are
// committed and the real COMMIT invalidates nothing. Either way another
// connection caches the old rows under the current generation: stale reads.
func TestReviewFailedTxStatementKeepsTxState(t *testing.T) {
	cases := []struct {
		name  string
		fail  string
		steps []string // on one connection; a step equal to fail fails once
	}{
		{"failed BEGIN", "BEGIN IMMEDIATE", []string{
			"BEGIN IMMEDIATE",
			"UPDATE a SET v = 100 WHERE id = 1", // autocommit: committed now
			"read",
		}},
		{"failed COMMIT", "COMMIT", []string{
			"BEGIN",
			"UPDATE a SET v = 100 WHERE id = 1",
			"COMMIT", // fails: the transaction stays open
			"UPDATE a SET v = 200 WHERE id = 1",
			"read", // another connection reads the committed 1
			"COMMIT",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{}, abSchema...)
			fc := &failOnceConnector{dsn: e.dsn, fail: map[string]bool{tc.fail: true}}
			c, err := NewConnector(Config{Connector: fc, Namespace: fmt.Sprintf("review-failtx-%d", invSeq.Add(1))})
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			t.Cleanup(func() { db.Close() })
			readInt(t, c, db, qA)
			ctx := context.Background()
			cn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			failed := false
			for _, s := range tc.steps {
				if s == "read" {
					readInt(t, c, db, qA) // on another connection: cn is held
					continue
				}
				_, err := cn.ExecContext(ctx, s)
				switch {
				case s == tc.fail && !failed:
					if !errors.Is(err, errInjected) {
						t.Fatalf("%s: %v, want the injected failure", s, err)
					}
					failed = true
				case err != nil:
					t.Fatalf("%s: %v", s, err)
				}
			}
			want := rawInt(t, e.raw, qA)
			if got, _ := readInt(t, c, db, qA); got != want {
				t.Errorf("%s = %d through cachedsql, %d in the database (stale)", qA, got, want)
			}
		})
	}
}

// TestReviewSQLiteSavepointOutsideTx: in SQLite a SAVEPOINT outside BEGIN
// starts a transaction (RELEASE of it commits, ROLLBACK [TO] undoes). cachedsql
// ignores SAVEPOINT when it has no transaction state, so reads on that
// connection are cached (DESIGN §7: never serve or fill inside a transaction)
// and writes invalidate before they commit.
func TestReviewSQLiteSavepointOutsideTx(t *testing.T) {
	cases := []struct {
		name  string
		steps []string // "read" reads qA on the transaction's connection, "other" on another one
	}{
		{"uncommitted row cached, then rolled back", []string{
			"SAVEPOINT s", "UPDATE a SET v = 100 WHERE id = 1", "read", "ROLLBACK TO s", "RELEASE s",
		}},
		{"old row cached before RELEASE commits", []string{
			"SAVEPOINT s", "UPDATE a SET v = 100 WHERE id = 1", "other", "RELEASE s",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{}, abSchema...)
			e.warm(t, qA)
			ctx := context.Background()
			cn, err := e.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			for _, s := range tc.steps {
				switch s {
				case "read":
					readInt(t, e.c, cn, qA)
				case "other":
					readInt(t, e.c, e.db, qA)
				default:
					mustExec(t, cn, s)
				}
			}
			want := rawInt(t, e.raw, qA)
			if got, _ := readInt(t, e.c, e.db, qA); got != want {
				t.Errorf("%s = %d through cachedsql, %d in the database", qA, got, want)
			}
		})
	}
}

// TestReviewAutocommitOffSurvivesDriverTx: with MySQL autocommit off, a
// driver transaction (BeginTx/Commit) on the connection replaces and then
// clears cn.tx although manualCommit stays set. Writes pending before BeginTx
// (which START TRANSACTION commits implicitly) are never invalidated, and
// writes after Commit invalidate at once instead of at their COMMIT.
func TestReviewAutocommitOffSurvivesDriverTx(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	for _, q := range []string{"SET autocommit=0", "SET autocommit=1", "COMMIT"} {
		d.Canned(q)
	}
	db := openCached(t, name, "namespace=review-ac")
	c := mustConnector(t, db)
	ctx := context.Background()
	queryName(t, db, 1)
	cn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	mustExec(t, cn, "SET autocommit=0")
	mustExec(t, cn, "UPDATE users SET name = 'ann' WHERE id = 1") // pending
	tx, err := cn.BeginTx(ctx, nil)                               // MySQL: commits the pending write
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := queryName(t, db, 1); got != "ann" {
		t.Errorf("after the driver tx committed the pending write: read %q, want ann (stale)", got)
	}
	// Autocommit is still off: the next write waits for COMMIT.
	inv := c.Stats().Invalidations
	mustExec(t, cn, "UPDATE users SET name = 'amy' WHERE id = 1")
	if n := c.Stats().Invalidations - inv; n != 0 {
		t.Errorf("a write with autocommit off invalidated at once (%d), not at COMMIT", n)
	}
	inv = c.Stats().Invalidations
	mustExec(t, cn, "COMMIT")
	if n := c.Stats().Invalidations - inv; n == 0 {
		t.Error("COMMIT with autocommit off invalidated nothing")
	}
}

// skipConn is a MySQL-like connection (go-sql-driver/mysql without
// interpolateParams): QueryContext with arguments answers driver.ErrSkip so
// that database/sql prepares the statement. It holds the first such call
// until release, standing for the moment other callers join the flight.
type skipConn struct {
	driver.Conn
	arrived  chan struct{}
	release  chan struct{}
	once     *sync.Once
	prepares *atomic.Int64
}

func (c *skipConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	}
	c.once.Do(func() {
		close(c.arrived)
		<-c.release
	})
	return nil, driver.ErrSkip
}

func (c *skipConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.prepares.Add(1)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

type skipConnector struct {
	inner    driver.Connector
	arrived  chan struct{}
	release  chan struct{}
	once     sync.Once
	prepares atomic.Int64
}

func (s *skipConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := s.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &skipConn{Conn: ic, arrived: s.arrived, release: s.release, once: &s.once, prepares: &s.prepares}, nil
}
func (s *skipConnector) Driver() driver.Driver { return s.inner.Driver() }

// openSkipping opens cachedsql in namespace ns over a fake driver whose
// connection answers ErrSkip to queries with arguments (skipConn); unless
// released, the first such query parks until sc.release is closed.
func openSkipping(t *testing.T, ns string, released bool) (*sql.DB, *Connector, *skipConnector) {
	t.Helper()
	d, _ := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	sc := &skipConnector{inner: d.Connector("x"), arrived: make(chan struct{}), release: make(chan struct{})}
	if released {
		close(sc.release)
	}
	c, err := NewConnector(Config{Connector: sc, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db, c, sc
}

// TestReviewErrSkipLeaderFailsStmtWaiter: a connection-path leader whose
// driver answers driver.ErrSkip must not hand that error to a
// prepared-statement caller, whose Stmt.QueryContext would pass it to
// database/sql, which only understands ErrSkip from a connection's
// QueryContext ("driver: skip fast-path; continue as if unimplemented").
// Reads through prepared statements are keyed apart from the same text on
// the connection (a driver may answer the two differently), so the
// statement caller runs its own query while the leader is still inside its
// driver, and never waits on it.
func TestReviewErrSkipLeaderFailsStmtWaiter(t *testing.T) {
	db, _, sc := openSkipping(t, "review-errskip", false)
	db.SetMaxOpenConns(4)
	const q = "SELECT name FROM users WHERE id = ?"
	st, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	leader := make(chan error, 1)
	go func() {
		var s string
		leader <- db.QueryRow(q, 1).Scan(&s) // connection path: leads, then ErrSkip
	}()
	<-sc.arrived
	released := false
	release := func() {
		if !released {
			released = true
			close(sc.release)
		}
	}
	defer release()
	waiter := make(chan error, 1)
	go func() {
		var s string
		waiter <- st.QueryRow(1).Scan(&s) // statement path: its own key
	}()
	select {
	case err := <-waiter:
		if err != nil {
			t.Errorf("prepared-statement caller: %v (want the row: unwrapped, this query succeeds)", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the prepared-statement caller waits on the connection-path caller's flight")
		release()
		<-waiter
	}
	release()
	if err := <-leader; err != nil {
		t.Errorf("connection-path caller: %v", err)
	}
}

// TestSkippingDriverHitsWithoutPreparing: go-sql-driver/mysql without
// interpolateParams answers driver.ErrSkip to a query with arguments, and
// database/sql then prepares it. Once cachedsql has seen that, a repeated
// read is a hit on the connection path itself, keyed as the statement path
// filled it: no prepare reaches the driver.
func TestSkippingDriverHitsWithoutPreparing(t *testing.T) {
	db, c, sc := openSkipping(t, "review-skiphit", true)
	const q = "SELECT name FROM users WHERE id = ?"
	for range 2 { // the first fills through the statement path
		var s string
		if err := db.QueryRow(q, 1).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	before, hits := sc.prepares.Load(), c.Stats().L1Hits
	for range 5 {
		var s string
		if err := db.QueryRow(q, 1).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	if p, h := sc.prepares.Load()-before, c.Stats().L1Hits-hits; p != 0 || h != 5 {
		t.Fatalf("5 repeated reads: %d prepares, %d L1 hits; want 0 and 5", p, h)
	}
}

// TestReviewHotSetAccounting: hotSet.put subtracts the size of the entry it
// replaces, and then may evict that same entry in its eviction loop and
// subtract its size again. s.bytes then undercounts what the shard holds,
// and the byte budget stops being enforced (it can go negative).
func TestReviewHotSetAccounting(t *testing.T) {
	res := &rowset.Result{Sets: []rowset.Set{{Columns: []rowset.Column{{Name: "x"}}, Rows: [][]driver.Value{{int64(1)}}}}}
	for i := range 200 {
		h := newHotSet(1) // budget 4096 bytes per shard
		var k1, k2 keying.Key
		k2[1] = 1                 // same shard as k1 (k[0] picks the shard)
		h.put(&k1, res, 500, 1e9) // 1756
		h.put(&k2, res, 500, 1e9) // 1756: 3512
		h.put(&k1, res, 900, 1e9) // 2956 replaces k1 and must evict
		s := h.shard(&k1)
		var sum int64
		for _, e := range s.m {
			sum += e.size
		}
		if s.bytes != sum {
			t.Fatalf("round %d: shard accounts %d bytes, holds %d (budget %d)", i, s.bytes, sum, h.budget)
		}
	}
}

// TestReviewSharedQueryKeepsCallerArgs: the shared query runs with the
// leader's argument slice after the leader has returned (its context ended).
// database/sql passes []byte arguments through without copying, and a caller
// may reuse its buffer once QueryContext has returned; the shared query then
// runs with other arguments, hands their rows to the remaining waiters and
// caches them under the key of the original arguments.
func TestReviewSharedQueryKeepsCallerArgs(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "namespace=review-args")
	db.SetMaxOpenConns(4)
	const q = "SELECT id FROM users WHERE name = ?"
	gate := d.Block(q)
	sh := mustConnector(t, db).sh

	buf := []byte("ada")
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		var id int64
		leader <- db.QueryRowContext(ctx, q, buf).Scan(&id)
	}()
	<-gate.Arrived()
	waiter := make(chan int64, 1)
	go func() {
		var id int64
		if err := db.QueryRow(q, []byte("ada")).Scan(&id); err != nil {
			t.Error(err)
		}
		waiter <- id
	}()
	waitFor(t, "two callers on the flight", func() bool { return sh.flights.Waiters() == 2 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v", err)
	}
	copy(buf, "bob") // the caller's buffer is its own again
	gate.Release()
	if id := <-waiter; id != 1 {
		t.Errorf("waiter for name ada got id %d, want 1", id)
	}
	var id int64
	if err := db.QueryRow(q, []byte("ada")).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != 1 {
		t.Errorf("cached answer for name ada is id %d, want 1 (cache poisoned)", id)
	}
}

// TestReviewMissCountedOnce: for a MySQL-like inner driver (QueryContext
// answers ErrSkip when there are arguments), a miss looks in L1 (and L2), opens
// a flight whose query answers ErrSkip, then database/sql prepares and the
// statement path looks in L1 and L2 again and opens a second flight: every
// miss is counted twice and costs two Redis GETs.
func TestReviewMissCountedOnce(t *testing.T) {
	db, c, _ := openSkipping(t, "review-misses", true)
	before := c.Stats().L1Misses
	queryName(t, db, 1)
	if n := c.Stats().L1Misses - before; n != 1 {
		t.Errorf("one cold read counted %d L1 misses, want 1", n)
	}
}

// TestReviewPromotionHonoursL1MaxTTL: on an L2 hit the result is stored in L1
// for min(L1MaxTTL, PTTL) but kept decoded in the hot set for the whole PTTL,
// and the hot set is consulted first: L1MaxTTL no longer bounds how long this
// process serves a promoted entry without asking Redis.
func TestReviewPromotionHonoursL1MaxTTL(t *testing.T) {
	_, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	rs := redistest.Start(t)
	const l1TTL = 100 * time.Millisecond
	c, err := NewConnector(Config{DriverName: name, DSN: "x", RedisURL: rs.URL(), L1MaxTTL: l1TTL, Namespace: "review-l1ttl"})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	if err := c.WaitSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	queryName(t, db, 1) // fill: L1 for 100ms, L2 for 5m
	c.sh.bg.Wait()      // the L2 write is done
	time.Sleep(2 * l1TTL)
	before := c.Stats()
	queryName(t, db, 1) // L1 expired: an L2 hit, promoted
	if c.Stats().L2Hits != before.L2Hits+1 {
		t.Fatalf("the read after L1MaxTTL was not an L2 hit: %+v", c.Stats())
	}
	time.Sleep(2 * l1TTL)
	before = c.Stats()
	queryName(t, db, 1)
	after := c.Stats()
	if after.L2Hits != before.L2Hits+1 {
		t.Errorf("%v after a promotion the read was served from L1 (decoded hits %d→%d), not from L2: L1MaxTTL %v ignored",
			2*l1TTL, before.L1DecodedHits, after.L1DecodedHits, l1TTL)
	}
}
