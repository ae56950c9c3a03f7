package cachedsql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// refuseWritesThenCheckReader: reader R fills row 1; then refuse makes Redis
// refuse writes while it still answers reads; writer W updates row 1 (the
// write returns); R, whose stream stays connected, must read the new row
// within a few seconds (StaleBound is 1 s).
func refuseWritesThenCheckReader(t *testing.T, s *redistest.Server, refuse func(), withC bool) {
	t.Helper()
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	cfg := kvProcess(path, ns, s.URL())
	rc, rdb := openProcess(t, cfg)
	wc, wdb := openProcess(t, cfg)
	if v := readKV(t, rdb, 1); v != "v1" {
		t.Fatalf("R reads %q, want v1", v)
	}
	rc.sh.bg.Wait()
	refuse()
	if _, err := wdb.ExecContext(context.Background(), kvUpsert, 1, "new"); err != nil {
		t.Fatalf("W's write: %v", err)
	}
	if v := readKV(t, wdb, 1); v != "new" {
		t.Fatalf("W reads %q after its own write", v)
	}
	// A process started after the write returned must read the new row: it
	// cannot get in sync with a Redis that refuses its writes, so it reads
	// from the database.
	if withC {
		cc, err := NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		registry.mu.Lock()
		if registry.m[cfg.Namespace] == cc.sh {
			delete(registry.m, cfg.Namespace)
		}
		registry.mu.Unlock()
		cdb := sql.OpenDB(cc)
		t.Cleanup(func() { cdb.Close() })
		before := cc.Stats()
		if v := readKV(t, cdb, 1); v != "new" {
			t.Errorf("C, opened after W's write returned, reads %q (source %s)", v, readSource(before, cc.Stats()))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := cc.WaitSync(ctx); err == nil {
			t.Errorf("C got in sync with a Redis that refuses writes")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	var v string
	var before, after Stats
	for time.Now().Before(deadline) {
		before = rc.Stats()
		v = readKV(t, rdb, 1)
		after = rc.Stats()
		if v == "new" {
			info, _ := s.Client().Info(context.Background(), "memory").Result()
			for _, l := range strings.Split(info, "\r\n") {
				if strings.HasPrefix(l, "used_memory:") || strings.HasPrefix(l, "maxmemory:") {
					t.Logf("%s", l)
				}
			}
			t.Logf("R got new: source %s, W sent %d, R received %d resyncs %d", readSource(before, after), wc.Stats().StreamSent, after.StreamReceived, after.Resyncs)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("5s after W's write of row 1 returned, R still reads %q (source %s, R stream connected %v, R received %d events; W sent %d)",
		v, readSource(before, after), after.StreamConnected, after.StreamReceived, wc.Stats().StreamSent)
}

// TestRedisOOMNoevictionStopsVouching: Redis with maxmemory and
// the default policy noeviction, filled up by cache entries (SET ... PX, as
// cachedsql's own fills write). Reads still work, so every reader stays "in
// sync"; the advance script's first write is refused with OOM, so no other
// process ever hears of the write while memory stays full.
func TestRedisOOMNoevictionStopsVouching(t *testing.T) {
	s := redistest.Start(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	refuseWritesThenCheckReader(t, s, func() {
		cl := s.Client()
		ctx := context.Background()
		junk := make([]byte, 16<<10)
		for n := 0; ; n++ {
			err := cl.Set(ctx, "cachedsql:other:"+strconv.Itoa(n), junk, time.Hour).Err()
			if err != nil {
				if !strings.Contains(err.Error(), "OOM") {
					t.Fatal(err)
				}
				// Used memory hovers at the limit (a refused command's
				// buffer is freed again); keep it clearly above, as a cache
				// that goes on growing does.
				if err := cl.ConfigSet(ctx, "maxmemory", "3mb").Err(); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}, true)
}

// TestRedisReadOnlyReplicaStopsVouching: the Redis every process
// talks to becomes a replica (a failover demoted it; its new master is not
// reachable yet). It serves reads (replica-serve-stale-data yes) and answers
// writes with READONLY.
func TestRedisReadOnlyReplicaStopsVouching(t *testing.T) {
	s := redistest.Start(t)
	refuseWritesThenCheckReader(t, s, func() {
		cl := s.Client()
		port := redistest.FreePort(t) // nothing listens there
		if err := cl.Do(context.Background(), "REPLICAOF", "127.0.0.1", fmt.Sprint(port)).Err(); err != nil {
			t.Fatal(err)
		}
	}, true)
}

// TestRedisClientPauseWriteStopsVouching: CLIENT PAUSE 10000 WRITE
// (what a manual failover does): reads go on, the advance script is held.
func TestRedisClientPauseWriteStopsVouching(t *testing.T) {
	s := redistest.Start(t)
	cl := s.Client()
	defer cl.Do(context.Background(), "CLIENT", "UNPAUSE")
	refuseWritesThenCheckReader(t, s, func() {
		if err := cl.Do(context.Background(), "CLIENT", "PAUSE", "10000", "WRITE").Err(); err != nil {
			t.Fatal(err)
		}
	}, false) // a new process's resync script is held by the pause too
}

// TestRedisPauseWriteOneWriteWaits: Redis pauses writes (CLIENT PAUSE ...
// WRITE, as a failover or an operator does) while it answers reads. The
// first write through cachedsql waits for its publish to time out (1 s);
// the ones after it leave publishing to the background loop, which backs
// off, instead of each waiting a second.
func TestRedisPauseWriteOneWriteWaits(t *testing.T) {
	s := redistest.Start(t)
	path := newSharedSQLite(t, 3)
	ns := l2Namespace(t)
	// The application's own client (Config.Redis), with go-redis defaults.
	cfg := kvProcess(path, ns, "")
	cfg.Redis = redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer cfg.Redis.Close()
	_, wdb := openProcess(t, cfg)
	cl := s.Client()
	ctx := context.Background()
	if err := cl.Do(ctx, "CLIENT", "PAUSE", "10000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer cl.Do(ctx, "CLIENT", "UNPAUSE")
	var took []time.Duration
	for i := range 5 {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		_, err := wdb.ExecContext(c, kvUpsert, 1, "p"+strconv.Itoa(i))
		took = append(took, time.Since(start).Round(time.Millisecond))
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	t.Logf("took %v", took)
	slow := 0
	for _, d := range took {
		if d > 150*time.Millisecond {
			slow++
		}
	}
	if slow > 1 {
		t.Fatalf("writes while Redis pauses writes took %v: after the first, none should wait for Redis", took)
	}
}
