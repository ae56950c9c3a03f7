package cachedsql

import (
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
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
