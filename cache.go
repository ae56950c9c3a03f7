package cachedsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedsql/cachedsql/generation"
	"github.com/cachedsql/cachedsql/internal/flight"
	"github.com/cachedsql/cachedsql/internal/redact"
	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	"github.com/cachedsql/cachedsql/sqlscan"
	"github.com/cachedsql/cachedsql/tier"
)

// shared is the cache of one namespace in this process: every Connector on the
// namespace holds the same one, so they share entries, in-flight queries and
// generations (and so see each other's writes at once).
//
// The fields every read loads come first, and what reads write (the flight
// groups' mutexes, the counters, resetMu) sits on cache lines of its own:
// at 64 goroutines reading one key through L2, each lookup locks l2reads,
// and a core that had to fetch clock or l2 again after the other core's lock
// lost the time a read spends on its own work (TestSharedHotLines).
type shared struct {
	ns   string
	sig  string // the settings every connector on the namespace must agree on
	refs int    // guarded by registry.mu

	l1    *tier.L1
	hot   *hotSet   // decoded results in front of l1; nil when L1 is off
	l2    tier.Tier // nil without Redis
	clock *generation.Clock
	close []func() error

	// resets counts the times the clock could not check its history and
	// the process's entries were dropped (OnUnverified); a fill that read
	// its generations before one stores nothing. Every read loads it.
	resets atomic.Uint64

	_       [64]byte
	flights flight.Group[keying.Key, *fill]
	_       [64]byte
	// l2reads coalesces identical concurrent L2 lookups: one GET and one
	// decode, read through hotRows by every caller when several share it.
	l2reads flight.Group[keying.Key, *hotEntry]
	_       [64]byte
	ctr     counters
	bg      sync.WaitGroup // cache writes off the callers' path
	bgMu    sync.Mutex     // guards closed against bg.Add
	closed  bool

	// resetMu makes an L1 store's check and store one step against a
	// reset; it is never held across I/O. RLock writes it.
	_       [64]byte
	resetMu sync.RWMutex
}

var registry struct {
	mu sync.Mutex
	m  map[string]*shared
}

func cacheSignature(cfg *Config) string {
	redis := cfg.RedisURL
	if cfg.Redis != nil {
		redis = fmt.Sprintf("client %p", cfg.Redis)
	}
	return fmt.Sprintf("l1_mib=%d l1_ttl=%v redis=%s stale_bound=%v redis_timeout=%v",
		cfg.l1MiB(), cfg.L1MaxTTL, redact.Hide(redis, redis), cfg.staleBound(), cfg.RedisTimeout)
}

func acquireShared(cfg *Config, log *slog.Logger) (*shared, error) {
	sig := cacheSignature(cfg)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if sh, ok := registry.m[cfg.Namespace]; ok {
		if sh.sig != sig {
			return nil, fmt.Errorf("cachedsql: namespace %q is already open in this process with other cache settings (%s); "+
				"connectors on one namespace share one cache, so give them the same settings or different namespaces", cfg.Namespace, sh.sig)
		}
		sh.refs++
		return sh, nil
	}
	sh, err := newShared(cfg, sig, log)
	if err != nil {
		return nil, err
	}
	if registry.m == nil {
		registry.m = map[string]*shared{}
	}
	registry.m[cfg.Namespace] = sh
	return sh, nil
}

func releaseShared(sh *shared) error {
	registry.mu.Lock()
	sh.refs--
	last := sh.refs == 0
	if last {
		delete(registry.m, sh.ns)
	}
	registry.mu.Unlock()
	if last {
		sh.bgMu.Lock()
		sh.closed = true
		sh.bgMu.Unlock()
		sh.bg.Wait()
		var errs []error
		for i := len(sh.close) - 1; i >= 0; i-- {
			errs = append(errs, sh.close[i]())
		}
		return errors.Join(errs...)
	}
	return nil
}

func newShared(cfg *Config, sig string, log *slog.Logger) (_ *shared, err error) {
	sh := &shared{ns: cfg.Namespace, sig: sig, refs: 1}
	defer func() {
		if err != nil {
			for i := len(sh.close) - 1; i >= 0; i-- {
				sh.close[i]()
			}
		}
	}()
	// A share of L1 holds decoded results (hotSet); bigcache gets the rest.
	l1 := cfg.l1MiB()
	sh.l1, err = tier.NewL1(tier.L1Config{CapacityMiB: l1 - l1/hotShare, MaxTTL: cfg.L1MaxTTL})
	if err != nil {
		return nil, fmt.Errorf("cachedsql: L1: %w", err)
	}
	sh.close = append(sh.close, sh.l1.Close)
	sh.hot = newHotSet(cfg.l1MiB())
	rc, l2, closers, err := openRedis(cfg, log)
	if err != nil {
		return nil, err
	}
	sh.l2 = l2
	sh.close = append(sh.close, closers...)
	sh.clock, err = generation.New(generation.Config{
		Namespace:  cfg.Namespace,
		Redis:      rc,
		StaleBound: cfg.staleBound(),
		Logger:     log,
		// Entries this process filled may be under numbers Redis lost and
		// handed out again: drop them (Redis's own were lost with it).
		OnUnverified: sh.dropLocal,
	})
	if err != nil {
		return nil, fmt.Errorf("cachedsql: invalidation clock: %w", err)
	}
	sh.close = append(sh.close, sh.clock.Close)
	return sh, nil
}

// dropLocal drops every entry of the process's cache (L1 and the decoded
// set), and keeps fills that read their generations before it from storing.
func (sh *shared) dropLocal() {
	sh.resetMu.Lock()
	sh.resets.Add(1)
	sh.l1.Reset()
	sh.hot.reset()
	sh.resetMu.Unlock()
}

// keep runs store, which puts what a read found into L1 or the decoded
// set, unless the process's cache was dropped (dropLocal) after the read
// took mark; it reports whether store ran. dropLocal waits for it, so a
// store is either before the drop, and dropped, or refused.
func (sh *shared) keep(mark uint64, store func()) bool {
	sh.resetMu.RLock()
	defer sh.resetMu.RUnlock()
	if sh.resets.Load() != mark {
		return false
	}
	store()
	return true
}

// async runs f off the caller's path; Close waits for it. Once the last
// connector has closed, f is dropped: a shared query that outlived every
// connector must not write to closed tiers.
func (sh *shared) async(f func()) {
	sh.bgMu.Lock()
	defer sh.bgMu.Unlock()
	if sh.closed {
		return
	}
	sh.bg.Add(1)
	go func() {
		defer sh.bg.Done()
		f()
	}()
}

func (sh *shared) stats() Stats {
	c := &sh.ctr
	s := Stats{
		Namespace:      sh.ns,
		L1DecodedHits:  c.hotHits.Load(),
		L1Misses:       c.l1Misses.Load(),
		L2Hits:         c.l2Hits.Load(),
		L2Misses:       c.l2Misses.Load(),
		L2Errors:       c.l2Errors.Load(),
		Promotions:     c.promotions.Load(),
		Fills:          c.fills.Load(),
		CoalescedWaits: c.coalesced.Load(),
		Uncacheable:    c.uncacheable.Load(),
		Corrupt:        c.corrupt.Load(),
		Invalidations:  c.invalidations.Load(),
		Bypass:         make(map[string]int64, bypassReasonsLen),
	}
	s.L1Hits = c.l1Hits.Load() + s.L1DecodedHits // l1Hits counts only hits that decoded
	for i, n := range bypassNames {
		s.Bypass[n] = c.bypass[i].Load()
	}
	l1 := sh.l1.Stats()
	s.L1Entries, s.L1Bytes, s.L1Capacity = l1.Entries, l1.Bytes, l1.Capacity
	addL2Stats(sh.l2, &s)
	g := sh.clock.Stats()
	s.StreamSent, s.StreamReceived, s.Resyncs = g.Sent, g.Received, g.Resyncs
	s.StreamConnected = g.Connected
	s.StreamLagMillis = float64(g.Lag) / float64(time.Millisecond)
	return s
}

// plan is what cachedsql knows about one query text, computed once.
type plan struct {
	text    string
	st      sqlscan.Statement
	reads   []string // tables read, with their dependencies
	writes  []string // tables written, with their dependencies
	hint    Strategy // from a comment hint; zero if none
	rule    Strategy // from Config.Tables; zero if none
	reason  bypassReason
	canRead bool // a read that may be cached (the strategy and connection still decide)
	// setsSession marks a statement that changes the session, or may
	// (SELECT set_config(...), CALL, DO, a function cachedsql does not
	// know): once sent, the connection's results are its own.
	setsSession bool
	// mayWrite marks a read that calls a function cachedsql does not know
	// and Config.PureFunctions does not name: it may write any table.
	mayWrite bool
	// reshapes: a PostgreSQL ALTER that may attach a partition or make a
	// table inherit (hierarchy).
	reshapes bool
	// connSkips records that the inner connection's last answer to this
	// query on the connection path was driver.ErrSkip (go-sql-driver/mysql
	// without interpolateParams, or with an argument too large to inline):
	// later connection-path misses skip the L2 lookup before asking it again,
	// and first look in L1 for the result of the statement database/sql
	// prepared after a skip of the same call (Connector.skipNamespace).
	connSkips atomic.Bool
	// sizes is the sizeHint of the last fill of this query: rows in its low
	// 24 bits, small []byte values in the next 20, their bytes in the top 20
	// (each capped at its field's maximum).
	sizes atomic.Uint64
	// cols shares the columns of this query's decoded entries.
	cols rowset.ColumnCache
}

func (p *plan) sizeHint() sizeHint {
	h := p.sizes.Load()
	return sizeHint{rows: int(h & (1<<24 - 1)), small: int(h >> 24 & (1<<20 - 1)), arena: int(h >> 44)}
}

func (p *plan) setSizeHint(h sizeHint) {
	p.sizes.Store(uint64(min(h.rows, 1<<24-1)) | uint64(min(h.small, 1<<20-1))<<24 | uint64(min(h.arena, 1<<20-1))<<44)
}

type planCache struct {
	m sync.Map // query text → *plan
	n atomic.Int64
}

// maxPlans bounds the plan cache: an application that inlines literals into
// its SQL would otherwise grow it without end.
const maxPlans = 16384

func newPlanCache() *planCache { return &planCache{} }

func (c *Connector) planFor(query string) *plan {
	pc := c.plans.Load()
	if p, ok := pc.m.Load(query); ok {
		return p.(*plan)
	}
	p := c.makePlan(query)
	if pc.n.Add(1) > maxPlans {
		c.plans.CompareAndSwap(pc, newPlanCache())
	} else {
		pc.m.Store(query, p)
	}
	return p
}

func (c *Connector) makePlan(query string) *plan {
	st := sqlscan.Scan(c.dialect, query)
	p := &plan{text: query, st: st}
	for _, f := range st.Calls {
		if !c.pure[f] {
			p.mayWrite = true
		}
	}
	p.setsSession = st.SetsSession || st.Opaque || p.mayWrite
	p.reads = c.withDeps(st.Reads)
	p.writes = c.withDeps(st.Writes)
	p.reshapes = c.dialect == sqlscan.Postgres && reshapes(query)
	if s, ok, bad := hintStrategy(st.Hints); ok {
		p.hint = s
	} else if bad != "" {
		c.log.Warn("cachedsql: ignoring a comment hint it does not understand", "hint", bad)
	}
	if r, ok := tableStrategy(c.tables, p.reads); ok {
		p.rule = r
	}
	switch {
	case st.Kind == sqlscan.Unknown:
		p.reason = byUnknown
	case st.Kind != sqlscan.Read:
		p.reason = byWrite
	case st.Locking:
		p.reason = byLocking
	case st.Volatile != "":
		p.reason = byVolatile
	case st.ReadsAll:
		p.reason = byUnknown
	default:
		p.canRead = true
	}
	return p
}

func (c *Connector) withDeps(tables []string) []string { return addLinks(tables, c.deps) }

// addLinks returns tables with every table links gives for each of them
// added once; tables itself when there is nothing to add, else a copy (a
// plan's slices are shared).
func addLinks(tables []string, links map[string][]string) []string {
	if len(links) == 0 {
		return tables
	}
	out := tables
	copied := false
	for _, t := range tables {
		for _, d := range links[t] {
			if !contains(out, d) {
				if !copied {
					out = append([]string(nil), out...)
					copied = true
				}
				out = append(out, d)
			}
		}
	}
	return out
}

// normTable files a table name given to Invalidate, Config.Tables or
// Config.Dependencies as the scanner files one read in a statement: by its
// last dotted component (the table, whatever the schema), then
// sqlscan.TableName (lower case; in PostgreSQL its first 63 bytes). A name
// the text would have to quote stays whole given bare (line-items, audit
// log, x[1]); quoted parts ("my.table", `a.b`, [x.y], "a""b") are read as
// the text reads them, so that a dot inside quotes does not cut. A name that
// does not parse is cut at its last dot.
func normTable(d sqlscan.Dialect, t string) string {
	t = strings.TrimSpace(t)
	if last, ok := lastNamePart(t); ok {
		t = last
	} else if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return sqlscan.TableName(d, t)
}

// sqlSpace is what SQL reads as white space between tokens.
const sqlSpace = " \t\n\r\f\v"

// lastNamePart returns the last part of a dotted name whose parts may be
// quoted with double quotes, backquotes or brackets (a doubled closing quote
// standing for itself), unquoted; white space around the dots does not
// count. ok is false for a name whose quotes do not delimit whole parts
// (a"b, "a"b, an unterminated quote).
func lastNamePart(t string) (last string, ok bool) {
	skip := func(i int) int {
		for i < len(t) && strings.IndexByte(sqlSpace, t[i]) >= 0 {
			i++
		}
		return i
	}
	for i := skip(0); ; {
		var part strings.Builder
		if i < len(t) && (t[i] == '"' || t[i] == '`' || t[i] == '[') {
			closer := t[i]
			if closer == '[' {
				closer = ']'
			}
			for i++; ; i++ {
				if i >= len(t) {
					return "", false
				}
				if t[i] == closer {
					if closer != ']' && i+1 < len(t) && t[i+1] == closer {
						part.WriteByte(closer)
						i++
						continue
					}
					i++
					break
				}
				part.WriteByte(t[i])
			}
		} else {
			j := i
			for j < len(t) && t[j] != '.' {
				if t[j] == '"' || t[j] == '`' {
					return "", false
				}
				j++
			}
			part.WriteString(strings.TrimRight(t[i:j], sqlSpace))
			i = j
		}
		last = part.String()
		if i = skip(i); i == len(t) {
			return last, true
		}
		if t[i] != '.' {
			return "", false
		}
		i = skip(i + 1)
	}
}

// ttlFor picks the strategy of one query: context, hint, table rule, default.
func (c *Connector) ttlFor(ctx context.Context, p *plan) time.Duration {
	if s, ok := strategyFrom(ctx); ok && !s.isZero() {
		return s.ttl
	}
	if !p.hint.isZero() {
		return p.hint.ttl
	}
	if !p.rule.isZero() {
		return p.rule.ttl
	}
	return c.cfg.ttl().ttl
}
