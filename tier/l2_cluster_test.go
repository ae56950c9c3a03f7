package tier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// clusterKeysByMaster stores n keys through l and sorts them by the master
// that holds each, asking every master directly (EXISTS), not go-redis's
// slot map that L2 routes by.
func clusterKeysByMaster(t *testing.T, c *redistest.Cluster, l *L2, n int) map[int][]uint64 {
	t.Helper()
	ctx := context.Background()
	byMaster := map[int][]uint64{}
	clients := make([]*redis.Client, len(c.Addrs()))
	for i, addr := range c.Addrs() {
		clients[i] = redis.NewClient(&redis.Options{Addr: addr})
		defer clients[i].Close()
	}
	for i := range uint64(n) {
		if err := l.Set(ctx, testKey(i), clusterValue(i), time.Minute); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		holder := -1
		for m, rc := range clients {
			found, err := rc.Exists(ctx, l.Key(testKey(i))).Result()
			if _, moved := redis.IsMovedError(err); moved {
				continue // another master owns the slot
			}
			if err != nil {
				t.Fatalf("EXISTS on master %d: %v", m, err)
			}
			if found == 1 {
				holder = m
			}
		}
		if holder < 0 {
			t.Fatalf("key %d is on no master", i)
		}
		byMaster[holder] = append(byMaster[holder], i)
	}
	return byMaster
}

func clusterValue(i uint64) []byte { return []byte(fmt.Sprintf("value-%d", i)) }

// nodeState returns the state of the breaker for addr, and whether L2 has one.
func nodeState(l *L2, addr string) (BreakerState, bool) {
	for _, nb := range l.NodeBreakers() {
		if nb.Addr == addr {
			return nb.State, true
		}
	}
	return BreakerClosed, false
}

// TestL2ClusterPausedMaster: one of three masters stalls (SIGSTOP). Its
// keys cost a timeout each only until its own breaker opens, then miss at
// once; the other masters' keys keep hitting all along, and their successes
// neither keep the stalled node's breaker closed nor are refused by it.
// After SIGCONT the node's breaker closes by itself.
func TestL2ClusterPausedMaster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	cfg := testL2Config(c.URL())
	// A backoff longer than the 100 reads below take, so nearly all of them
	// meet the open breaker rather than a probe.
	cfg.BreakerBackoff, cfg.BreakerMaxBackoff = 500*time.Millisecond, time.Second
	l := newTestL2(t, cfg)
	ctx := context.Background()
	byMaster := clusterKeysByMaster(t, c, l, 60)
	const paused = 1
	pausedAddr := c.Addrs()[paused]
	var onPaused, onLive []uint64
	for m, keys := range byMaster {
		if m == paused {
			onPaused = append(onPaused, keys...)
		} else {
			onLive = append(onLive, keys...)
		}
	}
	if len(onPaused) == 0 || len(onLive) == 0 {
		t.Fatalf("keys by master %v: need keys on the paused master and on live ones", byMaster)
	}
	if got := len(l.NodeBreakers()); got != 3 {
		t.Fatalf("NodeBreakers after writing to every master = %+v, want 3 nodes", l.NodeBreakers())
	}

	readLive := func(i int) {
		t.Helper()
		k := onLive[i%len(onLive)]
		v, _, ok, err := l.Get(ctx, testKey(k))
		if !ok || string(v) != string(clusterValue(k)) {
			t.Fatalf("live key %d during the stall: %q ok %v err %v (stats %+v, nodes %+v)", k, v, ok, err, l.Stats(), l.NodeBreakers())
		}
	}

	c.Master(paused).Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			c.Master(paused).Resume()
		}
	})

	// (a) Reads alternate one stalled key with two live ones, which all hit,
	// until the stalled node's breaker opens despite the live successes.
	for i := 0; ; i++ {
		if s, _ := nodeState(l, pausedAddr); s == BreakerOpen {
			break
		}
		if i > 3*cfg.BreakerFailures+3 {
			t.Fatalf("stalled node's breaker not open after %d of its keys' reads: nodes %+v", i, l.NodeBreakers())
		}
		if _, _, ok, err := l.Get(ctx, testKey(onPaused[i%len(onPaused)])); ok || err == nil {
			t.Fatalf("read of a stalled key = ok %v err %v, want a miss with an error", ok, err)
		}
		readLive(2 * i)
		readLive(2*i + 1)
	}
	for _, nb := range l.NodeBreakers() {
		if nb.Addr != pausedAddr && nb.State != BreakerClosed {
			t.Fatalf("live node %s has its breaker %v: nodes %+v", nb.Addr, nb.State, l.NodeBreakers())
		}
	}
	if st := l.Stats(); st.BreakerState != BreakerOpen || st.BreakerOpens != 1 {
		t.Fatalf("Stats with one node open = state %v, opens %d; want open, 1", st.BreakerState, st.BreakerOpens)
	}

	// (b) Now the stalled node's keys are refused at once, and live keys and
	// writes to live nodes keep working.
	const reads = 100
	refused := 0
	start := time.Now()
	for i := range reads {
		_, _, ok, err := l.Get(ctx, testKey(onPaused[i%len(onPaused)]))
		if ok || err == nil {
			t.Fatalf("read of a stalled key = ok %v err %v, want a miss with an error", ok, err)
		}
		if errors.Is(err, ErrOpen) {
			refused++
		}
		readLive(i)
	}
	took := time.Since(start)
	if refused < reads-2 {
		t.Fatalf("%d of %d reads of stalled keys were refused by the open breaker, want all but a probe or two", refused, reads)
	}
	// Loose bound (a quarter of one timeout per read): the same 100 reads
	// with one shared breaker took 100 timeouts.
	if limit := reads * cfg.ReadTimeout / 4; took > limit {
		t.Fatalf("%d reads of stalled keys (and %d live ones) took %v, more than %v", reads, reads, took, limit)
	}
	if err := l.Set(ctx, testKey(onLive[0]), clusterValue(onLive[0]), time.Minute); err != nil {
		t.Fatalf("Set of a live key during the stall: %v", err)
	}
	if err := l.Set(ctx, testKey(onPaused[0]), clusterValue(onPaused[0]), time.Minute); !errors.Is(err, ErrOpen) {
		t.Fatalf("Set of a stalled key = %v, want ErrOpen", err)
	}

	// (c) After SIGCONT a probe finds the node again and its breaker closes
	// by itself; the entries written before the stall are still there.
	c.Master(paused).Resume()
	resumed = true
	deadline := time.Now().Add(10 * time.Second)
	k := onPaused[0]
	for {
		v, _, ok, err := l.Get(ctx, testKey(k))
		if ok {
			if string(v) != string(clusterValue(k)) {
				t.Fatalf("key %d after the stall = %q", k, v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled node's keys not served 10s after SIGCONT: last err %v, nodes %+v", err, l.NodeBreakers())
		}
		time.Sleep(10 * time.Millisecond) // polling for a process to recover: no signal exists
	}
	if s, _ := nodeState(l, pausedAddr); s != BreakerClosed {
		t.Fatalf("resumed node served a hit with its breaker %v", s)
	}
	if st := l.Stats(); st.BreakerState != BreakerClosed {
		t.Fatalf("Stats after recovery: breaker %v, want closed (nodes %+v)", st.BreakerState, l.NodeBreakers())
	}
}

// commandsProcessed sums total_commands_processed over the masters.
func commandsProcessed(t *testing.T, c *redistest.Cluster) int64 {
	t.Helper()
	var sum int64
	for _, addr := range c.Addrs() {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		info, err := rc.Info(context.Background(), "stats").Result()
		rc.Close()
		if err != nil {
			t.Fatalf("INFO on %s: %v", addr, err)
		}
		_, rest, ok := strings.Cut(info, "total_commands_processed:")
		if !ok {
			t.Fatalf("INFO stats on %s has no total_commands_processed", addr)
		}
		line, _, _ := strings.Cut(rest, "\r\n")
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			t.Fatalf("total_commands_processed on %s = %q", addr, line)
		}
		sum += n
	}
	return sum
}

// TestL2ClusterRoutingNoRoundTrip: choosing a key's breaker reads
// go-redis's cached slot map; it sends nothing to Redis.
func TestL2ClusterRoutingNoRoundTrip(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	l := newTestL2(t, testL2Config(c.URL()))
	ctx := context.Background()
	if err := l.Set(ctx, testKey(0), []byte("v"), time.Minute); err != nil { // loads the slot map
		t.Fatal(err)
	}
	const calls = 1000
	before := commandsProcessed(t, c)
	for i := range uint64(calls) {
		b, err := l.acquire(ctx, ctx, l.Key(testKey(i)))
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		b.done(ctx, nil)
	}
	// The INFO calls themselves count 2 per node; a background slot-map
	// reload a few more.
	if sent := commandsProcessed(t, c) - before; sent > 20 {
		t.Fatalf("%d routings sent %d commands to the Cluster", calls, sent)
	}
	if got := len(l.NodeBreakers()); got != 3 {
		t.Fatalf("%d keys routed to %d nodes, want 3: %+v", calls, got, l.NodeBreakers())
	}
}

// TestL2NodeBreakersSingle: a single node has one breaker, reported by
// Stats, and no per-node list.
func TestL2NodeBreakersSingle(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	if err := l.Set(context.Background(), testKey(1), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if nb := l.NodeBreakers(); nb != nil {
		t.Fatalf("NodeBreakers for a single node = %+v, want nil", nb)
	}
}

func TestBreakerWorse(t *testing.T) {
	states := []BreakerState{BreakerClosed, BreakerHalfOpen, BreakerOpen} // best to worst
	for i, a := range states {
		for j, b := range states {
			if got, want := worse(a, b), i > j; got != want {
				t.Errorf("worse(%v, %v) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// BenchmarkL2Acquire is the cost of choosing and asking a key's breaker:
// one breaker for a single node; for a Cluster, go-redis's slot lookup
// (MasterForKey) and the per-node map. Compare with BenchmarkL2Get, a
// round trip.
func BenchmarkL2Acquire(b *testing.B) {
	single := redistest.Start(b)
	cluster := redistest.StartCluster(b, 3)
	ctx := context.Background()
	for _, tc := range []struct{ name, url string }{{"single", single.URL()}, {"cluster", cluster.URL()}} {
		b.Run(tc.name, func(b *testing.B) {
			l, err := NewL2(L2Config{URL: tc.url, Namespace: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			keys := make([]string, 64)
			for i := range keys {
				keys[i] = l.Key(testKey(uint64(i)))
				if err := l.Set(ctx, testKey(uint64(i)), []byte("v"), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				br, err := l.acquire(ctx, ctx, keys[i%len(keys)])
				if err != nil {
					b.Fatal(err)
				}
				br.done(ctx, nil)
				i++
			}
		})
	}
}

// TestL2RingNodeBreakers: a user's Ring gets one breaker per shard, by the
// shard go-redis routes each key to.
func TestL2RingNodeBreakers(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr(), "b": b.Addr()}})
	t.Cleanup(func() { ring.Close() })
	l := newTestL2(t, L2Config{Client: ring, Namespace: "ring"})
	ctx := context.Background()
	for i := range uint64(40) {
		if err := l.Set(ctx, testKey(i), clusterValue(i), time.Minute); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		if v, _, ok, err := l.Get(ctx, testKey(i)); !ok || string(v) != string(clusterValue(i)) {
			t.Fatalf("Get %d = %q %v %v", i, v, ok, err)
		}
	}
	var addrs []string
	for _, nb := range l.NodeBreakers() {
		addrs = append(addrs, nb.Addr)
		if nb.State != BreakerClosed || nb.Opens != 0 {
			t.Fatalf("healthy shard's breaker: %+v", nb)
		}
	}
	want := []string{a.Addr(), b.Addr()}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if fmt.Sprint(addrs) != fmt.Sprint(want) {
		t.Fatalf("NodeBreakers addresses %v, want %v", addrs, want)
	}
}
