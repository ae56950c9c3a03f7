package generation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// process is one Clock on a shared Redis, standing for one OS process, with
// every event it delivers.
type process struct {
	*Clock
	events chan Event
}

func startProcess(t testing.TB, s *redistest.Server, cfg Config) *process {
	t.Helper()
	return startProcessOn(t, s.Client(), cfg)
}

func startProcessOn(t testing.TB, rdb redis.UniversalClient, cfg Config) *process {
	t.Helper()
	if cfg.Namespace == "" {
		cfg.Namespace = "ns"
	}
	cfg.Redis = rdb
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{Clock: c, events: make(chan Event, 100000)}
	cancel := c.Subscribe(func(e Event) { p.events <- e })
	t.Cleanup(func() { cancel(); c.Close() })
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := c.WaitSync(ctx); err != nil {
		t.Fatalf("clock did not sync with Redis: %v", err)
	}
	return p
}

// await returns the first event that satisfies match, failing after 10 s.
func (p *process) await(t testing.TB, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-p.events:
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("%s: no event after 10s (stats %+v)", what, p.Stats())
		}
	}
}

// eventually polls cond where no signal exists to wait on (a Redis process
// that stops answering announces nothing).
func eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *process) gens(t testing.TB, tables ...string) []uint64 {
	t.Helper()
	g, _ := p.Read(nil, tables)
	return g
}

func fromOrigin(origin string, tables ...string) func(Event) bool {
	return func(e Event) bool {
		return e.Origin == origin && e.ID != "" && slices.Equal(e.Tables, tables)
	}
}

func isResync(e Event) bool { return e.Resync }

func mustAdvance(t testing.TB, c *Clock, tables []string, all bool) {
	t.Helper()
	if err := c.Advance(context.Background(), tables, all); err != nil {
		t.Fatalf("Advance(%v, %v): %v", tables, all, err)
	}
}

func TestRedisPropagates(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{Origin: "A"})
	b := startProcess(t, s, Config{Origin: "B"})
	names := []string{"users", "orders", "items"}
	for _, tc := range []struct {
		name      string
		tables    []string
		all       bool
		moved     []string
		namespace bool
	}{
		{name: "one table", tables: []string{"users"}, moved: []string{"users"}},
		{name: "two tables", tables: []string{"orders", "users"}, moved: []string{"orders", "users"}},
		{name: "table never seen", tables: []string{"items"}, moved: []string{"items"}},
		{name: "whole namespace", all: true, namespace: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.gens(t, names...)
			mustAdvance(t, a.Clock, tc.tables, tc.all)
			want := slices.Clone(tc.tables)
			slices.Sort(want)
			e := b.await(t, "B receiving A's event", fromOrigin("A", want...))
			if e.Time.IsZero() || e.Resync {
				t.Errorf("event %+v: want a time and Resync=false", e)
			}
			after := b.gens(t, names...)
			if got := before[0] != after[0]; got != tc.namespace {
				t.Errorf("namespace word changed=%v, want %v", got, tc.namespace)
			}
			for i, n := range names {
				if got, want := before[i+1] != after[i+1], slices.Contains(tc.moved, n); got != want {
					t.Errorf("table %s changed=%v, want %v", n, got, want)
				}
			}
			if ag := a.gens(t, names...); !slices.Equal(ag, after) {
				t.Errorf("A reads %v, B reads %v: the processes disagree", ag, after)
			}
		})
	}
	if st := b.Stats(); st.Received != 4 || st.Sent != 0 || !st.Connected || st.Lag <= 0 {
		t.Errorf("B stats %+v: want Received=4 Sent=0 Connected and a lag", st)
	}
	if st := a.Stats(); st.Sent != 4 || st.Received != 0 {
		t.Errorf("A stats %+v: want Sent=4 Received=0", st)
	}
}

// TestRedisOwnEventsSkipped: a clock applies its own change from the script's
// reply and does not deliver it a second time when it comes back on the stream.
func TestRedisOwnEventsSkipped(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{Origin: "A"})
	mustAdvance(t, a.Clock, []string{"t"}, false)
	own := a.await(t, "A's own event", fromOrigin("A", "t"))
	// Events arrive in stream order: once a later foreign event is in, the
	// stream copy of A's own event has been read.
	if err := Publish(context.Background(), s.Client(), "ns", "tool", []string{"u"}, false); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the tool's event", fromOrigin("tool", "u"))
	for len(a.events) > 0 {
		if e := <-a.events; e.ID == own.ID {
			t.Fatalf("own event %s delivered twice", own.ID)
		}
	}
	if st := a.Stats(); st.Received != 1 || st.Sent != 1 {
		t.Fatalf("stats %+v: want Sent=1 Received=1", st)
	}
}

// TestRedisReadYourWrites: when Advance returns, this process reads the new
// generation, before its reader could have seen the stream entry.
func TestRedisReadYourWrites(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{})
	hash, _ := Keys("ns")
	rdb := s.Client()
	for i := range 50 {
		mustAdvance(t, a.Clock, []string{"t"}, false)
		g, ok := a.Read(nil, []string{"t"})
		want, err := rdb.HGet(context.Background(), hash, "t:t").Uint64()
		if err != nil {
			t.Fatal(err)
		}
		if !ok || g[1] != want {
			t.Fatalf("advance %d: Read = %v ok=%v, Redis holds %d", i, g, ok, want)
		}
	}
}

func TestRedisConcurrentAdvancesConverge(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{Origin: "A"})
	b := startProcess(t, s, Config{Origin: "B"})
	tables := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for i, p := range []*process{a, b, a, b} {
		wg.Go(func() {
			for j := range 100 {
				if err := p.Advance(context.Background(), []string{tables[(i+j)%3]}, j%25 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A last event from a third party: once both have it, both have read
	// everything before it.
	if err := Publish(context.Background(), s.Client(), "ns", "tool", []string{"z"}, false); err != nil {
		t.Fatal(err)
	}
	a.await(t, "A: the last event", fromOrigin("tool", "z"))
	b.await(t, "B: the last event", fromOrigin("tool", "z"))
	ag, bg := a.gens(t, tables...), b.gens(t, tables...)
	if !slices.Equal(ag, bg) {
		t.Fatalf("A reads %v, B reads %v", ag, bg)
	}
	hash, _ := Keys("ns")
	h, err := s.Client().HGetAll(context.Background(), hash).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, tb := range tables {
		if strconv.FormatUint(ag[i+1], 10) != h["t:"+tb] {
			t.Errorf("table %s: clocks read %d, Redis holds %s", tb, ag[i+1], h["t:"+tb])
		}
	}
	if a.Stats().Resyncs != 0 || b.Stats().Resyncs != 0 {
		t.Errorf("resyncs A=%d B=%d, want none on a healthy stream", a.Stats().Resyncs, b.Stats().Resyncs)
	}
}

// keySet records every generation vector read, to prove none comes back after
// Redis lost its numbers.
type keySet map[string]bool

func (k keySet) add(g []uint64) { k[fmt.Sprint(g)] = true }

// TestRedisLosesItsNumbers: after each way Redis can lose the generations, both
// clocks resynchronise to a new epoch, agree again, and no key read before
// comes back, although the counters restart from 1.
func TestRedisLosesItsNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(*redistest.Server)
	}{
		{"FLUSHALL", (*redistest.Server).Flush},
		{"restart empty", (*redistest.Server).Restart},
		{"hash evicted", func(s *redistest.Server) {
			hash, _ := Keys("ns")
			c := redis.NewClient(&redis.Options{Addr: s.Addr()})
			defer c.Close()
			c.Del(context.Background(), hash)
		}},
		{"epoch replaced", func(s *redistest.Server) {
			// What a resync elsewhere does after lost writes, with no event.
			hash, _ := Keys("ns")
			c := redis.NewClient(&redis.Options{Addr: s.Addr()})
			defer c.Close()
			c.HSet(context.Background(), hash, "!epoch", "12345")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			a := startProcess(t, s, Config{Origin: "A", StaleBound: 200 * time.Millisecond})
			b := startProcess(t, s, Config{Origin: "B", StaleBound: 200 * time.Millisecond})
			seen := keySet{}
			for range 5 {
				mustAdvance(t, a.Clock, []string{"t"}, false)
				seen.add(a.gens(t, "t", "u"))
				b.await(t, "B", fromOrigin("A", "t"))
				seen.add(b.gens(t, "t", "u"))
			}
			tc.lose(s)
			a.await(t, "A resync", isResync)
			b.await(t, "B resync", isResync)
			for i := range 10 {
				if err := a.WaitSync(context.Background()); err != nil {
					t.Fatal(err)
				}
				mustAdvance(t, a.Clock, []string{"t"}, false)
				b.await(t, "B after resync", fromOrigin("A", "t"))
				ag, bg := a.gens(t, "t", "u"), b.gens(t, "t", "u")
				if !slices.Equal(ag, bg) {
					t.Fatalf("advance %d after losing the numbers: A reads %v, B reads %v", i, ag, bg)
				}
				if seen[fmt.Sprint(ag)] {
					t.Fatalf("advance %d after losing the numbers: generations %v were used before", i, ag)
				}
			}
			if a.Stats().Resyncs == 0 || b.Stats().Resyncs == 0 {
				t.Fatalf("resyncs A=%d B=%d, want both counted", a.Stats().Resyncs, b.Stats().Resyncs)
			}
		})
	}
}

// TestRedisLostWrites: Redis comes back with the same epoch but older numbers
// (a failover to a lagging replica). The clock sees a sequence below one it
// already saw and moves the epoch, so old keys do not come back.
func TestRedisLostWrites(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{Origin: "A"})
	seen := keySet{}
	for range 5 {
		mustAdvance(t, a.Clock, []string{"t"}, false)
		seen.add(a.gens(t, "t"))
	}
	hash, _ := Keys("ns")
	rdb := s.Client()
	ctx := context.Background()
	if err := rdb.HSet(ctx, hash, "!seq", 1, "t:t", 1).Err(); err != nil {
		t.Fatal(err)
	}
	// Another process writes: the event carries sequence 2, which A has seen
	// already.
	if err := Publish(ctx, rdb, "ns", "tool", []string{"t"}, false); err != nil {
		t.Fatal(err)
	}
	a.await(t, "resync", isResync)
	for i := range 6 {
		mustAdvance(t, a.Clock, []string{"t"}, false)
		if g := a.gens(t, "t"); seen[fmt.Sprint(g)] {
			t.Fatalf("advance %d after the lost writes: %v was used before", i, g)
		}
	}
}

// TestRedisForeignEntry: an entry cachedsql did not write makes the reader
// resynchronise (it cannot prove what the entry changed) and go on reading.
func TestRedisForeignEntry(t *testing.T) {
	s := redistest.Start(t)
	a := startProcess(t, s, Config{Origin: "A"})
	_, stream := Keys("ns")
	rdb := s.Client()
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []string{"hello", "world"}}).Err(); err != nil {
		t.Fatal(err)
	}
	// The numbers did not change, so no Resync event: only the count shows it.
	eventually(t, "a resync after the foreign entry", 10*time.Second, func() bool { return a.Stats().Resyncs == 1 })
	if err := Publish(context.Background(), rdb, "ns", "tool", []string{"t"}, false); err != nil {
		t.Fatal(err)
	}
	a.await(t, "the next event", fromOrigin("tool", "t"))
	if st := a.Stats(); st.Resyncs != 1 || st.Received != 1 {
		t.Fatalf("stats %+v, want one resync and one event received", st)
	}
}

// TestRedisPausedGoesStale: a Redis that stops answering (SIGSTOP) makes Read
// refuse to vouch once StaleBound has passed, and the clock recovers by itself
// once Redis answers again.
func TestRedisPausedGoesStale(t *testing.T) {
	s := redistest.Start(t)
	const bound = 300 * time.Millisecond
	a := startProcess(t, s, Config{StaleBound: bound})
	s.Pause()
	paused := time.Now()
	eventually(t, "Read says ok=false", 5*time.Second, func() bool {
		_, ok := a.Read(nil, []string{"t"})
		return !ok
	})
	if d := time.Since(paused); d < bound/2 {
		t.Errorf("stopped vouching %v after the pause, before StaleBound (%v) could have passed", d, bound)
	}
	// A write while Redis is stuck still takes effect here.
	before := a.gens(t, "t")
	err := a.Advance(context.Background(), []string{"t"}, false)
	if !errors.Is(err, ErrNotPublished) {
		t.Errorf("Advance during the pause: %v, want ErrNotPublished", err)
	}
	if after := a.gens(t, "t"); after[1] == before[1] {
		t.Errorf("Advance during the pause did not move the local generation")
	}
	s.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.WaitSync(ctx); err != nil {
		t.Fatalf("did not recover after Resume: %v", err)
	}
	if _, ok := a.Read(nil, []string{"t"}); !ok {
		t.Fatal("Read says ok=false after recovery")
	}
}

// TestRedisReaderBehind: B is parked between two reads while A advances t
// and the stream loses what B has not read. B must find out and resync
// rather than go on vouching for t's old generation:
//   - trimmed: A's 500 events overrun MaxLen 10, and B finds a gap in the
//     sequence numbers;
//   - deleted: the stream key goes (deleted, or evicted under an allkeys
//     policy) while the hash stays, and B's next read finds nothing after
//     its last id; only the hash's "!seq", past what B saw, shows it.
func TestRedisReaderBehind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxLen int64
		lose   func(t *testing.T, s *redistest.Server, a *process)
	}{
		{"trimmed", 10, func(t *testing.T, _ *redistest.Server, a *process) {
			for range 500 {
				mustAdvance(t, a.Clock, []string{"t"}, false)
			}
		}},
		{"deleted", 0, func(t *testing.T, s *redistest.Server, a *process) {
			mustAdvance(t, a.Clock, []string{"t"}, false)
			if _, stream := Keys("ns"); s.Client().Del(context.Background(), stream).Val() != 1 {
				t.Fatal("the stream key was not there to delete")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			a := startProcess(t, s, Config{Origin: "A", MaxLen: tc.maxLen})
			parked := make(chan struct{})
			release := make(chan struct{})
			var hold sync.Once
			b := startProcessHooked(t, s, Config{Origin: "B"}, func() {
				// Park once, the next time B is about to read.
				hold.Do(func() { close(parked); <-release })
			})
			<-parked
			tc.lose(t, s, a)
			close(release)
			b.await(t, "B resync", isResync)
			if err := b.WaitSync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ag, bg := a.gens(t, "t"), b.gens(t, "t"); !slices.Equal(ag, bg) {
				t.Fatalf("after the resync A reads %v, B reads %v", ag, bg)
			}
			if st := b.Stats(); st.Resyncs != 1 {
				t.Fatalf("B stats %+v, want one resync", st)
			}
		})
	}
}

func startProcessHooked(t testing.TB, s *redistest.Server, cfg Config, beforeRead func()) *process {
	t.Helper()
	cfg.Namespace = "ns"
	cfg.Redis = s.Client()
	c, err := newClock(cfg, func(r *redisSide) { r.beforeRead = beforeRead })
	if err != nil {
		t.Fatal(err)
	}
	p := &process{Clock: c, events: make(chan Event, 100000)}
	cancel := c.Subscribe(func(e Event) { p.events <- e })
	t.Cleanup(func() { cancel(); c.Close() })
	if err := c.WaitSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRedisAdvanceWhileDown: with Redis gone, Advance takes effect here at once
// and says it is not published; once Redis is back, the change is published
// and another process receives it.
func TestRedisAdvanceWhileDown(t *testing.T) {
	s := redistest.Start(t)
	var logged lockedBuffer
	a := startProcess(t, s, Config{Origin: "A", StaleBound: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	b := startProcess(t, s, Config{Origin: "B", StaleBound: 200 * time.Millisecond})
	before := a.gens(t, "t", "u")
	s.Stop()
	err := a.Advance(context.Background(), []string{"t"}, false)
	if !errors.Is(err, ErrNotPublished) {
		t.Fatalf("Advance with Redis down: %v, want ErrNotPublished", err)
	}
	after := a.gens(t, "t", "u")
	if after[1] == before[1] || after[2] != before[2] || after[0] != before[0] {
		t.Fatalf("local effect: %v -> %v, want only t to move", before, after)
	}
	if after[1]&localBit == 0 {
		t.Fatalf("unpublished generation %x lacks the local marker", after[1])
	}
	// Restarted only once A's loops have met the outage: a restart quick
	// enough to fall between two of their calls would leave nothing to log
	// (CI saw 0 warnings once).
	eventually(t, "A logs the outage", 10*time.Second, func() bool {
		return strings.Contains(logged.String(), "level=WARN")
	})
	s.Restart()
	// Redis came back empty: the table has a number there only if A published.
	hash, _ := Keys("ns")
	rdb := s.Client()
	eventually(t, "A publishes its change", 10*time.Second, func() bool {
		return rdb.HExists(context.Background(), hash, "t:t").Val()
	})
	for _, p := range []*process{a, b} {
		if err := p.WaitSync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// B learns it from the event or from its resync, whichever came last.
	eventually(t, "A and B agree on shared numbers", 10*time.Second, func() bool {
		ag, bg := a.gens(t, "t", "u"), b.gens(t, "t", "u")
		return slices.Equal(ag, bg) && ag[1]&localBit == 0 && ag[1] > 0
	})
	if st := a.Stats(); st.Sent != 1 {
		t.Fatalf("A stats %+v, want Sent=1", st)
	}
	// The outage went to the logger given, once, not once per retry.
	log := logged.String()
	if n := strings.Count(log, "level=WARN"); n != 1 || !strings.Contains(log, "namespace=ns") {
		t.Fatalf("log holds %d outage warnings, want 1 naming the namespace:\n%s", n, log)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRedisCluster: on a three-master Cluster, several namespaces (their keys
// spread over the masters) work (the hash and stream share a slot, so the scripts
// run), and an event reaches the other process.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartCluster(t, 3)
	for _, ns := range []string{"n1", "n2", "n3", "n4", "sqlite:{x}"} {
		t.Run(ns, func(t *testing.T) {
			a := startProcessOn(t, cl.Client(), Config{Namespace: ns, Origin: "A"})
			b := startProcessOn(t, cl.Client(), Config{Namespace: ns, Origin: "B"})
			for _, tables := range [][]string{{"t"}, {"t", "u"}} {
				mustAdvance(t, a.Clock, tables, false)
				b.await(t, "B", fromOrigin("A", tables...))
				if ag, bg := a.gens(t, "t", "u"), b.gens(t, "t", "u"); !slices.Equal(ag, bg) {
					t.Fatalf("A reads %v, B reads %v", ag, bg)
				}
			}
		})
	}
}

// TestCloseEndsGoroutines: Close returns promptly, even with Redis stuck, and
// leaves no goroutine behind.
func TestCloseEndsGoroutines(t *testing.T) {
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", paused), func(t *testing.T) {
			s := redistest.Start(t)
			rdb := s.Client()
			rdb.Ping(context.Background())
			base := runtime.NumGoroutine()
			c, err := New(Config{Namespace: "ns", Redis: rdb})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WaitSync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if paused {
				s.Pause()
				defer s.Resume()
			}
			done := make(chan struct{})
			go func() { c.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return within 5s")
			}
			eventually(t, "goroutines back to the count before New", 5*time.Second, func() bool {
				return runtime.NumGoroutine() <= base
			})
			if _, ok := c.Read(nil, nil); ok {
				t.Error("a closed clock still vouches")
			}
		})
	}
}

func TestPublishValidates(t *testing.T) {
	s := redistest.Start(t)
	for _, tc := range []struct {
		name, ns string
		tables   []string
		all      bool
	}{
		{"no namespace", "", []string{"t"}, false},
		{"nothing to publish", "ns", nil, false},
		{"only empty names", "ns", []string{""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Publish(context.Background(), s.Client(), tc.ns, "x", tc.tables, tc.all); err == nil {
				t.Fatal("Publish accepted it")
			}
		})
	}
}

func TestTail(t *testing.T) {
	s := redistest.Start(t)
	rdb := s.Client()
	ctx := context.Background()
	for _, tc := range []struct {
		from string
		want []string // origins, in order
	}{
		{"0", []string{"old", "tool", "tool"}},
		{"$", []string{"tool", "tool"}},
	} {
		t.Run(tc.from, func(t *testing.T) {
			ns := "tail" + tc.from
			if err := Publish(ctx, rdb, ns, "old", []string{"before"}, false); err != nil {
				t.Fatal(err)
			}
			got := make(chan Event, 10)
			tctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- Tail(tctx, rdb, ns, tc.from, func(e Event) error {
					got <- e
					return nil
				})
			}()
			// "$" resolves to the end when Tail starts: publish once Tail has
			// surely started, i.e. after a first event it reads from "0".
			if tc.from == "$" {
				waitTailStarted(t, rdb, ns)
			}
			Publish(ctx, rdb, ns, "tool", []string{"a", "b"}, false)
			Publish(ctx, rdb, ns, "tool", nil, true)
			var origins []string
			var events []Event
			for len(origins) < len(tc.want) {
				select {
				case e := <-got:
					origins = append(origins, e.Origin)
					events = append(events, e)
				case err := <-errc:
					t.Fatalf("Tail ended: %v", err)
				case <-time.After(10 * time.Second):
					t.Fatalf("got %v, want %v", origins, tc.want)
				}
			}
			if !slices.Equal(origins, tc.want) {
				t.Fatalf("origins %v, want %v", origins, tc.want)
			}
			n := len(events)
			if !slices.Equal(events[n-2].Tables, []string{"a", "b"}) || events[n-1].Tables != nil {
				t.Fatalf("tables %v and %v, want [a b] and every table", events[n-2].Tables, events[n-1].Tables)
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("Tail returned %v after cancel, want context.Canceled", err)
			}
		})
	}
}

// waitTailStarted waits until a client is blocked in XREAD on the server.
func waitTailStarted(t *testing.T, rdb *redis.Client, ns string) {
	t.Helper()
	eventually(t, "Tail blocked in XREAD", 5*time.Second, func() bool {
		n, err := rdb.Info(context.Background(), "clients").Result()
		return err == nil && containsBlocked(n)
	})
}

func containsBlocked(info string) bool {
	const k = "blocked_clients:"
	for i := 0; i+len(k) < len(info); i++ {
		if info[i:i+len(k)] == k {
			return info[i+len(k)] != '0'
		}
	}
	return false
}

// BenchmarkReadRedis is BenchmarkRead on a clock kept in Redis: the hot path
// must not touch Redis.
func BenchmarkReadRedis(b *testing.B) {
	s := redistest.Start(b)
	a := startProcess(b, s, Config{})
	mustAdvance(b, a.Clock, []string{"users", "orders", "items"}, false)
	tables := []string{"users", "orders"}
	dst := make([]uint64, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = a.Read(dst[:0], tables)
	}
}

func BenchmarkAdvanceRedis(b *testing.B) {
	s := redistest.Start(b)
	a := startProcess(b, s, Config{})
	b.ReportAllocs()
	for b.Loop() {
		mustAdvance(b, a.Clock, []string{"users"}, false)
	}
}

// BenchmarkRawHIncrBy is the floor for BenchmarkAdvanceRedis: one
// HINCRBY round trip on the same server.
func BenchmarkRawHIncrBy(b *testing.B) {
	s := redistest.Start(b)
	rdb := s.Client()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := rdb.HIncrBy(ctx, "h", "f", 1).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPropagation measures the time from A's Advance returning to B having
// applied the change (its Read shows the new generation), over many advances.
func BenchmarkPropagation(b *testing.B) {
	s := redistest.Start(b)
	a := startProcess(b, s, Config{Origin: "A"})
	bp := startProcess(b, s, Config{Origin: "B"})
	applied := make(chan time.Time, 1)
	cancel := bp.Subscribe(func(e Event) {
		if e.Origin == "A" {
			applied <- time.Now()
		}
	})
	defer cancel()
	n := max(b.N, 200)
	// Measured from Advance returning (what a user sees: a write, then a read
	// elsewhere); B often applies the event before A has even processed the
	// script's reply, which counts as 0.
	lat := make([]time.Duration, 0, n)
	b.ResetTimer()
	for range n {
		if err := a.Advance(context.Background(), []string{"t"}, false); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		select {
		case at := <-applied:
			lat = append(lat, max(at.Sub(returned), 0))
		case <-time.After(10 * time.Second):
			b.Fatal("B did not apply the change within 10s")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(us(lat[len(lat)*99/100]), "p99-µs")
	b.ReportMetric(us(lat[len(lat)-1]), "max-µs")
	b.ReportMetric(float64(len(lat)), "advances")
}
