package generation

import (
	"context"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// TestLaggingReaderKeepsTheEpoch: Redis loses nothing; one process's
// reader merely falls behind (paused, or cut off from Redis) while others
// write more than the stream keeps. Before 2bfcc54 its resync loaded the
// numbers; now the ring slot of its last event has been reused and the
// entry trimmed, so resyncScript replaces the epoch: every key of every
// process (L1 and L2) changes, a namespace-wide cold cache caused by one
// slow reader. Now the epoch stays, and the lagging clock alone is told
// (OnUnverified) to drop what its process filled.
func TestLaggingReaderKeepsTheEpoch(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	rdb := s.Client()
	a, pk, unverified := parkedProcess(t, s, "A")
	w := startProcess(t, s, Config{Origin: "W", MaxLen: 10})
	mustAdvance(t, w.Clock, []string{"t"}, false)
	a.await(t, "A reads W's first write", fromOrigin("W", "t"))
	hash, stream := Keys("ns")
	before, err := rdb.HGet(ctx, hash, fieldEpoch).Result()
	if err != nil {
		t.Fatal(err)
	}
	pk.armed.Store(true)
	<-pk.parked // A's reader is behind from here
	for i := 0; i < 400; i++ {
		mustAdvance(t, w.Clock, []string{"u"}, false)
	}
	n, _ := rdb.XLen(ctx, stream).Result()
	t.Logf("stream length after 400 writes with MaxLen 10: %d", n)
	resyncs := a.Stats().Resyncs
	close(pk.release)
	eventually(t, "A resyncs", 10*time.Second, func() bool { return a.Stats().Resyncs > resyncs })
	after, err := rdb.HGet(ctx, hash, fieldEpoch).Result()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("Redis lost nothing, yet A's resync replaced the epoch (%s -> %s): every process's cache went cold", before, after)
	}
	if unverified.Load() == 0 {
		t.Error("A could not check its history, and was not told to drop its own entries")
	}
}
