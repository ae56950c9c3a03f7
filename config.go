package cachedsql

import (
	"database/sql/driver"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for the Config fields whose zero value means "the default".
const (
	DefaultL1MiB      = 64
	DefaultMaxRows    = 10_000
	DefaultMaxBytes   = 4 << 20
	DefaultStaleBound = time.Second
)

// Config is everything a Connector needs. The fields that a DSN can express
// have a DSN key named in their comment; the rest are set in code.
type Config struct {
	// DriverName is the name the inner driver is registered under with
	// database/sql (DSN key driver). Required unless Driver or Connector is set.
	DriverName string
	// DSN is the inner driver's own DSN, passed through untouched (DSN key dsn).
	DSN string
	// Driver is an inner driver value, used instead of looking DriverName up.
	Driver driver.Driver
	// Connector is an inner connector, used instead of Driver and DSN.
	Connector driver.Connector
	// registered is the name Register gave the wrapped driver: it tells
	// apart, across processes, Driver values that DriverName alone does not.
	registered string

	// RedisURL enables the Redis L2 and the cross-process invalidation stream
	// (DSN key redis): a URL as go-redis ParseURL accepts it. "" with a nil
	// Redis means L1 only, and invalidation stays inside the process. The
	// client cachedsql makes from it sends go-redis's own (process-wide) log
	// lines to Logger at Debug level instead of stderr.
	RedisURL string
	// Redis is a client the application already has; it wins over RedisURL.
	// cachedsql does not close it. Build it with ContextTimeoutEnabled: without
	// it go-redis ignores context deadlines, and a stalled Redis holds each
	// cache lookup for the client's whole read timeout, whatever the caller's
	// deadline (a client cachedsql makes from RedisURL has it on).
	Redis redis.UniversalClient

	// TTL is the default strategy (DSN key ttl). The zero value means Default (5 minutes).
	TTL Strategy
	// Tables holds per-table strategies, keyed by table name, matched as the
	// scanner files the names a read names: case, quotes and a schema do not
	// count, and a PostgreSQL name over 63 bytes counts by its first 63. Of
	// two keys for one table the stricter rule holds.
	Tables map[string]Strategy
	// Dependencies names tables that change when a key table is written and that
	// the SQL does not show: a view's base tables ("active_users": {"users"} makes
	// a write to users invalidate reads of active_users), or a table that a
	// trigger or a foreign-key cascade writes ("orders": {"order_items"}).
	// Lookups go both ways and chain: a write to any table in a list
	// invalidates the key, a write to the key invalidates the list, and so on
	// through every table linked to those. (A list does not say whether it
	// names a view's base tables or a cascade's targets, and a write may
	// cascade and then change a view over what it reached: tables linked
	// through any others form one group.)
	Dependencies map[string][]string
	// PureFunctions names functions of the application's (user-defined, or
	// from an extension cachedsql does not know) that neither write nor
	// change session state. A read calling any other function cachedsql does
	// not know is not cached and, since that function may write any table
	// or change the session, invalidates every table when it runs and keeps
	// its connection uncached from then on (DSN key pure_functions,
	// comma-separated). nil means none.
	PureFunctions []string

	// Namespace separates cache entries and invalidations (DSN key namespace).
	// "" means a hash of the inner driver name and DSN, so two databases never
	// share entries. Processes that must see each other's writes need the same
	// namespace: give it explicitly when their inner DSNs differ in any byte.
	Namespace string

	// L1MiB is the in-process cache's hard memory limit in MiB (DSN key l1_mib).
	// 0 means DefaultL1MiB; a negative value disables L1 (the DSN writes that as l1_mib=0).
	L1MiB int
	// L1MaxTTL caps how long an entry lives in L1 (DSN key l1_ttl). 0 means no
	// cap beyond the entry's own TTL.
	L1MaxTTL time.Duration

	// MaxRows is the most rows a cached result may have (DSN key max_rows).
	// 0 means DefaultMaxRows; negative means no limit. A larger result is
	// streamed to its caller whole and not cached.
	MaxRows int
	// MaxBytes is the largest encoded result cached, in bytes (DSN key
	// max_bytes). 0 means DefaultMaxBytes; negative means no limit.
	MaxBytes int

	// RedisTimeout bounds each Redis call (DSN key redis_timeout). 0 means the
	// L2 default (see tier.L2Config).
	RedisTimeout time.Duration
	// StaleBound is how long, while the invalidation stream is not connected,
	// L1 entries are still served (DSN key stale_bound). 0 means DefaultStaleBound.
	StaleBound time.Duration

	// Logger receives the library's warnings. nil discards them: the library never prints.
	Logger *slog.Logger
}

func (c *Config) l1MiB() int {
	switch {
	case c.L1MiB == 0:
		return DefaultL1MiB
	case c.L1MiB < 0:
		return 0
	}
	return c.L1MiB
}

func (c *Config) maxRows() int {
	if c.MaxRows == 0 {
		return DefaultMaxRows
	}
	return c.MaxRows
}

func (c *Config) maxBytes() int {
	if c.MaxBytes == 0 {
		return DefaultMaxBytes
	}
	return c.MaxBytes
}

func (c *Config) ttl() Strategy {
	if c.TTL.isZero() {
		return Default
	}
	return c.TTL
}

func (c *Config) staleBound() time.Duration {
	if c.StaleBound <= 0 {
		return DefaultStaleBound
	}
	return c.StaleBound
}
