package integration_test

import "testing"

// PostgreSQL ends a -- comment at \r as at \n (scan.l: non_newline is
// [^\n\r]); sqlscan's lexer ended it only at \n, so the table after it was
// not read (review G).
func TestPGDashCommentEndsAtCR(t *testing.T) {
	admin, db := pgDB(t, "_gcr")
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT b.v::text FROM a --c\r, b", "UPDATE b SET v = 2")
}

// UESCAPE after a -- comment that ends at \r: the lookahead past comments
// ran that comment to the end of the text and read the name U&"d!0061ta"
// with escape \ (review G).
func TestPGUescapeAfterCRComment(t *testing.T) {
	admin, db := pgDB(t, "_gue")
	mustExec(t, admin, "CREATE TABLE data (v int)")
	mustExec(t, admin, "INSERT INTO data VALUES (1)")
	staleCheck(t, db, admin, "SELECT v::text FROM U&\"d!0061ta\" --c\rUESCAPE '!'", "UPDATE data SET v = 2")
}

// CREATE TABLE ... AS (SELECT f()) and AS VALUES (f()): the SELECT was not
// at the top level, so the call of f, which runs and writes w, was dropped
// as a definition's and only the new table invalidated (review G).
func TestPGCreateTableAsRunsItsCalls(t *testing.T) {
	admin, db := pgDB(t, "_gct")
	mustExec(t, admin, "CREATE TABLE w (v int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1)")
	mustExec(t, admin, "CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS 'UPDATE w SET v = v + 1 RETURNING v'")
	staleCheck(t, db, admin, "SELECT v::text FROM w", "CREATE TABLE t2 AS (SELECT bump() AS x)")
	staleCheck(t, db, admin, "SELECT v::text FROM w", "CREATE TABLE t3 AS VALUES (bump())")
}
