package integration_test

// Review S: autocommit settings, connection close, character sets. Each
// test fails on a cached read that the database no longer holds.

import (
	"fmt"
	"testing"
)

// A GBK connection sends GBK bytes; some GBK texts are valid UTF-8 too.
// E4 B8 AD is UTF-8 "中", but GBK reads E4 B8 and AD 5C as two
// characters: the backslash after it is part of a character, and the one
// after that escapes the quote. So in
//
//	SELECT '中\\', '; UPDATE w SET v = 2 WHERE id = 1; -- '
//
// MariaDB (character_set_client gbk) runs the UPDATE, which UTF-8 reads
// inside a string. At 1159639 every text with a high byte was also read as
// GBK; since 5a52764 a valid UTF-8 text is read as UTF-8 only, and the
// UPDATE invalidates nothing.
func TestSMariaDBGBKTextValidUTF8(t *testing.T) {
	admin, _, name := mariaDB(t, "_sgbk")
	mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, v int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
	dsn := mysqlDSNFor(t, name, map[string]string{"charset": "gbk", "multiStatements": "true"})
	db := openCached(t, "mysql", dsn, "namespace="+name+"_gbk")
	const q = "SELECT v FROM w WHERE id = 1"
	text := "SELECT '\xe4\xb8\xad\\\\', '; UPDATE w SET v = 2 WHERE id = 1; -- '"
	staleCheck(t, db, admin, q, text)
}

// PostgreSQL's SELECT ... INTO takes LOCAL TEMP, LOCAL TEMPORARY and
// GLOBAL TEMP[ORARY] too (OptTempTableName): each makes a temporary table
// that hides the schema's table of the same name on that connection. The
// scanner reads a write of a table named "local" (or "global"), not a
// session statement, so the connection keeps caching, and its read of the
// temporary table is served to every other connection.
func TestSPGSelectIntoLocalTemp(t *testing.T) {
	for i, create := range []string{
		"SELECT 1 AS id, 'temp'::text AS name INTO LOCAL TEMP users",
		"SELECT 1 AS id, 'temp'::text AS name INTO LOCAL TEMPORARY TABLE users",
		"SELECT 1 AS id, 'temp'::text AS name INTO GLOBAL TEMPORARY users",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			admin, db := pgDB(t, fmt.Sprintf("_slt%d", i))
			mustExec(t, admin, "CREATE TABLE users (id int PRIMARY KEY, name text)")
			mustExec(t, admin, "INSERT INTO users VALUES (1, 'real'), (2, 'real')")
			const q = "SELECT 'rows:' || count(*)::text FROM users"
			c := conn(t, db)
			mustExec(t, c, create)
			on := scalar(t, c, q) // the temporary table's, cached
			if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
				t.Errorf("%s on one connection (which read %s there): another connection read %s from the cache, the database holds %s", create, on, got, want)
			}
		})
	}
}
