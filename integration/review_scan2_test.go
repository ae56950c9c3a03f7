package integration_test

// Statements the SQL scanner misread in PostgreSQL and MariaDB (found by
// a review of its classification): each writes through cachedsql and
// reads through cachedsql, and a failure is a cached read that returns
// what the database no longer holds.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

// staleCheck reads q twice through db (fill, hit), runs write through db
// with Exec, and compares db's answer with admin's.
func staleCheck(t *testing.T, db, admin *sql.DB, q, write string) {
	t.Helper()
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, write)
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%s\nafter %s through cachedsql: cachedsql %s, database %s", q, write, got, want)
	}
}

// pgSchema makes a schema of the test's own and returns its name and a
// DSN whose search_path is that schema.
func pgSchema(t *testing.T, admin *sql.DB, suffix string) (string, string) {
	t.Helper()
	schema := runID + suffix
	mustExec(t, admin, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	return schema, withParams(pgURL(), "search_path="+schema)
}

// PostgreSQL folds only ASCII letters of unquoted names (in a UTF-8
// database): a CTE named Ä does not hide the table ä.
func TestPGNonASCIICTEDoesNotHideTable(t *testing.T) {
	admin, db := pgDB(t, "_na")
	mustExec(t, admin, "CREATE TABLE ä (v int)")
	mustExec(t, admin, "INSERT INTO ä VALUES (1)")
	q := "WITH Ä AS (SELECT 0 AS v) SELECT v::text FROM ä"
	if got := scalar(t, admin, q); got != "1" {
		t.Fatalf("PostgreSQL read %s: the CTE hid the table after all", got)
	}
	staleCheck(t, db, admin, q, "UPDATE ä SET v = 2")
}

// A bare table alias that PostgreSQL does not reserve but that can begin
// a clause (minus, qualify, set, values) must not end the FROM list: the
// table after the comma is read too.
func TestPGKeywordAliasDoesNotHideJoin(t *testing.T) {
	admin, db := pgDB(t, "_ka")
	tablesAB(t, admin)
	for i, alias := range []string{"minus", "qualify", "set", "values"} {
		t.Run(alias, func(t *testing.T) {
			staleCheck(t, db, admin, fmt.Sprintf("SELECT b.v::text FROM a %s, b", alias), fmt.Sprintf("UPDATE b SET v = %d", 10+i))
		})
	}
}

// mariaDB makes a database of the test's own and returns a direct pool, a
// cached pool and the database's name.
// tablesAB makes tables a (id) and b (v), a row in each: the join the
// scanner tests read, where b is the table a misread text hides.
func tablesAB(t *testing.T, admin *sql.DB) {
	t.Helper()
	mustExec(t, admin, "CREATE TABLE a (id int)")
	mustExec(t, admin, "INSERT INTO a VALUES (1)")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
}

// pgDB is a schema of its own on PostgreSQL, as a direct pool (admin) and
// a cachedsql one; it skips the test when PostgreSQL does not answer.
func pgDB(t *testing.T, suffix string) (admin, db *sql.DB) {
	t.Helper()
	requirePG(t)
	root := openDirect(t, "pgx", pgURL())
	schema, dsn := pgSchema(t, root, suffix)
	return openDirect(t, "pgx", dsn), openCached(t, "pgx", dsn, "namespace="+schema)
}

func mariaDB(t *testing.T, suffix string) (admin, db *sql.DB, name string) {
	t.Helper()
	return mariaDBWith(t, suffix, nil)
}

// mariaDBWith is mariaDB over connections whose settings edit changes.
func mariaDBWith(t *testing.T, suffix string, edit func(*gomysql.Config)) (admin, db *sql.DB, name string) {
	t.Helper()
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name = runID + suffix
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	cfg, err := gomysql.ParseDSN(mysqlDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	if edit != nil {
		edit(cfg)
	}
	dsn := cfg.FormatDSN()
	return openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name), name
}

// A version-gated executable comment for a version above the server's is
// a comment to MariaDB (and MySQL): the UPDATE after it runs, and must
// invalidate.
func TestMariaDBVersionCommentDoesNotHideWrite(t *testing.T) {
	admin, db, _ := mariaDB(t, "_vc")
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int)")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	for i, w := range []string{
		"/*M!999999 SELECT 1 FROM dual WHERE 0 AND */ UPDATE u SET v = 2 WHERE id = 1",
		"/*!99999 SELECT 1 FROM dual WHERE 0 AND */ UPDATE u SET v = 3 WHERE id = 1",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			staleCheck(t, db, admin, "SELECT v FROM u WHERE id = 1", w)
		})
	}
}

// MySQL index hints take FOR ORDER BY and FOR GROUP BY: their ORDER and
// GROUP do not end the FROM list, and the table after the comma is read.
func TestMariaDBIndexHintForOrderByDoesNotHideJoin(t *testing.T) {
	admin, db, _ := mariaDB(t, "_ih")
	mustExec(t, admin, "CREATE TABLE a (id int PRIMARY KEY)")
	mustExec(t, admin, "INSERT INTO a VALUES (1)")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	for i, hint := range []string{"USE INDEX FOR ORDER BY (PRIMARY)", "IGNORE INDEX FOR GROUP BY (PRIMARY)"} {
		t.Run(strings.ToLower(strings.Fields(hint)[3]), func(t *testing.T) {
			staleCheck(t, db, admin, "SELECT b.v FROM a "+hint+", b", fmt.Sprintf("UPDATE b SET v = %d", 10+i))
		})
	}
}

// MariaDB's FOR SYSTEM_TIME on a system-versioned table is part of the
// table reference: the table after the comma is read too.
func TestMariaDBSystemTimeDoesNotHideJoin(t *testing.T) {
	admin, db, _ := mariaDB(t, "_st")
	mustExec(t, admin, "CREATE TABLE a (id int) WITH SYSTEM VERSIONING")
	mustExec(t, admin, "INSERT INTO a VALUES (1)")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	for i, clause := range []string{"ALL", "FROM '2000-01-01' TO '2100-01-01'"} {
		staleCheck(t, db, admin, "SELECT b.v FROM a FOR SYSTEM_TIME "+clause+", b", fmt.Sprintf("UPDATE b SET v = %d", 10+i))
	}
}

// MySQL names may begin with digits. Unqualified, 2fa lexed as the number
// 2 and the word fa: RENAME TABLE filed its writes under fa..., while a
// qualified read (db.2fa) is keyed under 2fa, so the classic swap left
// the old table's rows in the cache.
func TestMariaDBRenameDigitLeadingTable(t *testing.T) {
	admin, db, name := mariaDB(t, "_dg")
	mustExec(t, admin, "CREATE TABLE 2fa (v int)")
	mustExec(t, admin, "INSERT INTO 2fa VALUES (1)")
	mustExec(t, admin, "CREATE TABLE 2fa_new (v int)")
	mustExec(t, admin, "INSERT INTO 2fa_new VALUES (2)")
	staleCheck(t, db, admin, fmt.Sprintf("SELECT v FROM %s.2fa", name), "RENAME TABLE 2fa TO 2fa_old, 2fa_new TO 2fa")
}

// INSERT INTO U&"t": the scanner filed the write under the table "u" (the
// U of the escape prefix), so reads of t were not invalidated.
func TestPGUnicodeEscapedWriteTarget(t *testing.T) {
	admin, db := pgDB(t, "_ue")
	mustExec(t, admin, "CREATE TABLE t (v int)")
	mustExec(t, admin, "INSERT INTO t VALUES (1)")
	for _, w := range []string{`INSERT INTO U&"t" VALUES (2)`, `DELETE FROM U&"\0074" WHERE v = 2`, `TRUNCATE U&"!0074" UESCAPE '!'`} {
		staleCheck(t, db, admin, "SELECT count(*)::text FROM t", w)
	}
}

// An unqualified call of an application's function named like a built-in
// of another dialect (SQLite's total) or like a word the scanner keeps
// for other databases' keywords (exec) was taken for a pure built-in: the
// read was cached under no table, and a function that writes invalidated
// nothing.
func TestPGFunctionNamedLikeOtherBuiltIn(t *testing.T) {
	admin, db := pgDB(t, "_uf")
	mustExec(t, admin, "CREATE TABLE orders (customer int, amount int)")
	mustExec(t, admin, "INSERT INTO orders VALUES (1, 10)")
	mustExec(t, admin, "CREATE FUNCTION total(c int) RETURNS int LANGUAGE sql STABLE AS 'SELECT sum(amount)::int FROM orders WHERE customer = c'")
	mustExec(t, admin, "CREATE FUNCTION exec(q text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; RETURN 1; END $$")

	t.Run("reads-total", func(t *testing.T) {
		staleCheck(t, db, admin, "SELECT total(1)::text", "INSERT INTO orders VALUES (1, 5)")
	})
	t.Run("writes-exec", func(t *testing.T) {
		q := "SELECT sum(amount)::text FROM orders"
		scalar(t, db, q)
		scalar(t, db, q)
		w := "SELECT exec('UPDATE orders SET amount = amount + 100')"
		scalar(t, db, w)
		if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
			t.Errorf("after %s through cachedsql: cachedsql %s, database %s", w, got, want)
		}
	})
}

// The same in MariaDB: total is no MariaDB built-in, and sample no
// keyword of its.
func TestMariaDBFunctionNamedLikeOtherBuiltIn(t *testing.T) {
	admin, db, _ := mariaDB(t, "_uf")
	mustExec(t, admin, "CREATE TABLE orders (customer int, amount int)")
	mustExec(t, admin, "INSERT INTO orders VALUES (1, 10)")
	mustExec(t, admin, "CREATE FUNCTION total(c int) RETURNS int READS SQL DATA RETURN (SELECT sum(amount) FROM orders WHERE customer = c)")
	mustExec(t, admin, "CREATE FUNCTION sample(c int) RETURNS int MODIFIES SQL DATA BEGIN UPDATE orders SET amount = amount + c; RETURN 1; END")
	t.Run("reads-total", func(t *testing.T) {
		staleCheck(t, db, admin, "SELECT total(1)", "INSERT INTO orders VALUES (1, 5)")
	})
	t.Run("writes-sample", func(t *testing.T) {
		q := "SELECT sum(amount) FROM orders"
		scalar(t, db, q)
		scalar(t, db, q)
		w := "SELECT sample(100)"
		scalar(t, db, w)
		if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
			t.Errorf("after %s through cachedsql: cachedsql %s, database %s", w, got, want)
		}
	})
}

// A function cachedsql does not know, called from a statement that is not
// a Read (COPY (query) TO, INSERT ... VALUES): its calls were dropped, so
// what it wrote was not invalidated, though the same call in a plain
// SELECT invalidates everything.
func TestPGUnknownCallOutsideRead(t *testing.T) {
	admin, db := pgDB(t, "_uc")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	mustExec(t, admin, "CREATE TABLE log (v int)")
	mustExec(t, admin, "CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS 'UPDATE b SET v = v + 1 RETURNING v'")
	for _, w := range []string{
		"COPY (SELECT bump()) TO PROGRAM 'cat >/dev/null'",
		"INSERT INTO log VALUES (bump())",
	} {
		t.Run(strings.Fields(w)[0], func(t *testing.T) {
			staleCheck(t, db, admin, "SELECT v::text FROM b", w)
		})
	}
}

// The same in MariaDB, where SET @x = f() and SELECT f() INTO @x call it.
func TestMariaDBUnknownCallOutsideRead(t *testing.T) {
	admin, db, _ := mariaDB(t, "_uc")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	mustExec(t, admin, "CREATE FUNCTION bump(n int) RETURNS int MODIFIES SQL DATA BEGIN UPDATE b SET v = v + n; RETURN 1; END")
	ctx := context.Background()
	q := "SELECT v FROM b"
	for _, w := range []string{"SET @x = bump(1)", "SELECT bump(1) INTO @x"} {
		t.Run(strings.Fields(w)[0], func(t *testing.T) {
			scalar(t, db, q)
			scalar(t, db, q)
			// The write on a connection of its own (SET makes its results
			// its own); the read on another.
			c := conn(t, db)
			if _, err := c.ExecContext(ctx, w); err != nil {
				t.Fatal(err)
			}
			if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
				t.Errorf("%s\nafter %s through cachedsql: cachedsql %s, database %s", q, w, got, want)
			}
			c.Close()
		})
	}
}
