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

// stallTier is an L2 whose Set, once armed, hangs until its context ends
// (a slow or paused Redis): runFill's async write holds resetMu.RLock meanwhile.
type stallTier struct {
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
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}
func (s *stallTier) Close() error { return nil }

// TestReview52eL1HitWaitsForRedisWrite: an L1 hit (no Redis involved) waits
// for a stalled L2 write of another key, because dropLocal's Lock is queued
// behind the async Set's RLock and every new RLock queues behind it.
func TestReview52eL1HitWaitsForRedisWrite(t *testing.T) {
	_, name := newFake(t, fakedb.Options{})
	db := openCached(t, name, "")
	c, err := connectorOf(db)
	if err != nil {
		t.Fatal(err)
	}
	sh := c.sh
	st := &stallTier{entered: make(chan struct{}, 1)}
	sh.l2 = st
	queryName(t, db, 1) // filled into L1 (its L2 write returns at once)
	sh.hot.reset()      // the next read of id 1 is a decoded L1 hit
	st.armed.Store(true)
	queryName(t, db, 2) // its async L2 Set hangs, holding resetMu.RLock
	<-st.entered
	go sh.dropLocal() // OnUnverified from the clock's resync
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	queryName(t, db, 1)
	if d := time.Since(start); d > time.Second {
		t.Errorf("an L1 hit took %v: it waited for another key's Redis write through resetMu", d)
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
