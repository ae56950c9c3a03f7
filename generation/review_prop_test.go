package generation

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// parker parks a clock's reader just before its next XREAD, once armed.
// parkedProcess starts a clock named origin on s whose reader pk can stop
// between two reads, and counts its OnUnverified calls.
func parkedProcess(t testing.TB, s *redistest.Server, origin string) (*process, *parker, *atomic.Int32) {
	t.Helper()
	pk := newParker()
	unverified := new(atomic.Int32)
	p := startProcessHooked(t, s, Config{Origin: origin, OnUnverified: func() { unverified.Add(1) }}, pk.hook)
	return p, pk, unverified
}

type parker struct {
	armed   atomic.Bool
	parked  chan struct{}
	release chan struct{}
	once    sync.Once
}

func newParker() *parker {
	return &parker{parked: make(chan struct{}), release: make(chan struct{})}
}

func (p *parker) hook() {
	if p.armed.Load() {
		p.once.Do(func() { close(p.parked); <-p.release })
	}
}

// snapshotNS DUMPs the namespace's hash and stream; the returned func RESTOREs
// them, as Redis does when it comes back from an older RDB snapshot or fails
// over to a replica that had not received the last writes.
func snapshotNS(t *testing.T, s *redistest.Server) (restore func()) {
	t.Helper()
	ctx := context.Background()
	rdb := s.Client()
	hash, stream := Keys("ns")
	hd, err := rdb.Dump(ctx, hash).Result()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := rdb.Dump(ctx, stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := rdb.RestoreReplace(ctx, hash, 0, hd).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.RestoreReplace(ctx, stream, 0, sd).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// pastLastID polls Redis's clock until it is past the millisecond of the
// stream's last entry, so that the next XADD after a restore gets an id above
// the lost entry's (as it would on a real failover some time later).
func pastLastID(t *testing.T, s *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	rdb := s.Client()
	_, stream := Keys("ns")
	last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil || len(last) == 0 {
		t.Fatalf("last stream entry: %v %v", last, err)
	}
	ms, _, _ := strings.Cut(last[0].ID, "-")
	want, _ := strconv.ParseInt(ms, 10, 64)
	eventually(t, "Redis's clock past the last entry", 5*time.Second, func() bool {
		now, err := rdb.Time(ctx).Result()
		return err == nil && now.UnixMilli() > want
	})
}

// TestReviewLostWriteThenCatchUpReusesGeneration: Redis loses its last write
// (seq 3, t=3) and another writer's event brings "!seq" back to 3 before A
// resyncs. A's resync compares only "!seq" with the highest it saw, finds
// them equal, keeps the epoch and loads t=3 again: the key A filled after
// the lost write is reachable after a newer write.
func TestReviewLostWriteThenCatchUpReusesGeneration(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	rdb := s.Client()
	pk := newParker()
	a := startProcessHooked(t, s, Config{Origin: "A"}, pk.hook)
	for range 2 {
		if err := Publish(ctx, rdb, "ns", "B", []string{"t"}, false); err != nil {
			t.Fatal(err)
		}
		a.await(t, "A receives B's write", fromOrigin("B", "t"))
	}
	restore := snapshotNS(t, s) // Redis as of seq 2
	if err := Publish(ctx, rdb, "ns", "B", []string{"t"}, false); err != nil {
		t.Fatal(err)
	}
	a.await(t, "A receives B's third write", fromOrigin("B", "t"))
	filled := a.gens(t, "t") // A fills its cache under these after the third write
	pastLastID(t, s)
	pk.armed.Store(true)
	<-pk.parked // A is between two reads
	restore()   // the third write is lost
	// Another writer (a process that never saw seq 3, or the CLI) writes t:
	// Redis hands out seq 3 and t=3 again, for different data.
	if err := Publish(ctx, rdb, "ns", "C", []string{"t"}, false); err != nil {
		t.Fatal(err)
	}
	resyncs := a.Stats().Resyncs
	close(pk.release)
	eventually(t, "A notices the gap and resyncs", 10*time.Second, func() bool { return a.Stats().Resyncs > resyncs })
	if err := a.WaitSync(ctx); err != nil {
		t.Fatal(err)
	}
	if g, ok := a.Read(nil, []string{"t"}); ok && slices.Equal(g, filled) {
		t.Fatalf("after C's write and A's resync, A vouches for %v, the generations it filled under before C's write", g)
	}
}

// TestReviewOwnWriteAfterLostWriteNeverVisible: the writer's own Advance is
// answered with t=3, which it already holds (Redis lost seq 3). The package
// doc says the write becomes visible once the reader resyncs; the resync
// sees "!seq" == 3 == maxSeq, keeps the epoch, and the write never shows.
func TestReviewOwnWriteAfterLostWriteNeverVisible(t *testing.T) {
	s := redistest.Start(t)
	pk := newParker()
	w := startProcessHooked(t, s, Config{Origin: "W"}, pk.hook)
	for range 2 {
		mustAdvance(t, w.Clock, []string{"t"}, false)
	}
	restore := snapshotNS(t, s)
	mustAdvance(t, w.Clock, []string{"t"}, false)
	filled := w.gens(t, "t")
	pastLastID(t, s)
	pk.armed.Store(true)
	<-pk.parked
	restore()
	mustAdvance(t, w.Clock, []string{"t"}, false) // returns: the write is done
	// At once, before its reader runs again: its own write is visible.
	if g, ok := w.Read(nil, []string{"t"}); ok && slices.Equal(g, filled) {
		t.Fatalf("right after its own Advance returned, W vouches for %v, the generations it filled under before", g)
	}
	close(pk.release)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if g, ok := w.Read(nil, []string{"t"}); ok && !slices.Equal(g, filled) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("3s after its own Advance returned, W still reads %v (resyncs %d): the keys it filled before the write are still served",
		w.gens(t, "t"), w.Stats().Resyncs)
}
