package cachedsql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/generation"
	"github.com/cachedsql/cachedsql/internal/redistest"
)

// kvProcess is the configuration of a process over the shared SQLite file
// at path (newSharedSQLite), on namespace ns and Redis url.
func kvProcess(path, ns, url string) Config {
	return Config{DriverName: "sqlite3", DSN: sqliteInnerDSN(path), Driver: countingSQLite,
		Namespace: ns, RedisURL: url, TTL: Custom(time.Minute)}
}

// openProcess opens a connector with a cache of its own, as another OS process
// would have: the namespace's registry entry is dropped once it is made, so
// the next connector on the namespace makes its own clock, L1 and L2.
func openProcess(t *testing.T, cfg Config) (*Connector, *sql.DB) {
	t.Helper()
	c, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	registry.mu.Lock()
	if registry.m[cfg.Namespace] == c.sh {
		delete(registry.m, cfg.Namespace)
	}
	registry.mu.Unlock()
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	if err := waitStream(c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitSync(ctx); err != nil {
		t.Fatal(err)
	}
	return c, db
}

// tcpProxy forwards to a Redis; down cuts every connection and refuses new
// ones (a network partition between one process and Redis), up heals it.
type tcpProxy struct {
	l       net.Listener
	backend string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]bool
}

func newTCPProxy(t *testing.T, backend string) *tcpProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, backend: backend, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *tcpProxy) URL() string { return "redis://" + p.l.Addr().String() + "/0" }

func (p *tcpProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = true, true
	p.mu.Unlock()
	go func() { io.Copy(b, c); b.Close(); c.Close() }()
	io.Copy(c, b)
	c.Close()
	b.Close()
}

func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func readKV(t *testing.T, db *sql.DB, id int) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), kvRead, id).Scan(&v); err != nil {
		t.Fatalf("read %d: %v", id, err)
	}
	return v
}

func writeKV(t *testing.T, db *sql.DB, id int, v string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), kvUpsert, id, v); err != nil {
		t.Fatalf("write %d: %v", id, err)
	}
}

// TestReviewRestartFromSnapshotServesStaleRow: Redis restarts from its last
// RDB snapshot, which lacks the last write ("!seq" 2 -> 1). Process A is cut
// off from Redis meanwhile; process C, started after the restart, writes row
// 1, which Redis numbers seq 2, kv=2 again in the same epoch. When A gets
// back, its resync sees "!seq" 2, no lower than what it saw, keeps the epoch
// and loads kv=2: A's L1 entry filled before C's write is served again.
func TestReviewRestartFromSnapshotServesStaleRow(t *testing.T) {
	s := redistest.Start(t)
	proxy := newTCPProxy(t, s.Addr())
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	cfg := func(url string) Config { return kvProcess(path, ns, url) }
	ctx := context.Background()
	rdb := s.Client()

	bc, bdb := openProcess(t, cfg(s.URL()))
	ac, adb := openProcess(t, cfg(proxy.URL()))
	writeKV(t, bdb, 1, "a")
	l2Eventually(t, 10*time.Second, "A receives B's first write", func() bool { return ac.Stats().StreamReceived >= 1 })
	if err := rdb.Save(ctx).Err(); err != nil { // the snapshot Redis will restart from
		t.Fatal(err)
	}
	writeKV(t, bdb, 1, "b")
	l2Eventually(t, 10*time.Second, "A receives B's second write", func() bool { return ac.Stats().StreamReceived >= 2 })
	if v := readKV(t, adb, 1); v != "b" {
		t.Fatalf("A reads %q, want b", v)
	}
	hits := ac.Stats().L1Hits
	if v := readKV(t, adb, 1); v != "b" || ac.Stats().L1Hits != hits+1 {
		t.Fatalf("A's second read: %q, L1 hits %d -> %d; want b from L1", v, hits, ac.Stats().L1Hits)
	}
	bc.sh.bg.Wait()
	bdb.Close() // B exits

	proxy.setDown(true) // A is cut off from Redis
	s.Restart()         // SIGKILL, then start from dump.rdb: the second write is lost
	if seq, err := rdb.HGet(ctx, "cachedsql:{"+ns+"}:gen", "!seq").Result(); err != nil || seq != "1" {
		t.Fatalf("after the restart !seq = %q, %v; want 1 (from the snapshot)", seq, err)
	}
	_, cdb := openProcess(t, cfg(s.URL())) // C starts after the restart
	writeKV(t, cdb, 1, "c")                // returns: the write is done
	resyncs := ac.Stats().Resyncs
	proxy.setDown(false)
	l2Eventually(t, 10*time.Second, "A resyncs", func() bool {
		st := ac.Stats()
		return st.Resyncs > resyncs && st.StreamConnected
	})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ac.WaitSync(wctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		before := ac.Stats()
		if v := readKV(t, adb, 1); v != "c" {
			t.Fatalf("read %d in A after C's write returned and A resynced: %q, want c (source %s)", i, v, readSource(before, ac.Stats()))
		}
	}
}

// TestReviewCloseDropsUnpublishedInvalidation: W writes while cut off from
// Redis (the write returns; the change is pending, to be published "when Redis
// answers again"). Redis answers W again, and W's program shuts down (Close)
// before the background loop has published. Close drops the pending change:
// R never learns of the write and serves its old entry for the whole TTL.
func TestReviewCloseDropsUnpublishedInvalidation(t *testing.T) {
	s := redistest.Start(t)
	proxy := newTCPProxy(t, s.Addr())
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	cfg := func(url string) Config { return kvProcess(path, ns, url) }
	rc, rdb := openProcess(t, cfg(s.URL()))
	wc, wdb := openProcess(t, cfg(proxy.URL()))
	if v := readKV(t, rdb, 1); v != "v1" {
		t.Fatalf("R reads %q", v)
	}
	proxy.setDown(true)
	l2Eventually(t, 10*time.Second, "W notices it is cut off", func() bool { return !wc.Stats().StreamConnected })
	writeKV(t, wdb, 1, "w")             // returns without error: applied in W, pending for the others
	proxy.setDown(false)                // Redis answers W again
	if err := wdb.Close(); err != nil { // W's program exits
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if readKV(t, rdb, 1) == "w" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("3s after W's write returned and W closed with Redis answering, R still reads %q (R received %d events)",
		readKV(t, rdb, 1), rc.Stats().StreamReceived)
}

// TestReviewEvictionAllKeysRandom: with Redis under maxmemory allkeys-random
// and other data pushing it (so the generation hash and the stream are
// evicted now and then), every write B makes reaches A.
func TestReviewEvictionAllKeysRandom(t *testing.T) {
	s := redistest.Start(t, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random")
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	cfg := kvProcess(path, ns, s.URL())
	cfg.StaleBound = 200 * time.Millisecond
	ac, adb := openProcess(t, cfg)
	_, bdb := openProcess(t, cfg)
	rdb := s.Client()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		junk := make([]byte, 16<<10)
		for n := 0; ctx.Err() == nil; n++ {
			rdb.Set(ctx, "junk:"+strconv.Itoa(n), junk, 0)
		}
	}()
	defer func() { stop(); <-done }()
	for i := range 150 {
		id := i%3 + 1
		readKV(t, adb, id)
		readKV(t, adb, id)
		v := "x" + strconv.Itoa(i)
		writeKV(t, bdb, id, v)
		l2Eventually(t, 5*time.Second, "A reads B's write "+v, func() bool { return readKV(t, adb, id) == v })
	}
	info, _ := rdb.Info(context.Background(), "stats").Result()
	for _, l := range strings.Split(info, "\r\n") {
		if strings.HasPrefix(l, "evicted_keys:") {
			t.Logf("%s, A resyncs %d", l, ac.Stats().Resyncs)
		}
	}
}

// TestCloseReportsUnpublishedInvalidation: a process that closes while Redis
// still cannot be reached gets an error from Close that says so (and names
// the table in the log), rather than nil.
func TestCloseReportsUnpublishedInvalidation(t *testing.T) {
	s := redistest.Start(t)
	proxy := newTCPProxy(t, s.Addr())
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	var logs bytes.Buffer
	cfg := kvProcess(path, ns, proxy.URL())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	wc, wdb := openProcess(t, cfg)
	proxy.setDown(true)
	l2Eventually(t, 10*time.Second, "W notices it is cut off", func() bool { return !wc.Stats().StreamConnected })
	writeKV(t, wdb, 1, "w")
	err := wdb.Close()
	if !errors.Is(err, generation.ErrNotPublished) {
		t.Fatalf("Close with Redis unreachable and a write unpublished: %v, want an error wrapping generation.ErrNotPublished", err)
	}
	if !strings.Contains(logs.String(), "kv") {
		t.Errorf("the log does not name the table: %s", logs.String())
	}
}
