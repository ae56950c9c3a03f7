package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/cachedsql/cachedsql"
)

// BenchmarkConnectPaired is what opening a connection costs through
// cachedsql against the inner driver's own Connect (direct, the baseline),
// paired as runPaired does: cachedsql asks a MySQL connection for its
// autocommit, completion_type and thread id, and for its server's name, and
// a PostgreSQL connection for its backend pid (the watch of abandoned
// writes), one query each beyond the driver's own handshake. A read is one
// Connect and Close.
func BenchmarkConnectPaired(b *testing.B) {
	for _, d := range databases {
		if d.name == "sqlite" {
			continue // in process: no handshake, no query cachedsql adds
		}
		b.Run(d.name+"/cachedsql", func(b *testing.B) {
			dsn, _ := d.setup(b)
			db, err := sql.Open(d.driver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			dc, ok := db.Driver().(driver.DriverContext)
			if !ok {
				b.Skipf("%s: no driver.DriverContext", d.driver)
			}
			inner, err := dc.OpenConnector(dsn)
			if err != nil {
				b.Fatal(err)
			}
			c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: d.driver, DSN: dsn, Namespace: namespace(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			connect := func(cn driver.Connector) reader {
				return func(ctx context.Context) (int, error) {
					conn, err := cn.Connect(ctx)
					if err != nil {
						return 0, err
					}
					return 1, conn.Close()
				}
			}
			runPaired(b, 1, 1, "direct", connect(inner), connect(c))
		})
	}
}
