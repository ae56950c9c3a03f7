package cachedsql

import (
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

func TestSmokeRepeatedReadHitsOnce(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	for range 5 {
		if got := queryName(t, db, 1); got != "ada" {
			t.Fatalf("got %q", got)
		}
	}
	if n := d.QueryCount("SELECT name FROM users WHERE id = ?"); n != 1 {
		t.Fatalf("inner driver saw %d queries; want 1", n)
	}
	s := stats(t, db)
	if s.L1Hits != 4 || s.Fills != 1 {
		t.Fatalf("stats %+v", s)
	}
}
