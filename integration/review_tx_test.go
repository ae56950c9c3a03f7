package integration_test

// Adversarial review: transactions and session state. Each test fails on the
// code as reviewed.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// txServer is one real database for the transaction tests.
type txServer struct {
	name, driver, dsn string
	require           func(testing.TB)
}

func txServers(t *testing.T) []txServer {
	return []txServer{
		{"postgres", "pgx", pgURL(), requirePG},
		{"mariadb", "mysql", mysqlDSN(), requireMySQL},
		{"sqlite", "sqlite3", "file:" + filepath.Join(t.TempDir(), "tx.db") + "?_busy_timeout=5000", func(testing.TB) {}},
	}
}

// txFixture makes a table (id 1, v 1) and returns the raw and cached handles
// and the read query; the cached read is warmed (a hit).
func txFixture(t *testing.T, s txServer, suffix string) (raw, db *sql.DB, tbl, q string) {
	t.Helper()
	s.require(t)
	raw = openDirect(t, s.driver, s.dsn)
	tbl = runID + "_tx_" + suffix
	mustExec(t, raw, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL)", tbl))
	t.Cleanup(func() { raw.Exec("DROP TABLE IF EXISTS " + tbl) })
	mustExec(t, raw, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	db = openCached(t, s.driver, s.dsn, "namespace="+runID+"_"+s.name+"_"+suffix)
	q = fmt.Sprintf("SELECT v FROM %s WHERE id = 1", tbl)
	scalar(t, db, q)
	scalar(t, db, q)
	return raw, db, tbl, q
}

// TestReviewTxCommitAndChain: COMMIT AND CHAIN (and ROLLBACK AND CHAIN)
// commits and at once opens a new transaction with the same characteristics.
// sqlscan reports it as a plain Commit and afterStatement ends the SQL
// transaction state (cn.tx = nil): the chained transaction's writes then
// invalidate before they are committed, its reads are cached and served to
// other connections (uncommitted rows), and the COMMIT that really ends it
// invalidates nothing.
func TestReviewTxCommitAndChain(t *testing.T) {
	for _, s := range txServers(t)[:2] { // SQLite has no AND CHAIN
		t.Run(s.name+"/old row cached before the chained commit", func(t *testing.T) {
			raw, db, tbl, q := txFixture(t, s, "chain1")
			c := conn(t, db)
			mustExec(t, c, "BEGIN")
			mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl))
			mustExec(t, c, "COMMIT AND CHAIN")
			mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 3 WHERE id = 1", tbl)) // uncommitted
			if got := scalar(t, db, q); got != "2" {                             // another connection
				t.Fatalf("other connection read %s, want the committed 2", got)
			}
			mustExec(t, c, "COMMIT")
			want := scalar(t, raw, q)
			if got := scalar(t, db, q); got != want {
				t.Errorf("after COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
			}
		})
		t.Run(s.name+"/uncommitted row of the chained tx served to others", func(t *testing.T) {
			raw, db, tbl, q := txFixture(t, s, "chain2")
			c := conn(t, db)
			mustExec(t, c, "BEGIN")
			mustExec(t, c, "COMMIT AND CHAIN")
			mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 9 WHERE id = 1", tbl)) // uncommitted
			if got := scalar(t, c, q); got != "9" {                              // its own write, then cached
				t.Fatalf("the transaction read %s, want its own 9", got)
			}
			if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
				t.Errorf("while the chained tx is open: another connection reads %s through cachedsql, %s from the database (a dirty read)", got, want)
			}
			mustExec(t, c, "ROLLBACK")
			if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
				t.Errorf("after ROLLBACK: cachedsql reads %s, the database %s (a rolled-back row)", got, want)
			}
		})
	}
}

// TestReviewTxSQLCommitInsideDriverTx: "COMMIT" sent through tx.Exec ends
// the database's transaction; what follows on that connection autocommits.
// endSQLTx keeps a fresh (not uncertain) txState for a driver transaction,
// so a later write is only recorded for tx.Commit/Rollback, and
// tx.Rollback (which invalidates nothing) leaves the committed write
// uninvalidated: the old row stays cached.
func TestReviewTxSQLCommitInsideDriverTx(t *testing.T) {
	for _, s := range txServers(t) {
		t.Run(s.name, func(t *testing.T) {
			raw, db, tbl, q := txFixture(t, s, "drvcommit")
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, tx, "COMMIT")
			mustExec(t, tx, fmt.Sprintf("UPDATE %s SET v = 5 WHERE id = 1", tbl)) // autocommitted
			if err := tx.Rollback(); err != nil {
				t.Logf("tx.Rollback: %v (the database has no transaction open)", err)
			}
			want := scalar(t, raw, q)
			if got := scalar(t, db, q); got != want {
				t.Errorf("cachedsql reads %s, the database %s (stale: the autocommitted UPDATE was never invalidated)", got, want)
			}
		})
	}
}

// TestReviewTxMariaDBHiddenTransactions: transactions cachedsql does not see
// open. XA START is Unknown to sqlscan (invalidate everything, no tx state),
// so the XA transaction's reads are cached and served to other connections
// before it commits or rolls back. SET completion_type = CHAIN makes every
// COMMIT a COMMIT AND CHAIN. A procedure may START TRANSACTION and leave it
// open after CALL returns. go-sql-driver/mysql's DSN parameter autocommit=0
// opens every connection with autocommit off (cachedsql only sees SET
// autocommit sent as SQL).
func TestReviewTxMariaDBHiddenTransactions(t *testing.T) {
	s := txServers(t)[1]
	t.Run("XA START: uncommitted row served to others", func(t *testing.T) {
		raw, db, tbl, q := txFixture(t, s, "xa")
		c := conn(t, db)
		mustExec(t, c, "XA START 'rv1'")
		mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 9 WHERE id = 1", tbl))
		scalar(t, c, q) // the XA transaction reads its own row: cached
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("while XA transaction is open: another connection reads %s through cachedsql, %s from the database (a dirty read)", got, want)
		}
		mustExec(t, c, "XA END 'rv1'")
		mustExec(t, c, "XA ROLLBACK 'rv1'")
	})
	t.Run("completion_type CHAIN", func(t *testing.T) {
		raw, db, tbl, q := txFixture(t, s, "ctype")
		c := conn(t, db)
		mustExec(t, c, "SET SESSION completion_type = 'CHAIN'")
		mustExec(t, c, "BEGIN")
		mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl))
		mustExec(t, c, "COMMIT") // and chain
		mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 3 WHERE id = 1", tbl))
		if got := scalar(t, db, q); got != "2" {
			t.Fatalf("other connection read %s, want the committed 2", got)
		}
		mustExec(t, c, "COMMIT")
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("after the second COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
		}
	})
	t.Run("CALL leaves a transaction open", func(t *testing.T) {
		raw, db, tbl, q := txFixture(t, s, "proc")
		proc := tbl + "_p"
		mustExec(t, raw, fmt.Sprintf("CREATE PROCEDURE %s() BEGIN START TRANSACTION; UPDATE %s SET v = 7 WHERE id = 1; END", proc, tbl))
		t.Cleanup(func() { raw.Exec("DROP PROCEDURE IF EXISTS " + proc) })
		c := conn(t, db)
		mustExec(t, c, "CALL "+proc+"()")
		if got := scalar(t, db, q); got != "1" {
			t.Fatalf("other connection read %s, want the committed 1", got)
		}
		mustExec(t, c, "COMMIT")
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("after COMMIT: cachedsql reads %s, the database %s (stale)", got, want)
		}
	})
	t.Run("DSN autocommit=0", func(t *testing.T) {
		raw, _, tbl, q := txFixture(t, s, "dsnac")
		db := openCached(t, s.driver, withParams(s.dsn, "autocommit=0"), "namespace="+runID+"_dsnac2")
		c := conn(t, db)
		mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 4 WHERE id = 1", tbl)) // uncommitted
		scalar(t, c, q)                                                      // its own row: cached
		mustExec(t, c, "ROLLBACK")
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("after ROLLBACK: cachedsql reads %s, the database %s (a rolled-back row)", got, want)
		}
	})
	t.Run("SET of a string that mentions autocommit", func(t *testing.T) {
		raw, db, tbl, q := txFixture(t, s, "acstr")
		c := conn(t, db)
		mustExec(t, c, "SET @note = 'autocommit=0 is for batch jobs'")       // autocommit stays on
		mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 5 WHERE id = 1", tbl)) // committed now
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("after an autocommitted UPDATE: cachedsql reads %s, the database %s (stale)", got, want)
		}
	})
	t.Run("RESET commits implicitly inside a driver tx", func(t *testing.T) {
		raw, db, tbl, q := txFixture(t, s, "reset")
		c := conn(t, db) // held, so that the reads below run on other connections
		tx, err := c.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, fmt.Sprintf("UPDATE %s SET v = 6 WHERE id = 1", tbl))
		mustExec(t, tx, "RESET QUERY CACHE") // MariaDB commits the UPDATE first
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		t.Logf("database after Rollback: %s", scalar(t, raw, q))
		if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
			t.Errorf("after Rollback: cachedsql reads %s, the database %s (stale)", got, want)
		}
	})
}

// TestReviewTxCommitBeginInOneText: "COMMIT; BEGIN" sent as one text inside
// a SQL transaction commits the writes made so far. afterStatement sees
// TxControl, marks the state uncertain and advances only this text's own
// write set (none): the tables the committed transaction wrote stay pending
// until the next COMMIT or ROLLBACK, and other connections keep reading the
// old rows from the cache meanwhile.
func TestReviewTxCommitBeginInOneText(t *testing.T) {
	for _, s := range txServers(t) {
		if s.name == "mariadb" {
			s.dsn = withParams(s.dsn, "multiStatements=true")
		}
		t.Run(s.name, func(t *testing.T) {
			raw, db, tbl, q := txFixture(t, s, "cb")
			c := conn(t, db)
			mustExec(t, c, "BEGIN")
			mustExec(t, c, fmt.Sprintf("UPDATE %s SET v = 8 WHERE id = 1", tbl))
			mustExec(t, c, "COMMIT; BEGIN")
			if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
				t.Errorf("after COMMIT; BEGIN: cachedsql reads %s, the database %s (stale)", got, want)
			}
			mustExec(t, c, "COMMIT")
		})
	}
}

// TestReviewTxMariaDBNonTransactionalTable: a write to a MyISAM (or Aria,
// MEMORY) table inside a transaction is visible to every connection at once
// and survives ROLLBACK (warning 1196). cachedsql held the invalidation for
// Commit and dropped it on Rollback: other connections read the old row
// from the cache forever after the rollback. It now invalidates after a
// MySQL rollback too; during the transaction other connections may still
// read the old row (the README says so), which this test logs.
// It also rolls back to a savepoint, which must not forget the write.
func TestReviewTxMariaDBNonTransactionalTable(t *testing.T) {
	s := txServers(t)[1]
	s.require(t)
	raw := openDirect(t, s.driver, s.dsn)
	tbl := runID + "_tx_myisam"
	mustExec(t, raw, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL) ENGINE=MyISAM", tbl))
	t.Cleanup(func() { raw.Exec("DROP TABLE IF EXISTS " + tbl) })
	mustExec(t, raw, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	db := openCached(t, s.driver, s.dsn, "namespace="+runID+"_myisam")
	q := fmt.Sprintf("SELECT v FROM %s WHERE id = 1", tbl)
	scalar(t, db, q)
	c := conn(t, db)
	tx, err := c.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "SAVEPOINT sp")
	mustExec(t, tx, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl))
	mustExec(t, tx, "ROLLBACK TO SAVEPOINT sp")
	t.Logf("during the transaction: cachedsql reads %s, the database %s", scalar(t, db, q), scalar(t, raw, q))
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after Rollback: cachedsql reads %s, the database %s (stale)", got, want)
	}
}

// TestReviewTxMariaDBCompoundStatement: MariaDB runs BEGIN NOT ATOMIC ... END
// as one anonymous compound statement (no transaction is opened; the
// statements inside autocommit). sqlscan reads "BEGIN NOT" as a transaction
// BEGIN and the text as transaction control only, so the UPDATE inside it
// invalidates nothing.
func TestReviewTxMariaDBCompoundStatement(t *testing.T) {
	s := txServers(t)[1]
	raw, db, tbl, q := txFixture(t, s, "compound")
	c := conn(t, db)
	mustExec(t, c, fmt.Sprintf("BEGIN NOT ATOMIC UPDATE %s SET v = 2 WHERE id = 1; END", tbl))
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after the compound statement: cachedsql reads %s, the database %s (stale)", got, want)
	}
}
