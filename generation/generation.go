// Package generation keeps the generation of every table of one namespace and
// moves it when the table is written, so that cache keys that include the
// generations of the tables a query read become unreachable at once.
//
// With no Redis client the clock is process-local. With one, generations live in
// Redis and every change is appended to a Redis Stream that each process reads
// with XREAD from the last id it saw; see Config.
//
// # What a key holds
//
// Read returns a namespace word followed by one generation per table. The
// namespace word is the namespace's epoch plus the number of whole-namespace
// invalidations; a table never written has generation 0. Read takes no lock and
// does not allocate beyond dst: the numbers of one epoch live in an immutable
// map of atomic counters (the map is copied only when a table is first seen),
// and a resync swaps in a whole new state, so one Read never mixes two epochs.
// Within an epoch every number only grows, so a vector of numbers, once left,
// is never read again: an entry filled under it cannot be found after the
// write that moved it.
//
// # Redis layout
//
// A namespace has a hash cachedsql:{ns}:gen and a stream cachedsql:{ns}:events
// (see Keys; the braces are a Cluster hash tag, so both are in one slot). The
// hash holds "!epoch" (random, below 2^63), "!seq" (events so far), "!all"
// (whole-namespace invalidations) and one "t:<table>" counter per table. One
// Lua script (EVALSHA, falling back to EVAL) increments the counters and
// "!seq" and XADDs the event (MAXLEN ~ Config.MaxLen) carrying origin, epoch,
// sequence, time and the new numbers; Advance applies the reply before it
// returns, so this process reads its writes at once. If "!epoch" is missing
// (hash flushed, evicted, Redis restarted empty) the script first sets a new
// random epoch, so counters that restart at 1 never rebuild an old key.
//
// # Proving every event was seen
//
// One goroutine per Clock reads the stream with plain XREAD BLOCK (every
// process sees every event). A resync is a second script that returns, as of
// one instant, the hash and the id of the stream's last entry; reading resumes
// from that id, so nothing is missed and nothing is double-counted. After that
// each event must carry the local epoch and sequence last+1. A different
// epoch (flush, restart, failover), a gap in sequence (stream trimmed past the
// last id, entries lost with an evicted stream) or an undecodable entry makes
// the clock stop vouching at once and resync. When a read returns nothing, the
// clock checks that the hash still holds its epoch (eviction or a flush with no
// later writes) and a "!seq" equal to the last sequence it read (a stream key
// deleted or evicted with events in it that the clock had not read), and
// that the event the hash records under that number is the one it read. A
// resync replaces the local numbers with Redis's and counts in
// Stats.Resyncs.
//
// # Redis losing writes
//
// A Redis restarted from a snapshot, or a replica promoted before it had
// the last writes, keeps the epoch but not the last increments, and would
// hand them out again for different data. Each event carries a random
// nonce, and the hash keeps the last 64 as "<seq>:<nonce>" under
// "!n<seq mod 64>". The resync script replaces the epoch (every key
// changes) when the hash's "!seq" is below the last sequence the clock saw,
// or when the event under that number is not the one the clock saw, by the
// ring or by the stream entry it read; the advance script does the same
// check for the writer before it hands out a number. A reader that cannot
// tell (more than 64 events behind, its entry trimmed) keeps the epoch and
// calls Config.OnUnverified, so that its process drops what it filled: one
// slow reader does not turn every process's cache cold. A clock whose own
// Advance is answered with the number of an event it saw with another
// nonce forces the replacement. A reply moves the clock's last event only
// to the next sequence: past a gap, the reader checks.
//
// While the reader cannot show it is in step (disconnected, Redis not
// answering), Read keeps vouching (ok=true) for at most StaleBound after the
// last moment it was known to be in step, then says ok=false until a resync
// succeeds; the bound is enforced by a timer, so it may run late by timer
// latency.
//
// # Writes while Redis is unreachable
//
// Advance still takes effect here: the tables get a fresh random value with the
// top bit set, which Redis never assigns (its integers are below 2^63), so keys
// built meanwhile never equal a key another process builds. The tables stay
// pending, move to a fresh local value when another process changes them, and
// are published by a background loop when Redis answers again; Advance returns
// an error wrapping ErrNotPublished.
//
// Close makes one last attempt to publish what is pending, and returns an
// error wrapping ErrNotPublished if it fails.
//
// The clock uses its own copy of a *redis.Client or *redis.ClusterClient with
// context deadlines enabled (so a Redis that stops answering cannot hold a
// blocking read past its deadline, nor Close); other client types are used as
// they are.
package generation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Clock.
type Config struct {
	// Namespace scopes the generations. Required.
	Namespace string
	// Redis is the shared store and stream. nil keeps the clock in this process.
	Redis redis.UniversalClient
	// Origin identifies this process in stream events. "" picks a random one.
	Origin string
	// StaleBound is how long, while the stream is not connected, entries keyed
	// with the last known generations may still be served. 0 means 1 second.
	StaleBound time.Duration
	// MaxLen is the approximate maximum length of the stream. 0 means 10000.
	MaxLen int64
	// Logger receives warnings. nil discards them.
	Logger *slog.Logger
	// OnUnverified, if set, is called when a resync could not check that
	// Redis still holds every event this clock saw (its reader fell more
	// than 64 events behind a stream trimmed past it): Redis may have lost
	// some and handed their numbers out again, and only entries this
	// process filled can be under them, so it should drop them, and not
	// store fills that read their generations before the call. It is
	// called after the new numbers are loaded and before the clock vouches
	// for them.
	OnUnverified func()
}

// Event is one invalidation as carried by the stream.
type Event struct {
	ID     string    // stream id, "" for a local event
	Origin string    // process that made the change
	Tables []string  // tables written; empty means every table
	Time   time.Time // when the change was made
	// Resync is true when the clock replaced its generations with Redis's after
	// it could not prove it had seen every event: any table may have changed.
	Resync bool
}

// Stats is a snapshot of the clock's counters.
type Stats struct {
	Sent      int64         // changes this clock published (process-local: made)
	Received  int64         // other processes' events applied
	Resyncs   int64         // times the numbers were replaced by Redis's, after the first sync
	Lag       time.Duration // age of the last event received when it was applied
	Connected bool          // the stream reader is in contact with Redis (always true process-local)
}

// Clock is the generation clock of one namespace.
type Clock struct {
	namespace  string
	origin     string
	instance   string // unique per Clock: tells own events apart even if two share an Origin
	staleBound time.Duration
	log        *slog.Logger
	// onUnverified is Config.OnUnverified.
	onUnverified func()
	now          func() time.Time

	st atomic.Pointer[state]

	mu sync.Mutex // serialises changes to the state; Read never takes it

	subMu   sync.Mutex
	subs    atomic.Pointer[[]subscriber]
	nextSub uint64

	sent, received, resyncs atomic.Int64
	lag                     atomic.Int64
	connected               atomic.Bool

	rs *redisSide // nil in process-local mode
}

type subscriber struct {
	id uint64
	fn func(Event)
}

// New returns a Clock. With a Redis client it starts reading the stream.
func New(cfg Config) (*Clock, error) { return newClock(cfg, nil) }

// newClock is New with a hook that tests use to reach the Redis side before
// it starts.
func newClock(cfg Config, hook func(*redisSide)) (*Clock, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("generation: Config.Namespace is required")
	}
	if cfg.StaleBound < 0 {
		return nil, fmt.Errorf("generation: Config.StaleBound is negative (%v)", cfg.StaleBound)
	}
	if cfg.MaxLen < 0 {
		return nil, fmt.Errorf("generation: Config.MaxLen is negative (%d)", cfg.MaxLen)
	}
	if cfg.StaleBound == 0 {
		cfg.StaleBound = time.Second
	}
	if cfg.MaxLen == 0 {
		cfg.MaxLen = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Clock{
		namespace:  cfg.Namespace,
		origin:     cfg.Origin,
		instance:   fmt.Sprintf("%016x", random63()),
		staleBound: cfg.StaleBound,
		log:        log,
		now:        time.Now,

		onUnverified: cfg.OnUnverified,
	}
	if c.origin == "" {
		c.origin = "p-" + c.instance
	}
	c.st.Store(newState(random63()))
	if cfg.Redis != nil {
		c.rs = newRedisSide(c, cfg.Redis, cfg.MaxLen)
		if hook != nil {
			hook(c.rs)
		}
		c.rs.start()
	} else {
		c.connected.Store(true)
	}
	return c, nil
}

// Read appends to dst the generations of the namespace and of each table, in
// order, and returns it. ok is false when the clock cannot currently vouch for
// its generations (out of sync beyond StaleBound): callers must then not serve
// from L1 nor write to any tier.
func (c *Clock) Read(dst []uint64, tables []string) (gens []uint64, ok bool) {
	s := c.st.Load()
	m := *s.tables.Load()
	dst = append(dst, s.namespaceWord())
	for _, t := range tables {
		var g uint64
		if e := m[t]; e != nil {
			g = e.gen.Load()
		}
		dst = append(dst, g)
	}
	if c.rs == nil {
		return dst, true
	}
	return dst, c.rs.vouch.Load()
}

// Advance moves the generations of tables (every table when all is true). It
// has taken effect in this process when it returns, whatever error it reports;
// the error only says the change could not yet be published to other processes
// (it will be, when Redis is reachable again).
func (c *Clock) Advance(ctx context.Context, tables []string, all bool) error {
	tables = dedupe(tables)
	if len(tables) == 0 && !all {
		return nil
	}
	if all {
		tables = nil // every table: the namespace word is in every key
	} else {
		tables = append([]string(nil), tables...) // events outlive the caller's slice
	}
	if c.rs != nil {
		return c.rs.advance(ctx, tables, all)
	}
	c.mu.Lock()
	s := c.st.Load()
	if all {
		s.all.shared++
		s.all.gen.Store(s.all.shared)
	}
	for _, t := range tables {
		e := s.counterLocked(t)
		e.shared++
		e.gen.Store(e.shared)
	}
	c.mu.Unlock()
	c.sent.Add(1)
	c.deliver(Event{Origin: c.origin, Tables: tables, Time: c.now()})
	return nil
}

// WaitSync waits until Read vouches for its generations (at once in
// process-local mode): after New, until the first resync with Redis; after a
// disconnection, until the clock has caught up again.
func (c *Clock) WaitSync(ctx context.Context) error {
	if c.rs == nil {
		return nil
	}
	return c.rs.waitSync(ctx)
}

// Subscribe calls fn for every event, local or received, until cancel is called.
// fn must not block. Events of this clock's own Advance are delivered once
// (from Advance, with the stream id), never again from the stream; a resync
// that changed any number is delivered as an Event with Resync set.
func (c *Clock) Subscribe(fn func(Event)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	c.subMu.Lock()
	c.nextSub++
	id := c.nextSub
	var cur []subscriber
	if p := c.subs.Load(); p != nil {
		cur = *p
	}
	next := append(append([]subscriber(nil), cur...), subscriber{id: id, fn: fn})
	c.subs.Store(&next)
	c.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.subMu.Lock()
			defer c.subMu.Unlock()
			cur := *c.subs.Load()
			next := make([]subscriber, 0, len(cur))
			for _, s := range cur {
				if s.id != id {
					next = append(next, s)
				}
			}
			c.subs.Store(&next)
		})
	}
}

func (c *Clock) deliver(ev Event) {
	p := c.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.fn(ev)
	}
}

// Stats returns the current counters.
func (c *Clock) Stats() Stats {
	return Stats{
		Sent:      c.sent.Load(),
		Received:  c.received.Load(),
		Resyncs:   c.resyncs.Load(),
		Lag:       time.Duration(c.lag.Load()),
		Connected: c.connected.Load(),
	}
}

// Close stops reading the stream. It waits for the clock's goroutines to end.
// Changes Redis has not seen yet (made while it was unreachable) get one
// last attempt to be published; if that fails too, Close logs them and
// returns an error wrapping ErrNotPublished. Closing twice does nothing.
func (c *Clock) Close() error {
	if c.rs != nil {
		return c.rs.stop()
	}
	return nil
}

// dedupe returns tables without repeats or empty names, in first-seen order.
// It copies only when it must, so the caller's slice is never modified.
func dedupe(tables []string) []string {
	if len(tables) > 16 {
		// Quadratic scanning stops paying; a set costs an allocation.
		seen := make(map[string]bool, len(tables))
		out := make([]string, 0, len(tables))
		for _, t := range tables {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		return out
	}
	for i, t := range tables {
		dup := t == ""
		for _, u := range tables[:i] {
			if u == t {
				dup = true
				break
			}
		}
		if dup {
			out := append([]string(nil), tables[:i]...)
			for _, t := range tables[i+1:] {
				if t == "" {
					continue
				}
				seen := false
				for _, u := range out {
					if u == t {
						seen = true
						break
					}
				}
				if !seen {
					out = append(out, t)
				}
			}
			return out
		}
	}
	return tables
}
