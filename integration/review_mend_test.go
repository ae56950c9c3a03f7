package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/mattn/go-sqlite3"
)

func init() {
	// The pattern go-sqlite3's README shows for ConnectHook / custom functions.
	sql.Register("sqlite3_mend_custom", &sqlite3.SQLiteDriver{})
}

// TestMendAutocommitOnFromVariableInQueryText: autocommit off, a tracked
// UPDATE, then "SET autocommit = @on; SELECT 1" through Query. Turning
// autocommit on commits the UPDATE. setVars cannot read @on and calls
// unsure(), which keeps the tracked tables without flushing them; readTxVars
// then runs while the SELECT's rows are unread, go-sql-driver refuses
// (busy buffer), and nothing ever flushes the UPDATE: no COMMIT is coming.
func TestMendAutocommitOnFromVariableInQueryText(t *testing.T) {
	s := txServers(t)[1]
	s.dsn = withParams(s.dsn, "multiStatements=true")
	raw, db, tbl, q := txFixture(t, s, "acqtext")
	scalar(t, db, q) // cached: 1
	c := conn(t, db)
	mustExec(t, c, "SET @on = 1")
	mustExec(t, c, "SET autocommit = 0")
	mustExec(t, c, "UPDATE "+tbl+" SET v = 2 WHERE id = 1")
	rows, err := c.QueryContext(context.Background(), "SET autocommit = @on; SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if got := scalar(t, raw, "SELECT @@autocommit"); got == "" {
		t.Fatal("no server")
	}
	if got, want := scalar(t, db, q), scalar(t, raw, q); got != want {
		t.Errorf("after SET autocommit = @on committed the UPDATE: cachedsql reads %s, the database %s (stale)", got, want)
	}
}

// TestMendReadTxVarsBreaksOpenRows: "SET autocommit = @v; SELECT ..." through
// Query. afterStatement (from writeQuery, before the caller has read the
// rows) runs readTxVars on the same go-sql-driver connection while the
// SELECT's rows are still on the wire: the driver writes its query, reads
// the pending result's packets as the answer, and closes the connection.
func TestMendReadTxVarsBreaksOpenRows(t *testing.T) {
	s := txServers(t)[1]
	s.dsn = withParams(s.dsn, "multiStatements=true")
	for _, cached := range []bool{false, true} {
		raw, db, tbl, _ := txFixture(t, s, fmt.Sprintf("acbreak%v", cached))
		h := raw
		if cached {
			h = db
		}
		c := conn(t, h)
		mustExec(t, c, "SET @v = 1")
		rows, err := c.QueryContext(context.Background(), "SET autocommit = @v; SELECT id FROM "+tbl)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rerr := rows.Err()
		rows.Close()
		_, perr := c.ExecContext(context.Background(), "DO 1")
		t.Logf("cached=%v: rows=%d rows.Err=%v next statement=%v", cached, n, rerr, perr)
		if n != 1 || rerr != nil || perr != nil {
			t.Errorf("cached=%v: read %d rows (want 1), rows.Err %v, the connection's next statement %v", cached, n, rerr, perr)
		}
	}
}
