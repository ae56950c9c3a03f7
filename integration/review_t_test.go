package integration_test

// Review of the transaction, prepared-statement and session paths: each
// test writes through cachedsql and reads through cachedsql, and a failure
// is a read served from the cache that the database no longer holds.

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
)

// MariaDB (and MySQL) accept a system variable's name quoted with
// backquotes: SET `autocommit` = 0 turns autocommit off as SET autocommit
// = 0 does. cachedsql does not see the assignment, so the UPDATE that
// follows invalidates at once, before it commits; another connection
// then caches the old row under the new generation, and the COMMIT
// invalidates nothing.
func TestTMariaDBQuotedAutocommit(t *testing.T) {
	eachAutocommitOff(t, "_tqa", []string{
		"SET `autocommit` = 0",
		"SET SESSION `autocommit` = 0",
		"SET @@session.`autocommit` = 0",
	})
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

// With MySQL, a transaction's writes to a MyISAM (or Aria, MEMORY) table
// stay when it rolls back, so cachedsql invalidates the tables a MySQL
// transaction wrote at its end, whichever end. A connection closed with
// the transaction open ends it too (the server rolls back what it can),
// but cachedsql's conn.Close drops the state without invalidating: the
// MyISAM write is never invalidated.
func TestTMariaDBMyISAMTxClosedConn(t *testing.T) {
	admin, db, _ := mariaDB(t, "_tmc")
	mustExec(t, admin, "CREATE TABLE m (id int PRIMARY KEY, v int) ENGINE=MyISAM")
	mustExec(t, admin, "INSERT INTO m VALUES (1, 1)")
	const q = "SELECT v FROM m WHERE id = 1"
	scalar(t, db, q)
	scalar(t, db, q)      // cached: 1
	db.SetMaxIdleConns(0) // a connection given back is closed
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "UPDATE m SET v = 2 WHERE id = 1") // MyISAM: in at once
	c.Close()                                         // closes the connection, the transaction with it
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after BEGIN; UPDATE myisam; connection closed: cachedsql read %s, database holds %s", got, want)
	}
}

// A temporary relation hides a table of the same name on its connection
// (pg_temp comes first in every search_path). Two ways to make one that
// the scanner does not read as a session statement: EXPLAIN ANALYZE runs
// the CREATE TABLE AS it explains, and a sequence made in pg_temp. The
// connection keeps caching, and its read of the temporary relation is
// served to every other connection.
func TestTPGTempRelationNotSession(t *testing.T) {
	for i, create := range []string{
		"EXPLAIN ANALYZE CREATE TEMP TABLE users AS SELECT 1 AS id, 'temp'::text AS name",
		"CREATE SEQUENCE pg_temp.users",
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pgTempHidesUsers(t, fmt.Sprintf("_ttr%d", i), create)
		})
	}
}

// The same loss with InnoDB: a pool whose DSN sets READ UNCOMMITTED (the
// README's advice: session settings belong in the DSN) reads, and caches,
// rows of a transaction that is still open. cachedsql invalidates a MySQL
// transaction's tables after a rollback for that kind of reason, but not
// when the transaction ends with its connection: the rolled-back row stays
// in the cache.
func TestTMariaDBReadUncommittedTxClosedConn(t *testing.T) {
	admin, _, name := mariaDB(t, "_tru")
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	db, c := readUncommitted(t, name)
	const q = "SELECT v FROM u WHERE id = 1"
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1")
	if got := scalar(t, db, q); got != "2" { // another connection, uncommitted row: cached
		t.Fatalf("READ UNCOMMITTED read %s, want 2", got)
	}
	c.Close() // the server rolls back
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("after BEGIN; UPDATE; connection closed (rolled back): cachedsql read %s, database holds %s", got, want)
	}
}

// go-sql-driver/mysql gives up on a statement whose context ends by
// closing its connection, and the server goes on with it: an UPDATE
// waiting for a lock commits when the lock is released, after cachedsql
// invalidated, and a read in between was cached until its TTL (review T).
// The server thread is now watched, and the tables are invalidated again
// once it has ended: the test waits for that invalidation, then reads.
func TestTMariaDBCancelledWriteCommitsLater(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_tcw"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, nil)
	admin := openDirect(t, "mysql", dsn)
	c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: "mysql", DSN: dsn, Namespace: name})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	const q = "SELECT v FROM u WHERE id = 1"
	ctx := context.Background()
	lock, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	mustExec(t, lock, "BEGIN")
	mustExec(t, lock, "SELECT v FROM u WHERE id = 1 FOR UPDATE") // holds the row
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = db.ExecContext(wctx, "UPDATE u SET v = 2 WHERE id = 1")
	cancel()
	if err == nil {
		t.Fatal("the UPDATE did not wait for the lock")
	}
	// Invalidated; the UPDATE still waits on the server: the old row is read and cached.
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	events := invalidationsOfU(t, c)
	mustExec(t, lock, "COMMIT") // the UPDATE goes on, and commits
	readsFreshAfter(t, events, db, q, "after a cancelled UPDATE the server committed later")
}

// readUncommitted is a cachedsql pool on database name whose connections
// read uncommitted rows and are closed when given back, and one connection
// of it.
func readUncommitted(t *testing.T, name string) (*sql.DB, *sql.Conn) {
	t.Helper()
	dsn := mysqlDSNFor(t, name, map[string]string{"tx_isolation": "'READ-UNCOMMITTED'"})
	db := openCached(t, "mysql", dsn, "namespace="+name+"_ru")
	db.SetMaxIdleConns(0) // a connection given back is closed
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return db, c
}
