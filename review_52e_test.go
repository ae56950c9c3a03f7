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

// TestReview52eResetMuSharesHotLine: resetMu (written by every RLock/RUnlock
// on fills and decoded L1 hits) sits on the same cache line as the fields
// every read loads first (hot, clock, resets), including hot-set hits.
func TestReview52eResetMuSharesHotLine(t *testing.T) {
	var sh shared
	line := func(off uintptr) uintptr { return off / 64 }
	mu := line(unsafe.Offsetof(sh.resetMu))
	for name, off := range map[string]uintptr{
		"hot": unsafe.Offsetof(sh.hot), "clock": unsafe.Offsetof(sh.clock), "resets": unsafe.Offsetof(sh.resets),
	} {
		if line(off) == mu {
			t.Errorf("shared.%s (offset %d) shares a 64-byte line with resetMu (offset %d)", name, off, unsafe.Offsetof(sh.resetMu))
		}
	}
}
