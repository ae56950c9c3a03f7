package integration_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestReview2ChainCommitOutsideTx: with completion_type=CHAIN (here from the
// DSN; equally from my.cnf or init_connect, which the Connect probe reads),
// a COMMIT or ROLLBACK sent while no transaction is open starts one on
// MariaDB/MySQL (@@in_transaction becomes 1). afterStatement only looks at
// st.Chain when cn.tx == nil, not at cn.chainCommit, so the connection is
// believed to be in autocommit: the next UPDATE invalidates at once,
// another connection caches the old committed row under the new
// generation, and the COMMIT that really publishes the UPDATE invalidates
// nothing.
func TestReviewFixChainCommitOutsideTx(t *testing.T) {
	s := txServers(t)[1]
	for _, end := range []string{"COMMIT", "ROLLBACK"} {
		t.Run(end, func(t *testing.T) {
			raw, _, tbl, q := txFixture(t, s, "chainout"+end)
			db := openCached(t, s.driver, withParams(s.dsn, "completion_type=1"), "namespace="+runID+"_chainout_"+end)
			scalar(t, db, q)
			c := conn(t, db)
			mustExec(t, c, end) // no transaction open: with CHAIN, one begins
			if got := scalar(t, c, "SELECT @@in_transaction"); got != "1" {
				t.Skipf("server did not chain (@@in_transaction=%s)", got)
			}
			mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl)) // uncommitted
			if got := scalar(t, db, q); got != "1" {                             // another connection: caches 1
				t.Fatalf("other connection read %s, want the committed 1", got)
			}
			mustExec(t, c, "COMMIT")
			if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
				t.Errorf("after COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
			}
		})
	}
}

// TestReview2SetGlobalThenBareAtAt: MySQL/MariaDB apply a preceding GLOBAL
// keyword only to later assignments with no modifier; @@name is itself a
// (session) modifier. setVars treats "@@autocommit" after GLOBAL as global
// and misses that autocommit went off.
func TestReviewFixSetGlobalThenBareAtAt(t *testing.T) {
	s := txServers(t)[1]
	raw, db, tbl, q := txFixture(t, s, "globalatat")
	c := conn(t, db)
	// Sets the global to its own value (harmless), and the session's autocommit to 0.
	mustExec(t, c, "SET GLOBAL max_connections = @@global.max_connections, @@autocommit = 0")
	if got := scalar(t, c, "SELECT @@session.autocommit"); got != "0" {
		t.Skipf("server kept autocommit=%s", got)
	}
	mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl)) // uncommitted
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("other connection read %s, want the committed 1", got)
	}
	mustExec(t, c, "COMMIT")
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
	}
}

// TestReviewFixQueryRowSQLiteLaterRowError: SQLite computes rows lazily; a
// QueryRow whose second row would fail (abs of the smallest int64 is an
// integer overflow) succeeds unwrapped. cachedsql's leader reads ahead and
// hits the error; overflowRows.Close reported it and Row.Scan failed. Also
// for go-sqlite3 registered under another name (the README's ConnectHook
// pattern), which DialectOf does not know as SQLite.
func TestReviewFixQueryRowSQLiteLaterRowError(t *testing.T) {
	for _, name := range []string{"sqlite3", "sqlite3_mend_custom"} {
		t.Run(name, func(t *testing.T) {
			dsn := "file:" + filepath.Join(t.TempDir(), "e.db")
			raw := openDirect(t, name, dsn)
			mustExec(t, raw, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
			mustExec(t, raw, "INSERT INTO t VALUES (1, -5), (2, -9223372036854775808)")
			q := "SELECT abs(v) FROM t ORDER BY id"
			var want int64
			if err := raw.QueryRow(q).Scan(&want); err != nil {
				t.Fatalf("unwrapped QueryRow: %v", err)
			}
			db := openCached(t, name, dsn, "namespace="+runID+"_sqlerr"+name)
			var got int64
			err := db.QueryRowContext(context.Background(), q).Scan(&got)
			if err != nil || got != want {
				t.Errorf("through cachedsql QueryRow = %d, %v; unwrapped %d, nil", got, err, want)
			}
		})
	}
}

// TestReview2SetStatementForUpdate: MariaDB's SET STATEMENT var=value FOR
// <statement> runs the statement; sqlscan's SET branch reports Session with
// no write set, so the UPDATE invalidates nothing.
func TestReviewFixSetStatementForUpdate(t *testing.T) {
	s := txServers(t)[1]
	raw, db, tbl, q := txFixture(t, s, "setstmt")
	c := conn(t, db) // held: the read below runs on another connection
	mustExec(t, c, fmt.Sprintf("SET STATEMENT max_statement_time=10 FOR UPDATE %s SET v = 2 WHERE id = 1", tbl))
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after SET STATEMENT ... FOR UPDATE: cachedsql reads %s, the database %s (stale)", got, want)
	}
}

// TestReview2SetAutocommitUnreadableValue: SET autocommit = ? (or = @saved,
// = IF(...)) gives setVars no value; unsure() marks only the current state
// uncertain and leaves manualCommit false. The first COMMIT ends that state
// (cn.tx = nil), but the server still has autocommit off: the next
// transaction's UPDATE invalidates before it commits and its COMMIT
// invalidates nothing.
func TestReviewFixSetAutocommitUnreadableValue(t *testing.T) {
	s := txServers(t)[1]
	raw, db, tbl, q := txFixture(t, s, "acparam")
	c := conn(t, db)
	if _, err := c.ExecContext(context.Background(), "SET autocommit = ?", 0); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl))
	mustExec(t, c, "COMMIT")
	if got := scalar(t, db, q); got != "2" {
		t.Fatalf("after the first COMMIT another connection reads %s, want 2", got)
	}
	mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 3 WHERE id = 1", tbl)) // uncommitted: autocommit is still off
	if got := scalar(t, db, q); got != "2" {
		t.Fatalf("other connection read %s, want the committed 2", got)
	}
	mustExec(t, c, "COMMIT")
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after the second COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
	}
}

// TestReviewFixWriteThenAutocommitOffInOneText: "UPDATE ...; SET
// autocommit=0" in one text ran the UPDATE autocommitted, but cachedsql
// held its invalidation for a COMMIT that never comes.
func TestReviewFixWriteThenAutocommitOffInOneText(t *testing.T) {
	s := txServers(t)[1]
	s.dsn = withParams(s.dsn, "multiStatements=true")
	raw, db, tbl, q := txFixture(t, s, "acmulti")
	c := conn(t, db)
	mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1; SET autocommit = 0", tbl))
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after the text: cachedsql reads %s, the database %s (stale)", got, want)
	}
	mustExec(t, c, "SET autocommit = 1")
}
