package tier

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/allegro/bigcache/v3"

	"github.com/cachedsql/cachedsql/keying"
)

// L1Config configures the in-process tier.
type L1Config struct {
	// CapacityMiB is the hard limit of memory for entries, in MiB (at most
	// MaxL1CapacityMiB). 0 disables L1: NewL1 returns a tier that stores
	// nothing, always misses and starts no goroutine.
	//
	// When L1 is full the oldest entries are overwritten first (bigcache keeps a
	// FIFO ring per shard). Besides the entries, each shard keeps a write buffer
	// as large as the largest entry written to it, so the worst-case heap is
	// about 1.25 × CapacityMiB plus the index maps.
	CapacityMiB int
	// MaxTTL caps the life of every entry: Set stores min(ttl, MaxTTL).
	// 0 means the cap is DefaultL1MaxTTL (30 days).
	MaxTTL time.Duration
}

const (
	// MaxL1CapacityMiB is the largest CapacityMiB NewL1 accepts (256 GiB):
	// bigcache indexes a shard with 32 bits.
	MaxL1CapacityMiB = 256 << 10
	// DefaultL1MaxTTL is the cap on an entry's life when L1Config.MaxTTL is 0.
	DefaultL1MaxTTL = 30 * 24 * time.Hour
	// maxL1MaxTTL keeps deadlines (nanoseconds since the L1 was made) far
	// from int64 overflow.
	maxL1MaxTTL = 10 * 365 * 24 * time.Hour
)

// ErrTooLarge is returned by Set for a value longer than the tier accepts
// (L1.MaxValueBytes, L2Config.MaxValueBytes).
var ErrTooLarge = errors.New("tier: value too large")

// ErrBadTTL is returned by Set for a ttl that is zero or negative.
var ErrBadTTL = errors.New("tier: ttl must be positive")

// L1Stats is a snapshot of the L1 counters.
type L1Stats struct {
	Entries int64 // entries currently stored, including expired ones not yet evicted
	// Bytes is the memory bigcache has allocated for entries (its ring buffers),
	// at most CapacityMiB MiB. Counting the exact bytes of live entries would
	// need an eviction callback that copies every evicted entry.
	Bytes int64
	// Capacity is what Bytes grows to at most: CapacityMiB MiB.
	Capacity int64
	Hits     int64 // Get calls that returned a live entry
	Misses   int64 // Get calls that found nothing or an expired entry
}

// L1 is the in-process tier: bigcache with a deadline stored in each entry.
//
// bigcache has one global life window; each entry here starts with its own
// deadline (8 bytes, nanoseconds on the monotonic clock since the L1 was
// made, so a wall-clock jump cannot extend a life), and a Get past the
// deadline is a miss that deletes the entry. bigcache's LifeWindow is set just
// above the TTL cap, so bigcache never drops a live entry for age; its
// cleaner only removes entries that are already dead.
//
// An L1 is safe for concurrent use.
type L1 struct {
	cache    atomic.Pointer[bigcache.BigCache] // nil when disabled or closed
	maxTTL   time.Duration
	maxValue int
	capacity int64 // bytes, the rings' limit
	base     time.Time
	now      func() time.Time // tests replace it to move time without sleeping
	expired  atomic.Int64     // bigcache hits that were past their deadline
	close    sync.Once
}

// deadlineBytes is the size of the per-entry deadline header.
const deadlineBytes = 8

// entryOverhead is what bigcache adds to a value besides our header: its own
// 18-byte header, the 16-byte key and up to a 5-byte length prefix in the ring.
const entryOverhead = 18 + len(keying.Key{}) + 5

// shardTargetMiB is the smallest shard size L1 aims for: an entry may use a
// quarter of a shard, so this makes values of 1 MiB fit when CapacityMiB ≥ 4.
const shardTargetMiB = 4

// maxShards bounds lock striping; more shards only shrink the largest entry.
const maxShards = 256

// NewL1 validates cfg and returns an L1.
func NewL1(cfg L1Config) (*L1, error) {
	if cfg.CapacityMiB < 0 || cfg.CapacityMiB > MaxL1CapacityMiB {
		return nil, fmt.Errorf("tier: L1 CapacityMiB is %d; it must be between 0 (disabled) and %d", cfg.CapacityMiB, MaxL1CapacityMiB)
	}
	if cfg.MaxTTL < 0 || cfg.MaxTTL > maxL1MaxTTL {
		return nil, fmt.Errorf("tier: L1 MaxTTL is %v; it must be 0 (default %v) or positive and at most %v", cfg.MaxTTL, DefaultL1MaxTTL, maxL1MaxTTL)
	}
	maxTTL := cfg.MaxTTL
	if maxTTL == 0 {
		maxTTL = DefaultL1MaxTTL
	}
	l := &L1{maxTTL: maxTTL, base: time.Now(), now: time.Now}
	if cfg.CapacityMiB == 0 {
		return l, nil
	}

	shards := 1
	for shards*2 <= maxShards && cfg.CapacityMiB/(shards*2) >= shardTargetMiB {
		shards *= 2
	}
	shardBytes := cfg.CapacityMiB << 20 / shards
	l.capacity = int64(shardBytes) * int64(shards)
	// A quarter of a shard: a bigger entry would evict most of its shard,
	// and bigcache's ring only grows to its limit while an entry needs less
	// than half of it.
	l.maxValue = shardBytes/4 - entryOverhead - deadlineBytes

	// The ring starts at 1/64 of the shard and doubles up to the limit
	// exactly (a power-of-two fraction), so memory is taken only as used.
	const initialEntries = 16
	bc, err := bigcache.New(context.Background(), bigcache.Config{
		Shards: shards,
		// Whole seconds, compared with ">" at one-second resolution: one
		// second more than the cap keeps bigcache from ever dropping a live
		// entry for age.
		LifeWindow:         maxTTL.Truncate(time.Second) + 2*time.Second,
		CleanWindow:        cleanWindow(maxTTL),
		MaxEntriesInWindow: shards * initialEntries,
		MaxEntrySize:       max(shardBytes/64/initialEntries, 64),
		HardMaxCacheSize:   cfg.CapacityMiB,
		Hasher:             keyHasher{},
		Verbose:            false,
		Logger:             nopLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("tier: creating L1: %w", err)
	}
	l.cache.Store(bc)
	return l, nil
}

// cleanWindow is how often bigcache drops entries older than its life
// window: often enough to return memory, rarely enough to cost nothing.
func cleanWindow(maxTTL time.Duration) time.Duration {
	return min(max(maxTTL, time.Second), time.Minute)
}

// MaxValueBytes is the length of the largest value Set accepts; 0 when L1 is
// disabled.
func (l *L1) MaxValueBytes() int { return l.maxValue }

// MaxTTL is the cap applied to every entry's TTL.
func (l *L1) MaxTTL() time.Duration { return l.maxTTL }

// Enabled reports whether L1 stores anything (CapacityMiB > 0 and not closed).
func (l *L1) Enabled() bool { return l.cache.Load() != nil }

// clock is nanoseconds since l.base on the monotonic clock.
func (l *L1) clock() int64 { return int64(l.now().Sub(l.base)) }

// keyBuffers hold a copy of a key while bigcache reads it as a string:
// bigcache's Hasher interface makes the string escape, so a key on the stack
// would be moved to the heap on every call.
var keyBuffers = sync.Pool{New: func() any { return new(keying.Key) }}

// Get implements Tier. On a hit, value is a sub-slice of bigcache's private
// copy of the entry (the only allocation) and ttl is the time the entry has
// left (positive). An expired entry is a miss and is deleted. err is always nil.
func (l *L1) Get(ctx context.Context, key keying.Key) ([]byte, time.Duration, bool, error) {
	c := l.cache.Load()
	if c == nil {
		return nil, 0, false, nil
	}
	kb := keyBuffers.Get().(*keying.Key)
	*kb = key
	ks := unsafe.String(&kb[0], len(kb))
	entry, err := c.Get(ks)
	if err != nil || len(entry) < deadlineBytes {
		keyBuffers.Put(kb)
		return nil, 0, false, nil
	}
	left := time.Duration(int64(binary.LittleEndian.Uint64(entry)) - l.clock())
	if left <= 0 {
		l.expired.Add(1)
		// Another goroutine may have just stored a fresh entry under this
		// key; deleting it costs one miss, never a stale read.
		c.Delete(ks)
		keyBuffers.Put(kb)
		return nil, 0, false, nil
	}
	keyBuffers.Put(kb)
	return entry[deadlineBytes:], left, true, nil
}

// setBuffers hold the header+value concatenation handed to bigcache, which
// copies it; only buffers up to maxPooledSetBuffer are reused so the pool
// never pins large row sets.
var setBuffers sync.Pool

const maxPooledSetBuffer = 64 << 10

// Set implements Tier. It stores value for min(ttl, MaxTTL). It returns an
// error wrapping ErrBadTTL for ttl ≤ 0 and ErrTooLarge for a value longer
// than MaxValueBytes (the entry is then not cached). On a disabled or closed
// L1 it does nothing and returns nil.
func (l *L1) Set(ctx context.Context, key keying.Key, value []byte, ttl time.Duration) error {
	// Checked before the copy below as well as by SetWithRoom: a promotion
	// offers values L1 refuses, and must not pay for copying them.
	if ttl <= 0 {
		return fmt.Errorf("%w: L1 Set with ttl %v", ErrBadTTL, ttl)
	}
	if l.cache.Load() == nil {
		return nil
	}
	// ttl counts from now, not from after the copy below, which for a
	// large value takes milliseconds.
	at := l.clock()
	if len(value) > l.maxValue {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(value), l.maxValue)
	}
	n := L1Room + len(value)
	var bp *[]byte
	if n <= maxPooledSetBuffer {
		if p, ok := setBuffers.Get().(*[]byte); ok {
			bp = p
		} else {
			b := make([]byte, 0, 1024)
			bp = &b
		}
	}
	var buf []byte
	if bp != nil {
		buf = (*bp)[:0]
	}
	buf = append(append(buf, make([]byte, L1Room)...), value...)
	err := l.setWithRoom(key, buf, ttl, at)
	if bp != nil {
		*bp = buf[:0]
		setBuffers.Put(bp)
	}
	return err
}

// L1Room is how many bytes SetWithRoom needs in front of the value.
const L1Room = deadlineBytes

// SetWithRoom is Set for a value that its caller has placed after L1Room
// bytes of room in buf (buf[L1Room:] is the value): L1 writes the entry's
// header there instead of copying the value to put one in front of it. It
// overwrites buf[:L1Room] and leaves the value alone.
func (l *L1) SetWithRoom(ctx context.Context, key keying.Key, buf []byte, ttl time.Duration) error {
	if len(buf) < L1Room {
		return fmt.Errorf("tier: L1 SetWithRoom: %d bytes, fewer than the room of %d", len(buf), L1Room)
	}
	return l.setWithRoom(key, buf, ttl, l.clock())
}

// setWithRoom is SetWithRoom for an entry whose ttl counts from at (clock).
func (l *L1) setWithRoom(key keying.Key, buf []byte, ttl time.Duration, at int64) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: L1 Set with ttl %v", ErrBadTTL, ttl)
	}
	c := l.cache.Load()
	if c == nil {
		return nil
	}
	value := buf[L1Room:]
	if len(value) > l.maxValue {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(value), l.maxValue)
	}
	ttl = min(ttl, l.maxTTL)
	binary.LittleEndian.PutUint64(buf, uint64(at+int64(ttl)))
	kb := keyBuffers.Get().(*keying.Key)
	*kb = key
	err := c.Set(unsafe.String(&kb[0], len(kb)), buf)
	keyBuffers.Put(kb)
	if err != nil {
		return fmt.Errorf("tier: L1 Set of %d bytes: %w", len(value), err)
	}
	return nil
}

// Stats returns the current counters.
func (l *L1) Stats() L1Stats {
	c := l.cache.Load()
	if c == nil {
		return L1Stats{}
	}
	s := c.Stats()
	expired := l.expired.Load()
	return L1Stats{
		Entries:  int64(c.Len()),
		Bytes:    int64(c.Capacity()),
		Capacity: l.capacity,
		Hits:     s.Hits - expired,
		Misses:   s.Misses + s.Collisions + expired,
	}
}

// Reset drops every entry. bigcache resets one shard at a time, so a Get
// running meanwhile may still find an entry of a shard not yet reset.
func (l *L1) Reset() error {
	if c := l.cache.Load(); c != nil {
		return c.Reset()
	}
	return nil
}

// Close implements Tier. It stops bigcache's cleaner and drops every entry;
// later calls miss and store nothing. Closing twice is harmless.
func (l *L1) Close() error {
	l.close.Do(func() {
		if c := l.cache.Swap(nil); c != nil {
			c.Close()
		}
	})
	return nil
}

// keyHasher maps a key to bigcache's 64-bit hash. Keys are already uniform
// 128-bit hashes, so their first 8 bytes are as good as hashing them again.
type keyHasher struct{}

func (keyHasher) Sum64(s string) uint64 {
	var h uint64
	for i := 0; i < 8 && i < len(s); i++ {
		h |= uint64(s[i]) << (8 * i)
	}
	if h == 0 {
		// bigcache marks deleted entries with hash 0 in its ring.
		h = 1
	}
	return h
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
