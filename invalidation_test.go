package cachedsql

// In-process invalidation (DESIGN §3): per-table precision, dependencies,
// Invalidate and Subscribe, transactions with savepoints, fills that race an
// invalidation, and read-your-writes across *sql.DB values on one namespace.
// Whether a read was served from the cache is told by the namespace's L1Hits
// counter; whether it is right, by the same query sent to the database
// directly.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/cachedsql/cachedsql/keying"
	sqlite3 "github.com/mattn/go-sqlite3"
)

var invSeq atomic.Int64

// sqliteEnv is one SQLite file opened directly (raw: the truth, and a way to
// write behind cachedsql's back) and through cachedsql.
type sqliteEnv struct {
	dsn string
	raw *sql.DB
	c   *Connector
	db  *sql.DB
}

// sqliteDSN is a file database that several connections and processes can
// share: WAL so readers do not wait for writers, a busy timeout so writers
// wait for each other, foreign keys for cascades.
func sqliteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=1"
}

// newSQLiteEnv creates a database in a temp dir, runs schema on it directly,
// and opens it through cachedsql with cfg (DriverName, DSN and, if empty,
// Namespace are filled in).
func newSQLiteEnv(t testing.TB, cfg Config, schema ...string) *sqliteEnv {
	t.Helper()
	dsn := sqliteDSN(filepath.Join(t.TempDir(), "inv.db"))
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	for _, s := range schema {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("schema %q: %v", s, err)
		}
	}
	if cfg.Driver == nil {
		cfg.DriverName = "sqlite3"
	}
	cfg.DSN = dsn
	if cfg.Namespace == "" {
		cfg.Namespace = fmt.Sprintf("inv%d", invSeq.Add(1))
	}
	c, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return &sqliteEnv{dsn: dsn, raw: raw, c: c, db: db}
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// readInt runs a one-value query through q and reports whether the namespace
// of c counted an L1 hit for it. Callers run nothing else on the namespace
// meanwhile.
func readInt(t testing.TB, c *Connector, q queryer, query string, args ...any) (v int64, hit bool) {
	t.Helper()
	before := c.Stats().L1Hits
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v, c.Stats().L1Hits > before
}

func rawInt(t testing.TB, raw *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var v int64
	if err := raw.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("raw %s: %v", query, err)
	}
	return v
}

func mustExec(t testing.TB, e execer, query string, args ...any) {
	t.Helper()
	if _, err := e.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// warm reads each query until it is a hit.
func (e *sqliteEnv) warm(t testing.TB, queries ...string) {
	t.Helper()
	for _, q := range queries {
		readInt(t, e.c, e.db, q)
		if _, hit := readInt(t, e.c, e.db, q); !hit {
			t.Fatalf("%s: second read was not a cache hit", q)
		}
	}
}

// expect reads each query through cachedsql and checks both that it agrees
// with the database and that it was a hit exactly when the query is not in
// stale (the set that should have been invalidated).
func (e *sqliteEnv) expect(t testing.TB, queries []string, invalidated []string) {
	t.Helper()
	for _, q := range queries {
		want := rawInt(t, e.raw, q)
		got, hit := readInt(t, e.c, e.db, q)
		if wantMiss := slices.Contains(invalidated, q); hit == wantMiss {
			t.Errorf("%s: hit=%v, want hit=%v", q, hit, !wantMiss)
		}
		if got != want {
			t.Errorf("%s = %d through cachedsql, %d in the database", q, got, want)
		}
	}
}

const (
	qA    = "SELECT v FROM a WHERE id = 1"
	qB    = "SELECT v FROM b WHERE id = 1"
	qJoin = "SELECT a.v * 1000 + b.v FROM a JOIN b ON b.id = a.id WHERE a.id = 1"
	qSub  = "SELECT COUNT(*) FROM b WHERE id IN (SELECT id FROM a WHERE v > 0)"
	qC    = "SELECT COUNT(*) FROM c"
)

var abSchema = []string{
	"CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
	"CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
	"CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
	"INSERT INTO a VALUES (1, 1), (2, 2)",
	"INSERT INTO b VALUES (1, 10), (2, 20)",
}

func TestPerTablePrecision(t *testing.T) {
	all := []string{qA, qB, qJoin, qSub, qC}
	ctx := context.Background()
	cases := []struct {
		name        string
		act         func(t *testing.T, e *sqliteEnv)
		invalidated []string
	}{
		{"update a", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "UPDATE a SET v = v + 1 WHERE id = 1")
		}, []string{qA, qJoin, qSub}},
		{"update b", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "UPDATE b SET v = v + 1 WHERE id = 1")
		}, []string{qB, qJoin, qSub}},
		{"insert c", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "INSERT INTO c VALUES (1, 1)")
		}, []string{qC}},
		{"schema-qualified delete from b", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "DELETE FROM main.b WHERE id = 2")
		}, []string{qB, qJoin, qSub}},
		{"prepared update of a", func(t *testing.T, e *sqliteEnv) {
			st, err := e.db.Prepare("UPDATE a SET v = ? WHERE id = ?")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Exec(7, 1); err != nil {
				t.Fatal(err)
			}
		}, []string{qA, qJoin, qSub}},
		{"insert into c selecting from a", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "INSERT INTO c SELECT id, v FROM a")
		}, []string{qC}},
		{"write through Query with RETURNING", func(t *testing.T, e *sqliteEnv) {
			var v int64
			if err := e.db.QueryRow("UPDATE b SET v = v + 5 WHERE id = 1 RETURNING v").Scan(&v); err != nil {
				t.Fatal(err)
			}
		}, []string{qB, qJoin, qSub}},
		{"a failed write invalidates what it named", func(t *testing.T, e *sqliteEnv) {
			if _, err := e.db.Exec("INSERT INTO a VALUES (1, 1)"); err == nil {
				t.Fatal("duplicate primary key accepted")
			}
		}, []string{qA, qJoin, qSub}},
		{"Connector.Invalidate(b)", func(t *testing.T, e *sqliteEnv) {
			if err := e.c.Invalidate(ctx, "b"); err != nil {
				t.Fatal(err)
			}
		}, []string{qB, qJoin, qSub}},
		{"Invalidate(db, MAIN.A) folds case and schema", func(t *testing.T, e *sqliteEnv) {
			if err := Invalidate(ctx, e.db, "MAIN.A"); err != nil {
				t.Fatal(err)
			}
		}, []string{qA, qJoin, qSub}},
		{"Invalidate() is every table", func(t *testing.T, e *sqliteEnv) {
			if err := e.c.Invalidate(ctx); err != nil {
				t.Fatal(err)
			}
		}, all},
		{"CTE then UPDATE", func(t *testing.T, e *sqliteEnv) {
			mustExec(t, e.db, "WITH x AS (SELECT 1) UPDATE a SET v = v WHERE id = (SELECT * FROM x)")
		}, []string{qA, qJoin, qSub}},
		{"read-only statements invalidate nothing", func(t *testing.T, e *sqliteEnv) {
			readInt(t, e.c, e.db, "SELECT COUNT(*) FROM a")
			mustExec(t, e.db, "SELECT 1")
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{}, abSchema...)
			e.warm(t, all...)
			tc.act(t, e)
			e.expect(t, all, tc.invalidated)
		})
	}
}

func TestDependencies(t *testing.T) {
	schema := append(slices.Clone(abSchema),
		"CREATE VIEW va AS SELECT id, v * 10 AS w FROM a",
		"CREATE VIEW vchild AS SELECT COUNT(*) AS n FROM child",
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE)",
		"INSERT INTO parent VALUES (1), (2)",
		"INSERT INTO child VALUES (1, 1), (2, 1), (3, 2)",
	)
	const (
		qView   = "SELECT w FROM va WHERE id = 1"
		qChild  = "SELECT COUNT(*) FROM child"
		qVChild = "SELECT n FROM vchild"
	)
	all := []string{qA, qB, qView, qChild}
	cases := []struct {
		name string
		deps map[string][]string
		// write runs through cachedsql.
		write       string
		invalidated []string
		also        []string // read besides all
	}{
		// Without the rule the scanner cannot know that va reads a: the view
		// stays cached (and stale) until its TTL. This is why the rule exists.
		{"no rule: view stale", nil, "UPDATE a SET v = v + 1 WHERE id = 1", []string{qA}, nil},
		{"view over its base table", map[string][]string{"va": {"a"}}, "UPDATE a SET v = v + 1 WHERE id = 1", []string{qA, qView}, nil},
		{"rule keys fold case", map[string][]string{"VA": {"A"}}, "UPDATE a SET v = v + 1 WHERE id = 1", []string{qA, qView}, nil},
		{"no rule: cascade stale", nil, "DELETE FROM parent WHERE id = 1", nil, nil},
		{"cascade target", map[string][]string{"parent": {"child"}}, "DELETE FROM parent WHERE id = 1", []string{qChild}, nil},
		{"rule does not spread to other tables", map[string][]string{"parent": {"child"}}, "UPDATE b SET v = 0 WHERE id = 1", []string{qB}, nil},
		// A cascade, then a view over what it reached: the write goes down
		// one link and up the next (a helper's review found this stale when
		// links were followed one way only).
		{"cascade then a view over its target", map[string][]string{"parent": {"child"}, "vchild": {"child"}}, "DELETE FROM parent WHERE id = 1", []string{qChild, qVChild}, []string{qVChild}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{Dependencies: tc.deps}, schema...)
			queries := append(slices.Clone(all), tc.also...)
			e.warm(t, queries...)
			mustExec(t, e.db, tc.write)
			stale := tc.deps == nil
			for _, q := range queries {
				want := rawInt(t, e.raw, q)
				got, hit := readInt(t, e.c, e.db, q)
				if wantMiss := slices.Contains(tc.invalidated, q); hit == wantMiss {
					t.Errorf("%s: hit=%v, want %v", q, hit, !wantMiss)
				}
				if got != want && !(stale && hit) {
					t.Errorf("%s = %d through cachedsql, %d in the database", q, got, want)
				}
			}
		})
	}
}

// eventLog collects Subscribe callbacks without blocking them.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
	ch  chan struct{}
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan struct{}, 1024)} }

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
}

func (l *eventLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func TestInvalidateAndSubscribe(t *testing.T) {
	ctx := context.Background()
	e := newSQLiteEnv(t, Config{}, abSchema...)
	log := newEventLog()
	cancel := e.c.Subscribe(log.add)

	// A write behind cachedsql's back is not seen until it is announced.
	e.warm(t, qA, qB)
	mustExec(t, e.raw, "UPDATE a SET v = 100 WHERE id = 1")
	if v, hit := readInt(t, e.c, e.db, qA); !hit || v != 1 {
		t.Fatalf("before Invalidate: %d hit=%v, want the cached 1", v, hit)
	}
	inv := e.c.Stats().Invalidations
	start := time.Now()
	if err := Invalidate(ctx, e.db, "a"); err != nil {
		t.Fatal(err)
	}
	if n := e.c.Stats().Invalidations - inv; n != 1 {
		t.Errorf("Invalidations moved by %d, want 1", n)
	}
	e.expect(t, []string{qA, qB}, []string{qA})

	mustExec(t, e.db, "UPDATE b SET v = 11 WHERE id = 1")
	if err := e.c.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	e.expect(t, []string{qA, qB}, []string{qA, qB})

	want := [][]string{{"a"}, {"b"}, nil}
	got := log.snapshot()
	if len(got) != len(want) {
		t.Fatalf("subscriber saw %d events %+v, want %d", len(got), got, len(want))
	}
	for i, ev := range got {
		if !slices.Equal(ev.Tables, want[i]) {
			t.Errorf("event %d tables %q, want %q", i, ev.Tables, want[i])
		}
		if ev.Origin == "" || ev.Time.Before(start.Add(-time.Second)) || ev.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d: origin %q time %v", i, ev.Origin, ev.Time)
		}
	}

	// A second connector on the namespace shares the clock: its subscriber
	// sees writes made through the first.
	c2, err := NewConnector(e.c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	log2 := newEventLog()
	cancel2 := c2.Subscribe(log2.add)
	defer cancel2()
	mustExec(t, e.db, "DELETE FROM c")
	if evs := log2.snapshot(); len(evs) != 1 || !slices.Equal(evs[0].Tables, []string{"c"}) {
		t.Errorf("second connector's subscriber saw %+v, want one event for c", evs)
	}

	cancel()
	cancel() // twice is harmless
	n := len(log.snapshot())
	mustExec(t, e.db, "DELETE FROM c")
	if len(log.snapshot()) != n {
		t.Error("a cancelled subscriber was still called")
	}

	if err := Invalidate(ctx, e.raw, "a"); err == nil {
		t.Error("Invalidate on a *sql.DB that is not cachedsql returned nil")
	}
}

// txRunner runs statements inside one transaction, begun either by the
// driver (db.BeginTx) or by SQL on a dedicated connection.
type txRunner interface {
	execer
	queryer
	end(commit bool) error
}

type driverTx struct{ *sql.Tx }

func (d driverTx) end(commit bool) error {
	if commit {
		return d.Commit()
	}
	return d.Rollback()
}

type sqlTx struct {
	*sql.Conn
}

func (s sqlTx) end(commit bool) error {
	q := "ROLLBACK"
	if commit {
		q = "COMMIT"
	}
	_, err := s.ExecContext(context.Background(), q)
	s.Close()
	return err
}

func TestTransactionsAndSavepoints(t *testing.T) {
	const (
		wA = "UPDATE a SET v = v + 1 WHERE id = 1"
		wB = "UPDATE b SET v = v + 1 WHERE id = 1"
	)
	cases := []struct {
		name        string
		stmts       []string
		commit      bool
		invalidated []string // among qA, qB
	}{
		{"commit", []string{wA}, true, []string{qA}},
		{"rollback invalidates nothing", []string{wA, wB}, false, nil},
		{"rollback to drops the writes after the savepoint", []string{wA, "SAVEPOINT s1", wB, "ROLLBACK TO SAVEPOINT s1"}, true, []string{qA}},
		{"rollback to everything", []string{"SAVEPOINT s1", wA, wB, "ROLLBACK TO s1"}, true, nil},
		{"release keeps the writes", []string{"SAVEPOINT s1", wB, "RELEASE SAVEPOINT s1"}, true, []string{qB}},
		{"release without keyword", []string{"SAVEPOINT s1", wA, "RELEASE s1"}, true, []string{qA}},
		{"writes after rollback to count", []string{"SAVEPOINT s1", wA, "ROLLBACK TO s1", wB}, true, []string{qB}},
		{"nested: rollback to the outer", []string{wA, "SAVEPOINT s1", wB, "SAVEPOINT s2", wA, "ROLLBACK TO s1"}, true, []string{qA}},
		{"nested: rollback to the inner", []string{"SAVEPOINT s1", wB, "SAVEPOINT s2", wA, "ROLLBACK TO s2"}, true, []string{qB}},
		{"released inner, then rollback to outer", []string{"SAVEPOINT s1", "SAVEPOINT s2", wB, "RELEASE s2", "ROLLBACK TO s1"}, true, nil},
		{"savepoint survives rollback to", []string{"SAVEPOINT s1", wA, "ROLLBACK TO s1", wB, "ROLLBACK TO s1"}, true, nil},
		{"same name twice: rollback to the newest", []string{"SAVEPOINT s", wA, "SAVEPOINT s", wB, "ROLLBACK TO s"}, true, []string{qA}},
		{"savepoint names fold case", []string{"SAVEPOINT Sp", wA, "ROLLBACK TO sP"}, true, nil},
		{"rollback after rollback to", []string{wA, "SAVEPOINT s", wB, "ROLLBACK TO s"}, false, nil},
	}
	modes := []struct {
		name  string
		begin func(t *testing.T, e *sqliteEnv) txRunner
	}{
		{"driver tx", func(t *testing.T, e *sqliteEnv) txRunner {
			tx, err := e.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			return driverTx{tx}
		}},
		{"SQL BEGIN", func(t *testing.T, e *sqliteEnv) txRunner {
			cn, err := e.db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, cn, "BEGIN")
			return sqlTx{cn}
		}},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				e := newSQLiteEnv(t, Config{}, abSchema...)
				e.warm(t, qA, qB)
				inv := e.c.Stats().Invalidations
				bypass := e.c.Stats().Bypass[BypassTx]
				tx := m.begin(t, e)
				for _, s := range tc.stmts {
					mustExec(t, tx, s)
				}
				// A read inside the transaction goes to the database.
				rawIntIn(t, tx, qA)
				if n := e.c.Stats().Bypass[BypassTx] - bypass; n != 1 {
					t.Errorf("read inside the tx: %d tx bypasses, want 1", n)
				}
				// Nothing is invalidated before the end: others still see
				// the committed rows, from the cache.
				e.expect(t, []string{qA, qB}, nil)
				if n := e.c.Stats().Invalidations - inv; n != 0 {
					t.Errorf("%d invalidations before the transaction ended", n)
				}
				if err := tx.end(tc.commit); err != nil {
					t.Fatal(err)
				}
				wantInv := int64(0)
				if len(tc.invalidated) > 0 {
					wantInv = 1
				}
				if n := e.c.Stats().Invalidations - inv; n != wantInv {
					t.Errorf("%d invalidations at the end, want %d", n, wantInv)
				}
				e.expect(t, []string{qA, qB}, tc.invalidated)
			})
		}
	}
}

func rawIntIn(t testing.TB, q queryer, query string) int64 {
	t.Helper()
	var v int64
	if err := q.QueryRowContext(context.Background(), query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// TestMySQLAutocommitOff: with SET autocommit=0 every write belongs to a
// transaction that only a later COMMIT (or SET autocommit=1) makes visible, so
// invalidation waits for it. fakedb answers the MySQL statements from canned
// results and applies writes at once; what is checked is cachedsql's timing.
func TestMySQLAutocommitOff(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	for _, q := range []string{"SET autocommit=0", "SET autocommit = 1", "COMMIT", "ROLLBACK"} {
		d.Canned(q)
	}
	db := openCached(t, name, "namespace=mysqlac")
	c := db.Driver().(*connectorDriver).c
	const q = "SELECT name FROM users WHERE id = ?"
	read := func() (string, bool) {
		before := c.Stats().L1Hits
		return queryName(t, db, 1), c.Stats().L1Hits > before
	}
	read()
	if _, hit := read(); !hit {
		t.Fatal("warm read was not a hit")
	}
	ctx := context.Background()
	cn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()

	steps := []struct {
		stmt       string
		invalidate bool
	}{
		{"SET autocommit=0", false},
		{"UPDATE users SET name = 'ann' WHERE id = 1", false},
		{"COMMIT", true},
		{"UPDATE users SET name = 'amy' WHERE id = 1", false}, // still autocommit=0: a new transaction
		{"ROLLBACK", false},
		{"UPDATE users SET name = 'ada' WHERE id = 1", false},
		{"SET autocommit = 1", true},                         // commits the open transaction
		{"UPDATE users SET name = 'abe' WHERE id = 1", true}, // autocommit again
	}
	for _, s := range steps {
		inv := c.Stats().Invalidations
		mustExec(t, cn, s.stmt)
		n := c.Stats().Invalidations - inv
		if (n > 0) != s.invalidate {
			t.Errorf("%q: %d invalidations, want invalidation=%v", s.stmt, n, s.invalidate)
		}
		_, hit := read()
		if hit == s.invalidate {
			t.Errorf("after %q the next read was hit=%v, want %v", s.stmt, hit, !s.invalidate)
		}
	}
	if got := queryName(t, db, 1); got != "abe" {
		t.Errorf("final name %q, want abe", got)
	}
	// Reads on the connection that changed session state bypass the cache.
	sess := c.Stats().Bypass[BypassSession]
	var n string
	if err := cn.QueryRowContext(ctx, q, 1).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Bypass[BypassSession] != sess+1 {
		t.Error("a read on the connection after SET was not a session bypass")
	}
}

// holdingDriver wraps an inner driver; the first query whose text is hold
// runs against the database, reads all its rows, then signals ran and waits
// for release before returning them. That is a fill that read the old rows
// and stores them after a write that happens meanwhile.
type holdingDriver struct {
	inner   driver.Driver
	hold    string
	once    sync.Once
	ran     chan struct{}
	release chan struct{}
	queries atomic.Int64 // queries of hold's text that reached the database
}

func (h *holdingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := h.inner.Open(dsn)
	if err != nil {
		return nil, err
	}
	return &holdingConn{Conn: c, h: h}, nil
}

type holdingConn struct {
	driver.Conn
	h *holdingDriver
}

func (c *holdingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil || query != c.h.hold {
		return rows, err
	}
	c.h.queries.Add(1)
	cols := rows.Columns()
	var data [][]driver.Value
	for {
		r := make([]driver.Value, len(cols))
		if rows.Next(r) != nil {
			break
		}
		data = append(data, r)
	}
	rows.Close()
	held := false
	c.h.once.Do(func() { held = true })
	if held {
		close(c.h.ran)
		select {
		case <-c.h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &sliceRows{cols: cols, data: data}, nil
}

func (c *holdingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

type sliceRows struct {
	cols []string
	data [][]driver.Value
}

func (r *sliceRows) Columns() []string { return r.cols }
func (r *sliceRows) Close() error      { return nil }
func (r *sliceRows) Next(dest []driver.Value) error {
	if len(r.data) == 0 {
		return io.EOF
	}
	copy(dest, r.data[0])
	r.data = r.data[1:]
	return nil
}

// TestFillBeforeInvalidationIsNeverFound: a fill that read the rows before a
// write and stores them after it must not be found by any read that starts
// after the write: not from L1, and not from L2.
func TestFillBeforeInvalidationIsNeverFound(t *testing.T) {
	const q = "SELECT name FROM users WHERE id = 1"
	for _, withRedis := range []bool{false, true} {
		for _, how := range []string{"write", "Invalidate"} {
			t.Run(fmt.Sprintf("redis=%v/%s", withRedis, how), func(t *testing.T) {
				fd, _ := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
				h := &holdingDriver{inner: fd.AsDriver(), hold: q, ran: make(chan struct{}), release: make(chan struct{})}
				cfg := Config{Driver: h, DSN: "x", Namespace: fmt.Sprintf("fillrace%d", invSeq.Add(1))}
				if withRedis {
					cfg.RedisURL = redistest.Start(t).URL()
				}
				c, err := NewConnector(cfg)
				if err != nil {
					t.Fatal(err)
				}
				db := sql.OpenDB(c)
				defer db.Close()
				if withRedis {
					if err := c.sh.clock.WaitSync(context.Background()); err != nil {
						t.Fatal(err)
					}
				}

				first := make(chan string, 1)
				go func() {
					var name string
					if err := db.QueryRow(q).Scan(&name); err != nil {
						t.Error(err)
					}
					first <- name
				}()
				<-h.ran // the fill has read "ada" and not stored it yet
				if how == "write" {
					mustExec(t, db, "UPDATE users SET name = 'zed' WHERE id = 1")
				} else {
					// A write behind cachedsql's back, then announced.
					raw := sql.OpenDB(fd.Connector("x"))
					mustExec(t, raw, "UPDATE users SET name = 'zed' WHERE id = 1")
					raw.Close()
					if err := c.Invalidate(context.Background(), "users"); err != nil {
						t.Fatal(err)
					}
				}
				// A read that starts now must not join the held fill.
				var name string
				if err := db.QueryRow(q).Scan(&name); err != nil || name != "zed" {
					t.Fatalf("read after the write while the old fill is held: %q, %v", name, err)
				}
				close(h.release)
				if got := <-first; got != "ada" {
					t.Errorf("the held read returned %q, want the row it read, ada", got)
				}
				c.sh.bg.Wait() // the old fill's L2 write, if any, has landed
				before := h.queries.Load()
				for i := 0; i < 3; i++ {
					if err := db.QueryRow(q).Scan(&name); err != nil || name != "zed" {
						t.Fatalf("read %d after the held fill stored: %q, %v", i, name, err)
					}
				}
				if n := h.queries.Load() - before; n != 0 {
					t.Errorf("%d queries reached the database; the post-write fill should serve them", n)
				}
			})
		}
	}
}

// TestReadYourWritesAcrossDBs: a write through one *sql.DB is seen at once by
// every other *sql.DB on the namespace, however it was committed.
func TestReadYourWritesAcrossDBs(t *testing.T) {
	cases := []struct {
		name  string
		write func(t *testing.T, db *sql.DB, v int)
	}{
		{"autocommit exec", func(t *testing.T, db *sql.DB, v int) {
			mustExec(t, db, "UPDATE a SET v = ? WHERE id = 1", v)
		}},
		{"prepared exec", func(t *testing.T, db *sql.DB, v int) {
			st, err := db.Prepare("UPDATE a SET v = ? WHERE id = 1")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Exec(v); err != nil {
				t.Fatal(err)
			}
		}},
		{"driver transaction", func(t *testing.T, db *sql.DB, v int) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, tx, "UPDATE a SET v = ? WHERE id = 1", v)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}},
		{"SQL BEGIN/COMMIT on a Conn", func(t *testing.T, db *sql.DB, v int) {
			cn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			mustExec(t, cn, "BEGIN IMMEDIATE")
			mustExec(t, cn, "UPDATE a SET v = ? WHERE id = 1", v)
			mustExec(t, cn, "COMMIT")
		}},
		{"SQL BEGIN with a released savepoint", func(t *testing.T, db *sql.DB, v int) {
			cn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			mustExec(t, cn, "BEGIN")
			mustExec(t, cn, "SAVEPOINT x")
			mustExec(t, cn, "UPDATE a SET v = ? WHERE id = 1", v)
			mustExec(t, cn, "RELEASE x")
			mustExec(t, cn, "END")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSQLiteEnv(t, Config{}, abSchema...)
			c2, err := NewConnector(e.c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			db2 := sql.OpenDB(c2)
			defer db2.Close()
			if c2.sh != e.c.sh {
				t.Fatal("two connectors on one namespace do not share a cache")
			}
			for i := 2; i < 6; i++ {
				e.warm(t, qA)
				tc.write(t, db2, i)
				if got, _ := readInt(t, e.c, e.db, qA); got != int64(i) {
					t.Fatalf("after write %d through db2, db1 reads %d", i, got)
				}
			}
		})
	}
}

// BenchmarkInvalidateFlat measures, with N entries of table t in L1, the cost
// of Connector.Invalidate(t) followed by the next read of t (a miss filled
// from a no-op driver), and of Invalidate alone. Both must not grow with N:
// invalidation moves a generation and touches no entry.
//
// The N entries are the keys the read path builds for
// "SELECT v FROM t WHERE id = ?" with id = 1..N, written straight into L1
// (filling a million through database/sql would only slow the setup); a read
// through the driver checks that they are found as hits before timing.
func BenchmarkInvalidateFlat(b *testing.B) {
	const q = "SELECT v FROM t WHERE id = ?"
	for _, n := range []int{1e3, 1e4, 1e5, 1e6} {
		for _, op := range []string{"invalidate+read", "invalidate"} {
			b.Run(fmt.Sprintf("N=%d/%s", n, op), func(b *testing.B) {
				noop := fakedb.NewNoop([]string{"v"}, [][]driver.Value{{int64(42)}})
				c, err := NewConnector(Config{
					Connector: noop,
					Namespace: fmt.Sprintf("invflat%d", invSeq.Add(1)),
					L1MiB:     512,
				})
				if err != nil {
					b.Fatal(err)
				}
				db := sql.OpenDB(c)
				defer db.Close()
				ctx := context.Background()
				var v int64
				if err := db.QueryRow(q, int64(0)).Scan(&v); err != nil {
					b.Fatal(err)
				}
				fillL1(b, c, q, n)
				hits := c.Stats().L1Hits
				if err := db.QueryRow(q, int64(n/2+1)).Scan(&v); err != nil || v != 42 {
					b.Fatal(v, err)
				}
				if c.Stats().L1Hits != hits+1 {
					b.Fatal("a prefilled entry was not found: the benchmark keys do not match the read path")
				}
				entries := c.Stats().L1Entries
				if entries < int64(n) {
					b.Fatalf("L1 holds %d entries, want at least %d", entries, n)
				}
				misses := c.Stats().L1Misses
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Invalidate(ctx, "t"); err != nil {
						b.Fatal(err)
					}
					if op == "invalidate+read" {
						if err := db.QueryRow(q, int64(0)).Scan(&v); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				if op == "invalidate+read" && c.Stats().L1Misses-misses != int64(b.N) {
					b.Fatalf("%d misses in %d iterations: a read after Invalidate was served stale", c.Stats().L1Misses-misses, b.N)
				}
				b.ReportMetric(float64(entries), "entries")
			})
		}
	}
}

// fillL1 writes n entries for q with id = 1..n under the current generations,
// with the value the read path stored for id = 0.
func fillL1(b *testing.B, c *Connector, q string, n int) {
	b.Helper()
	ctx := context.Background()
	sh := c.sh
	p := c.planFor(q)
	gens, ok := sh.clock.Read(nil, p.reads)
	if !ok {
		b.Fatal("clock does not vouch")
	}
	var kb keying.Builder
	key := func(id int64) keying.Key {
		kb.Reset(c.keyNamespace)
		kb.Query(q)
		if err := kb.Arg(driver.NamedValue{Ordinal: 1, Value: id}); err != nil {
			b.Fatal(err)
		}
		for _, g := range gens {
			kb.Generation(g)
		}
		kb.TTL(c.ttlFor(ctx, p))
		return kb.Sum()
	}
	val, _, hit, err := sh.l1.Get(ctx, key(0))
	if !hit || err != nil {
		b.Fatalf("the entry for id 0 is not where the read path put it (%v)", err)
	}
	for id := int64(1); id <= int64(n); id++ {
		if err := sh.l1.Set(ctx, key(id), val, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnknownFunctionsInvalidateUnlessPure: a read calling a function
// cachedsql does not know may write any table and change the session, so it
// invalidates every table and keeps its connection uncached from then on;
// unless Config.PureFunctions names the function.
func TestUnknownFunctionsInvalidateUnlessPure(t *testing.T) {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		return c.RegisterFunc("dbl", func(x int64) int64 { return 2 * x }, true)
	}}
	for _, pure := range []bool{false, true} {
		t.Run(fmt.Sprintf("pure=%v", pure), func(t *testing.T) {
			dsn := sqliteDSN(filepath.Join(t.TempDir(), "fn.db"))
			cfg := Config{Driver: drv, DSN: dsn, Namespace: fmt.Sprintf("inv%d", invSeq.Add(1))}
			if pure {
				cfg.PureFunctions = []string{"DBL"}
			}
			c, err := NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(1) // one connection: the one that calls dbl
			for _, q := range abSchema {
				mustExec(t, db, q)
			}
			readInt(t, c, db, qA)
			if _, hit := readInt(t, c, db, qA); !hit {
				t.Fatal("second read of a was not a hit")
			}
			before := c.Stats()
			if v := rawInt(t, db, "SELECT dbl(v) FROM a WHERE id = 2"); v != 4 {
				t.Fatalf("dbl(2) = %d", v)
			}
			after := c.Stats()
			_, hit := readInt(t, c, db, qA)
			invalidated := after.Invalidations > before.Invalidations
			if invalidated == pure || hit != pure {
				t.Fatalf("after SELECT dbl(...): invalidated %v, next read a hit %v; want %v and %v", invalidated, hit, !pure, pure)
			}
			if st := c.Stats(); !pure && st.Bypass[BypassSession] == before.Bypass[BypassSession] {
				t.Fatalf("the connection that called dbl still serves cached reads: %+v", st.Bypass)
			}
		})
	}
}

// TestDependenciesOfTheWriter: a write follows the writer's Dependencies, so
// a reader that declares none (another connector on the namespace, or
// another process) still misses what the write reached.
func TestDependenciesOfTheWriter(t *testing.T) {
	e := newSQLiteEnv(t, Config{Dependencies: map[string][]string{"parent": {"child"}}},
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE)",
		"INSERT INTO parent VALUES (1), (2)",
		"INSERT INTO child VALUES (1, 1), (2, 1), (3, 2)")
	r, err := NewConnector(Config{DriverName: "sqlite3", DSN: e.dsn, Namespace: e.c.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	reader := sql.OpenDB(r)
	t.Cleanup(func() { reader.Close() })
	const q = "SELECT COUNT(*) FROM child"
	readInt(t, r, reader, q)
	if _, hit := readInt(t, r, reader, q); !hit {
		t.Fatal("the reader's second read was not a hit")
	}
	mustExec(t, e.db, "DELETE FROM parent WHERE id = 1")
	if got, hit := readInt(t, r, reader, q); hit || got != 1 {
		t.Fatalf("after the cascade: %d rows (hit %v), want 1 from the database", got, hit)
	}
}
