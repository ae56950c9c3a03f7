package generation

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// TestReview52eFarOwnReplyHidesLoss: Redis loses W's write to u (seq 2) and
// other writers reuse seq 2 for u and go on for 64+ events before W's reader
// reads again. W's next Advance (of t) passes advanceScript's check (seq is
// past tip+64, so it is skipped) and its reply moves r.last to seq 73 in the
// same epoch. The reader then finds the gap, but resyncs with r.last = 73,
// which the ring verifies: no new epoch, no OnUnverified, and W vouches for
// u=2, under which it filled before the loss. Without W's Advance the same
// resync is reported unverified (subtest "control").
func TestReview52eFarOwnReplyHidesLoss(t *testing.T) {
	for _, own := range []bool{false, true} {
		name := "control"
		if own {
			name = "own-advance"
		}
		t.Run(name, func(t *testing.T) {
			s := redistest.Start(t)
			ctx := context.Background()
			rdb := s.Client()
			w, pk, unverified := parkedProcess(t, s, "W")
			mustAdvance(t, w.Clock, []string{"u"}, false) // seq 1, u=1
			restore := snapshotNS(t, s)
			mustAdvance(t, w.Clock, []string{"u"}, false) // seq 2, u=2 (to be lost)
			filled := w.gens(t, "u")
			if err := Publish(ctx, rdb, "ns", "B", []string{"x"}, false); err != nil {
				t.Fatal(err)
			}
			w.await(t, "W reads seq 3", fromOrigin("B", "x"))
			pastLastID(t, s)
			pk.armed.Store(true)
			<-pk.parked
			restore() // seq 2 and 3 lost
			if err := Publish(ctx, rdb, "ns", "B", []string{"u"}, false); err != nil {
				t.Fatal(err) // seq 2 again, u=2 again, other data
			}
			for range 70 {
				if err := Publish(ctx, rdb, "ns", "B", []string{"t"}, false); err != nil {
					t.Fatal(err)
				}
			}
			if own {
				mustAdvance(t, w.Clock, []string{"t"}, false) // tip 3, Redis at 72: check skipped
			}
			resyncs := w.Stats().Resyncs
			close(pk.release)
			eventually(t, "W resyncs", 10*time.Second, func() bool { return w.Stats().Resyncs > resyncs })
			if err := w.WaitSync(ctx); err != nil {
				t.Fatal(err)
			}
			g, ok := w.Read(nil, []string{"u"})
			t.Logf("filled %v, now %v ok=%v, OnUnverified calls %d", filled, g, ok, unverified.Load())
			if ok && slices.Equal(g, filled) && unverified.Load() == 0 {
				t.Errorf("W vouches for %v, the generations it filled under before Redis lost them and B reused them, and never called OnUnverified", g)
			}
		})
	}
}
