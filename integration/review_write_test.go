package integration_test

// Tests from an independent review of the write path against PostgreSQL
// and MariaDB: each failed on the code as reviewed and states the bug it
// showed.

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

func rwScalarNull(t *testing.T, q queryRower, query string) sql.NullString {
	t.Helper()
	var s sql.NullString
	if err := q.QueryRowContext(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// A SELECT of a function that writes: kind Read, not cached, but nothing
// was invalidated. Then the same call after a word the scanner once did not
// take for one that a call may follow (PostgreSQL's DISTINCT ON (...),
// MySQL's SQL_NO_CACHE): the read was cacheable with no calls.
func TestWritePathSelectFunctionThatWrites(t *testing.T) {
	ctx := context.Background()
	for _, tg := range []struct {
		name, driver string
		require      func(testing.TB)
		dsn          func() string
		function     string // CREATE FUNCTION %[1]s ... updating table %[2]s
		read         string // %s: the table
		modified     string // %s: the function, called after a modifier
	}{
		{"PostgreSQL", "pgx", requirePG, pgURL,
			"CREATE FUNCTION %[1]s() RETURNS int LANGUAGE sql AS 'UPDATE %[2]s SET q = q + 1 WHERE id = 1; SELECT 1'",
			"SELECT q::text FROM %s WHERE id = 1", "SELECT DISTINCT ON (1) %s()"},
		{"MariaDB", "mysql", requireMySQL, mysqlDSN,
			"CREATE FUNCTION %[1]s() RETURNS int MODIFIES SQL DATA BEGIN UPDATE %[2]s SET q = q + 1 WHERE id = 1; RETURN 1; END",
			"SELECT CAST(q AS CHAR) FROM %s WHERE id = 1", "SELECT SQL_NO_CACHE %s()"},
	} {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			admin := openDirect(t, tg.driver, tg.dsn())
			tbl, fn := runID+"_fw", runID+"_bump"
			mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int primary key, q int)", tbl))
			mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
			mustExec(t, admin, fmt.Sprintf(tg.function, fn, tbl))
			t.Cleanup(func() {
				admin.ExecContext(ctx, "DROP FUNCTION IF EXISTS "+fn+map[bool]string{true: "()"}[tg.driver == "pgx"])
				admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl)
			})
			db := openCached(t, tg.driver, tg.dsn(), "namespace="+runID+"_fw")
			q := fmt.Sprintf(tg.read, tbl)
			scalar(t, db, q)
			mustExec(t, db, "SELECT "+fn+"()")
			want := scalar(t, admin, q)
			if got := scalar(t, db, q); got != want {
				t.Errorf("after SELECT %s(): cachedsql %s, database %s", fn, got, want)
			}
			// A pool of its own: the call above pinned its connection, which
			// caches nothing since.
			db = openCached(t, tg.driver, tg.dsn(), "namespace="+runID+"_fm")
			scalar(t, db, q)
			scalar(t, db, q)
			call := fmt.Sprintf(tg.modified, fn)
			scalar(t, db, call)
			if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
				t.Errorf("after %s: cachedsql %s, database %s", call, got, want)
			}
		})
	}
}

// to_regclass reads the catalog but is listed as a pure function: its
// result is cached under no table, and CREATE TABLE does not reach it.
func TestWritePathPGToRegclass(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_reg"
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_reg")
	q := fmt.Sprintf("SELECT to_regclass('%s')::text", tbl)
	if v := rwScalarNull(t, db, q); v.Valid {
		t.Fatalf("table exists already: %v", v)
	}
	mustExec(t, db, fmt.Sprintf("CREATE TABLE %s (id int)", tbl))
	want := rwScalarNull(t, admin, q)
	if got := rwScalarNull(t, db, q); got != want {
		t.Errorf("after CREATE TABLE %s: cachedsql %v, database %v", tbl, got, want)
	}
}

// Same for pg_total_relation_size: INSERT moves the table's generation, which
// the read's key does not hold.
func TestWritePathPGRelationSize(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_sz"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int, pad text)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_sz")
	q := fmt.Sprintf("SELECT pg_relation_size('%s')::text", tbl)
	scalar(t, db, q)
	mustExec(t, db, fmt.Sprintf("INSERT INTO %s SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g", tbl))
	want := scalar(t, admin, q)
	if got := scalar(t, db, q); got != want {
		t.Errorf("after INSERT: cachedsql %s, database %s", got, want)
	}
}

func TestWritePathMariaDBAnalyzeStatement(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_an"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int primary key, q int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_an")
	q := fmt.Sprintf("SELECT CAST(q AS CHAR) FROM %s WHERE id = 1", tbl)
	scalar(t, db, q)
	rows, err := db.QueryContext(ctx, fmt.Sprintf("ANALYZE UPDATE %s SET q = 2 WHERE id = 1", tbl))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	want := scalar(t, admin, q)
	if got := scalar(t, db, q); got != want {
		t.Errorf("after ANALYZE UPDATE: cachedsql %s, database %s", got, want)
	}
}

func TestWritePathMariaDBNextValueFor(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	seq := runID + "_nv"
	mustExec(t, admin, "CREATE SEQUENCE "+seq)
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP SEQUENCE IF EXISTS "+seq) })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_nv")
	q := "SELECT CAST(NEXT VALUE FOR " + seq + " AS CHAR)"
	a, b := scalar(t, db, q), scalar(t, db, q)
	if a == b {
		t.Errorf("%s returned %s twice: the second came from the cache", q, a)
	}
}

// DDL inside a MariaDB transaction commits implicitly; a ROLLBACK afterwards
// undoes nothing, but cachedsql invalidates nothing either.
func TestWritePathMariaDBImplicitCommitThenRollback(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl, other := runID+"_ic", runID+"_ic2"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int primary key, q int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl+", "+other) })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_ic")
	q := fmt.Sprintf("SELECT CAST(q AS CHAR) FROM %s WHERE id = 1", tbl)
	scalar(t, db, q)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, fmt.Sprintf("UPDATE %s SET q = 2 WHERE id = 1", tbl))
	mustExec(t, tx, fmt.Sprintf("CREATE TABLE %s (id int)", other))
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	want := scalar(t, admin, q)
	if got := scalar(t, db, q); got != want {
		t.Errorf("after UPDATE; CREATE TABLE; ROLLBACK: cachedsql %s, database %s", got, want)
	}
}

// A MariaDB procedure that creates a temporary table: CALL is a Write, not a
// session statement, so the shadowing session's reads are cached.
func TestWritePathMariaDBCallCreatesTempTable(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl, proc := runID+"_ct", runID+"_mk"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v varchar(20))", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES ('real')", tbl))
	mustExec(t, admin, fmt.Sprintf("CREATE PROCEDURE %s() BEGIN CREATE TEMPORARY TABLE %s (v varchar(20)); INSERT INTO %s VALUES ('temp'); END", proc, tbl, tbl))
	t.Cleanup(func() {
		admin.ExecContext(ctx, "DROP PROCEDURE IF EXISTS "+proc)
		admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl)
	})
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_ct")
	q := "SELECT v FROM " + tbl
	s := conn(t, db)
	mustExec(t, s, "CALL "+proc+"()")
	if got := scalar(t, s, q); got != "temp" {
		t.Fatalf("the CALL session read %q", got)
	}
	if got := scalar(t, db, q); got != "real" {
		t.Errorf("another session read %q through cachedsql; the database returns real", got)
	}
}

// SQL_CALC_FOUND_ROWS is served from the cache, so FOUND_ROWS() on the
// connection answers for whatever ran there last.
func TestWritePathMariaDBFoundRows(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_fr"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int primary key)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1),(2),(3),(4),(5)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_fr")
	c := conn(t, db)
	page := fmt.Sprintf("SELECT SQL_CALC_FOUND_ROWS CAST(id AS CHAR) FROM %s ORDER BY id LIMIT 2", tbl)
	for i := range 2 {
		scalar(t, c, page)
		if got := scalar(t, c, "SELECT CAST(FOUND_ROWS() AS CHAR)"); got != "5" {
			t.Errorf("page read %d: FOUND_ROWS() = %s, want 5", i, got)
		}
	}
}
