package cachedsql

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// BEGIN; UPDATE t; CALL p(): the transaction is known to be open, with a
// write in it; the CALL only makes its state "uncertain". Close used to
// send ROLLBACK first (so that a READ UNCOMMITTED reader could not cache
// the rows the server is still rolling back after the flush); since
// ba2a426 it does not.
func TestVCloseRollsBackTxAfterCall(t *testing.T) {
	d := fakedb.New(fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.Canned(txVarsQuery, fakedb.ResultSet{
		Columns: []fakedb.Column{{Name: "@@autocommit"}, {Name: "@@completion_type"}, {Name: "CONNECTION_ID()"}},
		Rows:    [][]driver.Value{{int64(1), "NO_CHAIN", int64(7)}},
	})
	for _, q := range []string{"BEGIN", "UPDATE t SET a = 1", "CALL p()", "ROLLBACK"} {
		d.Canned(q, fakedb.ResultSet{})
	}
	c, err := NewConnector(Config{DriverName: "mysql", Driver: d.AsDriver(), DSN: "x", Namespace: "review-v-close"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dc, err := c.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ex := dc.(driver.ExecerContext)
	for _, q := range []string{"BEGIN", "UPDATE t SET a = 1", "CALL p()"} {
		if _, err := ex.ExecContext(context.Background(), q, nil); err != nil {
			t.Fatal(q, err)
		}
	}
	dc.Close()
	if n := d.ExecCount("ROLLBACK"); n != 1 {
		t.Errorf("Close of an open transaction (BEGIN; UPDATE; CALL) sent ROLLBACK %d times, want 1", n)
	}
}
