package integration_test

import (
	"context"
	"fmt"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

func rOpen(t *testing.T, suffix, cs string) (adminDSN, name string) {
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
	cfg.MultiStatements = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = cs
	return cfg.FormatDSN(), name
}

// A write hidden from every reading cachedsql makes, but run by the server
// under a client character set: the cached read of w must not survive it.
func TestRCharsetHiddenWrite(t *testing.T) {
	for i, c := range []struct{ cs, text string }{
		// big5: 0x81 is no lead byte, so 0xa4 0x5c is one character and the
		// backslash after it escapes the quote; cachedsql's GBK reading
		// pairs 0x81 0xa4 instead and keeps the backslash pair.
		{"big5", "SELECT '\x81\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// 0xfa-0xfe are no Big5 lead bytes either.
		{"big5", "SELECT '\xfa\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp850 (and cp852, cp866, keybcs2): -- before 0xff is a comment.
		{"cp850", "SELECT 1 --\xff '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp1250: -- before 0x80 is a comment.
		{"cp1250", "SELECT 1 --\x80 '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
	} {
		t.Run(fmt.Sprint(i, "_", c.cs), func(t *testing.T) {
			dsn, name := rOpen(t, fmt.Sprintf("_rcs%d", i), c.cs)
			admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
			mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
			mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
			const q = "SELECT x FROM w WHERE id = 1"
			scalar(t, db, q)
			scalar(t, db, q)
			rows, err := db.QueryContext(context.Background(), c.text)
			if err == nil {
				for rows.Next() {
				}
				for rows.NextResultSet() {
					for rows.Next() {
					}
				}
				err = rows.Close()
			}
			t.Logf("the text's own outcome: %v", err)
			if got := scalar(t, admin, q); got != "2" {
				t.Fatalf("the database holds x = %s: the UPDATE did not run, and the test shows nothing", got)
			}
			if got := scalar(t, db, q); got != "2" {
				t.Errorf("charset %s, after %q through cachedsql: cachedsql reads %s, the database 2 (stale)", c.cs, c.text, got)
			}
		})
	}
}

// cp852 (also cp866, keybcs2) takes 0xff for white space: FROM<0xff>w
// reads w, which cachedsql does not see.
func TestRCharsetSpaceHidesTable(t *testing.T) {
	dsn, name := rOpen(t, "_rsp", "cp852")
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
	q := "SELECT x FROM\xffw WHERE id = 1"
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, "UPDATE w SET x = 2 WHERE id = 1")
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%q after an UPDATE of w through cachedsql: cachedsql %s, database %s (stale)", q, got, want)
	}
}

// Under sql_mode ANSI_QUOTES, @"..." names a variable with a quoted
// identifier, which takes no backslash escapes: @"a\" ends at the second
// quote. cachedsql's at() reads @"..." as a string with backslash escapes
// in every reading, and does not flag the text's "..." for the ANSI_QUOTES
// reading at all.
func TestRAnsiQuotesAtVariable(t *testing.T) {
	requireMySQL(t)
	dsn, name := rOpen(t, "_raq", "utf8mb4")
	cfg, _ := gomysql.ParseDSN(dsn)
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "'ANSI_QUOTES'"
	dsn = cfg.FormatDSN()
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
	const q = "SELECT x FROM w WHERE id = 1"
	scalar(t, db, q)
	scalar(t, db, q)
	text := `SELECT @"a\", '\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"`
	rows, err := db.QueryContext(context.Background(), text)
	if err == nil {
		for rows.Next() {
		}
		for rows.NextResultSet() {
			for rows.Next() {
			}
		}
		err = rows.Close()
	}
	t.Logf("the text's own outcome: %v", err)
	if got := scalar(t, admin, q); got != "2" {
		t.Fatalf("the database holds x = %s: the UPDATE did not run, and the test shows nothing", got)
	}
	if got := scalar(t, db, q); got != "2" {
		t.Errorf("ANSI_QUOTES, after %s through cachedsql: cachedsql reads %s, the database 2 (stale)", text, got)
	}
}
