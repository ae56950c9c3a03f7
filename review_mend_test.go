package cachedsql

import (
	"context"
	"database/sql/driver"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	"github.com/cachedsql/cachedsql/tier"
)

// TestMendFillInFlightSurvivesUnverifiedReset: OnUnverified (cache.go) drops
// L1 and the hot set because entries this process filled may be under numbers
// Redis lost and will hand out again. A fill that began before the reset, under
// those numbers, stores its result after it: the entry the reset was meant to
// drop is served afterwards (the clock kept the epoch, so the key is reachable).
func TestMendFillInFlightSurvivesUnverifiedReset(t *testing.T) {
	d, name := newFake(t, fakedb.Options{})
	db := openCached(t, name, "")
	c, err := connectorOf(db)
	if err != nil {
		t.Fatal(err)
	}
	sh := c.sh
	q := "SELECT name FROM users WHERE id = ?"
	g := d.Block(q)
	done := make(chan error, 1)
	go func() {
		var n string
		done <- db.QueryRow(q, 1).Scan(&n)
	}()
	<-g.Arrived()  // the fill is in flight, keyed with the pre-reset numbers
	sh.dropLocal() // what the clock's OnUnverified calls
	g.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	before := d.QueryCount(q)
	queryName(t, db, 1)
	if d.QueryCount(q) == before {
		t.Errorf("an entry filled under the numbers held before OnUnverified's reset is served after it")
	}
}

// TestMendResetRace: L1.Reset and hotSet.reset against concurrent Get/Set/put/get.
func TestMendResetRace(t *testing.T) {
	h := newHotSet(8)
	l1, err := tier.NewL1(tier.L1Config{CapacityMiB: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	ctx := context.Background()
	res := &rowset.Result{Sets: []rowset.Set{{Columns: []rowset.Column{{Name: "a"}}, Rows: [][]driver.Value{{int64(1)}}}}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keying.Key{byte(i), byte(w), 1, 9: byte(i >> 3)}
				h.put(&k, res, 16, time.Minute)
				h.get(&k)
				l1.Set(ctx, k, []byte("value"), time.Minute)
				l1.Get(ctx, k)
			}
		}()
	}
	for range 200 {
		h.reset()
		l1.Reset()
	}
	close(stop)
	wg.Wait()
}
