package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

// mariaDBMulti is a database of its own on MariaDB, as a direct pool and a
// cachedsql one, over connections with multiStatements and the session
// parameters params (charset, sql_mode).
func mariaDBMulti(t *testing.T, suffix string, params map[string]string) (admin, db *sql.DB) {
	t.Helper()
	admin, db, _ = mariaDBWith(t, suffix, func(cfg *gomysql.Config) {
		cfg.MultiStatements = true
		cfg.Params = params
	})
	return admin, db
}

// hiddenWriteCheck caches a read of w, sends text through cachedsql (the
// server runs an UPDATE of w in it that the scanner may not see), and
// fails if the cached read survives the UPDATE.
func hiddenWriteCheck(t *testing.T, admin, db *sql.DB, text string) {
	t.Helper()
	mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
	const q = "SELECT x FROM w WHERE id = 1"
	scalar(t, db, q)
	scalar(t, db, q) // cached
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
		t.Errorf("after %q through cachedsql: cachedsql reads %s, the database 2 (stale)", text, got)
	}
}

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
	for i, c := range []struct {
		params map[string]string
		text   string
	}{
		{nil, "SELECT /*!99999 '*/ 1; UPDATE w SET x = x + 1 WHERE id = 1; SELECT /*!99999 '*/ (1 /*!99999 ) */"},
		{map[string]string{"sql_mode": "'NO_BACKSLASH_ESCAPES'"}, `SELECT 'a\'; UPDATE w SET x = x + 1 WHERE id = 1; SELECT '`},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			admin, db := mariaDBMulti(t, fmt.Sprintf("_badread%d", i), c.params)
			hiddenWriteCheck(t, admin, db, c.text)
		})
	}
}
