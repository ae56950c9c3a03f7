package cachedsql

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedsql/cachedsql/generation"
	"github.com/cachedsql/cachedsql/sqlscan"
)

// Connector opens cached connections for sql.OpenDB. Closing it (which
// *sql.DB.Close does) releases its share of the namespace's cache.
type Connector struct {
	cfg     Config
	inner   driver.Connector
	dialect sqlscan.Dialect
	sh      *shared
	drv     *connectorDriver
	log     *slog.Logger
	deps    map[string][]string // table → tables that change with it, both directions
	tables  map[string]Strategy // Config.Tables by the names the scanner gives (normTable)
	pure    map[string]bool     // Config.PureFunctions, lower-cased
	// lazyRows: the inner driver computes rows only as they are asked for
	// (SQLite), so a row that fails is no error to a reader that stopped
	// before it (overflowRows.lazy).
	lazyRows bool
	// keyNamespace keys reads on the connection path: the namespace, the
	// process's local time zone (drivers read times in it: go-sql-driver's
	// loc=Local, pgx's timestamptz), a fingerprint of the inner DSN (its
	// options change the Go types a driver returns: go-sql-driver's
	// parseTime, lib/pq's timezone), and a Driver value's identity when it
	// is not the driver registered under DriverName (one with hooks may
	// answer differently). Invalidations stay the namespace's: such
	// processes and drivers reach one database.
	keyNamespace string
	// stmtNamespace keys reads through prepared statements apart from the
	// same text sent on the connection: a driver may answer the two
	// differently (go-sql-driver/mysql's binary protocol returns int64 and
	// []byte where its text protocol returns uint64, and floats differently).
	stmtNamespace string
	// skipNamespace keys reads through statements database/sql prepared
	// because the connection skipped the query (driver.ErrSkip): the same
	// protocol as stmtNamespace, but only ever for arguments the driver
	// declined on the connection.
	skipNamespace string
	plans         atomic.Pointer[planCache]

	closeOnce sync.Once
	closeErr  error

	// closing ends when Close begins; watches counts the pollers of
	// watched, which Close waits for (watchThread).
	closing    context.Context
	endClosing context.CancelFunc
	watchMu    sync.Mutex
	watched    []*procWatch  // guarded by watchMu
	polling    bool          // guarded by watchMu: a poller runs (it clears it as it leaves)
	wake       chan struct{} // a new watch for the poller; made under watchMu
	watches    sync.WaitGroup
	looked     atomic.Bool // a watch's look was answered once: the server lists its processes

	kin hierarchy // PostgreSQL's partitions and inherited tables (withKin)
}

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

// NewConnector validates cfg and returns a Connector. Connectors in one process
// with the same namespace share one cache, one generation clock and one set of
// in-flight queries, so each sees the others' writes at once.
func NewConnector(cfg Config) (_ *Connector, err error) {
	inner, err := innerConnector(&cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if cl, ok := inner.(io.Closer); ok && inner != cfg.Connector {
				cl.Close()
			}
		}
	}()
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace(&cfg, inner)
	}
	if cfg.MaxRows < -1 || cfg.MaxBytes < -1 {
		return nil, errors.New("cachedsql: MaxRows and MaxBytes must be positive, 0 (default) or -1 (no limit)")
	}
	for t, s := range cfg.Tables {
		if s.isZero() {
			return nil, fmt.Errorf("cachedsql: Tables[%q] has no strategy", t)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var sh *shared
	sh, err = acquireShared(&cfg, log)
	if err != nil {
		return nil, err
	}
	dialect := dialectOf(&cfg, inner)
	c := &Connector{
		cfg:     cfg,
		inner:   inner,
		dialect: dialect,
		sh:      sh,
		log:     log,
		deps:    closeDeps(cfg.Dependencies, dialect),
		tables:  tableRules(cfg.Tables, dialect),
		pure:    map[string]bool{},
	}
	c.lazyRows = c.dialect == sqlscan.SQLite || sqliteDriver(inner)
	c.keyNamespace = cfg.Namespace + "\x00" + localZone() + "\x00" + dsnFingerprint(&cfg)
	if id := driverIdentity(&cfg); id != "" {
		c.keyNamespace += "\x00" + id
	}
	c.stmtNamespace = c.keyNamespace + "\x00prepared"
	c.skipNamespace = c.keyNamespace + "\x00skipped"
	for _, f := range cfg.PureFunctions {
		c.pure[strings.ToLower(strings.TrimSpace(f))] = true
	}
	c.drv = &connectorDriver{c}
	c.plans.Store(newPlanCache())
	c.closing, c.endClosing = context.WithCancel(context.Background())
	return c, nil
}

// innerConnector resolves the inner connector from Connector, Driver or DriverName.
func innerConnector(cfg *Config) (driver.Connector, error) {
	if cfg.Connector != nil {
		return cfg.Connector, nil
	}
	drv := cfg.Driver
	if drv == nil {
		if cfg.DriverName == "" {
			return nil, fmt.Errorf("%w: key driver is required (the inner driver's registered name)", ErrDSN)
		}
		var err error
		if drv, err = lookupDriver(cfg.DriverName, cfg.DSN); err != nil {
			return nil, err
		}
	}
	if _, self := drv.(*Driver); self {
		return nil, errors.New("cachedsql: the inner driver is cachedsql itself")
	}
	if dc, ok := drv.(driver.DriverContext); ok {
		conn, err := dc.OpenConnector(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("cachedsql: inner driver %q rejected its DSN: %w", cfg.DriverName, redactErr(err, cfg.DSN))
		}
		return conn, nil
	}
	return dsnConnector{dsn: cfg.DSN, drv: drv}, nil
}

// dsnConnector is database/sql's own fallback for drivers without DriverContext.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (t dsnConnector) Connect(context.Context) (driver.Conn, error) { return t.drv.Open(t.dsn) }
func (t dsnConnector) Driver() driver.Driver                        { return t.drv }

// localZone fingerprints the process's local time zone by its names and
// offsets in winter and summer from 1900 to 2100: what a driver that reads
// times in time.Local makes of the same row.
var localZone = sync.OnceValue(func() string {
	h := sha256.New()
	for y := 1900; y <= 2100; y += 2 {
		for _, m := range [...]time.Month{time.January, time.July} {
			name, off := time.Date(y, m, 15, 12, 0, 0, 0, time.Local).Zone()
			fmt.Fprintf(h, "%s%d,", name, off)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
})

// sqliteDriver reports an inner driver from a SQLite package, whatever
// name it was registered under (go-sqlite3's ConnectHook is registered
// under names of the application's choosing).
func sqliteDriver(inner driver.Connector) bool {
	return strings.Contains(driverPackage(inner), "sqlite")
}

// driverPackage is the lower-cased import path of inner's driver ("" when
// it has none).
func driverPackage(inner driver.Connector) string {
	drv := inner.Driver()
	if drv == nil {
		return ""
	}
	t := reflect.TypeOf(drv)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.ToLower(t.PkgPath())
}

// dialectOf is the SQL dialect of the inner driver: by the name it is
// registered under, or, for a name of the application's choosing
// (cachedsql.Register("cachedsql-mysql", &mysql.MySQLDriver{}, ...), as
// the README shows for ORMs), by its package. Read as Generic, MySQL text
// loses its # comments and PostgreSQL's its own string rules, and a read
// could be filed under the wrong tables.
func dialectOf(cfg *Config, inner driver.Connector) sqlscan.Dialect {
	if d := sqlscan.DialectOf(cfg.DriverName); d != sqlscan.Generic {
		return d
	}
	p := driverPackage(inner)
	switch {
	case strings.Contains(p, "mysql"):
		return sqlscan.MySQL
	case strings.Contains(p, "pgx") || strings.HasSuffix(p, "lib/pq") || strings.Contains(p, "postgres"):
		return sqlscan.Postgres
	case strings.Contains(p, "sqlite"):
		return sqlscan.SQLite
	}
	return sqlscan.Generic
}

// driverIdentity tells apart a Driver value given beside a DriverName
// (which then only names the dialect and the namespace's database): by its
// type and the name Register gave it, both the same in every process. A
// value with connect hooks may answer differently from the driver
// registered under DriverName, or from another value registered apart.
// "" when cfg names no such value.
func driverIdentity(cfg *Config) string {
	if cfg.Connector != nil || cfg.Driver == nil || cfg.DriverName == "" {
		return ""
	}
	return fmt.Sprintf("%T\x00%s", cfg.Driver, cfg.registered)
}

// dsnFingerprint tells apart inner DSNs of one namespace: processes that
// share a namespace to share invalidations may open the database with
// options that change what the driver returns (go-sql-driver/mysql with and
// without parseTime=true: time.Time or []byte). A hash, as defaultNamespace
// is: the DSN may hold a password. "" for a Connector, which has no DSN.
func dsnFingerprint(cfg *Config) string {
	if cfg.Connector != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(cfg.DriverName + "\x00" + cfg.DSN))
	return hex.EncodeToString(sum[:8])
}

// defaultNamespace identifies the inner database: a hash of driver name and
// DSN (never the DSN itself: it may hold a password).
func defaultNamespace(cfg *Config, inner driver.Connector) string {
	id := cfg.DriverName + "\x00" + cfg.DSN
	if cfg.Connector != nil {
		// A connector carries no DSN to identify it by: only the same value is
		// known to reach the same database.
		id = fmt.Sprintf("%T@%p", inner, inner)
	} else if cfg.DriverName == "" {
		id = fmt.Sprintf("%T", cfg.Driver) + "\x00" + cfg.DSN
	}
	switch sqliteMemory(cfg) {
	case memoryPrivate:
		// Each connector opens a database of its own under the same DSN.
		id += fmt.Sprintf("\x00%d", memoryDBs.Add(1))
	case memoryShared:
		// One per process: another process's has the same name.
		id += "\x00" + processNonce
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

const (
	memoryNone = iota
	memoryPrivate
	memoryShared
)

var (
	memoryDBs    atomic.Int64
	processNonce = rand.Text()
)

// sqliteMemory tells whether cfg names an in-memory SQLite database: one
// private to each opening (":memory:", "file::memory:", mode=memory,
// vfs=memdb, the empty name), or one shared in this process alone
// (cache=shared, or vfs=memdb with a name that begins with '/').
func sqliteMemory(cfg *Config) int {
	name := strings.ToLower(cfg.DriverName)
	if cfg.DriverName == "" {
		name = strings.ToLower(fmt.Sprintf("%T", cfg.Driver))
	}
	if !strings.Contains(name, "sqlite") {
		return memoryNone
	}
	path, query, _ := strings.Cut(cfg.DSN, "?")
	path, uri := strings.CutPrefix(path, "file:")
	var mode, cache, vfs string
	for kv := range strings.SplitSeq(query, "&") {
		// By exact name, as SQLite reads them (not _journal_mode=memory, a
		// file's journal); mode and cache only from a URI, while the drivers
		// (mattn, modernc) take vfs from any DSN.
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "mode" && uri:
			mode = v
		case k == "cache" && uri:
			cache = v
		case k == "vfs":
			vfs = v
		}
	}
	if path != "" && path != ":memory:" && mode != "memory" && vfs != "memdb" {
		return memoryNone
	}
	if cache == "shared" || (vfs == "memdb" && strings.HasPrefix(path, "/")) {
		return memoryShared // memdb shares a name that begins with '/'
	}
	return memoryPrivate
}

// closeDeps makes Config.Dependencies symmetric and transitive: a write to
// orders that cascades to order_items, whose trigger writes audit, changes
// all three, however the links were written down.
// tableRules keys Config.Tables by the names the scanner gives the tables
// a read names (a PostgreSQL name over 63 bytes by its first 63). Keys that
// come to one name keep the stricter rule: NoCache, else the shorter TTL.
func tableRules(rules map[string]Strategy, dialect sqlscan.Dialect) map[string]Strategy {
	if len(rules) == 0 {
		return nil
	}
	out := make(map[string]Strategy, len(rules))
	for t, r := range rules {
		k := normTable(dialect, t)
		if old, ok := out[k]; ok {
			r, _ = tableStrategy(map[string]Strategy{"a": old, "b": r}, []string{"a", "b"})
		}
		out[k] = r
	}
	return out
}

func closeDeps(d map[string][]string, dialect sqlscan.Dialect) map[string][]string {
	if len(d) == 0 {
		return nil
	}
	links := map[string][]string{}
	add := func(a, b string) {
		if a != b && !contains(links[a], b) {
			links[a] = append(links[a], b)
		}
	}
	for k, vs := range d {
		k = normTable(dialect, k)
		for _, v := range vs {
			v = normTable(dialect, v)
			add(k, v)
			add(v, k)
		}
	}
	out := make(map[string][]string, len(links))
	for t := range links {
		seen := []string{t}
		for i := 0; i < len(seen); i++ {
			for _, n := range links[seen[i]] {
				if !contains(seen, n) {
					seen = append(seen, n)
				}
			}
		}
		out[t] = seen[1:]
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, redactErr(err, c.cfg.DSN)
	}
	cn := wrapConn(c, ic)
	switch c.dialect {
	case sqlscan.MySQL:
		if err := cn.readTxVars(ctx); err != nil {
			c.log.Warn("cachedsql: could not read the connection's autocommit and completion_type; assuming the defaults (on, NO_CHAIN)",
				"err", redactErr(err, c.cfg.DSN))
		} else if v, err := queryRow(ctx, cn.inner, "SELECT "+mysqlServer, 1); err == nil {
			cn.server = valueText(v[0])
		}
	case sqlscan.Postgres:
		// One round trip per connection, for a write abandoned on it
		// (watchThread): pgx gives up on a statement whose context ends by
		// closing the connection, and the server goes on with it.
		if err := cn.readBackendPID(ctx); err != nil {
			c.log.Warn("cachedsql: could not read the connection's backend pid; a write abandoned on it will be invalidated only when it fails",
				"err", redactErr(err, c.cfg.DSN))
		}
		c.readKinAtConnect(ctx)
	}
	return cn.api(), nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Close releases the connector's share of the cache and closes the inner
// connector if it can be closed. It waits for cache writes still under way.
// The namespace's last Close makes one last attempt to publish
// invalidations Redis has not seen (writes made while it was unreachable);
// if that fails it returns an error wrapping generation.ErrNotPublished, and other
// processes will serve those tables' old rows until their TTL: announce
// them with Invalidate or `cachedsql invalidate`.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		c.watchMu.Lock()
		c.endClosing()
		c.watchMu.Unlock()
		c.watches.Wait()
		err := releaseShared(c.sh)
		if cl, ok := c.inner.(io.Closer); ok {
			err = errors.Join(err, cl.Close())
		}
		c.closeErr = err
	})
	return c.closeErr
}

// Namespace is the namespace the connector's cache entries and invalidations live in.
func (c *Connector) Namespace() string { return c.cfg.Namespace }

// Stats returns a snapshot of the namespace's counters.
func (c *Connector) Stats() Stats { return c.sh.stats() }

// Invalidate announces that tables were written outside cachedsql (by another
// service, a trigger, a migration): reads of them after Invalidate returns go
// to the database, in this process at once and in others as soon as they
// receive the stream event. No tables means every table of the namespace.
func (c *Connector) Invalidate(ctx context.Context, tables ...string) error {
	norm := make([]string, 0, len(tables))
	for _, t := range tables {
		norm = append(norm, normTable(c.dialect, t))
	}
	return c.advance(ctx, norm, len(tables) == 0)
}

// WaitSync waits until the connector can serve from its cache: with Redis, a
// new connector first reads every table's generation and joins the
// invalidation stream, and until then its reads go to the database (they
// cannot yet prove they would see other processes' writes). Without Redis it
// returns at once. Call it after sql.Open when a cold start matters.
func (c *Connector) WaitSync(ctx context.Context) error { return c.sh.clock.WaitSync(ctx) }

// WaitSync calls Connector.WaitSync on the connector behind db.
func WaitSync(ctx context.Context, db interface{ Driver() driver.Driver }) error {
	d, ok := db.Driver().(*connectorDriver)
	if !ok {
		return errNotCachedSQL
	}
	return d.c.WaitSync(ctx)
}

// Event is one invalidation: the tables written (none: every table), the
// process that wrote them, and the stream id when it came from Redis.
type Event = generation.Event

// Subscribe calls fn for every invalidation of the namespace, made here or
// received from another process, until cancel is called. fn must not block.
func (c *Connector) Subscribe(fn func(Event)) (cancel func()) { return c.sh.clock.Subscribe(fn) }

// maxAdvanceTables is the most tables one write moves the generations of;
// a write that reaches more (through a large partition hierarchy) moves
// every table's instead.
const maxAdvanceTables = 512

// advance moves the generations of tables (and their dependencies).
func (c *Connector) advance(ctx context.Context, tables []string, all bool) error {
	if !all {
		// A partition's parent and children too, and theirs again once a
		// dependency has added a table (a trigger writing a partitioned
		// table writes one of its partitions).
		tables = c.withKin(ctx, tables)
		if n := len(tables); len(c.deps) > 0 {
			if tables = c.withDeps(tables); len(tables) > n {
				tables = c.withKin(ctx, tables)
			}
		}
		if len(tables) > maxAdvanceTables {
			// A counter a table is too many for one write (a parent of
			// thousands of partitions): Redis would run them all in one
			// script, which cannot take more than a few thousand.
			tables, all = nil, true
		}
	}
	c.sh.ctr.invalidations.Add(1)
	err := c.sh.clock.Advance(ctx, tables, all)
	if err != nil {
		c.log.Warn("cachedsql: invalidation not yet published to other processes; it will be when Redis answers",
			"namespace", c.cfg.Namespace, "tables", tables, "error", err)
	}
	return err
}

// TableName is the name under which a namespace's generations and
// invalidation events file the table a program names as Invalidate,
// Config.Tables and Config.Dependencies take it ("orders", "public.Orders",
// `"my.table"`): its last dotted component, unquoted, in lower case, and in
// PostgreSQL cut to 63 bytes as the server cuts it. driverName picks the
// dialect as Config.DriverName does ("" for none, which cuts nothing). A
// program that publishes invalidations without a Connector (the command
// line's invalidate) files its names with it, or the readers' entries of
// those tables stay.
func TableName(driverName, table string) string {
	return normTable(sqlscan.DialectOf(driverName), table)
}

// Invalidate calls Connector.Invalidate on the connector behind db.
func Invalidate(ctx context.Context, db interface{ Driver() driver.Driver }, tables ...string) error {
	d, ok := db.Driver().(*connectorDriver)
	if !ok {
		return errNotCachedSQL
	}
	return d.c.Invalidate(ctx, tables...)
}
