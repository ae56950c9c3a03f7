package cachedsql

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/keying"
)

// stallTier is an L2 whose Set, once armed, hangs until its context ends or
// release is closed (a slow or paused Redis).
type stallTier struct {
	release chan struct{}
	armed   atomic.Bool
	entered chan struct{}
}

func (s *stallTier) Get(context.Context, keying.Key) ([]byte, time.Duration, bool, error) {
	return nil, 0, false, nil
}
func (s *stallTier) Set(ctx context.Context, _ keying.Key, _ []byte, _ time.Duration) error {
	if s.armed.Load() {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.release:
			return nil
		}
	}
	return nil
}
func (s *stallTier) Close() error { return nil }

// TestReview52eL1HitWaitsForRedisWrite: a fill's L2 write held resetMu's
// read lock across the Redis call, so dropLocal (the clock's OnUnverified)
// queued behind a stalled write, and every L1 store and decoded L1 hit
// queued behind dropLocal: a plain L1 hit took 4.9 s. dropLocal must not
// wait for a Redis write.
func TestReview52eL1HitWaitsForRedisWrite(t *testing.T) {
	_, name := newFake(t, fakedb.Options{})
	db := openCached(t, name, "")
	c, err := connectorOf(db)
	if err != nil {
		t.Fatal(err)
	}
	sh := c.sh
	st := &stallTier{entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() { close(st.release) }) // before db.Close waits for the write
	sh.l2 = st
	st.armed.Store(true)
	queryName(t, db, 2) // its async L2 Set stalls
	<-st.entered
	dropped := make(chan struct{})
	go func() { sh.dropLocal(); close(dropped) }()
	select {
	case <-dropped:
	case <-time.After(2 * time.Second):
		t.Fatal("dropLocal is still waiting after 2s for a stalled Redis write of another key")
	}
}

// TestSharedHotLines: what reads write (resetMu, taken by fills and
// decoded L1 hits; the flight groups' mutexes, locked by every miss and
// every L2 lookup; the counters) can share no 64-byte line with the fields
// every read loads first, wherever the struct starts. Review 52e found resetMu beside hot, clock and
// resets; at 64 goroutines reading one key through L2, l2reads' mutex and
// the L2-hit counters shared lines with clock and l2.
func TestSharedHotLines(t *testing.T) {
	var sh shared
	type field struct {
		name      string
		off, size uintptr
	}
	read := []field{
		{"l1", unsafe.Offsetof(sh.l1), unsafe.Sizeof(sh.l1)},
		{"hot", unsafe.Offsetof(sh.hot), unsafe.Sizeof(sh.hot)},
		{"l2", unsafe.Offsetof(sh.l2), unsafe.Sizeof(sh.l2)},
		{"clock", unsafe.Offsetof(sh.clock), unsafe.Sizeof(sh.clock)},
		{"resets", unsafe.Offsetof(sh.resets), unsafe.Sizeof(sh.resets)},
	}
	written := []field{
		{"flights", unsafe.Offsetof(sh.flights), unsafe.Sizeof(sh.flights)},
		{"l2reads", unsafe.Offsetof(sh.l2reads), unsafe.Sizeof(sh.l2reads)},
		{"ctr", unsafe.Offsetof(sh.ctr), unsafe.Sizeof(sh.ctr)},
		{"bg", unsafe.Offsetof(sh.bg), unsafe.Sizeof(sh.bg)},
		{"resetMu", unsafe.Offsetof(sh.resetMu), unsafe.Sizeof(sh.resetMu)},
	}
	// The heap does not place shared on a 64-byte boundary (a malloc header
	// comes first), so two bytes can share a line wherever they are less
	// than 64 bytes apart.
	gap := func(a, b field) uintptr { // from a's last byte to b's first
		if a.off > b.off {
			a, b = b, a
		}
		if b.off < a.off+a.size {
			return 0
		}
		return b.off - (a.off + a.size - 1)
	}
	for _, r := range read {
		for _, w := range written {
			if gap(r, w) < 64 {
				t.Errorf("shared.%s (bytes %d-%d) and shared.%s (bytes %d-%d) are less than 64 bytes apart: they may share a cache line",
					r.name, r.off, r.off+r.size-1, w.name, w.off, w.off+w.size-1)
			}
		}
	}
}
