package cachedsql

import (
	"database/sql/driver"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
)

// hotSet keeps the most recently served results decoded, in front of L1's
// encoded bytes, so that a hit on them costs a map lookup rather than a copy
// and a decode. It is part of L1: the same keys (so the same generations and
// invalidations), each entry with the deadline its L1 entry has, and a byte
// budget carved out of L1's.
//
// Decoded values are shared by every reader. All but []byte are immutable;
// a caller scanning into sql.RawBytes (or a Scanner handed the driver's slice)
// receives a []byte itself, so each reader gets private copies of those (see
// hotRows) and the shared ones are never handed out.
type hotSet struct {
	shards [hotShards]hotShard
	// front is a direct-mapped index over entries also in shards, read with
	// one atomic load and no write: many goroutines hitting one key would
	// otherwise pass its shard's RWMutex (two atomic adds on one cache
	// line) back and forth between cores. A slot holds the last entry put
	// for a key that maps to it; an entry leaves its slot with its shard.
	front  [hotFrontSlots]atomic.Pointer[hotEntry]
	budget int64     // bytes per shard
	base   time.Time // deadlines are monotonic offsets from it: time.Since reads one clock, time.Now two
}

const hotFrontSlots = 4096

const hotShards = 32

type hotShard struct {
	mu    sync.RWMutex
	m     map[keying.Key]*hotEntry
	bytes int64
}

type hotEntry struct {
	key      keying.Key // the key it is stored under; zero when not in a set
	res      *rowset.Result
	deadline time.Duration // since hotSet.base
	size     int64
	// kept is set by put, before the entry is published: readers other than
	// the one that made it may find it in the set.
	kept bool

	// What hotRows needs, worked out once, by its first reader (prepare).
	ready  sync.Once
	names  [][]string // column names per set
	nbytes int        // number of non-empty []byte values
	// byteCols lists, per set, the columns holding a non-empty []byte in
	// some row: the only ones hotRows.Next must look at.
	byteCols     [][]int
	maxRowValues int // the most non-empty []byte values in one row
	maxRowBytes  int // the most bytes of them in one row
}

// hotShare is the fraction of L1's capacity the decoded set may use.
const hotShare = 8

// newHotSet takes its share of an L1 of l1MiB (bigcache gets the rest; below
// 8 MiB bigcache keeps all of it and this share comes on top).
func newHotSet(l1MiB int) *hotSet {
	if l1MiB <= 0 {
		return nil
	}
	h := &hotSet{budget: int64(l1MiB) << 20 / hotShare / hotShards, base: time.Now()}
	for i := range h.shards {
		h.shards[i].m = map[keying.Key]*hotEntry{}
	}
	return h
}

func (h *hotSet) shard(k *keying.Key) *hotShard { return &h.shards[k[0]%hotShards] }

// slot is k's place in front. Keys are xxh3 output: any 8 bytes are uniform.
func (h *hotSet) slot(k *keying.Key) *atomic.Pointer[hotEntry] {
	return &h.front[binary.LittleEndian.Uint64(k[8:])%hotFrontSlots]
}

func (h *hotSet) get(k *keying.Key) *hotEntry {
	if h == nil {
		return nil
	}
	if e := h.slot(k).Load(); e != nil && e.key == *k {
		if time.Since(h.base) >= e.deadline {
			return nil
		}
		return e
	}
	s := h.shard(k)
	s.mu.RLock()
	e := s.m[*k]
	s.mu.RUnlock()
	if e == nil || time.Since(h.base) >= e.deadline {
		return nil
	}
	return e
}

// share keeps res, decoded from encodedLen bytes, for ttl, and returns the
// rows the caller must read it through: once res is shared, its []byte values
// are no longer the caller's to hand out.
func (h *hotSet) share(k *keying.Key, res *rowset.Result, encodedLen int, ttl time.Duration) driver.Rows {
	if e := h.put(k, res, encodedLen, ttl); e != nil {
		return newHotRows(e)
	}
	return newCachedRows(res)
}

// put keeps res, decoded from encodedLen bytes, for ttl; nil if it did not.
// reset drops every entry.
func (h *hotSet) reset() {
	if h == nil {
		return
	}
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		for k, x := range s.m {
			h.slot(&k).CompareAndSwap(x, nil)
		}
		clear(s.m)
		s.bytes = 0
		s.mu.Unlock()
	}
}

func (h *hotSet) put(k *keying.Key, res *rowset.Result, encodedLen int, ttl time.Duration) *hotEntry {
	if h == nil || ttl <= 0 {
		return nil
	}
	now := time.Since(h.base)
	if hotSize(encodedLen) > h.budget {
		return nil
	}
	e := newHotEntry(res, encodedLen)
	e.key = *k
	e.deadline = now + ttl
	e.kept = true
	s := h.shard(k)
	s.mu.Lock()
	if old := s.m[*k]; old != nil {
		delete(s.m, *k)
		s.bytes -= old.size
	}
	// Evict entries in map order (random, so expired or not) until it fits.
	for key, x := range s.m {
		if s.bytes+e.size <= h.budget {
			break
		}
		delete(s.m, key)
		s.bytes -= x.size
		// Only the very entry evicted: the slot may hold another shard's
		// entry by now.
		h.slot(&key).CompareAndSwap(x, nil)
	}
	s.m[*k] = e
	s.bytes += e.size
	h.slot(k).Store(e)
	s.mu.Unlock()
	return e
}

// hotSize is what a result decoded from encodedLen bytes counts against the
// budget: about three times its encoding.
func hotSize(encodedLen int) int64 { return int64(encodedLen)*3 + 256 }

// newHotEntry wraps res, decoded from encodedLen bytes, for readers that
// may be several at once (they read it through hotRows). It has no
// deadline: one kept in the set gets one from put.
func newHotEntry(res *rowset.Result, encodedLen int) *hotEntry {
	return &hotEntry{res: res, size: hotSize(encodedLen)}
}

// prepare works out what hotRows needs to replay e: the column names and
// where the []byte values are. It runs once, for e's first hotRows, so that
// a result only its maker reads (an L2 hit nobody joined, which the hot set
// did not keep) never pays for it.
func (e *hotEntry) prepare() {
	res := e.res
	e.names = make([][]string, len(res.Sets))
	for i, set := range res.Sets {
		names := make([]string, len(set.Columns))
		for j := range set.Columns {
			names[j] = set.Columns[j].Name
		}
		e.names[i] = names
		var has []bool
		for _, row := range set.Rows {
			vals, n := 0, 0
			for j, v := range row {
				if b, ok := v.([]byte); ok && len(b) > 0 {
					vals++
					n += len(b)
					if has == nil {
						has = make([]bool, len(row))
					}
					has[j] = true
				}
			}
			e.nbytes += vals
			e.maxRowValues = max(e.maxRowValues, vals)
			e.maxRowBytes = max(e.maxRowBytes, n)
		}
		if has != nil {
			if e.byteCols == nil {
				e.byteCols = make([][]int, len(res.Sets))
			}
			for j, h := range has {
				if h {
					e.byteCols[i] = append(e.byteCols[i], j)
				}
			}
		}
	}
}

// hotRows replays a shared decoded result. Each []byte value a reader sees is
// a private copy in a scratch buffer that the next row reuses: database/sql
// and its Scanners may use a driver's []byte only until the next call to
// Next (real drivers reuse their buffers the same way), and it copies what it
// keeps. The shared values are never handed out.
type hotRows struct {
	cachedRows
	e             *hotEntry
	hdrs          []([]byte) // one row's boxed headers
	scratch       []byte     // one row's bytes
	inlineHdrs    [4][]byte
	inlineScratch [64]byte
	// names outlives each use: pooled with the rows, it carves every
	// reader's copy from the same slab until the slab is used up.
	names nameSlab
}

// hotRows are recycled: database/sql closes a driver's rows exactly once and
// never uses them after, and what a reader was handed from them ([]byte
// values) is only valid until Next or Close, as with any driver.
var hotRowsPool = sync.Pool{New: func() any { return new(hotRows) }}

func newHotRows(e *hotEntry) *hotRows {
	e.ready.Do(e.prepare)
	r := hotRowsPool.Get().(*hotRows)
	r.cachedRows = cachedRows{res: e.res}
	r.e, r.hdrs, r.scratch = e, nil, nil
	if e.nbytes > 0 {
		if e.maxRowValues <= len(r.inlineHdrs) {
			r.hdrs = r.inlineHdrs[:e.maxRowValues]
		} else {
			r.hdrs = make([][]byte, e.maxRowValues)
		}
		if e.maxRowBytes <= len(r.inlineScratch) {
			r.scratch = r.inlineScratch[:e.maxRowBytes]
		} else {
			r.scratch = make([]byte, e.maxRowBytes)
		}
	}
	return r
}

func (r *hotRows) Close() error {
	if r.e == nil {
		return nil
	}
	// Pooled, the headers must not keep a scratch buffer of Next's alive.
	// Only the first len(r.hdrs) can be set: clearing those alone spares a
	// clear with write barriers of all of inlineHdrs on every hit while the
	// collector runs.
	clear(r.hdrs)
	r.e, r.res, r.hdrs, r.scratch = nil, nil, nil, nil
	hotRowsPool.Put(r)
	return nil
}

func (r *hotRows) Columns() []string {
	if r.set >= len(r.e.names) {
		return nil
	}
	return r.names.copyOf(r.e.names[r.set])
}

// nameSlab hands out copies of column names carved from one larger
// allocation, one per call to Columns: database/sql gives the driver's slice
// to the program, which may change it, so no two callers may share one. A
// copy is handed out once and its memory never reused, so a program that
// keeps or changes its slice affects nothing else; the slab only spares an
// allocation per query.
type nameSlab struct {
	mu  sync.Mutex // a program may call Rows.Columns from two goroutines at once
	buf []string
}

// slabNames is how many names a slab holds; results wider than a quarter of
// it get a copy of their own.
const slabNames = 512

func (s *nameSlab) copyOf(names []string) []string {
	n := len(names)
	if n > slabNames/4 {
		out := make([]string, n)
		copy(out, names)
		return out
	}
	s.mu.Lock()
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]string, 0, slabNames)
	}
	at := len(s.buf)
	s.buf = append(s.buf, names...)
	out := s.buf[at : at+n : at+n] // capped: appending to it cannot reach the next copy
	s.mu.Unlock()
	return out
}

func (r *hotRows) Next(dest []driver.Value) error {
	if err := r.cachedRows.Next(dest); err != nil || r.e.nbytes == 0 {
		return err
	}
	off, h := 0, 0
	for _, i := range r.e.byteCols[r.set] {
		b, ok := dest[i].([]byte)
		if !ok || len(b) == 0 {
			continue
		}
		n := copy(r.scratch[off:], b)
		r.hdrs[h] = r.scratch[off : off+n : off+n]
		dest[i] = rowset.BytesValue(&r.hdrs[h])
		off += n
		h++
	}
	return nil
}
