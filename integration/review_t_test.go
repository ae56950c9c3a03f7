package integration_test

// Review of the transaction, prepared-statement and session paths: each
// test writes through cachedsql and reads through cachedsql, and a failure
// is a read served from the cache that the database no longer holds.

import (
	"fmt"
	"testing"
)

// MariaDB (and MySQL) accept a system variable's name quoted with
// backquotes: SET `autocommit` = 0 turns autocommit off as SET autocommit
// = 0 does. cachedsql does not see the assignment, so the UPDATE that
// follows invalidates at once, before it commits; another connection
// then caches the old row under the new generation, and the COMMIT
// invalidates nothing.
func TestTMariaDBQuotedAutocommit(t *testing.T) {
	for i, set := range []string{
		"SET `autocommit` = 0",
		"SET SESSION `autocommit` = 0",
		"SET @@session.`autocommit` = 0",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			admin, db, _ := mariaDB(t, fmt.Sprintf("_tqa%d", i))
			mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
			mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
			const q = "SELECT v FROM u WHERE id = 1"
			c := conn(t, db)
			mustExec(t, c, set)
			mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
			// Another connection reads while the UPDATE is not committed
			// (c is held: database/sql gives the reads another one).
			scalar(t, db, q)
			scalar(t, db, q)
			mustExec(t, c, "COMMIT")
			if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
				t.Errorf("after %s; UPDATE; COMMIT: cachedsql read %s, database holds %s", set, got, want)
			}
		})
	}
}

// The same with completion_type: SET `completion_type` = 1 (CHAIN) makes
// every COMMIT begin a new transaction, which cachedsql does not know of.
func TestTMariaDBQuotedCompletionType(t *testing.T) {
	admin, db, _ := mariaDB(t, "_tqc")
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	const q = "SELECT v FROM u WHERE id = 1"
	c := conn(t, db)
	mustExec(t, c, "SET `completion_type` = 1")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "COMMIT") // chains: a new transaction is open
	mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, c, "COMMIT")
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after SET `completion_type` = 1; BEGIN; COMMIT; UPDATE; COMMIT: cachedsql read %s, database holds %s", got, want)
	}
}
