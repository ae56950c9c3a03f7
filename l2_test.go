package cachedsql

// The proofs of issue 3 against real redis-server processes (redistest):
// L2 shared between OS processes, TTL-correct promotion, the failure rules of
// DESIGN §4 and a chaos run on a single node and on a Cluster.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/cachedsql/cachedsql/keying"
)

var l2NamespaceSeq atomic.Int64

// l2Namespace is a namespace no other test in this process uses: connectors
// on one namespace share one cache, and these tests count its hits.
func l2Namespace(t testing.TB) string {
	return fmt.Sprintf("l2t%d-%s", l2NamespaceSeq.Add(1), strings.NewReplacer("/", "_", " ", "_", "{", "_", "}", "_").Replace(t.Name()))
}

// l2Eventually polls cond until it holds or within has passed. It is for
// conditions inside other processes (Redis, children) or behind timers the
// library does not expose (the breaker's backoff), which give no signal.
func l2Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestL2SharedBetweenProcesses: one process fills, a second process with an
// empty L1 answers the same query from Redis without reaching its database.
func TestL2SharedBetweenProcesses(t *testing.T) {
	s := redistest.Start(t)
	dbfile := newSharedSQLite(t, 5)
	dsn := procDSN(dbfile, "redis="+s.URL()+" namespace="+l2Namespace(t)+" ttl=1m")

	a := startChild(t, dsn)
	if v, n, src := a.read(3); v != "v3" || n != 1 || src != "fill" {
		t.Fatalf("A: read 3 = %q, %d queries, from %s; want v3, 1, fill", v, n, src)
	}
	// The L2 write is off the caller's path: wait until it has landed.
	l2Eventually(t, 10*time.Second, "A's L2 write", func() bool { return a.stats().L2BytesWritten > 0 })

	b := startChild(t, dsn)
	for i, want := range []string{"l2", "l1"} { // the L2 hit is promoted into B's L1
		if v, n, src := b.read(3); v != "v3" || n != 0 || src != want {
			t.Fatalf("B read %d: %q, %d queries, from %s; want v3, 0, %s", i, v, n, src, want)
		}
	}
	if n := b.count(); n != 0 {
		t.Fatalf("B's SQLite saw %d queries, want 0", n)
	}
	if st := b.stats(); st.L2Hits != 1 || st.Promotions != 1 || st.Fills != 0 {
		t.Fatalf("B stats: L2 hits %d, promotions %d, fills %d; want 1, 1, 0", st.L2Hits, st.Promotions, st.Fills)
	}

	// And a write in B reaches A: A's next read of the row is not its old entry.
	b.write(3, "new3")
	l2Eventually(t, 10*time.Second, "A seeing B's write", func() bool {
		v, _, _ := a.read(3)
		return v == "new3"
	})
}

// TestL2PromotionNeverOutlivesL2: with a 2 s TTL, a copy promoted into L1 at
// t0+1.2 s is gone when the L2 copy is, so a read at t0+2.3 s reaches the
// database. Elapsed time is what is tested, so the test sleeps.
func TestL2PromotionNeverOutlivesL2(t *testing.T) {
	s := redistest.Start(t)
	dbfile := newSharedSQLite(t, 5)
	dsn := procDSN(dbfile, "redis="+s.URL()+" namespace="+l2Namespace(t)+" ttl=2s")
	a := startChild(t, dsn)
	b := startChild(t, dsn)

	t0 := time.Now()
	if v, n, src := a.read(2); v != "v2" || n != 1 || src != "fill" {
		t.Fatalf("A at t0: %q, %d queries, from %s; want v2, 1, fill", v, n, src)
	}
	steps := []struct {
		at      time.Duration
		queries int64
		source  string
	}{
		{1200 * time.Millisecond, 0, "l2"}, // promoted into B's L1 for what L2 has left (≈0.8 s)
		{1500 * time.Millisecond, 0, "l1"}, // the promoted copy serves
		{2300 * time.Millisecond, 1, "fill"},
	}
	for _, st := range steps {
		time.Sleep(time.Until(t0.Add(st.at)))
		late := time.Since(t0) - st.at
		if late > 250*time.Millisecond {
			t.Skipf("the machine is too loaded to keep the schedule: step at %v ran %v late", st.at, late)
		}
		if v, n, src := b.read(2); v != "v2" || n != st.queries || src != st.source {
			t.Fatalf("B at t0+%v: %q, %d queries, from %s; want v2, %d, %s", st.at, v, n, src, st.queries, st.source)
		}
	}
	if st := b.stats(); st.Promotions != 1 {
		t.Fatalf("B promotions %d, want 1", st.Promotions)
	}
}

// TestCopiesCountDecodingAgainstTheirLife: the life a copy gets is the life
// its source had left when it was read, less the time decoding took, which
// for a large result is milliseconds. Reading 30,000 rows of six columns,
// the decoded copy a second read keeps in front of L1 must end no later than
// the L1 entry, and, in a second cache on the same namespace with an empty
// L1, the copies an L2 hit promotes into L1 and in front of it must end no
// later than the Redis entry.
func TestCopiesCountDecodingAgainstTheirLife(t *testing.T) {
	s := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "big.db")
	raw, err := sql.Open("sqlite3", sqliteInnerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	const n = 30000
	for _, q := range []string{
		"CREATE TABLE big (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c INTEGER, d TEXT, e INTEGER)",
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < %d)
		 INSERT INTO big SELECT i, i*7, 'b' || i, i*13, 'd' || i, i*17 FROM s`, n),
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	ns := l2Namespace(t)
	cfg := Config{DriverName: "sqlite3", DSN: sqliteInnerDSN(path), RedisURL: s.URL(), Namespace: ns,
		L1MiB: 1024, MaxRows: 2 * n, MaxBytes: -1, TTL: Custom(time.Minute)}
	ctx := context.Background()
	read := func(db *sql.DB) {
		t.Helper()
		rows, err := db.QueryContext(ctx, "SELECT id, a, b, c, d, e FROM big")
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for rows.Next() {
			got++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil || got != n {
			t.Fatalf("%d rows, %v; want %d", got, err, n)
		}
	}
	// hotEnd is when the copy in front of sh's L1 ends.
	hotEnd := func(sh *shared, k *keying.Key) time.Time {
		t.Helper()
		e := sh.hot.get(k)
		if e == nil {
			t.Fatal("no decoded copy in front of L1")
		}
		return sh.hot.base.Add(e.deadline)
	}
	// l1End is no earlier than when sh's L1 entry ends.
	l1End := func(sh *shared, k keying.Key) time.Time {
		t.Helper()
		_, left, hit, _ := sh.l1.Get(ctx, k)
		if !hit {
			t.Fatal("not in L1")
		}
		return time.Now().Add(left)
	}
	// Clock readings a few microseconds apart, and PTTL's whole milliseconds.
	const slack = 2 * time.Millisecond

	a, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	adb := sql.OpenDB(a)
	if err := waitStream(a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	read(adb) // fills L1, and L2 off the caller's path
	read(adb) // an L1 hit, decoded and kept in front of L1
	a.sh.bg.Wait()
	if st := a.Stats(); st.Fills != 1 || st.L1Hits != 1 {
		t.Fatalf("A stats %+v: want one fill, then one L1 hit", st)
	}
	rc := s.Client()
	keys, err := rc.Keys(ctx, "cachedsql:"+ns+":*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("L2 keys %v, %v; want one", keys, err)
	}
	var k keying.Key
	if _, err := hex.Decode(k[:], []byte(strings.TrimPrefix(keys[0], "cachedsql:"+ns+":"))); err != nil {
		t.Fatal(err)
	}
	if hot, l1 := hotEnd(a.sh, &k), l1End(a.sh, k); hot.After(l1.Add(slack)) {
		t.Errorf("the decoded copy of an L1 entry outlives it by %v", hot.Sub(l1))
	}
	if err := adb.Close(); err != nil {
		t.Fatal(err)
	}

	// A second cache on the namespace, as in another process: A's is gone
	// from the registry with its last connector.
	b, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bdb := sql.OpenDB(b)
	defer bdb.Close()
	if b.sh == a.sh {
		t.Fatal("B shares A's cache")
	}
	if err := waitStream(b, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	read(bdb)
	if st := b.Stats(); st.L2Hits != 1 || st.Promotions != 1 {
		t.Fatalf("B stats %+v: want one L2 hit, promoted", st)
	}
	pttl, err := rc.PTTL(ctx, keys[0]).Result()
	l2 := time.Now().Add(pttl) // no earlier than the Redis entry's end, but for PTTL's rounding down
	if err != nil || pttl <= 0 {
		t.Fatalf("PTTL %v, %v", pttl, err)
	}
	if l1 := l1End(b.sh, k); l1.After(l2.Add(slack)) {
		t.Errorf("the L1 copy promoted from L2 outlives the Redis entry by %v", l1.Sub(l2))
	}
	if hot := hotEnd(b.sh, &k); hot.After(l2.Add(slack)) {
		t.Errorf("the decoded copy promoted from L2 outlives the Redis entry by %v", hot.Sub(l2))
	}
}

// l2Env is cachedsql in this process over a SQLite file, with Redis L2 and
// L1 disabled (so every read that is not a bypass asks Redis), and the
// values the test expects in each row.
type l2Env struct {
	t    testing.TB
	c    *Connector
	db   *sql.DB
	path string
	mu   sync.Mutex
	want map[int]string
}

const l2EnvRows = 20

func newL2Env(t testing.TB, cfg Config) *l2Env {
	t.Helper()
	e := &l2Env{t: t, path: newSharedSQLite(t, l2EnvRows), want: map[int]string{}}
	for i := 1; i <= l2EnvRows; i++ {
		e.want[i] = "v" + strconv.Itoa(i)
	}
	cfg.DriverName, cfg.DSN, cfg.Driver = "sqlite3", sqliteInnerDSN(e.path), countingSQLite
	if cfg.Namespace == "" {
		cfg.Namespace = l2Namespace(t)
	}
	if cfg.L1MiB == 0 {
		cfg.L1MiB = -1
	}
	if cfg.TTL.isZero() {
		cfg.TTL = Custom(time.Minute)
	}
	c, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.c, e.db = c, sql.OpenDB(c)
	t.Cleanup(func() { e.db.Close() })
	return e
}

// read reads row id and fails the test on an error or a wrong value.
func (e *l2Env) read(id int) {
	e.t.Helper()
	var v string
	if err := e.db.QueryRowContext(context.Background(), kvRead, id).Scan(&v); err != nil {
		e.t.Fatalf("read %d: %v", id, err)
	}
	e.mu.Lock()
	want := e.want[id]
	e.mu.Unlock()
	if v != want {
		e.t.Fatalf("read %d = %q, want %q", id, v, want)
	}
}

func (e *l2Env) write(id int, v string) {
	e.t.Helper()
	if _, err := e.db.ExecContext(context.Background(), kvUpsert, id, v); err != nil {
		e.t.Fatalf("write %d: %v", id, err)
	}
	e.mu.Lock()
	e.want[id] = v
	e.mu.Unlock()
}

// settle waits for the L2 writes that fills left running off the callers' path.
func (e *l2Env) settle() { e.c.sh.bg.Wait() }

// readAllRows reads every row once.
func (e *l2Env) readAllRows() {
	e.t.Helper()
	for id := 1; id <= l2EnvRows; id++ {
		e.read(id)
	}
}

// warm fills L2 with every row and checks the next round is all L2 hits.
func (e *l2Env) warm() {
	e.t.Helper()
	// Until the generation clock has synchronised with Redis, reads bypass.
	if err := waitStream(e.c, 10*time.Second); err != nil {
		e.t.Fatal(err)
	}
	e.readAllRows()
	e.settle()
	before := e.c.Stats().L2Hits
	e.readAllRows()
	if got := e.c.Stats().L2Hits - before; got != l2EnvRows {
		e.t.Fatalf("after warming, %d of %d reads were L2 hits", got, l2EnvRows)
	}
}

// waitL2Hits reads (correctly) until reads are L2 hits again.
func (e *l2Env) waitL2Hits(within time.Duration) {
	e.t.Helper()
	id := 0
	l2Eventually(e.t, within, "L2 hits again", func() bool {
		id = id%l2EnvRows + 1
		e.read(id)
		e.settle()
		before := e.c.Stats().L2Hits
		e.read(id)
		return e.c.Stats().L2Hits > before
	})
}

// l2Junk is what TestL2FailureRules writes under cachedsql's keys: bytes that
// are not cachedsql's format, cachedsql's headers over garbage, an S2 block
// claiming 1 GiB, an entry without a TTL and a key of another type.
var l2Junk = []func(ctx context.Context, rc *redis.Client, key string) error{
	func(ctx context.Context, rc *redis.Client, key string) error {
		return rc.Set(ctx, key, "\x00\xffnot a row set", time.Minute).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error {
		return rc.Set(ctx, key, "", time.Minute).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error { // raw header, garbage msgpack
		return rc.Set(ctx, key, "\xc5\xdf\xff\xff\xff\xff\x01", time.Minute).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error { // S2 header, garbage block
		return rc.Set(ctx, key, "\xc6\x10garbage", time.Minute).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error { // S2 block claiming 1 GiB
		return rc.Set(ctx, key, "\xc6\x80\x80\x80\x80\x04", time.Minute).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error { // a valid-looking entry with no TTL
		v, err := rc.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		return rc.Set(ctx, key, v, 0).Err()
	},
	func(ctx context.Context, rc *redis.Client, key string) error { // WRONGTYPE on GET
		if err := rc.Del(ctx, key).Err(); err != nil {
			return err
		}
		return rc.HSet(ctx, key, "f", "v").Err()
	},
}

// poisonL2 overwrites every L2 key of the namespace with junk and returns
// how many keys it found.
func poisonL2(t testing.TB, rc *redis.Client, ns string) int {
	t.Helper()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "cachedsql:"+ns+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if err := l2Junk[i%len(l2Junk)](ctx, rc, k); err != nil {
			t.Fatalf("poisoning %s: %v", k, err)
		}
	}
	return len(keys)
}

// TestL2FailureRules: Redis absent at start, killed and restarted empty,
// paused with SIGSTOP, and answering garbage. In each case every query
// returns the right row with no error, a paused or dead Redis costs far less
// than a timeout per query, and L2 serves hits again by itself once Redis is
// back. The stale_bound=1h cases keep the generation clock vouching, so every
// read asks the failing Redis and only the L2 breaker stands between the
// query and a timeout.
func TestL2FailureRules(t *testing.T) {
	const (
		timeout = 100 * time.Millisecond
		reads   = 200
	)
	cases := []struct {
		name    string
		absent  bool // Redis is down before the connector opens
		stale   time.Duration
		fail    func(t *testing.T, s *redistest.Server, e *l2Env)
		heal    func(s *redistest.Server)
		corrupt bool // reads during the failure must count corrupt entries or L2 errors
	}{
		{name: "absent at start", absent: true, heal: (*redistest.Server).Restart},
		{name: "killed and restarted empty",
			fail: func(_ *testing.T, s *redistest.Server, _ *l2Env) { s.Stop() }, heal: (*redistest.Server).Restart},
		{name: "killed and restarted empty, stale_bound=1h", stale: time.Hour,
			fail: func(_ *testing.T, s *redistest.Server, _ *l2Env) { s.Stop() }, heal: (*redistest.Server).Restart},
		{name: "paused", fail: func(_ *testing.T, s *redistest.Server, _ *l2Env) { s.Pause() }, heal: (*redistest.Server).Resume},
		{name: "paused, stale_bound=1h", stale: time.Hour,
			fail: func(_ *testing.T, s *redistest.Server, _ *l2Env) { s.Pause() }, heal: (*redistest.Server).Resume},
		{name: "garbage under its keys", corrupt: true, heal: func(*redistest.Server) {},
			fail: func(t *testing.T, s *redistest.Server, e *l2Env) {
				if n := poisonL2(t, s.Client(), e.c.Namespace()); n < l2EnvRows {
					t.Fatalf("found %d L2 keys to poison, want at least %d", n, l2EnvRows)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			if tc.absent {
				s.Stop()
			}
			e := newL2Env(t, Config{RedisURL: s.URL(), RedisTimeout: timeout, StaleBound: tc.stale})
			if !tc.absent {
				e.warm()
				tc.fail(t, s, e)
			}
			before := e.c.Stats()

			start := time.Now()
			for i := range reads {
				e.read(i%l2EnvRows + 1)
			}
			elapsed := time.Since(start)
			during := e.c.Stats()
			t.Logf("%d reads in %v; L2 hits %d, errors %d, corrupt %d, out_of_sync bypasses %d, breaker %q",
				reads, elapsed, during.L2Hits-before.L2Hits, during.L2Errors-before.L2Errors,
				during.Corrupt-before.Corrupt, during.Bypass[BypassOutOfSync]-before.Bypass[BypassOutOfSync], during.L2Breaker)
			if limit := reads * timeout / 4; elapsed > limit {
				t.Fatalf("%d reads took %v: more than %v, a quarter of a %v timeout per read", reads, elapsed, limit, timeout)
			}
			if tc.stale == time.Hour && during.L2Breaker == "closed" && during.L2Errors == before.L2Errors {
				t.Fatalf("with stale_bound=1h every read asks Redis, yet no L2 error was counted and the breaker is closed")
			}
			if tc.corrupt && during.Corrupt == before.Corrupt && during.L2Errors == before.L2Errors {
				t.Fatalf("reads over junk counted no corrupt entry and no L2 error")
			}
			// Writes while Redis fails reach the database and later reads.
			for id := 1; id <= 3; id++ {
				e.write(id, fmt.Sprintf("during-%d", id))
				e.read(id)
			}

			tc.heal(s)
			e.waitL2Hits(30 * time.Second)
			for id := 1; id <= 3; id++ {
				e.read(id)
			}
		})
	}
}

// TestL2StalledRedisShortDeadlines: with Redis stalled and every read
// under a deadline shorter than redis_timeout (an HTTP handler's budget), each
// read still returns its row from the database in time, and the breaker
// opens (half the deadline is a fair wait: at least a quarter of
// redis_timeout). (stale_bound=1h keeps every read asking Redis.)
func TestL2StalledRedisShortDeadlines(t *testing.T) {
	s := redistest.Start(t)
	e := newL2Env(t, Config{RedisURL: s.URL(), RedisTimeout: 1600 * time.Millisecond, StaleBound: time.Hour})
	e.warm()
	s.Pause()
	t.Cleanup(s.Resume)
	for i := range 2 * l2EnvRows {
		id := i%l2EnvRows + 1
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var v string
		err := e.db.QueryRowContext(ctx, kvRead, id).Scan(&v)
		cancel()
		if err != nil || v != e.want[id] {
			t.Fatalf("read %d of row %d with Redis stalled: %q, %v; want %q", i, id, v, err, e.want[id])
		}
	}
	if st := e.c.Stats(); st.L2Breaker == "closed" {
		t.Fatalf("the breaker is closed after %d reads found Redis stalled: %+v", 2*l2EnvRows, st)
	}
}

// l2Chaos drives the chaos runs: ops queries from workers goroutines over
// keys rows, one in writeEvery a write, with hooks run when a third and two
// thirds of the operations have started. (A write moves the generation of
// the whole table, so frequent writes would leave the cache nothing to serve.)
type l2Chaos struct {
	ops, workers, keys, writeEvery int
	atThird, atTwoThirds           func()
}

// chaosRow is one row's history. Writes to a row are serialised by mu, so the
// database holds version committed, or started while a write is under way.
// A read that began when committed was lo and ended when started was hi may
// return any version in [lo, hi]: each was current at some moment of the
// read. Anything else (an older version from a stale cache entry, another
// row's value) is a wrong row.
type chaosRow struct {
	mu                 sync.Mutex
	started, committed atomic.Int64
}

func chaosValue(id int, version int64) string { return fmt.Sprintf("%d:%d", id, version) }

// run executes the operations on db and returns the errors and wrong rows seen.
func (ch l2Chaos) run(t *testing.T, db *sql.DB) (errs, wrong []string) {
	ctx := context.Background()
	rows := make([]chaosRow, ch.keys+1)
	for id := 1; id <= ch.keys; id++ {
		if _, err := db.ExecContext(ctx, kvUpsert, id, chaosValue(id, 0)); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu          sync.Mutex
		next        atomic.Int64
		third, two  = make(chan struct{}), make(chan struct{})
		done        = make(chan struct{})
		controlDone = make(chan struct{})
	)
	go func() { // runs the hooks outside the workers, as an operator would
		defer close(controlDone)
		for _, step := range []struct {
			at <-chan struct{}
			do func()
		}{{third, ch.atThird}, {two, ch.atTwoThirds}} {
			select {
			case <-step.at:
				step.do()
			case <-done:
				return
			}
		}
	}()
	record := func(list *[]string, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(*list) < 20 {
			*list = append(*list, fmt.Sprintf(format, args...))
		} else if len(*list) == 20 {
			*list = append(*list, "...")
		}
	}
	var wg sync.WaitGroup
	for w := range ch.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				op := int(next.Add(1))
				if op > ch.ops {
					return
				}
				switch op {
				case ch.ops / 3:
					close(third)
				case 2 * ch.ops / 3:
					close(two)
				}
				id := (op*7+w)%ch.keys + 1
				r := &rows[id]
				if op%ch.writeEvery == 0 {
					r.mu.Lock()
					v := r.started.Add(1)
					_, err := db.ExecContext(ctx, kvUpsert, id, chaosValue(id, v))
					if err == nil {
						r.committed.Store(v)
					} else {
						// The write may or may not have landed: keep both
						// versions possible by leaving started ahead.
						record(&errs, "op %d: write %d: %v", op, id, err)
					}
					r.mu.Unlock()
					continue
				}
				lo := r.committed.Load()
				var got string
				err := db.QueryRowContext(ctx, kvRead, id).Scan(&got)
				hi := r.started.Load()
				if err != nil {
					record(&errs, "op %d: read %d: %v", op, id, err)
					continue
				}
				gid, gv, ok := strings.Cut(got, ":")
				version, perr := strconv.ParseInt(gv, 10, 64)
				if !ok || perr != nil || gid != strconv.Itoa(id) || version < lo || version > hi {
					record(&wrong, "op %d: read %d = %q, want %d:[%d..%d]", op, id, got, id, lo, hi)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-controlDone
	return errs, wrong
}

// TestL2Chaos: 2,000 queries from 16 goroutines over 32 rows with writes
// mixed in (1 in 40), while Redis is killed at one third and restarted (empty) at two
// thirds: no error and no wrong row, with L1 off (every read asks L2) and on.
func TestL2Chaos(t *testing.T) {
	for _, l1 := range []int{-1, DefaultL1MiB} {
		t.Run(fmt.Sprintf("l1_mib=%d", max(l1, 0)), func(t *testing.T) {
			s := redistest.Start(t)
			e := newL2Env(t, Config{RedisURL: s.URL(), L1MiB: l1})
			if err := waitStream(e.c, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			var atKill Stats
			ch := l2Chaos{ops: 2000, workers: 16, keys: 32, writeEvery: 40,
				atThird:     func() { atKill = e.c.Stats(); s.Stop() },
				atTwoThirds: s.Restart,
			}
			errs, wrong := ch.run(t, e.db)
			end := e.c.Stats()
			t.Logf("at the kill: L1 hits %d, L2 hits %d, L2 errors %d, fills %d; at the end: L1 hits %d, L2 hits %d, L2 errors %d, fills %d, out_of_sync %d, breaker %s",
				atKill.L1Hits, atKill.L2Hits, atKill.L2Errors, atKill.Fills, end.L1Hits, end.L2Hits, end.L2Errors, end.Fills, end.Bypass[BypassOutOfSync], end.L2Breaker)
			if len(errs) > 0 || len(wrong) > 0 {
				t.Fatalf("%d errors, %d wrong rows:\n%s\n%s", len(errs), len(wrong), strings.Join(errs, "\n"), strings.Join(wrong, "\n"))
			}
			if atKill.L1Hits+atKill.L2Hits == 0 {
				t.Fatalf("no cache hit before the kill: the run did not exercise the cache")
			}
		})
	}
}

// TestL2ChaosCluster is the chaos run against a three-master Redis Cluster
// from a cluster URL, killing one master at one third and restarting it at
// two thirds: once the master holding the namespace's generation keys, once
// another.
func TestL2ChaosCluster(t *testing.T) {
	for _, victim := range []string{"generation master", "other master"} {
		t.Run(victim, func(t *testing.T) {
			cl := redistest.StartCluster(t, 3)
			ns := l2Namespace(t)
			genMaster := clusterMasterOf(t, cl, "cachedsql:{"+ns+"}:gen")
			kill := genMaster
			if victim == "other master" {
				kill = (genMaster + 1) % 3
			}
			e := newL2Env(t, Config{RedisURL: cl.URL(), Namespace: ns})
			if err := waitStream(e.c, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			var atKill Stats
			ch := l2Chaos{ops: 2000, workers: 16, keys: 32, writeEvery: 40,
				atThird:     func() { atKill = e.c.Stats(); cl.KillMaster(kill) },
				atTwoThirds: func() { cl.Master(kill).Restart() },
			}
			errs, wrong := ch.run(t, e.db)
			end := e.c.Stats()
			t.Logf("killed master %d (generation keys on %d); at the kill: L2 hits %d, L2 errors %d, fills %d; at the end: L2 hits %d, L2 errors %d, fills %d, out_of_sync %d, breaker %s",
				kill, genMaster, atKill.L2Hits, atKill.L2Errors, atKill.Fills, end.L2Hits, end.L2Errors, end.Fills, end.Bypass[BypassOutOfSync], end.L2Breaker)
			if len(errs) > 0 || len(wrong) > 0 {
				t.Fatalf("%d errors, %d wrong rows:\n%s\n%s", len(errs), len(wrong), strings.Join(errs, "\n"), strings.Join(wrong, "\n"))
			}
			if atKill.L2Hits == 0 {
				t.Fatalf("no L2 hit before the kill: the run did not exercise the Cluster")
			}
		})
	}
}

// clusterMasterOf returns the index (in cl.Addrs order) of the master
// serving key's slot.
func clusterMasterOf(t testing.TB, cl *redistest.Cluster, key string) int {
	t.Helper()
	ctx := context.Background()
	cc := cl.Client()
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			for i, a := range cl.Addrs() {
				if a == r.Nodes[0].Addr {
					return i
				}
			}
		}
	}
	t.Fatalf("no master serves slot %d of %s", slot, key)
	return -1
}

// TestL2ClusterPausedMaster: one master of a three-master Cluster paused with
// SIGSTOP. Reads stay correct, and must not pay a timeout for each read of a
// key on the paused master. The reads alternate one row stored on the paused
// master with two stored on live ones, as an application's mix of keys does.
//
// It fails today: the L2 breaker is one for the whole Cluster and counts
// consecutive failures, so the live masters' successes keep it closed and
// every read of a key on the stalled master pays the timeout.
func TestL2ClusterPausedMaster(t *testing.T) {
	const (
		timeout = 100 * time.Millisecond
		reads   = 201
	)
	cl := redistest.StartCluster(t, 3)
	ns := l2Namespace(t)
	genMaster := clusterMasterOf(t, cl, "cachedsql:{"+ns+"}:gen")
	paused := (genMaster + 1) % 3
	// stale_bound=1h: the generation keys are on a live master anyway; this
	// keeps every read asking L2.
	e := newL2Env(t, Config{RedisURL: cl.URL(), Namespace: ns, RedisTimeout: timeout, StaleBound: time.Hour})
	if err := waitStream(e.c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	onPaused, onLive := l2RowsByMaster(t, cl, e, paused)
	if len(onPaused) == 0 || len(onLive) == 0 {
		t.Skipf("rows on the paused master %v, on live ones %v: need both", onPaused, onLive)
	}
	cl.Master(paused).Pause()
	defer cl.Master(paused).Resume()
	before := e.c.Stats()
	start := time.Now()
	for i := range reads {
		if i%3 == 0 {
			e.read(onPaused[(i/3)%len(onPaused)])
		} else {
			e.read(onLive[i%len(onLive)])
		}
	}
	elapsed := time.Since(start)
	during := e.c.Stats()
	t.Logf("%d reads (%d of rows on the paused master %d) in %v; L2 hits %d, errors %d, breaker %q",
		reads, (reads+2)/3, paused, elapsed, during.L2Hits-before.L2Hits, during.L2Errors-before.L2Errors, during.L2Breaker)
	if limit := reads * timeout / 4; elapsed > limit {
		t.Errorf("%d reads took %v: more than %v, a quarter of a %v timeout per read (one L2 breaker for the whole Cluster, kept closed by the live masters: see the comment above)", reads, elapsed, limit, timeout)
	}
	cl.Master(paused).Resume()
	e.waitL2Hits(30 * time.Second)
}

// l2RowsByMaster fills every row one at a time and sorts the rows by whether
// the master holding its L2 entry is master paused.
func l2RowsByMaster(t testing.TB, cl *redistest.Cluster, e *l2Env, paused int) (onPaused, onLive []int) {
	t.Helper()
	ctx := context.Background()
	clients := make([]*redis.Client, len(cl.Addrs()))
	for i, a := range cl.Addrs() {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	seen := map[string]bool{}
	for id := 1; id <= l2EnvRows; id++ {
		e.read(id)
		e.settle()
		found := -1
		for i, rc := range clients {
			keys, err := rc.Keys(ctx, "cachedsql:"+e.c.Namespace()+":*").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					found = i
				}
			}
		}
		switch found {
		case -1:
			t.Fatalf("row %d: no new L2 key after its fill", id)
		case paused:
			onPaused = append(onPaused, id)
		default:
			onLive = append(onLive, id)
		}
	}
	return onPaused, onLive
}

// redisCalls is how many times Redis has run cmd (INFO commandstats).
func redisCalls(t testing.TB, rc *redis.Client, cmd string) int64 {
	t.Helper()
	info, err := rc.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			if err != nil {
				t.Fatalf("commandstats line %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// TestL2LookupsCoalesce: identical reads that arrive while an L2 lookup for
// their key is under way wait for it instead of sending their own GET, and
// each gets the right rows. Redis is paused so that the first GET stays
// unanswered until every reader has arrived.
func TestL2LookupsCoalesce(t *testing.T) {
	s := redistest.Start(t)
	e := newL2Env(t, Config{RedisURL: s.URL(), RedisTimeout: 10 * time.Second, StaleBound: time.Hour})
	e.warm()
	rc := s.Client()
	gets := redisCalls(t, rc, "get")
	inner := countingSQLite.Queries()

	const readers = 16
	s.Pause()
	paused := true
	defer func() {
		if paused {
			s.Resume()
		}
	}()
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v string
			if err := e.db.QueryRowContext(context.Background(), kvRead, 3).Scan(&v); err != nil || v != "v3" {
				t.Errorf("read 3 = %q, %v; want v3", v, err)
			}
		}()
	}
	waitFor(t, "every reader waiting on one L2 lookup", func() bool { return e.c.sh.l2reads.Waiters() == readers })
	before := e.c.Stats().L2Hits
	s.Resume()
	paused = false
	wg.Wait()
	if got := e.c.Stats().L2Hits - before; got != readers {
		t.Fatalf("%d L2 hits; want %d", got, readers)
	}
	if n := redisCalls(t, rc, "get") - gets; n != 1 {
		t.Fatalf("Redis ran GET %d times for %d identical concurrent reads; want 1", n, readers)
	}
	if n := countingSQLite.Queries() - inner; n != 0 {
		t.Fatalf("%d queries reached the database", n)
	}
}

// TestL2WaiterThatLeavesStartsNothing: a caller whose context ends while it
// waits on another caller's L2 lookup returns its context's error, and
// neither counts an L2 error nor sends a query to the database.
func TestL2WaiterThatLeavesStartsNothing(t *testing.T) {
	s := redistest.Start(t)
	e := newL2Env(t, Config{RedisURL: s.URL(), RedisTimeout: 10 * time.Second, StaleBound: time.Hour})
	e.warm()
	inner := countingSQLite.Queries()
	before := e.c.Stats()

	s.Pause()
	paused := true
	defer func() {
		if paused {
			s.Resume()
		}
	}()
	leaderDone := make(chan error)
	go func() {
		var v string
		leaderDone <- e.db.QueryRowContext(context.Background(), kvRead, 4).Scan(&v)
	}()
	waitFor(t, "the leader's lookup under way", func() bool { return e.c.sh.l2reads.Waiters() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	waiterDone := make(chan error)
	go func() {
		var v string
		waiterDone <- e.db.QueryRowContext(ctx, kvRead, 4).Scan(&v)
	}()
	waitFor(t, "the waiter on the leader's lookup", func() bool { return e.c.sh.l2reads.Waiters() == 2 })
	cancel()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter that left got %v; want context.Canceled", err)
	}
	s.Resume()
	paused = false
	if err := <-leaderDone; err != nil {
		t.Fatalf("leader: %v", err)
	}
	after := e.c.Stats()
	if after.L2Errors != before.L2Errors || after.L2Hits != before.L2Hits+1 {
		t.Fatalf("L2 errors %d -> %d, hits %d -> %d; want no error and the leader's one hit",
			before.L2Errors, after.L2Errors, before.L2Hits, after.L2Hits)
	}
	if n := countingSQLite.Queries() - inner; n != 0 {
		t.Fatalf("%d queries reached the database", n)
	}
}

// TestL2SharedLookupReadersGetTheirOwnBytes: with L1 off, readers that
// joined one L2 lookup share its decoded result, so each must get private
// []byte values: the lookup's leader scribbling on its sql.RawBytes before
// the others read a row changes nothing they read. (A reader whose lookup
// nobody joined is handed the result's own values.)
func TestL2SharedLookupReadersGetTheirOwnBytes(t *testing.T) {
	s := redistest.Start(t)
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	var data [][]driver.Value
	for i := range 8 {
		data = append(data, []driver.Value{int64(i), []byte("payload-" + string(rune('a'+i)))})
	}
	d.CreateTable("docs", fakedb.Cols("id", "body"), data...)
	db := openCached(t, name, "l1_mib=0 redis_timeout=10s redis="+s.URL())
	c := mustConnector(t, db)
	if err := waitStream(c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT * FROM docs"
	// read checks every row and scribbles on its bytes; before it reads a
	// row it waits for wait, and once done, if done is not nil, it closes
	// done and keeps its rows open until release is closed.
	read := func(wait, done, release chan struct{}) error {
		r, err := db.Query(q)
		if err != nil {
			return err
		}
		defer r.Close()
		if wait != nil {
			<-wait
		}
		i := 0
		for r.Next() {
			var id int64
			var body sql.RawBytes
			if err := r.Scan(&id, &body); err != nil {
				return err
			}
			if want := "payload-" + string(rune('a'+i)); string(body) != want {
				return fmt.Errorf("row %d: %q, want %q", i, body, want)
			}
			for j := range body {
				body[j] = 'X'
			}
			i++
		}
		if i != len(data) {
			return fmt.Errorf("%d rows, want %d", i, len(data))
		}
		if done != nil {
			close(done)
			<-release
		}
		return r.Err()
	}
	if err := read(nil, nil, nil); err != nil { // the fill
		t.Fatal(err)
	}
	c.sh.bg.Wait() // its L2 write
	if err := read(nil, nil, nil); err != nil || c.Stats().L2Hits != 1 {
		t.Fatalf("a lone L2 hit: %v, L2 hits %d", err, c.Stats().L2Hits)
	}

	s.Pause()
	paused := true
	defer func() {
		if paused {
			s.Resume()
		}
	}()
	scribbled, release := make(chan struct{}), make(chan struct{})
	leader := make(chan error, 1)
	go func() { leader <- read(nil, scribbled, release) }()
	waitFor(t, "the leader's lookup under way", func() bool { return c.sh.l2reads.Waiters() == 1 })
	const waiters = 4
	errs := make(chan error, waiters)
	for range waiters {
		go func() { errs <- read(scribbled, nil, nil) }()
	}
	waitFor(t, "every waiter on the leader's lookup", func() bool { return c.sh.l2reads.Waiters() == 1+waiters })
	s.Resume()
	paused = false
	for range waiters {
		if err := <-errs; err != nil {
			t.Errorf("a waiter, after the leader scribbled: %v", err)
		}
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatalf("leader: %v", err)
	}
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("%d database reads; want 1", n)
	}
}

// TestL2PromotedReaderGetsItsOwnBytes: an L2 hit that L1 keeps (decoded, for
// the next readers) is shared even when nobody joined its lookup: its reader
// scribbling on its sql.RawBytes changes nothing the next L1 hit reads.
func TestL2PromotedReaderGetsItsOwnBytes(t *testing.T) {
	s := redistest.Start(t)
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.CreateTable("docs", fakedb.Cols("id", "body"), []driver.Value{int64(1), []byte("payload")})
	// L1 entries live 1s, L2 entries a minute: once L1's copy has expired,
	// the next read is an L2 hit, promoted into L1 again.
	db := openCached(t, name, "ttl=1m l1_ttl=1s redis_timeout=10s redis="+s.URL())
	c := mustConnector(t, db)
	if err := waitStream(c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT * FROM docs"
	read := func() error {
		var id int64
		var body sql.RawBytes
		r, err := db.Query(q)
		if err != nil {
			return err
		}
		defer r.Close()
		if !r.Next() {
			return fmt.Errorf("no row: %v", r.Err())
		}
		if err := r.Scan(&id, &body); err != nil {
			return err
		}
		if string(body) != "payload" {
			return fmt.Errorf("body %q, want payload", body)
		}
		for j := range body {
			body[j] = 'X'
		}
		return nil
	}
	if err := read(); err != nil { // the fill
		t.Fatal(err)
	}
	c.sh.bg.Wait()                      // its L2 write
	time.Sleep(1100 * time.Millisecond) // L1's copy expiring is what sets this up
	before := c.Stats()
	for _, want := range []string{"an L2 hit", "the L1 hit after it"} {
		if err := read(); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
	}
	// The L1 hit must be the hot set's decoded result, the one the L2 reader
	// was handed: a hit that decoded L1's bytes afresh would prove nothing.
	if st := c.Stats(); st.L2Hits-before.L2Hits != 1 || st.Promotions-before.Promotions != 1 || st.L1DecodedHits-before.L1DecodedHits != 1 {
		t.Fatalf("L2 hits +%d, promotions +%d, decoded L1 hits +%d; want +1 each",
			st.L2Hits-before.L2Hits, st.Promotions-before.Promotions, st.L1DecodedHits-before.L1DecodedHits)
	}
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("%d database reads; want 1", n)
	}
}

// TestL2HitsShareColumns: an L2 hit decodes with its query's ColumnCache,
// so the query's later entries share their columns rather than parse them.
func TestL2HitsShareColumns(t *testing.T) {
	s := redistest.Start(t)
	e := newL2Env(t, Config{RedisURL: s.URL()})
	p := e.c.planFor(kvRead)
	if cols := p.cols.Columns(); cols != nil {
		t.Fatalf("before any read, the plan shares columns %v", cols)
	}
	e.warm() // the second round of reads is all L2 hits
	cols := p.cols.Columns()
	if len(cols) != 1 || cols[0].Name != "v" {
		t.Fatalf("after L2 hits on %q, the plan shares columns %+v; want the one column v", kvRead, cols)
	}
	// Another round of L2 hits shares those columns: a decode that parsed
	// them again would offer them again, and the cache would take the copy.
	before := e.c.Stats().L2Hits
	e.readAllRows()
	if got := e.c.Stats().L2Hits - before; got != l2EnvRows {
		t.Fatalf("%d of %d reads were L2 hits", got, l2EnvRows)
	}
	if again := p.cols.Columns(); len(again) != 1 || &again[0] != &cols[0] {
		t.Fatalf("after %d more L2 hits the plan holds other columns: %+v", l2EnvRows, again)
	}
}
