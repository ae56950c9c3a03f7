package generation

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

// TestReviewFinalSlowReaderOwnAdvancesNoFalseLoss: Redis loses nothing. W's
// reader is parked while W advances (alone, so r.last runs ahead of the
// reader; then interleaved with B, so r.last stays behind by more than 64)
// and, after the release, while W and B advance concurrently with the
// reader catching up. No advance may see a "loss": the epoch stays, no
// forced resync, no OnUnverified.
func TestReviewFinalSlowReaderOwnAdvancesNoFalseLoss(t *testing.T) {
	for _, mode := range []string{"own-only", "interleaved", "interleaved-then-concurrent"} {
		t.Run(mode, func(t *testing.T) {
			s := redistest.Start(t)
			ctx := context.Background()
			rdb := s.Client()
			w, pk, unverified := parkedProcess(t, s, "W")
			mustAdvance(t, w.Clock, []string{"t"}, false)
			w.await(t, "W's own first", func(e Event) bool { return e.Origin == "W" })
			hash, _ := Keys("ns")
			before := rdb.HGet(ctx, hash, fieldEpoch).Val()
			pk.armed.Store(true)
			<-pk.parked
			for i := 0; i < 200; i++ {
				mustAdvance(t, w.Clock, []string{fmt.Sprint("w", i%5)}, false)
				if mode != "own-only" {
					if err := Publish(ctx, rdb, "ns", "B", []string{"b"}, false); err != nil {
						t.Fatal(err)
					}
				}
			}
			w.c().mu.Lock()
			t.Logf("r.last while parked: %d, Redis !seq %s", w.c().rs.last.seq, rdb.HGet(ctx, hash, "!seq").Val())
			w.c().mu.Unlock()
			var wg sync.WaitGroup
			if mode == "interleaved-then-concurrent" {
				for g := 0; g < 4; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 150; i++ {
							if g%2 == 0 {
								mustAdvance(t, w.Clock, []string{"c"}, false)
							} else if err := Publish(ctx, rdb, "ns", "B", []string{"b"}, false); err != nil {
								t.Error(err)
							}
						}
					}()
				}
			}
			close(pk.release)
			wg.Wait()
			mustAdvance(t, w.Clock, []string{"end"}, false)
			eventually(t, "W catches up", 10*time.Second, func() bool {
				w.c().mu.Lock()
				defer w.c().mu.Unlock()
				return fmt.Sprint(w.c().rs.last.seq) == rdb.HGet(ctx, hash, "!seq").Val()
			})
			after := rdb.HGet(ctx, hash, fieldEpoch).Val()
			t.Logf("epoch %s -> %s, resyncs %d, OnUnverified %d", before, after, w.Stats().Resyncs, unverified.Load())
			if after != before || unverified.Load() != 0 || w.c().rs.forceResync.Load() {
				t.Errorf("no write was lost, yet epoch %s -> %s, OnUnverified %d", before, after, unverified.Load())
			}
		})
	}
}

func (p *process) c() *Clock { return p.Clock }
