package tier

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allegro/bigcache/v3"

	"github.com/cachedsql/cachedsql/keying"
)

// testKey makes a distinct key from n, spread like a real hash.
func testKey(n uint64) keying.Key {
	var k keying.Key
	binary.LittleEndian.PutUint64(k[:], n*0x9E3779B97F4A7C15+1)
	binary.LittleEndian.PutUint64(k[8:], n)
	return k
}

// fakeClock is a settable clock for L1.now.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func newTestL1(t testing.TB, cfg L1Config) (*L1, *fakeClock) {
	t.Helper()
	l, err := NewL1(cfg)
	if err != nil {
		t.Fatalf("NewL1(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { l.Close() })
	clk := &fakeClock{}
	clk.t.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	l.now = clk.now
	l.base = clk.now()
	return l, clk
}

func TestNewL1Validates(t *testing.T) {
	tests := []struct {
		name string
		cfg  L1Config
		ok   bool
	}{
		{"disabled", L1Config{}, true},
		{"small", L1Config{CapacityMiB: 1}, true},
		{"with cap", L1Config{CapacityMiB: 16, MaxTTL: time.Minute}, true},
		{"negative capacity", L1Config{CapacityMiB: -1}, false},
		{"too large capacity", L1Config{CapacityMiB: MaxL1CapacityMiB + 1}, false},
		{"negative MaxTTL", L1Config{CapacityMiB: 1, MaxTTL: -time.Second}, false},
		{"huge MaxTTL", L1Config{CapacityMiB: 1, MaxTTL: 1 << 62}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewL1(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("NewL1(%+v) error = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if l != nil {
				l.Close()
			}
		})
	}
}

func TestL1SetGet(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 4})
	ctx := context.Background()
	values := map[string][]byte{
		"empty": {},
		"small": []byte("hello"),
		"1KiB":  bytes.Repeat([]byte{0xAB}, 1024),
		"max":   bytes.Repeat([]byte{7}, l.MaxValueBytes()),
	}
	var i uint64
	for name, v := range values {
		i++
		t.Run(name, func(t *testing.T) {
			k := testKey(i)
			if err := l.Set(ctx, k, v, time.Minute); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, ttl, ok, err := l.Get(ctx, k)
			if err != nil || !ok {
				t.Fatalf("Get = ok %v, err %v; want a hit", ok, err)
			}
			if !bytes.Equal(got, v) {
				t.Fatalf("Get returned %d bytes, want the %d stored", len(got), len(v))
			}
			if ttl != time.Minute {
				t.Fatalf("ttl = %v, want exactly 1m with the clock stopped", ttl)
			}
			// The slice belongs to the caller: scribbling on it must not
			// change what the next reader gets.
			for j := range got {
				got[j] ^= 0xFF
			}
			again, _, _, _ := l.Get(ctx, k)
			if !bytes.Equal(again, v) {
				t.Fatalf("a caller's write to a returned value reached the cache")
			}
		})
	}
	if _, _, ok, _ := l.Get(ctx, testKey(999)); ok {
		t.Fatalf("Get of a key never set hit")
	}
	st := l.Stats()
	if st.Entries != int64(len(values)) || st.Bytes <= 0 || st.Hits != 2*int64(len(values)) || st.Misses != 1 {
		t.Fatalf("Stats = %+v; want %d entries, bytes > 0, %d hits, 1 miss", st, len(values), 2*len(values))
	}
}

func TestL1SetOverwrites(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 1})
	ctx := context.Background()
	k := testKey(1)
	l.Set(ctx, k, []byte("old"), time.Minute)
	if err := l.Set(ctx, k, []byte("new"), time.Second); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, ttl, ok, _ := l.Get(ctx, k)
	if !ok || string(got) != "new" || ttl != time.Second {
		t.Fatalf("Get = %q, %v, %v; want \"new\", 1s, true", got, ttl, ok)
	}
}

func TestL1Expiry(t *testing.T) {
	tests := []struct {
		name    string
		maxTTL  time.Duration
		ttl     time.Duration
		advance time.Duration
		wantOK  bool
		wantTTL time.Duration
	}{
		{"fresh", 0, 1500 * time.Millisecond, 0, true, 1500 * time.Millisecond},
		{"sub-second remainder kept exact", 0, 1500 * time.Millisecond, 1499 * time.Millisecond, true, time.Millisecond},
		{"one nanosecond left", 0, time.Second, time.Second - 1, true, 1},
		{"at the deadline", 0, time.Second, time.Second, false, 0},
		{"past the deadline", 0, time.Second, time.Hour, false, 0},
		{"MaxTTL caps the ttl", 2 * time.Second, time.Hour, 0, true, 2 * time.Second},
		{"MaxTTL cap expires", 2 * time.Second, time.Hour, 2 * time.Second, false, 0},
		{"ttl under MaxTTL kept", time.Hour, time.Second, 0, true, time.Second},
		{"default cap", 0, 365 * 24 * time.Hour, 0, true, DefaultL1MaxTTL},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newTestL1(t, L1Config{CapacityMiB: 1, MaxTTL: tt.maxTTL})
			ctx := context.Background()
			k := testKey(uint64(i))
			if err := l.Set(ctx, k, []byte("v"), tt.ttl); err != nil {
				t.Fatalf("Set: %v", err)
			}
			clk.advance(tt.advance)
			got, ttl, ok, err := l.Get(ctx, k)
			if err != nil || ok != tt.wantOK || ttl != tt.wantTTL {
				t.Fatalf("Get = %q, ttl %v, ok %v, err %v; want ttl %v, ok %v", got, ttl, ok, err, tt.wantTTL, tt.wantOK)
			}
			if !tt.wantOK {
				if n := l.Stats().Entries; n != 0 {
					t.Fatalf("expired entry still stored after Get: %d entries", n)
				}
				// A later Set under the same key works again.
				l.Set(ctx, k, []byte("w"), time.Second)
				if got, _, ok, _ := l.Get(ctx, k); !ok || string(got) != "w" {
					t.Fatalf("Set after expiry: Get = %q, %v", got, ok)
				}
			}
		})
	}
}

// TestL1ExpiryRealClock checks the deadline against the real monotonic clock
// once, so the injected clock is not the only one ever exercised.
func TestL1ExpiryRealClock(t *testing.T) {
	l, err := NewL1(L1Config{CapacityMiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	k := testKey(1)
	l.Set(ctx, k, []byte("v"), 20*time.Millisecond)
	if _, ttl, ok, _ := l.Get(ctx, k); !ok || ttl <= 0 || ttl > 20*time.Millisecond {
		t.Fatalf("fresh Get: ttl %v ok %v", ttl, ok)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, ok, _ := l.Get(ctx, k)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry with a 20ms TTL still served after 5s")
		}
		time.Sleep(5 * time.Millisecond) // waiting for time itself to pass: nothing to signal
	}
}

func TestL1SetErrors(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 1})
	ctx := context.Background()
	tests := []struct {
		name  string
		value []byte
		ttl   time.Duration
		want  error
	}{
		{"zero ttl", []byte("v"), 0, ErrBadTTL},
		{"negative ttl", []byte("v"), -time.Second, ErrBadTTL},
		{"one byte too large", make([]byte, l.MaxValueBytes()+1), time.Second, ErrTooLarge},
		{"far too large", make([]byte, 2<<20), time.Second, ErrTooLarge},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKey(uint64(i))
			err := l.Set(ctx, k, tt.value, tt.ttl)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Set = %v, want %v", err, tt.want)
			}
			if _, _, ok, _ := l.Get(ctx, k); ok {
				t.Fatalf("a refused Set stored an entry")
			}
		})
	}
}

// TestL1OversizeKeepsOthers: a refused entry must not evict the shard's
// other entries (bigcache would, were the entry handed to it).
func TestL1OversizeKeepsOthers(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 1})
	ctx := context.Background()
	for i := range 100 {
		l.Set(ctx, testKey(uint64(i)), []byte("small"), time.Minute)
	}
	if err := l.Set(ctx, testKey(1000), make([]byte, 1<<20), time.Minute); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Set of 1 MiB into a 1 MiB L1 = %v, want ErrTooLarge", err)
	}
	if n := l.Stats().Entries; n != 100 {
		t.Fatalf("%d entries after a refused Set, want 100", n)
	}
}

func TestL1MaxValueBytes(t *testing.T) {
	tests := []struct {
		capMiB int
		min    int
	}{
		{1, 200 << 10},
		{4, 1000 << 10},
		{64, 1000 << 10},
		{1024, 1000 << 10},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.capMiB), func(t *testing.T) {
			l, _ := newTestL1(t, L1Config{CapacityMiB: tt.capMiB})
			if l.MaxValueBytes() < tt.min {
				t.Fatalf("MaxValueBytes = %d, want ≥ %d", l.MaxValueBytes(), tt.min)
			}
			v := make([]byte, l.MaxValueBytes())
			if err := l.Set(context.Background(), testKey(1), v, time.Minute); err != nil {
				t.Fatalf("Set of MaxValueBytes: %v", err)
			}
			if _, _, ok, _ := l.Get(context.Background(), testKey(1)); !ok {
				t.Fatalf("value of MaxValueBytes not stored")
			}
		})
	}
}

// TestL1CapacityIsHard fills L1 far past its capacity and checks that the
// memory bigcache holds stays within the limit while old entries go first.
func TestL1CapacityIsHard(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 2})
	ctx := context.Background()
	v := make([]byte, 4096)
	const n = 5000 // 20 MiB of values
	for i := range n {
		if err := l.Set(ctx, testKey(uint64(i)), v, time.Hour); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
	}
	st := l.Stats()
	if st.Capacity != 2<<20 {
		t.Fatalf("Capacity is %d, want 2 MiB", st.Capacity)
	}
	// 10× overfilled, the rings have grown to their limit and no further.
	if st.Bytes != st.Capacity {
		t.Fatalf("L1 holds %d bytes, want its 2 MiB limit", st.Bytes)
	}
	if st.Entries >= n || st.Entries < 200 {
		t.Fatalf("%d entries after writing %d of 4 KiB into 2 MiB", st.Entries, n)
	}
	if _, _, ok, _ := l.Get(ctx, testKey(n-1)); !ok {
		t.Fatalf("newest entry evicted")
	}
	if _, _, ok, _ := l.Get(ctx, testKey(0)); ok {
		t.Fatalf("oldest entry survived 10× overfill")
	}
}

func TestL1Disabled(t *testing.T) {
	before := runtime.NumGoroutine()
	l, err := NewL1(L1Config{CapacityMiB: 0, MaxTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if after := runtime.NumGoroutine(); after != before {
		t.Fatalf("disabled L1 started %d goroutines", after-before)
	}
	ctx := context.Background()
	if err := l.Set(ctx, testKey(1), []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set on disabled L1: %v", err)
	}
	if _, _, ok, err := l.Get(ctx, testKey(1)); ok || err != nil {
		t.Fatalf("Get on disabled L1 = ok %v err %v, want a plain miss", ok, err)
	}
	if l.Enabled() || l.MaxValueBytes() != 0 || l.Stats() != (L1Stats{}) {
		t.Fatalf("disabled L1: Enabled %v MaxValueBytes %d Stats %+v", l.Enabled(), l.MaxValueBytes(), l.Stats())
	}
	if err := l.Set(ctx, testKey(1), []byte("v"), 0); !errors.Is(err, ErrBadTTL) {
		t.Fatalf("disabled L1 accepted ttl 0: %v", err)
	}
	l.Close()
}

func TestL1Close(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 1})
	ctx := context.Background()
	l.Set(ctx, testKey(1), []byte("v"), time.Minute)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, ok, _ := l.Get(ctx, testKey(1)); ok {
		t.Fatalf("Get after Close hit")
	}
	if err := l.Set(ctx, testKey(2), []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set after Close: %v", err)
	}
}

func TestKeyHasher(t *testing.T) {
	var zero keying.Key
	if h := (keyHasher{}).Sum64(string(zero[:])); h == 0 {
		t.Fatalf("hash 0 marks deleted entries in bigcache; the hasher must avoid it")
	}
	a, b := testKey(1), testKey(2)
	if (keyHasher{}).Sum64(string(a[:])) == (keyHasher{}).Sum64(string(b[:])) {
		t.Fatalf("distinct keys hashed alike")
	}
}

func TestL1Concurrent(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 2, MaxTTL: time.Minute})
	l.now = time.Now
	l.base = time.Now()
	ctx := context.Background()
	const workers, ops, keys = 8, 2000, 64
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				n := uint64((w*ops + i) % keys)
				k := testKey(n)
				// The value is a function of the key, so any hit can be checked.
				want := bytes.Repeat([]byte{byte(n)}, int(n)*37)
				switch i % 4 {
				case 0:
					l.Set(ctx, k, want, time.Duration(1+i%3)*time.Millisecond)
				case 1:
					l.Set(ctx, k, want, time.Minute)
				default:
					if got, ttl, ok, _ := l.Get(ctx, k); ok && (!bytes.Equal(got, want) || ttl <= 0) {
						bad.Add(1)
					}
				}
				if i%500 == 0 {
					l.Stats()
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d hits returned the wrong bytes or a non-positive ttl", n)
	}
}

// TestL1GetAllocs holds Get to bigcache's own allocations: the entry copy
// and its copy of the stored key (readKeyFromEntry). allocs are counted, not
// timed.
func TestL1GetAllocs(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 4})
	ctx := context.Background()
	k := testKey(1)
	l.Set(ctx, k, make([]byte, 1024), time.Minute)

	bc, _ := bigcache.New(ctx, bigcache.Config{Shards: 1, LifeWindow: time.Hour, MaxEntriesInWindow: 10, MaxEntrySize: 2048, Logger: nopLogger{}})
	defer bc.Close()
	sk := string(k[:])
	bc.Set(sk, make([]byte, 1032))

	raw := testing.AllocsPerRun(200, func() { bc.Get(sk) })
	ours := testing.AllocsPerRun(200, func() { l.Get(ctx, k) })
	if ours > raw {
		t.Fatalf("L1.Get allocates %v per call, plain bigcache.Get %v", ours, raw)
	}
}

// TestL1SetWithRoom: a value stored after the caller's room reads back as
// Set's would, the value bytes untouched; a buf shorter than the room is an
// error, not a panic.
func TestL1SetWithRoom(t *testing.T) {
	l, _ := newTestL1(t, L1Config{CapacityMiB: 4})
	ctx := context.Background()
	value := []byte("the encoded rows")
	buf := append(make([]byte, L1Room), value...)
	if err := l.SetWithRoom(ctx, testKey(1), buf, time.Minute); err != nil {
		t.Fatal(err)
	}
	if string(buf[L1Room:]) != string(value) {
		t.Fatalf("SetWithRoom changed the value to %q", buf[L1Room:])
	}
	got, left, ok, err := l.Get(ctx, testKey(1))
	if err != nil || !ok || string(got) != string(value) || left <= 0 || left > time.Minute {
		t.Fatalf("Get = %q, %v, %v, %v; want %q with up to a minute left", got, left, ok, err, value)
	}
	if err := l.SetWithRoom(ctx, testKey(2), make([]byte, L1Room-1), time.Minute); err == nil {
		t.Fatal("a buf shorter than the room was accepted")
	}
	if err := l.SetWithRoom(ctx, testKey(3), make([]byte, L1Room+l.MaxValueBytes()+1), time.Minute); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a value over MaxValueBytes after the room: %v, want ErrTooLarge", err)
	}
}
