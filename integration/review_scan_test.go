package integration_test

// Statement classification found wrong by a review, against PostgreSQL
// and MariaDB. Each test writes through cachedsql and reads through
// cachedsql; a failure means a cached read returned what the database no
// longer holds.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cachedsql/cachedsql"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
)

// MERGE INTO ONLY t: the scanner takes ONLY for the target's name.
func TestScanPGMergeOnly(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_mo"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_mo")
	q := fmt.Sprintf("SELECT v::text FROM %s WHERE id = 1", tbl)
	notStaleAfter(t, db, admin, q, fmt.Sprintf("MERGE INTO ONLY %[1]s USING (SELECT 1 AS id) s ON %[1]s.id = s.id WHEN MATCHED THEN UPDATE SET v = 2", tbl))
}

// A quoted CTE name that differs from a table only in case does not hide
// the table in PostgreSQL, but the scanner lower-cased both. The same text
// through a wrapped pgx (read as Generic) must not either.
func TestScanPGQuotedCTECase(t *testing.T) {
	requirePG(t)
	registerTracing.Do(func() { sql.Register("rv-traced-pg", tracingDriver{stdlib.GetDefaultDriver()}) })
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	for i, drv := range []string{"pgx", "rv-traced-pg"} {
		t.Run(drv, func(t *testing.T) {
			tbl := fmt.Sprintf("%s_cc%d", runID, i)
			mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
			mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tbl))
			t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
			db := openCached(t, drv, pgURL(), "namespace="+tbl)
			q := fmt.Sprintf(`WITH "%s" AS (SELECT 0 AS v) SELECT v::text FROM %s`, strings.ToUpper(tbl), tbl)
			if got := scalar(t, db, q); got != "1" {
				t.Fatalf("read %s, want the table's 1", got)
			}
			notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %s SET v = 2", tbl))
		})
	}
}

// A user-defined function whose name is a built-in of another dialect
// (SQLite's total) is taken for a pure built-in: the read is cached with
// an empty read set, though the function reads a table.
func TestScanUserFunctionNamedLikeBuiltin(t *testing.T) {
	inOwnSchema(t, []schemaCase{
		{"PostgreSQL", "pgx", requirePG, pgURL,
			[]string{"CREATE SCHEMA %[1]s", "CREATE TABLE %[1]s.%[2]s (v int)", "INSERT INTO %[1]s.%[2]s VALUES (1)",
				"CREATE FUNCTION %[1]s.total(int) RETURNS int LANGUAGE sql AS 'SELECT sum(v)::int FROM %[1]s.%[2]s'"},
			[]string{"DROP SCHEMA IF EXISTS %[1]s CASCADE"}},
		{"MariaDB", "mysql", requireMySQL, mysqlDSN,
			[]string{"CREATE DATABASE %[1]s", "CREATE TABLE %[1]s.%[2]s (v int)", "INSERT INTO %[1]s.%[2]s VALUES (1)",
				"CREATE FUNCTION %[1]s.total(x int) RETURNS int READS SQL DATA RETURN (SELECT sum(v) FROM %[1]s.%[2]s)"},
			[]string{"DROP DATABASE IF EXISTS %[1]s"}},
	}, "_fn", func(t *testing.T, admin, db *sql.DB, schema, tbl string) {
		q := fmt.Sprintf("SELECT %s.total(1)", schema)
		notStaleAfter(t, db, admin, q, fmt.Sprintf("INSERT INTO %s.%s VALUES (5)", schema, tbl))
	})
}

// 'tbl'::regclass reads the catalog without naming a catalog: the OID is
// cached under no table and survives DROP TABLE and CREATE TABLE.
func TestScanPGRegclassCast(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_rc"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_rc")
	q := fmt.Sprintf("SELECT '%s'::regclass::oid::text", tbl)
	notStaleAfter(t, db, admin, q, fmt.Sprintf("DROP TABLE %[1]s; CREATE TABLE %[1]s (v int)", tbl))
}

// A text of several statements is Read when its statements are reads and
// "Other" statements; the Other ones (FETCH, MOVE, NOTIFY, LISTEN, LOCK,
// VACUUM, ...) have effects that a cache hit skips. Here a hit replays the
// first FETCH instead of advancing the cursor (lib/pq sends texts without
// arguments as one simple query).
func TestScanPGOtherInMultiStatementRead(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	db := openCached(t, "postgres", pgURL(), "namespace="+runID+"_cu")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "DECLARE "+runID+"_c CURSOR WITH HOLD FOR SELECT generate_series(1, 10)"); err != nil {
		t.Fatal(err)
	}
	defer c.ExecContext(ctx, "CLOSE "+runID+"_c")
	fetch := func() int {
		rows, err := c.QueryContext(ctx, "SELECT 0; FETCH 1 FROM "+runID+"_c")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
		}
		if !rows.NextResultSet() {
			t.Fatalf("no second result set: %v", rows.Err())
		}
		var v int
		if !rows.Next() {
			t.Fatalf("FETCH returned nothing: %v", rows.Err())
		}
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := fetch(), fetch()
	if a != 1 || b != 2 {
		t.Errorf("two FETCH 1 from a cursor returned %d then %d, want 1 then 2", a, b)
	}
}

// The README's ORM path, cachedsql.Register("cachedsql-mysql",
// &mysql.MySQLDriver{}, cachedsql.Config{}), leaves DriverName as the
// registered name, which DialectOf does not know: MySQL text is scanned in
// the Generic dialect, which has no # comments. An apostrophe in two #
// comments makes the FROM clause between them a string.
func TestScanRegisteredMySQLGenericDialect(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	name := "cachedsql-mysql-" + runID
	registerMySQLByName.Do(func() { cachedsql.Register(name, &mysql.MySQLDriver{}, cachedsql.Config{Namespace: runID + "_rg"}) })
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_rg"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openDirect(t, name, mysqlDSN())
	q := fmt.Sprintf("SELECT CAST(v AS CHAR) # the owner's value\nFROM %s # it's small\n", tbl)
	notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %s SET v = 2", tbl))
}

// MariaDB's ALTER TABLE p EXCHANGE PARTITION x WITH TABLE q swaps q's rows,
// and ALTER TABLE p CONVERT TABLE q TO PARTITION moves q into p (10.7+):
// both change what reads of q return, and name q only after TABLE.
func TestScanMariaDBPartitionMovesRows(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	for i, c := range []struct {
		alter string
		id    int // q's row: within the partition it moves to
	}{
		{"ALTER TABLE %s EXCHANGE PARTITION p0 WITH TABLE %s", 2},
		{"ALTER TABLE %s CONVERT TABLE %s TO PARTITION p1 VALUES LESS THAN (200)", 150},
	} {
		alter := c.alter
		t.Run(strings.Fields(alter)[3], func(t *testing.T) {
			p, q := fmt.Sprintf("%s_p%d", runID, i), fmt.Sprintf("%s_q%d", runID, i)
			mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int, v int) PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (100))", p))
			mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int, v int)", q))
			mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 10)", p))
			mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (%d, 20)", q, c.id))
			t.Cleanup(func() {
				admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+p)
				admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+q)
			})
			db := openCached(t, "mysql", mysqlDSN(), "namespace="+q)
			read := fmt.Sprintf("SELECT CAST(sum(v) AS CHAR) FROM %s", q)
			scalar(t, db, read)
			scalar(t, db, read)
			mustExec(t, db, fmt.Sprintf(alter, p, q))
			// After CONVERT the table is gone: the database's answer is an
			// error, and so must cachedsql's be.
			var got, want string
			gerr := db.QueryRowContext(ctx, read).Scan(&got)
			werr := admin.QueryRowContext(ctx, read).Scan(&want)
			if (gerr == nil) != (werr == nil) || got != want {
				t.Errorf("after %s through cachedsql: cachedsql %q (%v), database %q (%v)", fmt.Sprintf(alter, p, q), got, gerr, want, werr)
			}
		})
	}
}

// PostgreSQL truncates identifiers to 63 bytes: a long name and its
// truncation are one table, but two names to the scanner.
func TestScanPGTruncatedIdentifier(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	long := runID + "_" + strings.Repeat("x", 70)
	short := long[:63]
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", long))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", long))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+short) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_ti")
	q := fmt.Sprintf("SELECT v::text FROM %s", short)                        // the name pg_tables shows
	notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %s SET v = 2", long)) // the name the application declared
}

// PostgreSQL reads 'now' inside array and range literals, and 'today',
// 'tomorrow', 'yesterday' wherever a date or timestamp is expected
// (compared with a column, with a time after it): none of those reads may
// be cached.
func TestScanPGClockLiterals(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_cl"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (d date)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (current_date)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_cl")

	// The value itself cannot show it: pgx prepares the text, and PostgreSQL
	// reads the literal once, at prepare time. Show that the reads are not
	// served from the cache.
	for _, q := range []string{
		"SELECT (('{now}'::timestamptz[])[1])::text",
		fmt.Sprintf("SELECT count(*)::text FROM %s WHERE d >= 'today'", tbl),
		"SELECT 'today 10:00'::timestamp::text",
		"SELECT coalesce(NULL, 'tomorrow')::date::text",
	} {
		h := countHits(t, db)
		scalar(t, db, q)
		scalar(t, db, q)
		if hits, _ := h.delta(); hits > 0 {
			t.Errorf("%s: read of the date is cached (%d L1 hits)", q, hits)
		}
	}
}

// A table whose name begins with digits, qualified with its database
// (test.2fa_codes): ".2" lexes as a number, so the read is recorded as a
// read of the database name, and a write of `2fa_codes` misses it.
func TestScanMariaDBDigitLeadingQualified(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	dbName := scalar(t, admin, "SELECT DATABASE()")
	tbl := "2fa_" + runID
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE `%s` (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO `%s` VALUES (1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS `"+tbl+"`") })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_2f")
	q := fmt.Sprintf("SELECT CAST(v AS CHAR) FROM %s.%s", dbName, tbl)
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, fmt.Sprintf("UPDATE `%s` SET v = 2", tbl))
}

// MySQL multi-table UPDATE: a column named qualify (not reserved) in the ON
// of a JOIN ends the target list for the walker; the comma-joined table
// after it, which the statement updates, is not invalidated.
func TestScanMariaDBUpdateCommaAfterJoinOn(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	a, b, c := runID+"_ua", runID+"_ub", runID+"_uc"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int, qualify int)", a))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int)", b))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", c))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", a))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", b))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", c))
	t.Cleanup(func() { admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s, %s", a, b, c)) })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_uj")
	q := fmt.Sprintf("SELECT CAST(v AS CHAR) FROM %s", c)
	notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %[1]s JOIN %[2]s ON %[1]s.qualify = %[2]s.id, %[3]s SET %[3]s.v = 2", a, b, c))
}

// With sql_mode NO_BACKSLASH_ESCAPES (here set in the inner DSN, as an
// application or my.cnf would) a backslash ends nothing in a string, but the
// MySQL dialect always reads \' as an escaped quote: the scanner sees one
// string where the server reads a table.
func TestScanMariaDBNoBackslashEscapes(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "sql_mode=%27NO_BACKSLASH_ESCAPES%27")
	admin := openDirect(t, "mysql", dsn)
	tbl := runID + "_nb"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "mysql", dsn, "namespace="+runID+"_nb")
	// The scanner reads SELECT followed by one string; the server reads
	// SELECT '\', v FROM tbl and a comment.
	q := fmt.Sprintf(`SELECT '\', CAST(v AS CHAR) FROM %s -- '`, tbl)
	get := func(r queryRower) string {
		var a, b string
		if err := r.QueryRowContext(ctx, q).Scan(&a, &b); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return b
	}
	if got := get(db); got != "1" {
		t.Fatalf("read %s, want 1", got)
	}
	get(db)
	mustExec(t, db, fmt.Sprintf("UPDATE %s SET v = 2", tbl))
	if got, want := get(db), get(admin); got != want {
		t.Errorf("after UPDATE through cachedsql: cachedsql %s, database %s", got, want)
	}
}

// standard_conforming_strings=off (a server or role setting, here in the
// DSN): backslashes escape in '...' strings, but the Postgres dialect never
// reads them so, and the string a-backslash-quote-quote hides the rest of the statement.
func TestScanPGNonStandardStrings(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	dsn := withParams(pgURL(), "standard_conforming_strings=off")
	admin := openDirect(t, "pgx", dsn)
	tbl := runID + "_ss"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", dsn, "namespace="+runID+"_ss")
	q := fmt.Sprintf(`SELECT 'a\'', v::text FROM %s -- '`, tbl)
	get := func(r queryRower) string {
		var a, b string
		if err := r.QueryRowContext(ctx, q).Scan(&a, &b); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return b
	}
	get(db)
	get(db)
	mustExec(t, db, fmt.Sprintf("UPDATE %s SET v = 2", tbl))
	if got, want := get(db), get(admin); got != want {
		t.Errorf("after UPDATE through cachedsql: cachedsql %s, database %s", got, want)
	}
}

// An extension function the scanner knows (pg_trgm's similarity), called
// schema-qualified, as extensions installed in a schema of their own are
// (extensions.*): the text cannot tell it from an application's function of
// that name, which may write (TestScanUserSchemaBuiltinNamedFunctionWrites),
// so it is a function cachedsql does not know. Listed in pure_functions, it
// invalidates nothing and leaves its connection caching (it may still read
// any table, so the read itself is not cached).
func TestScanQualifiedPureExtensionCall(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	sch := runID + "_ext"
	tbl := runID + "_xt"
	mustExec(t, admin, "CREATE SCHEMA "+sch)
	mustExec(t, admin, "CREATE EXTENSION pg_trgm SCHEMA "+sch)
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tbl))
	t.Cleanup(func() {
		admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl)
		admin.ExecContext(ctx, "DROP EXTENSION IF EXISTS pg_trgm")
		admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+sch+" CASCADE")
	})
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_xt", "pure_functions=similarity")
	other := fmt.Sprintf("SELECT v::text FROM %s", tbl)
	scalar(t, db, other) // fill
	scalar(t, db, other) // hit
	sim := fmt.Sprintf("SELECT %s.similarity('word', 'two words')::text", sch)
	before := stats(t, db)
	for i := 0; i < 3; i++ {
		scalar(t, db, sim)
	}
	mid := stats(t, db)
	scalar(t, db, other)
	after := stats(t, db)
	if inv := mid.Invalidations - before.Invalidations; inv != 0 {
		t.Errorf("3 reads of a pure extension function made %d invalidations of the namespace", inv)
	}
	if hits := (after.L1Hits + after.L2Hits) - (mid.L1Hits + mid.L2Hits); hits != 1 {
		t.Errorf("the cached read of %s, read again: %d cache hits, want 1 (bypass %v)", tbl, hits, after.Bypass)
	}
}

// A user function after TRIM's BOTH/LEADING/TRAILING or in FETCH FIRST n
// is not seen as a call (228d159 added SQL_NO_CACHE, BINARY, ZONE, DISTINCT
// ON to isCall but not these), so a read through a function that reads
// another table is cached under the outer table alone and goes stale.
func TestScanUserCallAfterTrimBothAndFetchFirst(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	src, tbl, fn := runID+"_tbs", runID+"_tbt", runID+"_tbf"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", src))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", src))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (s text)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES ('1x1'), ('y'), ('z'), ('w')", tbl))
	mustExec(t, admin, fmt.Sprintf("CREATE FUNCTION %s(int) RETURNS int LANGUAGE sql STABLE AS 'SELECT sum(v)::int FROM %s'", fn, src))
	t.Cleanup(func() {
		admin.ExecContext(ctx, "DROP FUNCTION IF EXISTS "+fn+"(int)")
		admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+src+", "+tbl)
	})
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_tb")
	for _, q := range []string{
		fmt.Sprintf("SELECT trim(BOTH %s(0)::text FROM s) FROM %s WHERE s = '1x1'", fn, tbl),
		fmt.Sprintf("SELECT count(*)::text FROM (SELECT s FROM %s ORDER BY s FETCH FIRST %s(0) ROWS ONLY) x", tbl, fn),
		fmt.Sprintf("SELECT overlay(s PLACING %s(0)::text FROM 1) FROM %s WHERE s = '1x1'", fn, tbl),
	} {
		mustExec(t, admin, fmt.Sprintf("UPDATE %s SET v = 1", src))
		scalar(t, db, q)
		scalar(t, db, q)
		mustExec(t, db, fmt.Sprintf("UPDATE %s SET v = 2", src))
		if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
			t.Errorf("%s\nafter UPDATE %s through cachedsql: cachedsql %s, database %s", q, src, got, want)
		}
	}
}

// 228d159 made 't'::regclass volatile but only when the type word follows
// :: or AS directly: the schema-qualified form psql and pg_dump write
// ('t'::pg_catalog.regclass), the type-literal form (regclass 't') and the
// quoted type name are still cached under no table, and the OID survives
// DROP TABLE and CREATE TABLE.
func TestScanRegclassQualifiedAndLiteralForms(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	tbl := runID + "_rq"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_rq")
	for _, form := range []string{
		"SELECT '%s'::pg_catalog.regclass::oid::text",
		"SELECT CAST('%s' AS pg_catalog.regclass)::oid::text",
		"SELECT (regclass '%s')::oid::text",
		`SELECT '%s'::"regclass"::oid::text`,
	} {
		q := fmt.Sprintf(form, tbl)
		scalar(t, db, q)
		scalar(t, db, q)
		mustExec(t, db, "DROP TABLE "+tbl)
		mustExec(t, db, fmt.Sprintf("CREATE TABLE %s (v int)", tbl))
		if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
			t.Errorf("%s\nafter DROP and CREATE through cachedsql: cachedsql oid %s, database %s", q, got, want)
		}
	}
}

// tracingDriver stands for an instrumentation wrapper (otelsql, sqlhooks,
// a metrics shim) registered under a name of its own: its package names no
// database, so dialectOf reads its PostgreSQL text as Generic.
type tracingDriver struct{ driver.Driver }

var registerTracing sync.Once

// registerMySQLByName registers TestScanRegisteredMySQLGenericDialect's
// driver once, whatever -count says.
var registerMySQLByName sync.Once

// notStaleAfter reads q through db twice (a fill, then a hit), runs write
// through db, and fails if db's next read of q differs from the database's
// (admin, unwrapped).
func notStaleAfter(t *testing.T, db, admin *sql.DB, q, write string) {
	t.Helper()
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, write)
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%s\nafter %s through cachedsql: cachedsql %s, database %s", q, write, got, want)
	}
}

// An application's function named like a built-in (log), which MySQL calls
// only schema-qualified, and which writes a table: the read that calls it
// must invalidate, as any function cachedsql does not know does.
func TestScanUserSchemaBuiltinNamedFunctionWrites(t *testing.T) {
	inOwnSchema(t, []schemaCase{
		{"PostgreSQL", "pgx", requirePG, pgURL, []string{"CREATE SCHEMA %[1]s", "CREATE TABLE %[1]s.%[2]s (v text)",
			"CREATE FUNCTION %[1]s.log(msg text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO %[1]s.%[2]s VALUES (msg); RETURN 1; END $$"},
			[]string{"DROP SCHEMA IF EXISTS %[1]s CASCADE"}},
		{"MariaDB", "mysql", requireMySQL, mysqlDSN, []string{"CREATE DATABASE %[1]s", "CREATE TABLE %[1]s.%[2]s (v text)",
			"CREATE FUNCTION %[1]s.log(msg text) RETURNS int MODIFIES SQL DATA BEGIN INSERT INTO %[1]s.%[2]s VALUES (msg); RETURN 1; END"},
			[]string{"DROP DATABASE IF EXISTS %[1]s"}},
	}, "_lg", func(t *testing.T, admin, db *sql.DB, schema, tbl string) {
		q := fmt.Sprintf("SELECT count(*) FROM %s.%s", schema, tbl)
		scalar(t, db, q)
		scalar(t, db, q)
		scalar(t, db, fmt.Sprintf("SELECT %s.log('user 7 signed in')", schema))
		if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
			t.Errorf("after SELECT %s.log(...) through cachedsql: cachedsql count %s, database %s", schema, got, want)
		}
	})
}

// schemaCase is a database server with a schema (a database, in MariaDB)
// of the test's own: setup and cleanup statements take %[1]s for it and
// %[2]s for a table in it.
type schemaCase struct {
	name, driver   string
	require        func(testing.TB)
	dsn            func() string
	setup, cleanup []string
}

// inOwnSchema runs fn as a subtest per case, on the case's server with its
// schema set up, with a direct pool (admin) and a cached one on namespace
// runID+ns.
func inOwnSchema(t *testing.T, cases []schemaCase, ns string, fn func(t *testing.T, admin, db *sql.DB, schema, tbl string)) {
	ctx := context.Background()
	for _, tg := range cases {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			admin := openDirect(t, tg.driver, tg.dsn())
			schema, tbl := runID+ns+"s", runID+ns+"t"
			t.Cleanup(func() {
				for _, s := range tg.cleanup {
					admin.ExecContext(ctx, fmt.Sprintf(s, schema, tbl))
				}
			})
			for _, s := range tg.setup {
				mustExec(t, admin, fmt.Sprintf(s, schema, tbl))
			}
			fn(t, admin, openCached(t, tg.driver, tg.dsn(), "namespace="+runID+ns), schema, tbl)
		})
	}
}

// A long PostgreSQL name with a letter whose lower case is shorter (İ):
// the declared name and the catalog's 63-byte name are one table.
func TestScanPG63ByteNameNonASCII(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	long := "t" + runID + strings.Repeat("İ", 30) // > 63 bytes
	var short string
	if err := admin.QueryRowContext(ctx, "SELECT left($1::name::text, 100)", long).Scan(&short); err != nil {
		t.Fatal(err)
	}
	if short == long {
		t.Fatalf("name %q not truncated", long)
	}
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", long))
	t.Cleanup(func() { admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s", long)) })
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", long))
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_63")
	q := fmt.Sprintf("SELECT v::text FROM %s", short) // the name the catalog shows
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, fmt.Sprintf("UPDATE %s SET v = 2", long)) // the name the application declared
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after UPDATE through cachedsql by the long name: cachedsql %s, database %s", got, want)
	}
}

// A MySQL text read both ways for its backslashes, nested deeper than the
// scanner follows in its own reading: not a cacheable read that misses the
// subquery's table.
func TestScanMySQLBackslashDeepSubquery(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tt, tu := runID+"_dt", runID+"_du"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (s text, x int)", tt))
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id int)", tu))
	t.Cleanup(func() { admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s", tt, tu)) })
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES ('z', 1)", tt))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", tu))
	d := 199
	expr := strings.Repeat("(", d) + fmt.Sprintf("x IN (SELECT 1 FROM %s WHERE id = 1)", tu) + strings.Repeat(")", d)
	q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE s = 'a\'' OR %s OR s = 'b\''`, tt, expr)
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_dp")
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("first read %s, want 1", got)
	}
	scalar(t, db, q)
	mustExec(t, db, fmt.Sprintf("DELETE FROM %s", tu))
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after DELETE FROM %s through cachedsql: cachedsql %s, database %s", tu, got, want)
	}
}

// MySQL allows comments, as it allows spaces, around the dot before a
// digit-initial table name: UPDATE test /**/ . 2fa_x writes 2fa_x, and a
// cached read of 2fa_x must not survive it.
func TestScanMariaDBDigitNameCommentAroundDot(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	dbName := scalar(t, admin, "SELECT DATABASE()")
	tbl := "2fa_" + runID + "_c"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE `%s` (v int)", tbl))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO `%s` VALUES (1)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS `"+tbl+"`") })
	db := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_2c")
	q := fmt.Sprintf("SELECT CAST(v AS CHAR) FROM `%s`", tbl)
	notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %s /* c */ . %s SET v = v + 1", dbName, tbl))
	notStaleAfter(t, db, admin, q, fmt.Sprintf("UPDATE %s . -- c\n %s SET v = v + 1", dbName, tbl))
}

// PostgreSQL keeps the first 63 bytes of a name, and the scanner files a
// read of a longer name under them: Invalidate with the name as the
// application declared it must reach that read.
func TestScanPGInvalidateLongName(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	long := "inv_" + runID + "_" + strings.Repeat("x", 70)
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (v int)", long))
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (1)", long))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+long) })
	db := openCached(t, "pgx", pgURL(), "namespace="+runID+"_il")
	q := fmt.Sprintf("SELECT v::text FROM %s", long)
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, admin, fmt.Sprintf("UPDATE %s SET v = 2", long)) // outside cachedsql
	if err := cachedsql.Invalidate(ctx, db, long); err != nil {
		t.Fatal(err)
	}
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after Invalidate(%q): cachedsql %s, database %s", long, got, want)
	}
}
