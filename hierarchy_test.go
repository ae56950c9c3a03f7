package cachedsql

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// TestReshapes: the statements after which a PostgreSQL write reads the
// catalog again before its next write (hierarchy): an ALTER or CREATE that
// may attach a partition or make a table inherit, whatever comments come
// first; not other ALTERs and CREATEs, nor writes that merely say the words.
func TestReshapes(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"ALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (0) TO (10)", true},
		{"alter table c inherit b", true},
		{"/* cachedsql:nocache */ ALTER TABLE c INHERIT b", true},
		{"-- link\n  ALTER TABLE c INHERIT b", true},
		{" ; ALTER TABLE p1 INHERIT p", true},
		{"ALTER TABLE p DETACH PARTITION p1", true}, // conservative: one reading
		{"ALTER TABLE c NO INHERIT b", true},
		{"CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20)", true},
		{"create table c2 () inherits (b)", true},
		{"CREATE TABLE p (id int) PARTITION BY RANGE (id)", true}, // conservative: one reading
		{"CREATE TABLE t (id int)", false},
		{"ALTER TABLE p_old RENAME TO p_new", true},
		{"UPDATE t SET renamed = true", false},
		{"CREATE INDEX ON p (id)", false},
		{"ALTER TABLE p ADD COLUMN x int", false},
		{"UPDATE p SET attached = true", false},
		{"INSERT INTO inherit_log VALUES (1)", false},
		{"/* unterminated ALTER TABLE c INHERIT b", false},
		{"-- ALTER TABLE c INHERIT b", false},
		{"ALTE", false},
		{"alter", false},
	} {
		if got := reshapes(tc.q); got != tc.want {
			t.Errorf("reshapes(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// syncBuffer is a log destination that tests may read while the library
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHierarchyReadingFails: a PostgreSQL server whose catalog cannot be
// read (here a driver answering with one column where the query asks two)
// leaves writes invalidating the tables they name, says so once in the log,
// and is not asked again by the very next write (hierarchyRetry).
func TestHierarchyReadingFails(t *testing.T) {
	noop := fakedb.NewNoop([]string{"v"}, nil)
	var logs syncBuffer
	c, err := NewConnector(Config{Connector: noop, DriverName: "postgres", Namespace: l2Namespace(t),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var events [][]string
	var mu sync.Mutex
	defer c.Subscribe(func(e Event) {
		mu.Lock()
		events = append(events, e.Tables)
		mu.Unlock()
	})()
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil { // the connection's own query (its backend pid)
		t.Fatal(err)
	}
	before := noop.Queries()
	for range 2 {
		if _, err := db.ExecContext(ctx, "UPDATE orders SET x = 1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "could not read PostgreSQL's partitions"); n != 1 {
		t.Errorf("%d warnings about the catalog in\n%s\nwant 1: the second write must not read it again at once", n, logs.String())
	}
	if q := noop.Queries() - before; q != 1 {
		t.Errorf("the driver was queried %d times; want 1 (one catalog reading for two writes)", q)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || len(events[0]) != 1 || events[0][0] != "orders" {
		t.Errorf("invalidations %v; want orders, twice", events)
	}
}
