package integration_test

import (
	"context"
	"fmt"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

// MariaDB and MySQL run a multi-statement text one statement at a time:
// the statements before a syntax error have run when the error comes. A
// text that reads as valid SQL one way and invalid another must not lose
// the writes of the invalid reading's first statements:
//   - MariaDB skips /*!99999 … */, so it runs SELECT 1, then the UPDATE,
//     then fails on SELECT (1; with the comment read as code the whole text
//     is one SELECT of a string;
//   - without backslash escapes (sql_mode NO_BACKSLASH_ESCAPES, which the
//     text cannot show) 'a\' ends at the backslash, so the UPDATE runs and
//     the last quote fails; with them the text is one SELECT of a string.
func TestMariaDBInvalidReadingRunsItsFirstStatements(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	for i, c := range []struct {
		sqlMode, text string
	}{
		{"", "SELECT /*!99999 '*/ 1; UPDATE w SET x = x + 1 WHERE id = 1; SELECT /*!99999 '*/ (1 /*!99999 ) */"},
		{"'NO_BACKSLASH_ESCAPES'", `SELECT 'a\'; UPDATE w SET x = x + 1 WHERE id = 1; SELECT '`},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			name := fmt.Sprintf("%s_badread%d", runID, i)
			mustExec(t, root, "CREATE DATABASE "+name)
			t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
			cfg, err := gomysql.ParseDSN(mysqlDSN())
			if err != nil {
				t.Fatal(err)
			}
			cfg.DBName = name
			cfg.MultiStatements = true
			if c.sqlMode != "" {
				cfg.Params = map[string]string{"sql_mode": c.sqlMode}
			}
			dsn := cfg.FormatDSN()
			admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
			mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
			mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
			const q = "SELECT x FROM w WHERE id = 1"
			scalar(t, db, q)
			scalar(t, db, q) // cached
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
				t.Errorf("after %s through cachedsql: cachedsql reads %s, the database 2 (stale)", c.text, got)
			}
		})
	}
}
