package generation

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newLocal(t testing.TB) *Clock {
	t.Helper()
	c, err := New(Config{Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t testing.TB, c *Clock, tables ...string) []uint64 {
	t.Helper()
	g, ok := c.Read(nil, tables)
	if !ok {
		t.Fatalf("Read(%v) ok=false", tables)
	}
	if len(g) != len(tables)+1 {
		t.Fatalf("Read(%v) returned %d generations, want %d", tables, len(g), len(tables)+1)
	}
	return g
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no namespace", Config{}, "Namespace is required"},
		{"negative stale bound", Config{Namespace: "n", StaleBound: -1}, "StaleBound is negative"},
		{"negative max len", Config{Namespace: "n", MaxLen: -1}, "MaxLen is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("New(%+v) = nil error, want one containing %q", tc.cfg, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) error %q, want it to contain %q", tc.cfg, err, tc.want)
			}
		})
	}
}

// TestLocalAdvance checks, for each kind of write, which generations move and
// which stay.
func TestLocalAdvance(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tables     []string
		all        bool
		moved      []string // tables whose generation must change
		namespace  bool     // whether the namespace word must change
		noEvent    bool
		wantTables []string // Event.Tables
	}{
		{name: "one table", tables: []string{"a"}, moved: []string{"a"}, wantTables: []string{"a"}},
		{name: "two tables", tables: []string{"a", "b"}, moved: []string{"a", "b"}, wantTables: []string{"a", "b"}},
		{name: "repeats and empty names", tables: []string{"a", "", "a", "b", "a"}, moved: []string{"a", "b"}, wantTables: []string{"a", "b"}},
		{name: "unknown table", tables: []string{"zzz"}, moved: []string{"zzz"}, wantTables: []string{"zzz"}},
		{name: "all", all: true, namespace: true},
		{name: "all with tables", tables: []string{"a"}, all: true, namespace: true},
		{name: "nothing", noEvent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLocal(t)
			// Warm some tables so "unknown" and "known" both appear.
			if err := c.Advance(context.Background(), []string{"a", "b", "c"}, false); err != nil {
				t.Fatal(err)
			}
			var events []Event
			cancel := c.Subscribe(func(e Event) { events = append(events, e) })
			defer cancel()
			names := []string{"a", "b", "c", "zzz"}
			before := read(t, c, names...)
			if err := c.Advance(context.Background(), tc.tables, tc.all); err != nil {
				t.Fatal(err)
			}
			after := read(t, c, names...)
			if got := before[0] != after[0]; got != tc.namespace {
				t.Errorf("namespace word changed=%v, want %v (%d -> %d)", got, tc.namespace, before[0], after[0])
			}
			for i, n := range names {
				want := slices.Contains(tc.moved, n)
				if got := before[i+1] != after[i+1]; got != want {
					t.Errorf("table %q changed=%v, want %v (%d -> %d)", n, got, want, before[i+1], after[i+1])
				}
			}
			if tc.noEvent {
				if len(events) != 0 {
					t.Fatalf("events %+v, want none", events)
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1", len(events))
			}
			e := events[0]
			if e.ID != "" || e.Origin == "" || e.Time.IsZero() || !slices.Equal(e.Tables, tc.wantTables) {
				t.Errorf("event %+v, want ID \"\", an origin, a time and tables %v", e, tc.wantTables)
			}
		})
	}
}

// TestLocalKeysNeverRepeat advances tables many times, mixing whole-namespace
// invalidations, and checks no generation vector is ever seen twice: a repeat
// would make an old cache entry reachable again.
func TestLocalKeysNeverRepeat(t *testing.T) {
	c := newLocal(t)
	seen := map[[3]uint64]int{}
	for i := range 2000 {
		g := read(t, c, "a", "b")
		k := [3]uint64{g[0], g[1], g[2]}
		if j, dup := seen[k]; dup {
			t.Fatalf("step %d: generations %v already seen at step %d", i, g, j)
		}
		seen[k] = i
		var err error
		switch i % 3 {
		case 0:
			err = c.Advance(context.Background(), []string{"a"}, false)
		case 1:
			err = c.Advance(context.Background(), []string{"b"}, false)
		case 2:
			err = c.Advance(context.Background(), nil, true)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLocalConcurrent runs Advance and Read together (for the race detector)
// and checks the number of advances shows in the final generations.
func TestLocalConcurrent(t *testing.T) {
	c := newLocal(t)
	var events sync.WaitGroup
	const writers, each = 4, 200
	events.Add(writers * each)
	cancel := c.Subscribe(func(Event) { events.Done() })
	defer cancel()
	start := read(t, c, "t")
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				c.Advance(context.Background(), []string{"t"}, false)
			}
		})
		wg.Go(func() {
			var dst []uint64
			prev := uint64(0)
			for range each {
				dst, _ = c.Read(dst[:0], []string{"t"})
				if dst[1] < prev {
					t.Errorf("generation went back from %d to %d", prev, dst[1])
					return
				}
				prev = dst[1]
			}
		})
	}
	wg.Wait()
	events.Wait()
	end := read(t, c, "t")
	if end[1]-start[1] != writers*each {
		t.Fatalf("generation moved by %d, want %d", end[1]-start[1], writers*each)
	}
}

func TestSubscribeCancel(t *testing.T) {
	c := newLocal(t)
	var a, b int
	cancelA := c.Subscribe(func(Event) { a++ })
	cancelB := c.Subscribe(func(Event) { b++ })
	defer cancelB()
	c.Advance(context.Background(), []string{"x"}, false)
	cancelA()
	cancelA() // twice is harmless
	c.Advance(context.Background(), []string{"x"}, false)
	if a != 1 || b != 2 {
		t.Fatalf("subscriber calls a=%d b=%d, want 1 and 2", a, b)
	}
	if s := c.Stats(); s.Sent != 2 || !s.Connected {
		t.Fatalf("stats %+v, want Sent=2 Connected", s)
	}
}

func TestDedupeDoesNotModifyInput(t *testing.T) {
	for _, in := range [][]string{
		nil, {"a"}, {"a", "a"}, {"", "a"}, {"a", "b", "a", "", "c", "b"},
		strings.Split("a b c d e f g h i j k l m n o p q r a b c  d", " "),
	} {
		orig := slices.Clone(in)
		out := dedupe(in)
		if !slices.Equal(in, orig) {
			t.Fatalf("dedupe modified its input: %v -> %v", orig, in)
		}
		seen := map[string]bool{}
		for _, s := range out {
			if s == "" || seen[s] {
				t.Fatalf("dedupe(%v) = %v has an empty or repeated name", orig, out)
			}
			seen[s] = true
		}
		for _, s := range orig {
			if s != "" && !seen[s] {
				t.Fatalf("dedupe(%v) = %v lost %q", orig, out, s)
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	c := newLocal(b)
	c.Advance(context.Background(), []string{"users", "orders", "items"}, false)
	tables := []string{"users", "orders"}
	dst := make([]uint64, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = c.Read(dst[:0], tables)
	}
}

// BenchmarkReadFloor is the floor for BenchmarkRead: the same two lookups in a
// plain map, with no atomics and no epoch.
func BenchmarkReadFloor(b *testing.B) {
	m := map[string]uint64{"users": 1, "orders": 2, "items": 3}
	tables := []string{"users", "orders"}
	dst := make([]uint64, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = append(dst[:0], 7)
		for _, t := range tables {
			dst = append(dst, m[t])
		}
	}
}

func BenchmarkReadParallel(b *testing.B) {
	c := newLocal(b)
	c.Advance(context.Background(), []string{"users", "orders", "items"}, false)
	tables := []string{"users", "orders"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]uint64, 0, 8)
		for pb.Next() {
			dst, _ = c.Read(dst[:0], tables)
		}
	})
}

// BenchmarkReadWhileAdvancing measures Read while another goroutine keeps
// advancing the tables being read.
func BenchmarkReadWhileAdvancing(b *testing.B) {
	c := newLocal(b)
	tables := []string{"users", "orders"}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				c.Advance(context.Background(), tables, false)
			}
		}
	}()
	dst := make([]uint64, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = c.Read(dst[:0], tables)
	}
	b.StopTimer()
	close(stop)
	<-done
}
