package integration_test

// Review U: the watch of abandoned MySQL writes (298f0f0), and Close's
// ROLLBACK (e49bd81), on MariaDB.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	gomysql "github.com/go-sql-driver/mysql"
)

// uSetup makes a database with u(id, v) = (1, 1), a cachedsql connector on
// it (namespace = database name unless ns is given) and an admin pool.
func uSetup(t *testing.T, suffix string) (admin *sql.DB, name, dsn string) {
	t.Helper()
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name = runID + suffix
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn = mysqlDSNFor(t, name, nil)
	admin = openDirect(t, "mysql", dsn)
	mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
	mustExec(t, admin, "INSERT INTO u VALUES (1, 1)")
	return admin, name, dsn
}

func uConnector(t *testing.T, dsn, ns string) (*cachedsql.Connector, *sql.DB) {
	t.Helper()
	c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: "mysql", DSN: dsn, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return c, db
}

// invalidationsOfU signals each invalidation of u (or of every table) that
// c makes from now on; signals that find one pending are merged into it.
func invalidationsOfU(t *testing.T, c *cachedsql.Connector) <-chan struct{} {
	ch := make(chan struct{}, 1)
	stop := c.Subscribe(func(e cachedsql.Event) {
		if len(e.Tables) == 0 || slices.Contains(e.Tables, "u") {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	t.Cleanup(stop)
	return ch
}

// readsFreshAfter reads q through r, and again after each invalidation on
// events, until it reads 2, the value an abandoned UPDATE commits; it fails
// when 10 s pass with no invalidation after a read of the old value: the
// row stays cached.
func readsFreshAfter(t *testing.T, events <-chan struct{}, r queryRower, q, what string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		got := scalar(t, r, q)
		if got == "2" {
			return
		}
		select {
		case <-events:
		case <-timeout:
			t.Errorf("%s: cachedsql read %s, no invalidation of u in 10 s, database holds 2", what, got)
			return
		}
	}
}

// lockRow holds row 1 of u in a transaction on its own connection.
func lockRow(t *testing.T, admin *sql.DB) *sql.Conn {
	t.Helper()
	lock := conn(t, admin)
	mustExec(t, lock, "BEGIN")
	mustExec(t, lock, "SELECT v FROM u WHERE id = 1 FOR UPDATE")
	return lock
}

// otherThreads counts the server threads in database name other than the
// asking one, except those running an UPDATE.
func otherThreads(t *testing.T, counter *sql.Conn, name string) int {
	t.Helper()
	var n int
	if err := counter.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND (INFO IS NULL OR INFO NOT LIKE 'UPDATE%')", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A write that fails with its context already ended, while its connection
// stays open: go-sql-driver/mysql returns ctx.Err() without sending anything
// (and without closing the connection) when the context ended before the
// call, e.g. in the gap after database/sql handed over a pooled connection.
// The watch then polls a thread that is alive and idle in the pool, holding
// a server connection and a goroutine for up to an hour (watchLimit), and
// Connector.Close is the only thing that ends it.
func TestUWatchOfALiveConnection(t *testing.T) {
	admin, name, dsn := uSetup(t, "_ulc")
	_, db := uConnector(t, dsn, name)
	counter := conn(t, admin)
	app := conn(t, db)
	if got := scalar(t, app, "SELECT v FROM u WHERE id = 1"); got != "1" {
		t.Fatal(got)
	}
	before := otherThreads(t, counter, name)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := app.Raw(func(dc any) error {
		_, err := dc.(driver.ExecerContext).ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = 1", nil)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("UPDATE with an ended context: %v", err)
	}
	// The connection is alive: the UPDATE never ran.
	if got := scalar(t, app, "SELECT CONNECTION_ID() > 0"); got != "1" {
		t.Fatal(got)
	}
	time.Sleep(1500 * time.Millisecond)
	if extra := otherThreads(t, counter, name) - before; extra > 0 {
		t.Errorf("1.5 s after a write that never left a live connection: %d extra server connections (the watch polls a thread that will not end for up to an hour)", extra)
	}
}

// The watch needs a connection of its own, and a server or account at its
// connection limit (max_user_connections here; max_connections in a lock
// pile-up) refuses it: the watch invalidates at once, while the UPDATE
// still waits, and the row read meanwhile stays cached after it commits.
func TestUWatchRefusedConnectionInvalidatesTooEarly(t *testing.T) {
	admin, name, _ := uSetup(t, "_umu")
	root := openDirect(t, "mysql", mysqlDSN())
	user := name + "_w"
	mustExec(t, root, "CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 2")
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP USER IF EXISTS '"+user+"'@'%'") })
	mustExec(t, root, "GRANT ALL ON "+name+".* TO '"+user+"'@'%'")
	cfg, err := gomysql.ParseDSN(mysqlDSNFor(t, name, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, "pw"
	c, db := uConnector(t, cfg.FormatDSN(), name)
	db.SetMaxOpenConns(2)
	const q = "SELECT v FROM u WHERE id = 1"
	reader := conn(t, db) // the application's other connection
	if got := scalar(t, reader, "SELECT 1"); got != "1" {
		t.Fatal(got)
	}
	lock := lockRow(t, admin)
	defer lock.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = db.ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = 1")
	cancel()
	if err == nil {
		t.Fatal("the UPDATE did not wait for the lock")
	}
	time.Sleep(200 * time.Millisecond) // the watch tries to connect
	if got := scalar(t, reader, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	events := invalidationsOfU(t, c)
	mustExec(t, lock, "COMMIT")
	readsFreshAfter(t, events, reader, q, "after the abandoned UPDATE committed")
}

// After any CALL on MySQL the connection's transaction state is uncertain
// (and stays so until a COMMIT or ROLLBACK), so Close sends ROLLBACK and
// waits for its answer, up to 5 s, on every such connection, one after
// another in DB.Close. Before e49bd81 closing wrote COM_QUIT and returned.
func TestUCloseAfterCallStallsOnSilentNetwork(t *testing.T) {
	admin, name, _ := uSetup(t, "_ucl")
	mustExec(t, admin, "CREATE PROCEDURE bump() UPDATE u SET v = v + 1 WHERE id = 1")
	p, dsn := proxiedMySQL(t, name)
	_, db := uConnector(t, dsn, name)
	const n = 2
	var cs []*sql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("U_CONTROL") == "" {
			mustExec(t, c, "CALL bump()")
		} else {
			mustExec(t, c, "UPDATE u SET v = v + 1 WHERE id = 1")
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.Close() // back to the pool, idle
	}
	p.freeze()
	start := time.Now()
	db.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("DB.Close with %d idle connections that ran a CALL, on a silent network: %v", n, d.Round(100*time.Millisecond))
	}
}

// A CALL sent through Query asks the server for autocommit when its rows
// close (402afe2), on context.Background(): with the network silent after
// the rows were read (a failover, a partition), Rows.Close never returns
// (go-sql-driver/mysql has no read timeout by default). Before 402afe2 the
// rows, already read, closed at once.
func TestUCallRowsCloseHangsOnSilentNetwork(t *testing.T) {
	admin, name, _ := uSetup(t, "_ucr")
	mustExec(t, admin, "CREATE PROCEDURE sel() SELECT v FROM u WHERE id = 1")
	p, dsn := proxiedMySQL(t, name)
	_, db := uConnector(t, dsn, name)
	q := "CALL sel()"
	if os.Getenv("U_CONTROL") != "" {
		q = "DELETE FROM u WHERE id = 99 RETURNING id"
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// Every byte of the answer has arrived (it is small): the network
	// goes silent, and the caller reads the rest from the buffer.
	time.Sleep(100 * time.Millisecond)
	p.freeze()
	done := make(chan error, 1)
	go func() {
		for rows.Next() {
		}
		for rows.NextResultSet() {
			for rows.Next() {
			}
		}
		done <- rows.Close() // database/sql closed them already, after the last Next
	}()
	select {
	case err := <-done:
		t.Logf("Rows.Close: %v", err)
	case <-time.After(3 * time.Second):
		t.Errorf("%s: reading the buffered rows to the end (which closes them) still blocked after 3 s on a silent network", q)
		p.ln.Close()
	}
}

// statementChain (402afe2) sets Chain for SET STATEMENT completion_type = 1
// FOR COMMIT even when the COMMIT says AND NO CHAIN, which wins on the
// server (checked: @@in_transaction is 0 after it), and for XA COMMIT,
// which never chains. tx.go takes Chain over NoChain: a new transaction
// state, as sure as the old one, keeps the autocommitted UPDATE after it
// for a COMMIT that never comes, and the cached row is served.
func TestUSetStatementChainOverridesNoChain(t *testing.T) {
	for i, end := range []struct{ begin, end string }{
		{"BEGIN", "SET STATEMENT completion_type = 1 FOR COMMIT AND NO CHAIN"},
		{"BEGIN", "SET STATEMENT completion_type = 1 FOR ROLLBACK AND NO CHAIN"},
		{"XA START 'ux'", "SET STATEMENT completion_type = 1 FOR XA COMMIT 'ux' ONE PHASE"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			admin, db, _ := mariaDB(t, fmt.Sprintf("_uch%d", i))
			mustExec(t, admin, "CREATE TABLE u (id int PRIMARY KEY, v int) ENGINE=InnoDB")
			mustExec(t, admin, "INSERT INTO u VALUES (1, 1), (2, 1)")
			const q = "SELECT v FROM u WHERE id = 1"
			c := conn(t, db)
			mustExec(t, c, end.begin)
			mustExec(t, c, "UPDATE u SET v = 5 WHERE id = 2")
			if end.begin != "BEGIN" {
				mustExec(t, c, "XA END 'ux'")
			}
			mustExec(t, c, end.end)
			if got := scalar(t, c, "SELECT @@in_transaction"); got != "0" {
				t.Fatalf("in_transaction %s after %s", got, end.end)
			}
			scalar(t, db, q)
			if got := scalar(t, db, q); got != "1" { // cached
				t.Fatal(got)
			}
			mustExec(t, c, "UPDATE u SET v = 2 WHERE id = 1") // autocommits
			if got := scalar(t, admin, q); got != "2" {
				t.Fatalf("database holds %s", got)
			}
			if got := scalar(t, db, q); got != "2" {
				t.Errorf("after %s; UPDATE (autocommitted): cachedsql read %s, database holds 2", end.end, got)
			}
		})
	}
}

// The watch starts only when the caller's context ended. go-sql-driver's
// own readTimeout (a common DSN parameter) abandons a statement the same
// way: the driver returns "invalid connection" (an i/o timeout) and closes
// the connection, the server goes on with the UPDATE, which commits when
// the lock is released, and the row read meanwhile stays cached.
func TestUReadTimeoutAbandonedWriteUnwatched(t *testing.T) {
	admin, name, _ := uSetup(t, "_urt")
	c, db := uConnector(t, mysqlDSNFor(t, name, map[string]string{"readTimeout": "300ms"}), name)
	const q = "SELECT v FROM u WHERE id = 1"
	lock := lockRow(t, admin)
	defer lock.Close()
	_, err := db.ExecContext(context.Background(), "UPDATE u SET v = 2 WHERE id = 1")
	if err == nil {
		t.Fatal("the UPDATE did not wait for the lock")
	}
	t.Logf("UPDATE: %v", err)
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	events := invalidationsOfU(t, c)
	mustExec(t, lock, "COMMIT")
	readsFreshAfter(t, events, db, q, "after the UPDATE abandoned by readTimeout committed")
}
