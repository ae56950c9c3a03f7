// Package cachedsql is a database/sql driver that wraps any other driver and
// serves repeated reads from a cache: an in-process L1 (bigcache) and, when a
// Redis URL is given, a shared L2 in Redis with invalidations broadcast over a
// Redis Stream.
//
//	import _ "github.com/cachedsql/cachedsql" // registers "cachedsql"
//
//	db, err := sql.Open("cachedsql",
//	    `driver=sqlite3 dsn='file:app.db?_journal_mode=WAL' redis=redis://127.0.0.1:6379/0 ttl=5m`)
//
// What a cached read returns is what the inner driver returned: the same Go
// types and values, column metadata and result sets. Reads inside
// transactions, locking reads, writes and statements that call
// non-deterministic functions always go to the database. Every write moves the
// generation of the tables it writes, and generations are part of every key, so
// no read that starts after a write returns can see a result cached before it.
package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"sync"
)

func init() {
	sql.Register("cachedsql", &Driver{})
}

// Driver is the cachedsql driver. The zero value, registered as "cachedsql",
// takes cachedsql DSNs (see ParseDSN). A Driver made by Wrap takes the inner
// driver's own DSN instead, for ORMs that only accept a driver name.
type Driver struct {
	inner driver.Driver // nil: DSNs are cachedsql DSNs
	base  Config

	mu   sync.Mutex
	open map[string]*Connector // connectors made by Open, which database/sql never closes
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Wrap returns a driver that caches inner. Its DSNs are inner's own; every
// other setting comes from base (base.DriverName names the inner driver in
// stats and the default namespace). Register it under a name of your choice:
//
//	sql.Register("postgres+cache", cachedsql.Wrap(&pq.Driver{}, cachedsql.Config{TTL: cachedsql.ShortTerm}))
func Wrap(inner driver.Driver, base Config) *Driver {
	base.Driver = inner
	return &Driver{inner: inner, base: base}
}

// Register wraps inner (see Wrap) and registers it with database/sql under name.
func Register(name string, inner driver.Driver, base Config) {
	if base.DriverName == "" {
		base.DriverName = name
	}
	d := Wrap(inner, base)
	d.base.registered = name
	sql.Register(name, d)
}

// OpenConnector implements driver.DriverContext: database/sql calls it once per
// sql.Open, and the *sql.DB closes the connector (and so releases the cache)
// when it is closed.
func (d *Driver) OpenConnector(name string) (driver.Connector, error) {
	if d.inner != nil {
		cfg := d.base
		cfg.DSN = name
		return NewConnector(cfg)
	}
	cfg, err := ParseDSN(name)
	if err != nil {
		return nil, err
	}
	return NewConnector(*cfg)
}

// Open implements driver.Driver for callers that bypass database/sql's
// connector path. Connectors it makes are kept per DSN and live as long as the process.
func (d *Driver) Open(name string) (driver.Conn, error) {
	d.mu.Lock()
	c, ok := d.open[name]
	if !ok {
		dc, err := d.OpenConnector(name)
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		c = dc.(*Connector)
		if d.open == nil {
			d.open = map[string]*Connector{}
		}
		d.open[name] = c
	}
	d.mu.Unlock()
	return c.Connect(context.Background())
}

// connectorDriver is what Connector.Driver returns, so that a *sql.DB leads
// back to its connector (db.Driver() is the only way there).
type connectorDriver struct{ c *Connector }

func (d *connectorDriver) Open(string) (driver.Conn, error) {
	return d.c.Connect(context.Background())
}

// lookupDriver finds the driver registered under name without connecting.
func lookupDriver(name, dsn string) (driver.Driver, error) {
	if name == "cachedsql" {
		return nil, fmt.Errorf("%w: key driver: cachedsql cannot wrap itself", ErrDSN)
	}
	if !slices.Contains(sql.Drivers(), name) {
		return nil, fmt.Errorf("%w: key driver: no driver %q is registered with database/sql (forgotten import?); registered: %v", ErrDSN, name, sql.Drivers())
	}
	// sql.Open does not connect; it is the only way to reach a registered
	// driver value by name.
	db, err := sql.Open(name, dsn)
	if err != nil {
		return nil, fmt.Errorf("cachedsql: inner driver %q rejected its DSN: %w", name, redactErr(err, dsn))
	}
	drv := db.Driver()
	db.Close()
	return drv, nil
}
