package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestPartitionsAndInheritance: on PostgreSQL a partition and its parent,
// and a child table and the table it inherits from, share rows, so a write
// to one changes reads of the other though it does not name it. Each case
// caches a read, writes through cachedsql a table the read does not name,
// and reads again, which must see the write: a partition written directly
// under a cached read of its parent, a parent written (the row routed to a
// partition) under a cached read of the partition, a child under its base
// table, one parent of a child of two under the other, a partition of a
// partition under the top table, a partition
// created after cachedsql first read the catalog, and tables that were
// there when it read the catalog and were then linked through cachedsql:
// attached as a partition, or made to inherit in a transaction.
func TestPartitionsAndInheritance(t *testing.T) {
	requirePG(t)
	admin := openDirect(t, "pgx", pgURL())
	p := runID + "_part"
	for _, q := range []string{
		"CREATE TABLE %[1]s (id int NOT NULL, v text) PARTITION BY RANGE (id)",
		"CREATE TABLE %[1]s_a PARTITION OF %[1]s FOR VALUES FROM (0) TO (100)",
		"CREATE TABLE %[1]s_b PARTITION OF %[1]s FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id)",
		"CREATE TABLE %[1]s_b1 PARTITION OF %[1]s_b FOR VALUES FROM (100) TO (150)",
		"CREATE TABLE %[1]s_b2 PARTITION OF %[1]s_b FOR VALUES FROM (150) TO (200)",
		"CREATE TABLE %[1]s_base (id int, v text)",
		"CREATE TABLE %[1]s_child () INHERITS (%[1]s_base)",
		// A child of two parents (review of d2ff9dd).
		"CREATE TABLE %[1]s_m1 (id int, v text)",
		"CREATE TABLE %[1]s_m2 (id int, v text)",
		"CREATE TABLE %[1]s_mc () INHERITS (%[1]s_m1, %[1]s_m2)",
		"INSERT INTO %[1]s_mc VALUES (1, 'x')",
		// Plain tables, linked later through cachedsql.
		"CREATE TABLE %[1]s_d (id int NOT NULL, v text)",
		"CREATE TABLE %[1]s_e (id int, v text)",
	} {
		mustExec(t, admin, fmt.Sprintf(q, p))
	}
	t.Cleanup(func() {
		admin.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %[1]s, %[1]s_base, %[1]s_child, %[1]s_d, %[1]s_e, %[1]s_m1, %[1]s_m2 CASCADE", p))
	})
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"part")
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s_child VALUES (1, 'x')", p))
	for _, tc := range []struct {
		name        string
		before      string // DDL run directly first
		link        string // DDL run through cachedsql first
		inTx        bool   // link runs in a transaction
		read, write string // %[1]s is the partitioned table's name
	}{
		{name: "partition under its parent", read: "SELECT count(*)::text FROM %[1]s", write: "INSERT INTO %[1]s_a VALUES (1, 'x')"},
		{name: "parent under its partition", read: "SELECT count(*)::text FROM %[1]s_a", write: "INSERT INTO %[1]s VALUES (2, 'x')"},
		{name: "sub-partition under the top table", read: "SELECT count(*)::text FROM %[1]s", write: "INSERT INTO %[1]s_b1 VALUES (101, 'x')"},
		{name: "top table under a sub-partition", read: "SELECT count(*)::text FROM %[1]s_b2", write: "INSERT INTO %[1]s VALUES (151, 'x')"},
		{name: "child under its base table", read: "SELECT count(*)::text FROM %[1]s_base", write: "INSERT INTO %[1]s_child VALUES (2, 'x')"},
		{name: "base table under its child", read: "SELECT string_agg(v, ',' ORDER BY id) FROM %[1]s_child", write: "UPDATE %[1]s_base SET v = v || 'y'"},
		{name: "one parent under the other parent of a child", read: "SELECT string_agg(v, ',') FROM %[1]s_m2", write: "UPDATE %[1]s_m1 SET v = v || 'y'"},
		{
			name:   "a partition created since",
			before: "CREATE TABLE %[1]s_c PARTITION OF %[1]s FOR VALUES FROM (200) TO (300)",
			read:   "SELECT count(*)::text FROM %[1]s", write: "INSERT INTO %[1]s_c VALUES (201, 'x')",
		},
		{
			name: "a table attached as a partition",
			link: "ALTER TABLE %[1]s ATTACH PARTITION %[1]s_d FOR VALUES FROM (300) TO (400)",
			read: "SELECT count(*)::text FROM %[1]s", write: "INSERT INTO %[1]s_d VALUES (301, 'x')",
		},
		{
			name: "a table made to inherit, in a transaction",
			link: "ALTER TABLE %[1]s_e INHERIT %[1]s_base", inTx: true,
			read: "SELECT count(*)::text FROM %[1]s_base", write: "INSERT INTO %[1]s_e VALUES (1, 'x')",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != "" {
				mustExec(t, admin, fmt.Sprintf(tc.before, p))
			}
			switch {
			case tc.link != "" && tc.inTx:
				tx, err := db.BeginTx(context.Background(), nil)
				if err != nil {
					t.Fatal(err)
				}
				mustExec(t, tx, fmt.Sprintf(tc.link, p))
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			case tc.link != "":
				mustExec(t, db, fmt.Sprintf(tc.link, p))
			}
			freshAfter(t, db, db, admin, fmt.Sprintf(tc.read, p), fmt.Sprintf(tc.write, p))
		})
	}
}

// TestLargeHierarchyInvalidatesAll: a write to a parent of more partitions
// than one write moves counters for (maxAdvanceTables) invalidates every
// table of the namespace instead, so that a read of any partition, and of
// any other table, goes to the database again: shown with an unrelated
// table changed outside cachedsql.
func TestLargeHierarchyInvalidatesAll(t *testing.T) {
	requirePG(t)
	admin := openDirect(t, "pgx", pgURL())
	big, other := runID+"_big", runID+"_other"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int NOT NULL) PARTITION BY RANGE (id)", big))
	t.Cleanup(func() { admin.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %s, %s CASCADE", big, other)) })
	mustExec(t, admin, fmt.Sprintf(`DO $$ BEGIN FOR i IN 0..599 LOOP
		EXECUTE format('CREATE TABLE %%I PARTITION OF %%I FOR VALUES FROM (%%s) TO (%%s)', '%[1]s_' || i, '%[1]s', i * 10, i * 10 + 10);
	END LOOP; END $$`, big))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int)", other))
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"big")
	readOther := "SELECT count(*)::text FROM " + other
	if got := scalar(t, db, readOther); got != "0" {
		t.Fatalf("%s: %s", readOther, got)
	}
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", other)) // not through cachedsql
	if got := scalar(t, db, readOther); got != "0" {
		t.Fatalf("%s read %s before any write through cachedsql: the read was not cached, and this test shows nothing", readOther, got)
	}
	mustExec(t, db, fmt.Sprintf("INSERT INTO %s VALUES (5)", big))
	if got := scalar(t, db, readOther); got != "1" {
		t.Fatalf("%s read %s after a write to a parent of 600 partitions; want 1: such a write invalidates every table", readOther, got)
	}
}

// TestHierarchyChangesThroughCachedsql: partitions that appear through
// cachedsql under a name the catalog reading already holds (review of
// d2ff9dd): a plain table dropped and made again as a partition, whose name
// the last reading lists as unlinked; and a partition created on demand
// after an insert into it failed, whose name the last reading found
// missing a moment before. A write of either must reach the parent.
func TestHierarchyChangesThroughCachedsql(t *testing.T) {
	requirePG(t)
	admin := openDirect(t, "pgx", pgURL())
	p := runID + "_hc"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int NOT NULL) PARTITION BY RANGE (id)", p))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s_x (id int NOT NULL)", p))
	t.Cleanup(func() { admin.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %[1]s, %[1]s_x CASCADE", p)) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"hc")
	read := "SELECT count(*)::text FROM " + p
	check := func(t *testing.T, write string) { t.Helper(); freshAfter(t, db, db, admin, read, write) }
	t.Run("made again as a partition", func(t *testing.T) {
		mustExec(t, db, fmt.Sprintf("INSERT INTO %s_x VALUES (1)", p)) // the catalog is read: x is plain
		mustExec(t, db, fmt.Sprintf("DROP TABLE %s_x", p))
		mustExec(t, db, fmt.Sprintf("CREATE TABLE %[1]s_x PARTITION OF %[1]s FOR VALUES FROM (0) TO (100)", p))
		check(t, fmt.Sprintf("INSERT INTO %s_x VALUES (5)", p))
	})
	t.Run("created on demand", func(t *testing.T) {
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO %s_y VALUES (150)", p)); err == nil {
			t.Fatalf("INSERT INTO %s_y: no error before the partition exists", p)
		}
		mustExec(t, db, fmt.Sprintf("CREATE TABLE %[1]s_y PARTITION OF %[1]s FOR VALUES FROM (100) TO (200)", p))
		check(t, fmt.Sprintf("INSERT INTO %s_y VALUES (150)", p))
	})
}

// TestHierarchyMigrations (review of 42d39e9): partition maintenance as
// programs send it. A retention job dropping the oldest partition as the
// Connector's first write (TestHierarchyKeepsKinOfDroppedTables has one
// dropped when the catalog is read after the drop); and migrations sent as one text of several statements (DROP and CREATE ...
// PARTITION OF; BEGIN, ATTACH, COMMIT; SET, then ATTACH), run on one
// connection while the program reads and writes on another. Each must
// leave the parent's cached reads fresh.
func TestHierarchyMigrations(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	p := runID + "_mg"
	for _, q := range []string{
		"CREATE TABLE %[1]s (id int NOT NULL) PARTITION BY RANGE (id)",
		"CREATE TABLE %[1]s_0 PARTITION OF %[1]s FOR VALUES FROM (0) TO (100)",
		"CREATE TABLE %[1]s_1 PARTITION OF %[1]s FOR VALUES FROM (100) TO (200)",
		"INSERT INTO %[1]s VALUES (1), (101)",
		"CREATE TABLE %[1]s_x (id int NOT NULL)",
		"CREATE TABLE %[1]s_y (id int NOT NULL)",
		"CREATE TABLE %[1]s_z (id int NOT NULL)",
	} {
		mustExec(t, admin, fmt.Sprintf(q, p))
	}
	t.Cleanup(func() { admin.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %[1]s, %[1]s_x, %[1]s_y, %[1]s_z CASCADE", p)) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"mg")
	app, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	mig, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer mig.Close()
	read := "SELECT count(*)::text FROM " + p
	check := func(t *testing.T, write string) { t.Helper(); freshAfter(t, app, app, admin, read, write) }
	t.Run("a partition dropped by the first write", func(t *testing.T) {
		check(t, fmt.Sprintf("DROP TABLE %s_0", p))
	})
	mustExec(t, app, fmt.Sprintf("INSERT INTO %[1]s_x VALUES (1); INSERT INTO %[1]s_y VALUES (1)", p)) // read: x and y are plain
	for _, tc := range []struct{ name, link, write string }{
		{"DROP and CREATE PARTITION OF in one text", "DROP TABLE %[1]s_x; CREATE TABLE %[1]s_x PARTITION OF %[1]s FOR VALUES FROM (300) TO (400)", "INSERT INTO %[1]s_x VALUES (301)"},
		{"BEGIN, ATTACH and COMMIT in one text", "BEGIN; DELETE FROM %[1]s_y; ALTER TABLE %[1]s ATTACH PARTITION %[1]s_y FOR VALUES FROM (400) TO (500); COMMIT", "INSERT INTO %[1]s_y VALUES (401)"},
		{"SET, then ATTACH, in one text", "SET lock_timeout = '5s'; ALTER TABLE %[1]s ATTACH PARTITION %[1]s_z FOR VALUES FROM (500) TO (600)", "INSERT INTO %[1]s_z VALUES (501)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, mig, fmt.Sprintf(tc.link, p))
			check(t, fmt.Sprintf(tc.write, p))
		})
	}
}

// freshAfter caches read through r (twice: the second must agree), runs
// write through w, and fails t unless r then reads what admin, outside
// cachedsql, reads, which must differ from before.
func freshAfter(t *testing.T, r queryRower, w interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, admin queryRower, read, write string) {
	t.Helper()
	was := scalar(t, r, read)
	if again := scalar(t, r, read); again != was {
		t.Fatalf("%s: %s then %s with no write between", read, was, again)
	}
	mustExec(t, w, write)
	want := scalar(t, admin, read)
	if want == was {
		t.Fatalf("%s changed nothing in the database (%s); the case tests nothing", write, want)
	}
	if now := scalar(t, r, read); now != want {
		t.Fatalf("%s read %s through cachedsql after %s; the database has %s", read, now, write, want)
	}
}

// TestHierarchySlowCatalogAtConnect (review of 3408d0a): while the catalog
// cannot be read in time (pg_inherits locked, as a VACUUM FULL of it
// does), a new connection is still handed out alive: the reading at
// Connect runs on a connection of its own, and gives up alone.
func TestHierarchySlowCatalogAtConnect(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tx, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, tx, "LOCK TABLE pg_catalog.pg_inherits IN ACCESS EXCLUSIVE MODE")
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"slowcat")
	var one string
	if err := db.QueryRowContext(ctx, "SELECT 1::text").Scan(&one); err != nil || one != "1" {
		t.Fatalf("SELECT 1 on a new connection while the catalog is locked: %q, %v", one, err)
	}
}
