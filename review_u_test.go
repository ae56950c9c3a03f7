package cachedsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// MySQL's CONNECTION_ID() is BIGINT UNSIGNED (Item_func_connection_id sets
// unsigned_flag on an Item_int_func, which is LONGLONG; so was MariaDB's
// before 10.3.1), and go-sql-driver/mysql since 1.8 parses an unsigned
// LONGLONG in the text protocol to uint64 (packets.go, textRows.readRow:
// strconv.ParseUint). readTxVars takes int64, []byte and string only:
// threadID stays 0 on MySQL, and no abandoned write is ever watched there.
func TestUThreadIDUnsignedBigint(t *testing.T) {
	for _, id := range []driver.Value{int64(4869), uint64(4869)} {
		t.Run(fmt.Sprintf("%T", id), func(t *testing.T) {
			d := fakedb.New(fakedb.Options{Ifaces: fakedb.AllIfaces})
			d.Canned(txVarsQuery, fakedb.ResultSet{
				Columns: []fakedb.Column{{Name: "@@autocommit"}, {Name: "@@completion_type"}, {Name: "CONNECTION_ID()"}},
				Rows:    [][]driver.Value{{int64(1), "NO_CHAIN", id}},
			})
			c, err := NewConnector(Config{DriverName: "mysql", Driver: d.AsDriver(), DSN: "x", Namespace: "review-u-tid-" + fmt.Sprintf("%T", id)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			dc, err := c.Connect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			var cn *conn
			switch x := dc.(type) {
			case connQE:
				cn = x.conn
			case connQ:
				cn = x.conn
			case connE:
				cn = x.conn
			case *conn:
				cn = x
			}
			if cn.threadID != 4869 {
				t.Errorf("CONNECTION_ID() as %T: threadID %d, want 4869 (the watch of abandoned writes is off)", id, cn.threadID)
			}
		})
	}
}

// DO evaluates expressions only, which cannot change autocommit in MySQL:
// it costs no probe round trip, as CALL and EXECUTE do (review U).
func TestUProbeAfterDo(t *testing.T) {
	d := fakedb.New(fakedb.Options{Ifaces: fakedb.AllIfaces})
	const do = "DO RELEASE_LOCK('job')"
	d.Canned(do)
	cn := fakeMySQLConn(t, d, Config{Namespace: "review-u-do"})
	before := d.QueryCount(txVarsQuery)
	const n = 10
	for range n {
		if _, err := cn.ExecContext(context.Background(), do); err != nil {
			t.Fatal(err)
		}
	}
	if extra := d.QueryCount(txVarsQuery) - before; extra > 0 {
		t.Errorf("%d × %s: %d extra autocommit probes", n, do, extra)
	}
}
