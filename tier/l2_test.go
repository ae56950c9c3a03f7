package tier

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/cachedsql/cachedsql/keying"
)

var (
	_ Tier = (*L1)(nil)
	_ Tier = (*L2)(nil)
)

// testL2Config is short on every timeout so failure tests run quickly.
func testL2Config(url string) L2Config {
	return L2Config{
		URL: url, Namespace: "test",
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		BreakerFailures: 3, BreakerBackoff: 50 * time.Millisecond, BreakerMaxBackoff: 200 * time.Millisecond,
	}
}

func newTestL2(t testing.TB, cfg L2Config) *L2 {
	t.Helper()
	l, err := NewL2(cfg)
	if err != nil {
		t.Fatalf("NewL2: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestNewL2Validates(t *testing.T) {
	const secret = "s3cr3tP4ss"
	good := "redis://127.0.0.1:1/0"
	tests := []struct {
		name string
		cfg  L2Config
		want string // substring of the error; "" means success
	}{
		{"url", L2Config{URL: good, Namespace: "n"}, ""},
		{"client", L2Config{Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Namespace: "n"}, ""},
		{"rediss with password", L2Config{URL: "rediss://u:" + secret + "@127.0.0.1:1/2", Namespace: "n"}, ""},
		{"cluster by addr", L2Config{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2", Namespace: "n"}, ""},
		{"cluster by flag", L2Config{URL: "redis://127.0.0.1:1", Cluster: true, Namespace: "n"}, ""},
		{"sentinel", L2Config{URL: "redis://127.0.0.1:1?master_name=mymaster", Namespace: "n"}, ""},
		{"url timeouts", L2Config{URL: good + "?read_timeout=50ms&max_retries=2", Namespace: "n"}, ""},
		{"neither", L2Config{Namespace: "n"}, "exactly one"},
		{"both", L2Config{URL: good, Client: redis.NewClient(&redis.Options{}), Namespace: "n"}, "exactly one"},
		{"no namespace", L2Config{URL: good}, "Namespace is empty"},
		{"hash tag namespace", L2Config{URL: good, Namespace: "a{b}"}, "one slot"},
		{"negative timeout", L2Config{URL: good, Namespace: "n", ReadTimeout: -1}, "ReadTimeout"},
		{"negative failures", L2Config{URL: good, Namespace: "n", BreakerFailures: -1}, "BreakerFailures"},
		{"max below backoff", L2Config{URL: good, Namespace: "n", BreakerBackoff: time.Second, BreakerMaxBackoff: time.Millisecond}, "BreakerMaxBackoff"},
		{"negative max value", L2Config{URL: good, Namespace: "n", MaxValueBytes: -1}, "MaxValueBytes"},
		{"bad scheme", L2Config{URL: "http://u:" + secret + "@h:1", Namespace: "n"}, "scheme"},
		{"bad db", L2Config{URL: "redis://u:" + secret + "@h:1/x", Namespace: "n"}, "database"},
		{"unknown option", L2Config{URL: "redis://u:" + secret + "@h:1/0?password=" + secret, Namespace: "n"}, "unexpected option"},
		{"unparsable with password", L2Config{URL: "redis://u:" + secret + "/x@h:1", Namespace: "n"}, "not a valid URL"},
		{"control character", L2Config{URL: "redis://h:1/\x7f" + secret, Namespace: "n"}, "not a valid URL"},
		{"bad cluster option", L2Config{URL: "redis://u:" + secret + "@h:1?addr=h:2&bogus=" + secret, Namespace: "n"}, "unexpected option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewL2(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewL2: %v", err)
				}
				l.Close()
				return
			}
			if err == nil {
				l.Close()
				t.Fatalf("NewL2 succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) && tt.name != "control character" {
				t.Fatalf("error shows the password: %q", err)
			}
		})
	}
}

// TestRedactRawURL: of a URL url.Parse refused, only the scheme shows; its
// user info and query may each hold ?, @ and /.
func TestRedactRawURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://u:pw@h:1/0", "redis://…"},
		{"redis://u:p@w/x@h:1", "redis://…"},
		{"rediss://u:p?w@h:1", "rediss://…"},
		{"h:1", "…"},
		{"u:pw@h", "…"},
		{"u:pw@h/x://y", "…"},
	}
	for _, tt := range tests {
		if got := redactRawURL(tt.in); got != tt.want {
			t.Errorf("redactRawURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestL2DefaultsApplied checks the options of the client NewL2 makes: short
// timeouts, no retries, URL values kept, config values first.
func TestL2DefaultsApplied(t *testing.T) {
	tests := []struct {
		name              string
		cfg               L2Config
		read, dial, write time.Duration
		retries           int
	}{
		{"defaults", L2Config{URL: "redis://h:1"}, DefaultL2ReadTimeout, DefaultL2DialTimeout, DefaultL2WriteTimeout, 0},
		{"url values", L2Config{URL: "redis://h:1?read_timeout=70ms&dial_timeout=80ms&max_retries=2"}, 70 * time.Millisecond, 80 * time.Millisecond, DefaultL2WriteTimeout, 2},
		{"config wins", L2Config{URL: "redis://h:1?read_timeout=70ms", ReadTimeout: 30 * time.Millisecond}, 30 * time.Millisecond, DefaultL2DialTimeout, DefaultL2WriteTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Namespace = "n"
			l := newTestL2(t, tt.cfg)
			o := l.client.(*redis.Client).Options()
			if o.ReadTimeout != tt.read || o.DialTimeout != tt.dial || o.WriteTimeout != tt.write || o.MaxRetries != tt.retries || o.DialerRetries != 1 {
				t.Fatalf("options: read %v dial %v write %v retries %d dialer retries %d; want %v %v %v %d 1",
					o.ReadTimeout, o.DialTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries, tt.read, tt.dial, tt.write, tt.retries)
			}
		})
	}
}

func TestL2KeyFormat(t *testing.T) {
	l := newTestL2(t, L2Config{URL: "redis://h:1", Namespace: "app:db1"})
	k := testKey(7)
	want := "cachedsql:app:db1:" + hex.EncodeToString(k[:])
	if got := l.Key(k); got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^cachedsql:app:db1:[0-9a-f]{32}$`).MatchString(l.Key(testKey(8))) {
		t.Fatalf("Key %q is not cachedsql:<ns>:<32 hex>", l.Key(testKey(8)))
	}
}

// compressible looks like an encoded row set: repeated column names, small
// integers, timestamps and strings from a small vocabulary.
func compressible(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	statuses := []string{"active", "pending", "closed", "archived"}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "\x95\xa2id\xcd%04x\xa4name\xa9user%05d\xa5email\xb5user%05d@example.com\xa7created\xd7\xff%08x\xa6status\xa7%s\xa5score\xcb%016x",
			i, r.IntN(100000), r.IntN(100000), 1700000000+i*37, statuses[r.IntN(4)], r.Uint64()>>40)
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestL2SetGet(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	raw := s.Client()
	ctx := context.Background()
	tests := []struct {
		name       string
		value      []byte
		format     byte
		compressed bool
	}{
		{"empty", []byte{}, formatRawDeadline, false},
		{"small", []byte("hello"), formatRawDeadline, false},
		{"1KiB", compressible(1024), formatRawDeadline, false},
		{"64KiB compressible", compressible(64 << 10), formatS2Deadline, true},
		{"64KiB random", random(64 << 10), formatRawDeadline, false},
		{"512KiB compressible", compressible(512 << 10), formatS2Deadline, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKey(uint64(i))
			if err := l.Set(ctx, k, tt.value, 1500*time.Millisecond); err != nil {
				t.Fatalf("Set: %v", err)
			}
			stored, err := raw.Get(ctx, l.Key(k)).Bytes()
			if err != nil {
				t.Fatalf("raw GET %s: %v", l.Key(k), err)
			}
			if stored[0] != tt.format {
				t.Fatalf("stored format byte 0x%02x, want 0x%02x", stored[0], tt.format)
			}
			if tt.compressed && len(stored) > len(tt.value)/2 {
				t.Fatalf("compressed %d bytes to %d", len(tt.value), len(stored))
			}
			got, ttl, ok, err := l.Get(ctx, k)
			if err != nil || !ok {
				t.Fatalf("Get = ok %v err %v", ok, err)
			}
			if !bytes.Equal(got, tt.value) {
				t.Fatalf("Get returned %d bytes that differ from the %d stored", len(got), len(tt.value))
			}
			// PTTL in milliseconds: a fresh 1.5 s entry reads back between 1 s and 1.5 s,
			// not rounded to whole seconds.
			if ttl <= time.Second || ttl > 1500*time.Millisecond {
				t.Fatalf("ttl = %v, want in (1s, 1.5s]", ttl)
			}
			if ttl%time.Second == 0 {
				t.Fatalf("ttl %v is whole seconds", ttl)
			}
		})
	}
	st := l.Stats()
	if st.Hits != int64(len(tests)) || st.Sets != int64(len(tests)) || st.Errors != 0 || st.BytesWritten <= 0 || st.BreakerState != BreakerClosed {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestL2SubSecondTTL: a remainder under one second is reported as it is,
// never as 0 and never raised to a second.
func TestL2SubSecondTTL(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx := context.Background()
	tests := []time.Duration{300 * time.Millisecond, 999 * time.Millisecond, 50 * time.Millisecond}
	for i, d := range tests {
		k := testKey(uint64(100 + i))
		if err := l.Set(ctx, k, []byte("v"), d); err != nil {
			t.Fatal(err)
		}
		_, ttl, ok, err := l.Get(ctx, k)
		if !ok || err != nil || ttl <= 0 || ttl > d {
			t.Fatalf("Set for %v: Get ttl %v ok %v err %v; want in (0, %v]", d, ttl, ok, err, d)
		}
	}
}

func TestL2ExpiresInRedis(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx := context.Background()
	k := testKey(1)
	l.Set(ctx, k, []byte("v"), 30*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ttl, ok, err := l.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ttl <= 0 {
			t.Fatalf("hit with ttl %v", ttl)
		}
		if time.Now().After(deadline) {
			t.Fatalf("30ms entry still served after 5s")
		}
		time.Sleep(5 * time.Millisecond) // waiting for Redis's clock: nothing to signal
	}
}

func TestL2Miss(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	v, ttl, ok, err := l.Get(context.Background(), testKey(42))
	if v != nil || ttl != 0 || ok || err != nil {
		t.Fatalf("Get of an absent key = %v, %v, %v, %v; want a plain miss", v, ttl, ok, err)
	}
	if st := l.Stats(); st.Misses != 1 || st.Hits != 0 || st.Errors != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestL2SetErrors(t *testing.T) {
	l := newTestL2(t, L2Config{URL: "redis://127.0.0.1:1", Namespace: "n", MaxValueBytes: 10})
	ctx := context.Background()
	tests := []struct {
		name  string
		value []byte
		ttl   time.Duration
		want  error
	}{
		{"zero ttl", []byte("v"), 0, ErrBadTTL},
		{"negative ttl", []byte("v"), -time.Second, ErrBadTTL},
		{"sub-millisecond ttl", []byte("v"), 999 * time.Microsecond, ErrBadTTL},
		{"too large", make([]byte, 11), time.Second, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Set(ctx, testKey(1), tt.value, tt.ttl); !errors.Is(err, tt.want) {
				t.Fatalf("Set = %v, want %v", err, tt.want)
			}
		})
	}
	if st := l.Stats(); st.BreakerState != BreakerClosed || st.Errors != 0 {
		t.Fatalf("refused arguments touched the breaker or error count: %+v", st)
	}
}

// TestL2Garbage stores foreign data under cachedsql keys: each read is a
// miss with an error, never a panic, and never opens the breaker (Redis
// itself answered).
func TestL2Garbage(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	raw := s.Client()
	ctx := context.Background()
	tests := []struct {
		name  string
		store func(key string) error
		want  error
	}{
		{"empty string", func(k string) error { return raw.Set(ctx, k, "", time.Minute).Err() }, ErrCorrupt},
		{"plain text", func(k string) error { return raw.Set(ctx, k, "hello world", time.Minute).Err() }, ErrCorrupt},
		{"s2 garbage", func(k string) error { return raw.Set(ctx, k, []byte{formatS2, 0x05, 0xff, 0xff}, time.Minute).Err() }, ErrCorrupt},
		{"s2 huge claim", func(k string) error {
			return raw.Set(ctx, k, []byte{formatS2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}, time.Minute).Err()
		}, ErrCorrupt},
		{"no ttl", func(k string) error { return raw.Set(ctx, k, []byte{formatRaw, 'x'}, 0).Err() }, ErrNoTTL},
		{"a list", func(k string) error { return raw.RPush(ctx, k, "a", "b").Err() }, nil},
		{"a hash", func(k string) error { return raw.HSet(ctx, k, "f", "v").Err() }, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKey(uint64(i))
			if err := tt.store(l.Key(k)); err != nil {
				t.Fatalf("storing garbage: %v", err)
			}
			v, ttl, ok, err := l.Get(ctx, k)
			if ok || v != nil || ttl != 0 || err == nil {
				t.Fatalf("Get = %q, %v, %v, %v; want a miss with an error", v, ttl, ok, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// Set overwrites whatever was there.
			if err := l.Set(ctx, k, []byte("good"), time.Minute); err != nil {
				t.Fatalf("Set over garbage: %v", err)
			}
			if v, _, ok, err := l.Get(ctx, k); !ok || string(v) != "good" {
				t.Fatalf("Get after Set over garbage = %q %v %v", v, ok, err)
			}
		})
	}
	st := l.Stats()
	if st.BreakerState != BreakerClosed || st.BreakerOpens != 0 {
		t.Fatalf("garbage opened the breaker: %+v", st)
	}
	if st.Errors != int64(len(tests)) || st.Corrupt != 4 {
		t.Fatalf("Stats = %+v; want %d errors, 4 corrupt", st, len(tests))
	}
}

// waitRecovered polls until a Set then Get through l round-trips, or fails
// the test after within.
func waitRecovered(t *testing.T, l *L2, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	k := testKey(999)
	for {
		if err := l.Set(ctx, k, []byte("back"), time.Minute); err == nil {
			if v, _, ok, _ := l.Get(ctx, k); ok && string(v) == "back" {
				if st := l.Stats().BreakerState; st != BreakerClosed {
					t.Fatalf("served again with the breaker %v", st)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("L2 did not recover within %v: %+v", within, l.Stats())
		}
		time.Sleep(10 * time.Millisecond) // polling for recovery of a process: no signal exists
	}
}

// expectOutage makes calls until the breaker opens, checking each returns a
// miss with an error quickly, then that open calls return ErrOpen at once.
func expectOutage(t *testing.T, l *L2, perCall time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i := 0; l.Stats().BreakerState == BreakerClosed; i++ {
		if i > 20 {
			t.Fatalf("breaker still closed after %d failing calls: %+v", i, l.Stats())
		}
		start := time.Now()
		_, _, ok, err := l.Get(ctx, testKey(uint64(i)))
		if took := time.Since(start); took > perCall {
			t.Fatalf("Get took %v during the outage, want ≤ %v", took, perCall)
		}
		if ok || err == nil {
			t.Fatalf("Get during the outage = ok %v err %v; want a miss with an error", ok, err)
		}
	}
	start := time.Now()
	for range 100 {
		_, _, ok, err := l.Get(ctx, testKey(1))
		if ok || err == nil {
			t.Fatalf("Get with the breaker open = ok %v, err %v", ok, err)
		}
	}
	if took := time.Since(start); took > 2*perCall {
		t.Fatalf("100 Gets with the breaker open took %v: the breaker is not sparing Redis", took)
	}
	if st := l.Stats(); st.Rejected == 0 || st.BreakerOpens == 0 {
		t.Fatalf("Stats = %+v; want rejections and an open", st)
	}
}

func TestL2AbsentAtStart(t *testing.T) {
	s := redistest.Start(t)
	s.Stop()
	l := newTestL2(t, testL2Config(s.URL()))
	expectOutage(t, l, time.Second)
	if err := l.Set(context.Background(), testKey(1), []byte("v"), time.Minute); !errors.Is(err, ErrOpen) {
		t.Fatalf("Set with the breaker open = %v, want ErrOpen", err)
	}
	s.Restart()
	waitRecovered(t, l, 10*time.Second)
}

func TestL2KilledAndRestarted(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx := context.Background()
	k := testKey(1)
	if err := l.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	expectOutage(t, l, time.Second)
	s.Restart()
	waitRecovered(t, l, 10*time.Second)
	if _, _, ok, _ := l.Get(ctx, k); ok {
		t.Fatalf("entry survived a restart of an empty Redis")
	}
}

func TestL2Paused(t *testing.T) {
	s := redistest.Start(t)
	cfg := testL2Config(s.URL())
	l := newTestL2(t, cfg)
	ctx := context.Background()
	if err := l.Set(ctx, testKey(1), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			s.Resume()
		}
	})
	// Each call waits at most about the read timeout; 10× leaves room for a
	// loaded machine while still catching go-redis's 3 s defaults.
	expectOutage(t, l, 10*cfg.ReadTimeout)

	// Concurrent callers during the stall are refused, not queued.
	var wg sync.WaitGroup
	var slow sync.Map
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			l.Get(ctx, testKey(uint64(i)))
			if took := time.Since(start); took > 10*cfg.ReadTimeout {
				slow.Store(i, took)
			}
		}()
	}
	wg.Wait()
	slow.Range(func(k, v any) bool { t.Errorf("caller %v blocked %v during the stall", k, v); return true })

	s.Resume()
	resumed = true
	waitRecovered(t, l, 10*time.Second)
	if v, _, ok, _ := l.Get(ctx, testKey(1)); !ok || string(v) != "v" {
		t.Fatalf("entry written before the pause lost: %q %v", v, ok)
	}
}

// TestL2PausedShortDeadlines: on a stalled Redis, callers whose deadlines
// are shorter than the read timeout (an HTTP handler's budget) get their miss
// with half their time left, to ask the database. Those misses open the
// breaker when half a deadline is a fair wait (a quarter of the read timeout,
// or of DefaultL2ReadTimeout if shorter: 50 ms); shorter shares say more
// about the callers than about Redis, and leave the breaker closed. Without the lookup's own share, each caller
// waited out its own deadline, and the breaker took that for callers giving
// up, never for Redis failing.
func TestL2PausedShortDeadlines(t *testing.T) {
	for _, tc := range []struct {
		name      string
		deadline  time.Duration
		readLimit time.Duration
		opens     bool
	}{
		{"fair share", 400 * time.Millisecond, 5 * time.Second, true},
		{"short share", 60 * time.Millisecond, 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			cfg := testL2Config(s.URL())
			cfg.ReadTimeout, cfg.WriteTimeout = tc.readLimit, tc.readLimit
			l := newTestL2(t, cfg)
			if err := l.Set(context.Background(), testKey(1), []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
			s.Pause()
			t.Cleanup(s.Resume)
			for i := range cfg.BreakerFailures {
				ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
				_, _, ok, err := l.Get(ctx, testKey(1))
				left := ctx.Err() == nil
				cancel()
				if ok || err == nil || !left {
					t.Fatalf("call %d on a stalled Redis: ok %v, err %v, caller's deadline not yet passed %v; want a miss with an error, in time", i, ok, err, left)
				}
			}
			if open := l.Stats().BreakerState != BreakerClosed; open != tc.opens {
				t.Fatalf("after %d calls that found Redis stalled: breaker open %v, want %v", cfg.BreakerFailures, open, tc.opens)
			}
		})
	}
}

// TestL2CallerContext: a caller whose context has ended gets its error, and
// that does not count against Redis.
func TestL2CallerContext(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		if _, _, ok, err := l.Get(ctx, testKey(1)); ok || err == nil {
			t.Fatalf("Get with a cancelled context = ok %v err %v", ok, err)
		}
	}
	if st := l.Stats(); st.BreakerState != BreakerClosed {
		t.Fatalf("cancelled callers opened the breaker: %+v", st)
	}
}

func TestL2UserClient(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	l, err := NewL2(L2Config{Client: c, Namespace: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Set(ctx, testKey(1), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, _, ok, _ := l.Get(ctx, testKey(1)); !ok || string(v) != "v" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	l.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("L2.Close closed the user's client: %v", err)
	}
}

// TestL2ScriptFlushed: Redis forgets scripts on restart or SCRIPT FLUSH;
// Get must fall back to EVAL and keep working.
func TestL2ScriptFlushed(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx := context.Background()
	l.Set(ctx, testKey(1), []byte("v"), time.Minute)
	for range 2 {
		if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if v, _, ok, err := l.Get(ctx, testKey(1)); !ok || string(v) != "v" {
			t.Fatalf("Get after SCRIPT FLUSH = %q %v %v", v, ok, err)
		}
	}
}

func TestL2Cluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	cfg := testL2Config(c.URL())
	l := newTestL2(t, cfg)
	if _, ok := l.client.(*redis.ClusterClient); !ok {
		t.Fatalf("URL %s made a %T, want a cluster client", c.URL(), l.client)
	}
	ctx := context.Background()
	const n = 300
	value := func(i int) []byte { return []byte(fmt.Sprintf("value-%d", i)) }
	for i := range n {
		if err := l.Set(ctx, testKey(uint64(i)), value(i), time.Minute); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
	}
	// Keys spread over every master: count them where they landed.
	for i, addr := range c.Addrs() {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := rc.Keys(ctx, "cachedsql:test:*").Result()
		rc.Close()
		if err != nil {
			t.Fatalf("KEYS on master %d: %v", i, err)
		}
		if len(keys) < n/10 {
			t.Fatalf("master %d holds %d of %d keys: keys do not spread over slots", i, len(keys), n)
		}
	}
	// And by slot: distinct slots, not one hash-tagged slot.
	slots := map[int64]bool{}
	for i := range 50 {
		slot, err := c.Client().ClusterKeySlot(ctx, l.Key(testKey(uint64(i)))).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot] = true
	}
	if len(slots) < 40 {
		t.Fatalf("50 keys fell in %d slots", len(slots))
	}
	for i := range n {
		v, _, ok, err := l.Get(ctx, testKey(uint64(i)))
		if !ok || !bytes.Equal(v, value(i)) {
			t.Fatalf("Get %d = %q %v %v", i, v, ok, err)
		}
	}

	c.KillMaster(0)
	var hits, misses int
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 3*n && time.Now().Before(deadline); i++ {
		k := i % n
		v, _, ok, _ := l.Get(ctx, testKey(uint64(k)))
		if ok {
			if !bytes.Equal(v, value(k)) {
				t.Fatalf("wrong value for key %d after a master died: %q", k, v)
			}
			hits++
		} else {
			misses++
		}
	}
	if hits == 0 || misses == 0 {
		t.Fatalf("after killing a master: %d hits, %d misses; want both", hits, misses)
	}
	t.Logf("after killing 1 of 3 masters: %d hits, %d misses, stats %+v", hits, misses, l.Stats())
}

// Keys are keying.Key values; make sure the exported type is what L2 hexes.
func TestL2KeyIsKeyingKey(t *testing.T) {
	var k keying.Key
	if len(k) != 16 {
		t.Fatalf("keying.Key has %d bytes; L2 keys assume 16", len(k))
	}
}

// TestL2FetchAlternatives: the lookups the benchmark compares agree on
// hits, misses and missing TTLs, so the comparison is between equals.
func TestL2FetchAlternatives(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx := context.Background()
	raw := s.Client()
	raw.Set(ctx, "hit", "value", 1500*time.Millisecond)
	raw.Set(ctx, "forever", "value", 0)
	fetchers := map[string]func(context.Context, string) ([]byte, int64, bool, error){
		"pipeline": l.fetchPipeline, "script": l.fetchScript, "multi": l.fetchMulti,
	}
	for name, fetch := range fetchers {
		t.Run(name, func(t *testing.T) {
			if v, ms, ok, err := fetch(ctx, "hit"); !ok || err != nil || string(v) != "value" || ms <= 1000 || ms > 1500 {
				t.Errorf("hit: %q %d %v %v", v, ms, ok, err)
			}
			if v, _, ok, err := fetch(ctx, "absent"); ok || err != nil || v != nil {
				t.Errorf("absent: %q %v %v", v, ok, err)
			}
			if _, ms, ok, err := fetch(ctx, "forever"); !ok || err != nil || ms != -1 {
				t.Errorf("no TTL: %d %v %v", ms, ok, err)
			}
		})
	}
}

// TestL2GetValue: the one-GET read returns what Get returns, raw or S2,
// misses an absent key, and treats garbage as Get does (except an entry with
// no TTL, which it does not ask about).
func TestL2GetValue(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	raw := s.Client()
	ctx := context.Background()
	values := [][]byte{{}, []byte("hello"), compressible(64 << 10), random(64 << 10)}
	for i, want := range values {
		k := testKey(uint64(100 + i))
		if err := l.Set(ctx, k, want, time.Minute); err != nil {
			t.Fatalf("Set: %v", err)
		}
		got, ok, err := l.GetValue(ctx, k)
		if err != nil || !ok || !bytes.Equal(got, want) {
			t.Fatalf("GetValue of %d stored bytes = %d bytes, ok %v, err %v", len(want), len(got), ok, err)
		}
	}
	if v, ok, err := l.GetValue(ctx, testKey(1)); v != nil || ok || err != nil {
		t.Fatalf("GetValue of an absent key = %v, %v, %v; want a plain miss", v, ok, err)
	}
	k := testKey(2)
	if err := raw.Set(ctx, l.Key(k), "not ours", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := l.GetValue(ctx, k); v != nil || ok || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetValue of garbage = %q, %v, %v; want a miss wrapping ErrCorrupt", v, ok, err)
	}
	if err := raw.RPush(ctx, l.Key(testKey(3)), "a").Err(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := l.GetValue(ctx, testKey(3)); v != nil || ok || err == nil {
		t.Fatalf("GetValue of a list = %q, %v, %v; want a miss with an error", v, ok, err)
	}
	if st := l.Stats(); st.Hits != int64(len(values)) || st.Misses != 3 || st.Corrupt != 1 {
		t.Fatalf("Stats = %+v; want %d hits, 3 misses, 1 corrupt", st, len(values))
	}
}

// TestL2GetValueWithoutTTL: GetValue does not ask Redis for the TTL, so an
// entry whose TTL something removed (PERSIST, RESTORE with TTL 0) was served
// for ever by readers with L1 off. It now goes by the end Set wrote into the
// entry, with deadlineSlack for clocks that disagree (review A).
func TestL2GetValueWithoutTTL(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	raw := s.Client()
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name  string
		value []byte
		hit   bool
	}{
		{"ended long ago", encodeValue(nil, []byte("old"), -1, now.Add(-time.Hour).UnixMilli()), false},
		{"ended past the slack", encodeValue(nil, []byte("old"), -1, now.Add(-deadlineSlack-time.Second).UnixMilli()), false},
		{"compressed, ended", encodeValue(nil, compressible(64<<10), 1, now.Add(-time.Hour).UnixMilli()), false},
		{"ends later", encodeValue(nil, []byte("fresh"), -1, now.Add(time.Hour).UnixMilli()), true},
		{"within the slack", encodeValue(nil, []byte("fresh"), -1, now.Add(-deadlineSlack/2).UnixMilli()), true},
		// An earlier version's entry has no end to go by: Redis's TTL
		// decides, and these have none.
		{"no deadline", []byte{formatRaw, 'x'}, false},
		{"no deadline, compressed", encodeOld(compressible(64 << 10)), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKey(uint64(200 + i))
			if err := raw.Set(ctx, l.Key(k), tt.value, 0).Err(); err != nil {
				t.Fatal(err)
			}
			v, ok, err := l.GetValue(ctx, k)
			if ok != tt.hit {
				t.Fatalf("GetValue = %d bytes, hit %v, %v; want hit %v", len(v), ok, err, tt.hit)
			}
			if !ok && !errors.Is(err, ErrNoTTL) {
				t.Fatalf("GetValue's miss: %v, want ErrNoTTL", err)
			}
		})
	}
	// An earlier version's entry with a TTL is a hit.
	for i, v := range [][]byte{{formatRaw, 'x'}, encodeOld(compressible(64 << 10))} {
		k := testKey(uint64(250 + i))
		if err := raw.Set(ctx, l.Key(k), v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := l.GetValue(ctx, k); !ok || len(got) == 0 {
			t.Fatalf("an earlier version's entry with a TTL: hit %v, %d bytes, %v; want a hit", ok, len(got), err)
		}
	}
	// Set writes the end of the TTL it was given.
	k := testKey(300)
	before := time.Now()
	if err := l.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	stored, err := raw.Get(ctx, l.Key(k)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, end, err := decodeValue(stored, 1<<20)
	if err != nil || end < before.Add(time.Minute).UnixMilli() || end > time.Now().Add(time.Minute).UnixMilli() {
		t.Fatalf("stored end %v, %v; want a minute after the Set", time.UnixMilli(end), err)
	}
}

// TestL2SetStampsTheLatestEnd: the end Set writes into an entry must not be
// before the end Redis gives it. Set stamped the end before go-redis had a
// connection for the SET; when the client held the SET back (here the
// application's client, Config.Redis, with its one connection busy), PX
// counted from later, and GetValue took the live entry, past the stamped
// end, for one whose TTL was removed (review E). The stamp is now counted
// from the latest the SET can be sent, ctx's deadline.
func TestL2SetStampsTheLatestEnd(t *testing.T) {
	s := redistest.Start(t)
	app := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 1})
	t.Cleanup(func() { app.Close() })
	l := newTestL2(t, L2Config{Client: app, Namespace: "stamp"})
	ctx := context.Background()
	held := make(chan struct{})
	go func() {
		defer close(held)
		app.Do(ctx, "BLPOP", "stamp:nothing", 0.3)
	}()
	for { // until the BLPOP holds the only pooled connection
		list, err := s.Client().ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(list, " cmd=blpop ") {
			break
		}
	}
	k := testKey(7)
	const ttl = 2 * time.Second
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := l.Set(wctx, k, []byte("v"), ttl); err != nil {
		t.Fatal(err)
	}
	<-held
	pttl, err := s.Client().PTTL(ctx, l.Key(k)).Result()
	if err != nil || pttl <= 0 {
		t.Fatalf("PTTL %v, %v; want the entry's TTL", pttl, err)
	}
	redisEnd := time.Now().Add(pttl) // no earlier than Redis's own end
	stored, err := s.Client().Get(ctx, l.Key(k)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, end, err := decodeValue(stored, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if stamped := time.UnixMilli(end); redisEnd.After(stamped.Add(5 * time.Millisecond)) {
		t.Fatalf("the entry's stamped end is %v before Redis's: GetValue would call the live entry TTL-less that long",
			redisEnd.Sub(stamped).Round(time.Millisecond))
	}
}

// TestL2SetStampsNoDistantEnd: Set stamped the end from ctx's deadline,
// however far: with an hour's deadline an entry whose TTL was then
// removed was served with L1 off for an hour past its TTL (review G's
// suspicion). The deadline counts for at most maxSetHold.
func TestL2SetStampsNoDistantEnd(t *testing.T) {
	s := redistest.Start(t)
	l := newTestL2(t, testL2Config(s.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	k := testKey(400)
	if err := l.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Client().Get(ctx, l.Key(k)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, end, err := decodeValue(stored, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if latest := time.Now().Add(maxSetHold + time.Minute); time.UnixMilli(end).After(latest) {
		t.Fatalf("stamped end %v past the Set: want at most the TTL and maxSetHold (%v)",
			time.Until(time.UnixMilli(end)).Round(time.Second), maxSetHold+time.Minute)
	}
}

// encodeOld is value compressed in an earlier version's format (formatS2,
// with no end written in it).
func encodeOld(value []byte) []byte {
	return append([]byte{formatS2}, encodeValue(nil, value, 0, 1)[1+deadlineLen:]...)
}
