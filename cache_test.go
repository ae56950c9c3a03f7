package cachedsql

import (
	"fmt"
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

// TestStatsL1Capacity: L1Capacity is the limit L1Bytes grows to, within the
// configured l1_mib (the decoded set takes its share of it), and 0 with L1 off.
func TestStatsL1Capacity(t *testing.T) {
	for _, tt := range []struct {
		l1MiB    int
		min, max int64
	}{
		{l1MiB: 0, min: 0, max: 0},
		{l1MiB: 8, min: 4 << 20, max: 8 << 20},
		{l1MiB: 64, min: 32 << 20, max: 64 << 20},
	} {
		_, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
		db := openCached(t, name, fmt.Sprintf("l1_mib=%d", tt.l1MiB))
		queryName(t, db, 1)
		s := stats(t, db)
		if s.L1Capacity < tt.min || s.L1Capacity > tt.max {
			t.Errorf("l1_mib=%d: L1Capacity %d, want between %d and %d", tt.l1MiB, s.L1Capacity, tt.min, tt.max)
		}
		if s.L1Bytes > s.L1Capacity {
			t.Errorf("l1_mib=%d: L1Bytes %d over L1Capacity %d", tt.l1MiB, s.L1Bytes, s.L1Capacity)
		}
	}
}
