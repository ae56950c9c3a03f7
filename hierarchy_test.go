package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// TestReshapes: the texts after which a PostgreSQL write reads the catalog
// again before its next write (hierarchy): an ALTER or CREATE that may
// attach, create, detach or rename a partition or make a table inherit,
// anywhere in a text of several statements; not other ALTERs and CREATEs,
// nor texts that merely hold the words inside longer ones.
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
		{"CREATE TABLE p (id int) PARTITION BY RANGE (id)", false}, // a parent with no partition yet
		{"CREATE TABLE r AS SELECT rank() OVER (PARTITION BY k ORDER BY v) FROM t", false},
		{"CREATE TABLE attachments (id int)", false},
		{"BEGIN; ALTER TABLE p ATTACH PARTITION y FOR VALUES FROM (1) TO (2); COMMIT", true},
		{"SET lock_timeout = '5s'; ALTER TABLE p ATTACH PARTITION y FOR VALUES FROM (1) TO (2)", true},
		{"DROP TABLE x; CREATE TABLE x PARTITION OF p FOR VALUES FROM (1) TO (2)", true},
		{"CREATE TABLE t (id int)", false},
		{"ALTER TABLE p_old RENAME TO p_new", true},
		{"UPDATE t SET renamed = true", false},
		{`UPDATE acl SET "create" = true, inherit = false WHERE role = $1`, false},
		{"INSERT INTO audit (action, note) VALUES ('create', 'rename')", false},
		{"CREATE UNLOGGED TABLE u2 PARTITION OF u FOR VALUES IN (2)", true},
		{"ALTER FOREIGN TABLE f INHERIT b", true},
		{"CREATE INDEX ON p (id)", false},
		{"ALTER TABLE p ADD COLUMN x int", false},
		{"UPDATE p SET attached = true", false},
		{"INSERT INTO inherit_log VALUES (1)", false},
		{"-- ALTER TABLE c INHERIT b", true}, // words in comments count: one reading more
		{"UPDATE settings SET v = 'logs/*'; ALTER TABLE p ATTACH PARTITION p_x FOR VALUES FROM (1) TO (2)", true},
		{`CREATE TABLE "x--y" PARTITION OF p FOR VALUES IN (1)`, true},
		{"CREATE /* 2026-11 */ TABLE p_2026_11 PARTITION OF p FOR VALUES FROM (1) TO (2)", true},
		{"ALTER -- monthly\nTABLE p ATTACH PARTITION p_x FOR VALUES FROM (1) TO (2)", true},
		{"ALTE", false},
		{"alter", false},
	} {
		if got := reshapes(tc.q); got != tc.want {
			t.Errorf("reshapes(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestHierarchyReadingFails: a PostgreSQL server whose catalog cannot be
// read (here a driver answering with one column where the query asks two)
// leaves writes invalidating the tables they name, says so in the log, and
// is not asked again within hierarchyRetry of a failure: not by the writes
// after a failed reading at Connect, nor by the write after a failed
// reading of a write's own.
func TestHierarchyReadingFails(t *testing.T) {
	noop := fakedb.NewNoop([]string{"v"}, nil)
	var logs lockedBuffer // procs_test.go
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
	write := func(n int) {
		t.Helper()
		for range n {
			if _, err := db.ExecContext(ctx, "UPDATE orders SET x = 1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.PingContext(ctx); err != nil { // opens a connection: its backend pid, and the catalog
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "writes in the next second reach only the tables they name"); n != 1 {
		t.Errorf("%d warnings about the catalog at Connect in\n%s\nwant 1", n, logs.String())
	}
	before := noop.Queries()
	write(2)
	if q := noop.Queries() - before; q != 0 {
		t.Errorf("two writes just after a failed reading queried the driver %d times; want 0", q)
	}
	c.kin.mu.Lock()
	c.kin.failed = time.Time{} // as if the failure were long past
	c.kin.mu.Unlock()
	before = noop.Queries()
	write(2)
	if q := noop.Queries() - before; q != 1 {
		t.Errorf("two writes long after the failure queried the driver %d times; want 1 (one reading, failed)", q)
	}
	if n := strings.Count(logs.String(), "a write invalidates only the tables it names"); n != 1 {
		t.Errorf("%d warnings about the catalog at writes in\n%s\nwant 1", n, logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 4 {
		t.Fatalf("invalidations %v; want orders, four times", events)
	}
	for _, e := range events {
		if !slices.Equal(e, []string{"orders"}) {
			t.Fatalf("invalidations %v; want orders, four times", events)
		}
	}
}

// catalogConnector answers every query with rows, a PostgreSQL catalog
// reading of (relname, parent relname or nil) that the test changes.
type catalogConnector struct {
	mu   sync.Mutex
	rows [][]driver.Value
}

func (c *catalogConnector) set(rows ...[]driver.Value) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = rows
}

func (c *catalogConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return catalogConn{c}, nil
}
func (c *catalogConnector) Driver() driver.Driver { return nil }

type catalogConn struct{ c *catalogConnector }

func (catalogConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no statements") }
func (catalogConn) Close() error                        { return nil }
func (catalogConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }

func (cc catalogConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	cc.c.mu.Lock()
	defer cc.c.mu.Unlock()
	return &sliceRows{cols: []string{"relname", "parent"}, data: slices.Clone(cc.c.rows)}, nil
}

// TestHierarchyKeepsKinOfDroppedTables (reviews of 42d39e9 and 3408d0a): a
// write that drops a partition when the catalog must be read again (the
// last reading is a minute old) finds it gone from the new reading, or made
// again under another parent; its old parent's reads changed all the same,
// so the name keeps the kin the last reading gave it as well.
func TestHierarchyKeepsKinOfDroppedTables(t *testing.T) {
	cat := &catalogConnector{}
	cat.set([]driver.Value{"p", nil}, []driver.Value{"p_0", "p"}, []driver.Value{"p_1", "p"})
	c, err := NewConnector(Config{Connector: cat, DriverName: "postgres", Namespace: l2Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if got := c.withKin(ctx, []string{"p_0"}); !slices.Equal(got, []string{"p_0", "p"}) {
		t.Fatalf("kin of p_0 = %v; want p_0 and p", got)
	}
	cat.set([]driver.Value{"p", nil}, []driver.Value{"p_1", "p"}) // p_0 dropped
	old := hierarchyMaxAge
	hierarchyMaxAge = 0 // every write reads the catalog again
	defer func() { hierarchyMaxAge = old }()
	if got := c.withKin(ctx, []string{"p_0"}); !slices.Equal(got, []string{"p_0", "p"}) {
		t.Fatalf("after p_0 was dropped, its write reached %v; want p_0 and p", got)
	}
	if got := c.withKin(ctx, []string{"p_1"}); !slices.Equal(got, []string{"p_1", "p"}) {
		t.Fatalf("kin of p_1 = %v; want p_1 and p", got)
	}
	// p_1 dropped and made again, in one text, as a partition of q (review
	// of 3408d0a): the new reading lists the name with other kin.
	cat.set([]driver.Value{"p", nil}, []driver.Value{"q", nil}, []driver.Value{"p_1", "q"})
	if got := c.withKin(ctx, []string{"p_1"}); !slices.Equal(got, []string{"p_1", "q", "p"}) {
		t.Fatalf("after p_1 was made again under q, its write reached %v; want p_1, q and p", got)
	}
}

// TestHierarchyKinCarriesOneReading (review of 3d15253): a reading carries
// the kin the reading before it listed, for every table, so that a link
// that changed between a statement and its own write (another
// connection's write read the catalog in between) still reaches the old
// tables; and carries no more than that, so that a parent whose partitions
// rotate does not gather every partition it ever had.
func TestHierarchyKinCarriesOneReading(t *testing.T) {
	cat := &catalogConnector{}
	rows := func(parts ...string) [][]driver.Value {
		out := [][]driver.Value{{"p", nil}, {"q", nil}, {"other", nil}}
		for _, x := range parts {
			out = append(out, []driver.Value{x, "p"})
		}
		return out
	}
	cat.set(rows("p_0", "p_1")...)
	c, err := NewConnector(Config{Connector: cat, DriverName: "postgres", Namespace: l2Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.withKin(ctx, []string{"other"}) // the first reading
	// p_1 moves under q; another connection's write reads the catalog
	// before the move's own write is accounted for.
	cat.set(append(rows("p_0"), []driver.Value{"p_1", "q"})...)
	old := hierarchyMaxAge
	defer func() { hierarchyMaxAge = old }()
	hierarchyMaxAge = 0
	c.withKin(ctx, []string{"other"})
	hierarchyMaxAge = time.Hour
	if got := c.withKin(ctx, []string{"p_1"}); !slices.Equal(got, []string{"p_1", "q", "p"}) {
		t.Fatalf("the move's write reached %v; want p_1, q and p", got)
	}
	// Partitions rotate under p, one a reading, 60 times.
	hierarchyMaxAge = 0
	for i := range 60 {
		parts := make([]string, 10)
		for j := range parts {
			parts[j] = fmt.Sprintf("r_%d", i+j)
		}
		cat.set(rows(parts...)...)
		c.withKin(ctx, []string{"p"})
	}
	if got := c.withKin(ctx, []string{"p"}); len(got) > 1+11 {
		t.Fatalf("a write of p, whose 10 partitions rotated one a reading, reached %d tables: %v; want at most 12", len(got), got)
	}
}

// TestHierarchyConnectCallerLeft (review of e5084d5): a Connect whose
// caller left before the catalog was read holds back no later reading: the
// next write reads it, and reaches the parent.
func TestHierarchyConnectCallerLeft(t *testing.T) {
	cat := &catalogConnector{}
	cat.set([]driver.Value{"p", nil}, []driver.Value{"p_0", "p"})
	c, err := NewConnector(Config{Connector: cat, DriverName: "postgres", Namespace: l2Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	left, cancel := context.WithCancel(context.Background())
	cancel()
	c.readKinAtConnect(left)
	if got := c.withKin(context.Background(), []string{"p_0"}); !slices.Equal(got, []string{"p_0", "p"}) {
		t.Fatalf("a write just after a Connect whose caller left reached %v; want p_0 and p", got)
	}
}
