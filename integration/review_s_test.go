package integration_test

// Review S: autocommit settings, connection close, character sets. Each
// test fails on a cached read that the database no longer holds.

import (
	"fmt"
	"testing"
	"time"
)

// autocommitOffCheck runs the statements set on one connection of a new
// database, which must leave autocommit off, then (with commitFirst) a
// COMMIT, then an UPDATE and a COMMIT, with another connection reading
// the row twice in between: a read after the COMMIT that the cache
// answers with the old row fails.
func autocommitOffCheck(t *testing.T, suffix string, set []string, commitFirst bool) {
	t.Helper()
	admin, db, _ := mariaDB(t, suffix)
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	const q = "SELECT v FROM u WHERE id = 1"
	c := conn(t, db)
	for _, s := range set {
		mustExec(t, c, s)
	}
	if got := scalar(t, c, "SELECT @@autocommit"); got != "0" {
		t.Fatalf("%v: autocommit is %s", set, got)
	}
	if commitFirst {
		mustExec(t, c, "COMMIT")
	}
	mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
	scalar(t, db, q) // another connection: the committed row, cached
	scalar(t, db, q)
	mustExec(t, c, "COMMIT")
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after %v; UPDATE; COMMIT: cachedsql read %s, database holds %s", set, got, want)
	}
}

// MariaDB takes @@session.autocommit with blanks or a comment around the
// dot, and with the name quoted as a string: every one of these turns
// autocommit off. The scanner records no assignment for them (not even an
// unnamed one that would make the connection ask the server), so the
// UPDATE that follows invalidates at once, before it commits; another
// connection caches the old row under the new generation, and the COMMIT
// invalidates nothing.
func TestSMariaDBSpacedSessionAutocommit(t *testing.T) {
	eachAutocommitOff(t, "_ssa", []string{
		"SET @@session .autocommit = 0",
		"SET @@session . autocommit = 0",
		"SET @@session/**/.autocommit = 0",
		"SET @@session.'autocommit' = 0",
		"SET @@local . autocommit = 0",
	})
}

// eachAutocommitOff runs autocommitOffCheck for each of sets, a subtest
// and a database each (suffix and its index).
func eachAutocommitOff(t *testing.T, suffix string, sets []string) {
	for i, set := range sets {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			autocommitOffCheck(t, fmt.Sprintf("%s%d", suffix, i), []string{set}, false)
		})
	}
}

// A prepared SET (PREPARE s FROM 'SET autocommit = 0'; EXECUTE s), or a
// procedure that runs one (CALL p()), turns autocommit off too. EXECUTE and
// CALL are opaque, so the state is uncertain until
// the next COMMIT; but cachedsql never learns that autocommit is off, so
// from the second transaction on an UPDATE invalidates at once and its
// COMMIT invalidates nothing.
func TestSMariaDBPreparedSetAutocommit(t *testing.T) {
	for i, set := range [][]string{
		{"PREPARE s FROM 'SET autocommit = 0'", "EXECUTE s"},
		{"CREATE PROCEDURE p() SET autocommit = 0", "CALL p()"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			// The COMMIT first ends the state the opaque statement left uncertain.
			autocommitOffCheck(t, fmt.Sprintf("_spa%d", i), set, true)
		})
	}
}

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

// A connection closed inside a transaction: the server rolls back after
// go-sql-driver/mysql has sent COM_QUIT and closed its socket, and a large
// rollback takes time. cachedsql invalidates right after inner.Close
// returns, so a READ UNCOMMITTED reader can still see, and cache, the
// rolled-back row after the invalidation.
func TestSMariaDBReadUncommittedCloseRace(t *testing.T) {
	admin, _, name := mariaDB(t, "_scr")
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	mustExec(t, admin, "CREATE TABLE big (id int PRIMARY KEY, pad varchar(200)) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000")
	db, c := readUncommitted(t, name)
	const q = "SELECT v FROM u WHERE id = 1"
	mustExec(t, c, "BEGIN")
	// u first: InnoDB undoes the last change first, so u's row is put
	// back only at the end of the long rollback of big.
	mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
	mustExec(t, c, "UPDATE big SET pad = REPEAT('y', 200)")
	c.Close() // the server rolls back, slowly; cachedsql invalidates now
	first := scalar(t, db, q)
	// Wait for the rollback to end: a direct READ UNCOMMITTED connection
	// reads the old row again.
	direct := openDirect(t, "mysql", mysqlDSNFor(t, name, map[string]string{"tx_isolation": "'READ-UNCOMMITTED'"}))
	start := time.Now()
	for scalar(t, direct, q) != "1" {
		if time.Since(start) > 120*time.Second {
			t.Fatal("rollback did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("rollback ended %v after Close", time.Since(start))
	if got, want := scalar(t, db, q), scalar(t, direct, q); got != want {
		t.Errorf("after BEGIN; UPDATE; connection closed (rolled back): cachedsql read %s (first read after Close: %s), database holds %s", got, first, want)
	}
}

// MariaDB's SET STATEMENT completion_type = 1 FOR COMMIT commits and
// chains: a new transaction is open at once (@@in_transaction is 1). The
// scanner reads a plain COMMIT (no Chain), so cachedsql ends the state; the
// UPDATE that follows invalidates at once, before it commits, and its
// COMMIT invalidates nothing.
func TestSMariaDBSetStatementChain(t *testing.T) {
	for i, commit := range []string{
		"SET STATEMENT completion_type = 1 FOR COMMIT",
		"SET STATEMENT completion_type = 'CHAIN' FOR ROLLBACK",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			admin, db, _ := mariaDB(t, fmt.Sprintf("_sst%d", i))
			mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
			mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
			const q = "SELECT v FROM u WHERE id = 1"
			c := conn(t, db)
			mustExec(t, c, "BEGIN")
			mustExec(t, c, commit)
			if got := scalar(t, c, "SELECT @@in_transaction"); got != "1" {
				t.Fatalf("%s: in_transaction %s", commit, got)
			}
			mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
			scalar(t, db, q)
			scalar(t, db, q)
			mustExec(t, c, "COMMIT")
			if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
				t.Errorf("after BEGIN; %s; UPDATE; COMMIT: cachedsql read %s, database holds %s", commit, got, want)
			}
		})
	}
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
			pgTempHidesUsers(t, fmt.Sprintf("_slt%d", i), create)
		})
	}
}

// pgTempHidesUsers runs create, which makes a temporary relation users, on
// one connection of a new schema whose table users has two rows, reads
// users there, and wants another connection to read the table's rows, not
// the temporary relation's from the cache.
func pgTempHidesUsers(t *testing.T, suffix, create string) {
	t.Helper()
	admin, db := pgDB(t, suffix)
	mustExec(t, admin, "CREATE TABLE users (id int PRIMARY KEY, name text)")
	mustExec(t, admin, "INSERT INTO users VALUES (1, 'real'), (2, 'real')")
	const q = "SELECT 'rows:' || count(*)::text FROM users"
	c := conn(t, db)
	mustExec(t, c, create)
	on := scalar(t, c, q) // the temporary relation's, cached
	// c is held: this read runs on another connection, where users is the
	// schema's table.
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%s on one connection (which read %s there): another connection read %s from the cache, the database holds %s", create, on, got, want)
	}
}
