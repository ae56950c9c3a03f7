package generation

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestMendOwnWriteAfterTwoLostWrites: as TestReviewOwnWriteAfterLostWriteNeverVisible,
// but Redis loses the writer's last TWO events. Its next Advance is answered with
// seq 3, below the 4 it saw, so applyReplyLocked's equality test (rep.seq ==
// r.last.seq) does not fire; max(shared, g) keeps t at 4, the value it filled
// under before the write: its own write is invisible to itself.
func TestMendOwnWriteAfterTwoLostWrites(t *testing.T) {
	s := redistest.Start(t)
	pk := newParker()
	w := startProcessHooked(t, s, Config{Origin: "W"}, pk.hook)
	for range 2 {
		mustAdvance(t, w.Clock, []string{"t"}, false)
	}
	restore := snapshotNS(t, s) // seq 2, t=2
	for range 2 {
		mustAdvance(t, w.Clock, []string{"t"}, false) // seq 3, 4: t=4
	}
	filled := w.gens(t, "t")
	pastLastID(t, s)
	pk.armed.Store(true)
	<-pk.parked
	restore()                                     // seq 3 and 4 are lost
	mustAdvance(t, w.Clock, []string{"t"}, false) // Redis answers seq 3, t=3
	if g, ok := w.Read(nil, []string{"t"}); ok && slices.Equal(g, filled) {
		t.Errorf("right after its own Advance returned, W vouches for %v, the generations it filled under before the write", g)
	}
	close(pk.release)
}

// oldAdvance is advanceScript as cachedsql wrote it before 2bfcc54: no nonce
// on the entry, no ring in the hash (a process not yet upgraded).
var oldAdvance = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], '!epoch')
if not e then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], '!epoch', e)
end
local seq = redis.call('HINCRBY', KEYS[1], '!seq', 1)
local g = redis.call('HINCRBY', KEYS[1], 't:' .. ARGV[3], 1)
return redis.call('XADD', KEYS[2], '*', 'o', ARGV[2], 'i', '', 'e', e, 's', seq, 'ms', '0', 't:' .. ARGV[3], g)
`)

// TestMendNonceLessTipLossUndetected: the clock's last event came from a
// writer without nonces. resyncScript skips every check when ARGV[4] == ""
// and answers "verified" (unverified = 0), although its doc says that when
// "the events are from writers without nonces, the epoch stays and the reply
// says so". Redis loses that event, another writer reuses its number: the
// epoch stays, OnUnverified is not called, and the clock vouches again for
// the generations it filled under before the new write.
func TestMendNonceLessTipLossUndetected(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	rdb := s.Client()
	a, pk, unverified := parkedProcess(t, s, "A")
	for range 2 {
		if err := Publish(ctx, rdb, "ns", "B", []string{"t"}, false); err != nil {
			t.Fatal(err)
		}
		a.await(t, "A receives B's write", fromOrigin("B", "t"))
	}
	restore := snapshotNS(t, s)
	hash, stream := Keys("ns")
	if err := oldAdvance.Run(ctx, rdb, []string{hash, stream}, "12345", "OLD", "t").Err(); err != nil {
		t.Fatal(err)
	}
	a.await(t, "A receives the old writer's write", fromOrigin("OLD", "t"))
	filled := a.gens(t, "t")
	pastLastID(t, s)
	pk.armed.Store(true)
	<-pk.parked
	restore() // the old writer's event is lost
	if err := Publish(ctx, rdb, "ns", "C", []string{"t"}, false); err != nil {
		t.Fatal(err) // seq 3 and t=3 again, for different data
	}
	resyncs := a.Stats().Resyncs
	close(pk.release)
	eventually(t, "A resyncs", 10*time.Second, func() bool { return a.Stats().Resyncs > resyncs })
	if err := a.WaitSync(ctx); err != nil {
		t.Fatal(err)
	}
	if g, ok := a.Read(nil, []string{"t"}); ok && slices.Equal(g, filled) && unverified.Load() == 0 {
		t.Errorf("Redis lost the event A last saw and reused its number; A's resync kept the epoch, "+
			"did not call OnUnverified, and vouches for %v, the generations it filled under before C's write", g)
	}
}
