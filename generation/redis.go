package generation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ErrNotPublished wraps the error of an Advance that took effect in this
// process but could not be published yet; the clock publishes it by itself
// once Redis answers again.
var ErrNotPublished = errors.New("generation: change applied in this process but not yet published to Redis")

// opTimeout bounds each Redis call of the clock (a caller's earlier deadline
// wins), so a Redis that stopped answering costs a write at most this long.
const opTimeout = time.Second

// redisSide is the Redis half of a Clock.
type redisSide struct {
	c      *Clock
	rdb    redis.UniversalClient
	own    bool // rdb was made by the clock: closed by Close
	maxLen int64
	block  time.Duration // XREAD BLOCK time; also the period of the idle check

	vouch     atomic.Bool // Read's ok
	connected atomic.Bool
	// backingOff: an Advance's publish failed, and publishLoop has not
	// published since; Advance leaves publishing to it meanwhile.
	backingOff atomic.Bool
	vouchMu    sync.Mutex
	syncedAt   time.Time   // last moment the clock was known to have seen every event
	staleT     *time.Timer // turns vouch off StaleBound after syncedAt
	waiters    chan struct{}

	wantResync atomic.Bool // set when an Advance reply shows another epoch
	// forceResync: a reply proved Redis lost an event this clock saw; the
	// next resync replaces the epoch.
	forceResync atomic.Bool

	// Guarded by c.mu.
	pending    map[string]uint64 // tables advanced locally, not yet published -> version
	pendingAll uint64
	last       tip      // the event with the highest sequence seen in the current epoch
	resyncing  bool     // a resync script is in flight: record replies
	replies    []*reply // replies applied while resyncing

	kickPublish chan struct{}
	kickReader  chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	stopOnce    sync.Once

	// beforeRead, if set (tests), runs before each XREAD.
	beforeRead func()
}

func newRedisSide(c *Clock, rdb redis.UniversalClient, maxLen int64) *redisSide {
	r := &redisSide{
		c:           c,
		maxLen:      maxLen,
		block:       min(max(c.staleBound/4, 10*time.Millisecond), time.Second),
		pending:     map[string]uint64{},
		kickPublish: make(chan struct{}, 1),
		kickReader:  make(chan struct{}, 1),
	}
	r.rdb, r.own = deadlineClient(rdb)
	r.staleT = time.AfterFunc(time.Hour, r.checkStale)
	r.staleT.Stop()
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// deadlineClient returns a client for the clock's own use that honours context
// deadlines: a go-redis client built without ContextTimeoutEnabled ignores
// them, and a blocking XREAD on a Redis that stopped answering would then hang
// for its block time plus ten seconds, holding Close and keeping the clock from
// noticing. The copy shares the user's addresses, credentials, dialer, TLS and
// hooks but not client-side caching or push-notification handlers, which belong
// to one client. Other client types are used as they are.
func deadlineClient(rdb redis.UniversalClient) (redis.UniversalClient, bool) {
	switch c := rdb.(type) {
	case *redis.Client:
		o := *c.Options()
		if o.ContextTimeoutEnabled {
			return rdb, false
		}
		o.ContextTimeoutEnabled = true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		o.PushNotificationProcessor = nil
		o.ClientSideCacheConfig = nil
		o.ClientSideCache = nil
		o.ClientSideCacheRefreshOnInvalidate = false
		o.ClientSideCacheCoalesceMisses = false
		o.AutoPipelineOptions = nil
		o.MinIdleConns = 0
		return redis.NewClient(&o), true
	case *redis.ClusterClient:
		o := *c.Options()
		if o.ContextTimeoutEnabled {
			return rdb, false
		}
		o.ContextTimeoutEnabled = true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		o.PushNotificationProcessor = nil
		o.AutoPipelineOptions = nil
		o.MinIdleConns = 0
		return redis.NewClusterClient(&o), true
	default:
		return rdb, false
	}
}

func (r *redisSide) start() {
	r.wg.Add(2)
	go r.readLoop()
	go r.publishLoop()
}

func (r *redisSide) stop() (err error) {
	r.stopOnce.Do(func() {
		err = r.publishPending()
		r.cancel()
		if r.own {
			// Closing the connections ends a blocked XREAD at once.
			r.rdb.Close()
		}
		r.wg.Wait()
		r.staleT.Stop()
		r.vouch.Store(false)
		r.connected.Store(false)
		r.c.connected.Store(false)
	})
	return err
}

// publishPending makes one last attempt, bounded by opTimeout, to publish
// the changes Redis has not seen: a process that wrote while Redis was
// unreachable and closes before its publisher got through would otherwise
// take them with it, and other processes would serve the old rows for
// their TTL.
func (r *redisSide) publishPending() error {
	c := r.c
	c.mu.Lock()
	tables := make([]string, 0, len(r.pending))
	for t := range r.pending {
		tables = append(tables, t)
	}
	all := r.pendingAll > 0
	c.mu.Unlock()
	if len(tables) == 0 && !all {
		return nil
	}
	if all {
		tables = nil
	}
	slices.Sort(tables)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	epoch, last := r.position()
	if _, err := runAdvance(ctx, r.rdb, c.namespace, c.origin, c.instance, epoch, last, tables, all, c.now(), r.maxLen); err != nil {
		c.log.Error("generation: closing with changes other processes never saw; announce them with cachedsql invalidate",
			"namespace", c.namespace, "tables", tables, "all", all, "err", err)
		return fmt.Errorf("%w (namespace %q, tables %q, all %v): closing: %w", ErrNotPublished, c.namespace, tables, all, err)
	}
	return nil
}

// position is the clock's epoch and the last event it saw in it.
func (r *redisSide) position() (uint64, tip) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.st.Load().epoch, r.last
}

func (r *redisSide) callCtx(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d)
}

// markSynced records that every event up to at has been seen.
func (r *redisSide) markSynced(at time.Time) {
	r.vouchMu.Lock()
	defer r.vouchMu.Unlock()
	if r.wantResync.Load() {
		return
	}
	if at.After(r.syncedAt) {
		r.syncedAt = at
	}
	left := r.c.staleBound - time.Since(r.syncedAt)
	if left <= 0 {
		return
	}
	r.vouch.Store(true)
	r.staleT.Reset(left)
	if r.waiters != nil {
		close(r.waiters)
		r.waiters = nil
	}
}

// checkStale runs when StaleBound may have passed since the last sync.
func (r *redisSide) checkStale() {
	r.vouchMu.Lock()
	defer r.vouchMu.Unlock()
	if left := r.c.staleBound - time.Since(r.syncedAt); left > 0 {
		r.staleT.Reset(left)
		return
	}
	r.vouch.Store(false)
}

// distrust stops vouching at once: events were missed, so the local numbers
// may be older than writes already made.
func (r *redisSide) distrust() {
	r.vouchMu.Lock()
	r.vouch.Store(false)
	r.syncedAt = time.Time{}
	r.vouchMu.Unlock()
}

func (r *redisSide) waitSync(ctx context.Context) error {
	for {
		r.vouchMu.Lock()
		if r.vouch.Load() {
			r.vouchMu.Unlock()
			return nil
		}
		if r.waiters == nil {
			r.waiters = make(chan struct{})
		}
		ch := r.waiters
		r.vouchMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ctx.Done():
			return errors.New("generation: clock closed")
		}
	}
}

func (r *redisSide) setConnected(v bool) {
	r.connected.Store(v)
	r.c.connected.Store(v)
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits d or until the clock closes or the channel is kicked; it reports
// whether the clock is still open.
func (r *redisSide) sleep(d time.Duration, wake chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-r.ctx.Done():
		return false
	}
	return true
}

// readLoop keeps the clock in step with the stream. It vouches for the local
// numbers only while it can prove it has seen every event: after a resync,
// each event must carry the current epoch and the next sequence number, and
// each idle period ends with a check that the hash still holds the epoch.
func (r *redisSide) readLoop() {
	defer r.wg.Done()
	c := r.c
	var lastID string
	var lastSeq uint64
	needSync, first, down := true, true, false
	backoff, readBackoff := 10*time.Millisecond, 10*time.Millisecond
	for r.ctx.Err() == nil {
		if needSync || r.wantResync.Load() {
			at := time.Now()
			id, seq, err := r.resync(!first)
			if err != nil {
				r.setConnected(false)
				if r.ctx.Err() == nil && !down {
					// Once per outage, not once per retry.
					down = true
					c.log.Warn("generation: cannot reach Redis to resync; retrying until it answers", "namespace", c.namespace, "err", err)
				}
				if !r.sleep(backoff, r.kickReader) {
					return
				}
				backoff = min(backoff*2, max(r.block, 100*time.Millisecond))
				continue
			}
			if down {
				c.log.Info("generation: resynchronised with Redis", "namespace", c.namespace)
			}
			backoff, down = 10*time.Millisecond, false
			lastID, lastSeq, needSync, first = id, seq, false, false
			r.setConnected(true)
			r.markSynced(at)
			kick(r.kickPublish)
		}
		if r.beforeRead != nil {
			r.beforeRead()
		}
		at := time.Now()
		ctx, cancel := r.callCtx(r.ctx, r.block+opTimeout)
		res, err := r.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{r.streamKey(), lastID}, Count: 100, Block: r.block,
		}).Result()
		cancel()
		if r.ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) {
			if ok, err := r.inStep(lastSeq); err != nil {
				r.setConnected(false)
				needSync = true
			} else if !ok {
				r.distrust()
				needSync = true
			} else {
				r.markSynced(at)
			}
			continue
		}
		if err != nil {
			// Disconnected: keep vouching for StaleBound, resync on reconnect.
			if !down {
				down = true
				c.log.Warn("generation: reading the invalidation stream failed; resynchronising", "namespace", c.namespace, "err", err)
			}
			r.setConnected(false)
			needSync = true
			// A read that keeps failing while resyncs succeed (a stream key
			// holding another type) must not spin.
			if !r.sleep(readBackoff, nil) {
				return
			}
			readBackoff = min(readBackoff*2, time.Second)
			continue
		}
		readBackoff = 10 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				if needSync {
					break
				}
				e, err := xmessageEvent(m)
				switch {
				case err != nil:
					c.log.Warn("generation: undecodable stream entry; resynchronising", "namespace", c.namespace, "err", err)
					needSync = true
				case e.epoch != c.st.Load().epoch:
					needSync = true // Redis was flushed, restarted or failed over
				case e.seq != lastSeq+1:
					needSync = true // trimmed past lastID, or written around us
				default:
					lastSeq, lastID = e.seq, m.ID
					r.applyEvent(e)
				}
			}
		}
		if needSync {
			r.distrust()
			continue
		}
		r.markSynced(at)
	}
}

func (r *redisSide) streamKey() string { _, s := Keys(r.c.namespace); return s }

// inStep reports, after a read that found nothing past the last event seen,
// whether that proves nothing was missed: the hash must still hold the local
// epoch (it is gone after a flush, a restart or an eviction, and replaced
// after a lost write) and count exactly lastSeq events. The empty read alone
// proves nothing if the stream key itself went (deleted, or evicted under an
// allkeys policy) with events in it that this reader had not read; "!seq"
// past lastSeq shows that. It also shows an event written just after the
// read, which costs a needless resync, not a stale read. It writes too
// (stepScript): a Redis that answers reads but refuses writes fails it, and
// the clock stops vouching once StaleBound has passed.
func (r *redisSide) inStep(lastSeq uint64) (bool, error) {
	hash, _ := Keys(r.c.namespace)
	ctx, cancel := r.callCtx(r.ctx, opTimeout)
	defer cancel()
	v, err := stepScript.Run(ctx, r.rdb, []string{hash, ProbeKey(r.c.namespace)},
		time.Now().UnixMilli(), fieldEpoch, fieldSeq, ringField(lastSeq)).Slice()
	if err != nil {
		return false, err
	}
	if len(v) != 3 {
		return false, fmt.Errorf("generation: step script answered %d values, want 3", len(v))
	}
	r.c.mu.Lock()
	last := r.last
	r.c.mu.Unlock()
	slot, _ := v[2].(string)
	if n, ok := ringNonce(slot, lastSeq); ok && last.seq == lastSeq && last.nonce != "" && n != last.nonce {
		// Another event holds the number of the last one seen: Redis lost
		// that one, and a writer since reused its number (one whose stream id
		// sorts before it never reaches this reader).
		return false, nil
	}
	epoch, _ := v[0].(string) // nil when the field (or the hash) is gone
	if e, err := parseUint63(epoch); err != nil || e != r.c.st.Load().epoch {
		return false, nil
	}
	var n uint64 // no "!seq" yet: no event since the epoch was made
	if seq, ok := v[1].(string); ok {
		if n, err = parseUint63(seq); err != nil {
			return false, nil
		}
	}
	return n == lastSeq, nil
}

// resync replaces the local numbers with Redis's and returns the stream
// position they correspond to.
func (r *redisSide) resync(count bool) (lastID string, lastSeq uint64, err error) {
	c := r.c
	r.wantResync.Store(false)
	c.mu.Lock()
	cur := c.st.Load()
	last := r.last
	r.resyncing, r.replies = true, nil
	c.mu.Unlock()

	force := r.forceResync.Swap(false)
	ctx, cancel := r.callCtx(r.ctx, opTimeout)
	lastID, snap, unverified, err := runResync(ctx, r.rdb, c.namespace, cur.epoch, last, force)
	cancel()
	if err == nil && unverified {
		// Redis may have lost writes this clock saw, and handed their numbers
		// out again; only its own process's entries can be under them. No
		// read may use them from here until they are dropped, below.
		r.distrust()
	}

	c.mu.Lock()
	replies := r.replies
	r.resyncing, r.replies = false, nil
	if err != nil {
		c.mu.Unlock()
		if force {
			r.forceResync.Store(true)
		}
		return "", 0, fmt.Errorf("generation: resync of namespace %q: %w", c.namespace, err)
	}
	// Replies to advances that ran after the script are missing from the
	// snapshot; those that ran before are in it; max() takes either.
	for _, rep := range replies {
		if rep.epoch != snap.epoch {
			continue
		}
		snap.all = max(snap.all, rep.all)
		for t, g := range rep.gens {
			snap.gens[t] = max(snap.gens[t], g)
		}
	}
	next := newState(snap.epoch)
	m := make(map[string]*counter, len(snap.gens)+len(r.pending))
	for t, g := range snap.gens {
		e := &counter{shared: g}
		e.gen.Store(g)
		m[t] = e
	}
	for t := range r.pending {
		e := m[t]
		if e == nil {
			e = &counter{}
			m[t] = e
		}
		e.advanceLocal()
	}
	next.tables.Store(&m)
	next.all.shared = snap.all
	if r.pendingAll > 0 {
		next.all.advanceLocal()
	} else {
		next.all.gen.Store(snap.all)
	}
	changed := !sameNumbers(cur, next)
	c.st.Store(next)
	r.last = tip{seq: snap.seq, nonce: snap.nonce, id: lastID}
	for moved := true; moved; {
		moved = false
		for _, rep := range replies {
			if rep.epoch == snap.epoch && rep.seq == r.last.seq+1 {
				r.last = tip{seq: rep.seq, nonce: rep.nonce, id: rep.id}
				moved = true
			}
		}
	}
	c.mu.Unlock()
	if unverified && c.onUnverified != nil {
		// After the new numbers are in: a fill that read the old ones has
		// started before this, and its process can tell (Config.OnUnverified).
		c.onUnverified()
	}

	if count {
		c.resyncs.Add(1)
		if changed {
			c.deliver(Event{Origin: c.origin, Time: c.now(), Resync: true})
		}
	}
	return lastID, snap.seq, nil
}

// sameNumbers reports whether two states give every key the same generations.
func sameNumbers(a, b *state) bool {
	if a.namespaceWord() != b.namespaceWord() {
		return false
	}
	am, bm := *a.tables.Load(), *b.tables.Load()
	for t, e := range am {
		var g uint64
		if f := bm[t]; f != nil {
			g = f.gen.Load()
		}
		if e.gen.Load() != g {
			return false
		}
	}
	for t, f := range bm {
		if am[t] == nil && f.gen.Load() != 0 {
			return false
		}
	}
	return true
}

// applyEvent applies another process's event (own events were applied from
// the script's reply already).
func (r *redisSide) applyEvent(e *event) {
	c := r.c
	c.mu.Lock()
	if e.seq > r.last.seq {
		r.last = tip{seq: e.seq, nonce: e.nonce, id: e.id}
	}
	if e.instance == c.instance {
		c.mu.Unlock()
		return
	}
	s := c.st.Load()
	if e.all > 0 && e.all > s.all.shared {
		s.all.shared = e.all
		if r.pendingAll > 0 {
			s.all.advanceLocal()
		} else {
			s.all.gen.Store(e.all)
		}
	}
	for t, g := range e.gens {
		s.counterLocked(t).applyShared(g, r.pending[t] > 0)
	}
	c.mu.Unlock()
	c.received.Add(1)
	if !e.time.IsZero() {
		c.lag.Store(int64(c.now().Sub(e.time)))
	}
	c.deliver(e.public())
}

// applyReplyLocked applies what the script answered to this clock's own
// advance. versions (from the publisher) are the pending versions being
// published; nil for a direct Advance. c.mu must be held. It reports whether the
// reply came from another epoch, or proves Redis lost writes, in which case a
// resync is needed.
func (r *redisSide) applyReplyLocked(rep *reply, versions map[string]uint64, allVersion uint64) (otherEpoch bool) {
	s := r.c.st.Load()
	if r.resyncing {
		r.replies = append(r.replies, rep)
	}
	var cleared []string // published tables that may now take shared values again
	if versions != nil {
		for t, v := range versions {
			if r.pending[t] == v {
				delete(r.pending, t)
				cleared = append(cleared, t)
			}
		}
		if allVersion > 0 && r.pendingAll == allVersion {
			r.pendingAll = 0
		}
	}
	// Two events under one number: Redis lost the one seen before, and its
	// counters hand out numbers keys were already filled under.
	lost := rep.epoch == s.epoch && rep.seq == r.last.seq && r.last.nonce != "" && rep.nonce != r.last.nonce
	if lost {
		r.forceResync.Store(true)
	}
	if rep.epoch != s.epoch || lost {
		// The shared numbers belong to a state this clock has not loaded yet
		// (or to none it can trust): local values make the write visible here
		// until the resync.
		if rep.all > 0 {
			s.all.advanceLocal()
		}
		for t := range rep.gens {
			s.counterLocked(t).advanceLocal()
		}
		return true
	}
	if rep.seq == r.last.seq+1 {
		// Only the next event: past a gap the reader has yet to cross, the
		// tip would vouch for events this clock never checked.
		r.last = tip{seq: rep.seq, nonce: rep.nonce, id: rep.id}
	}
	for _, t := range cleared {
		if _, named := rep.gens[t]; !named {
			// Published through a namespace-wide change, which moved every key
			// after the write: the table's shared value is safe again.
			ctr := s.counterLocked(t)
			ctr.gen.Store(ctr.shared)
		}
	}
	if rep.all > 0 {
		s.all.shared = max(s.all.shared, rep.all)
		if r.pendingAll > 0 {
			s.all.advanceLocal()
		} else {
			s.all.gen.Store(s.all.shared)
		}
	}
	for t, g := range rep.gens {
		ctr := s.counterLocked(t)
		// A newer value already applied also covers this write: it was
		// assigned after this script ran.
		ctr.shared = max(ctr.shared, g)
		if r.pending[t] > 0 {
			ctr.advanceLocal()
		} else {
			ctr.gen.Store(ctr.shared)
		}
	}
	return false
}

func (r *redisSide) advance(ctx context.Context, tables []string, all bool) error {
	c := r.c
	at := c.now()
	var cause error = errors.New("the invalidation stream is not connected")
	if r.connected.Load() && !r.backingOff.Load() {
		cctx, cancel := r.callCtx(ctx, opTimeout)
		epoch, last := r.position()
		rep, err := runAdvance(cctx, r.rdb, c.namespace, c.origin, c.instance, epoch, last, tables, all, at, r.maxLen)
		cancel()
		if err != nil {
			// Later writes go straight to publishLoop, which retries with
			// a backoff, until it has published: a Redis that holds or
			// refuses writes while it answers reads (CLIENT PAUSE WRITE)
			// would otherwise cost every write a timeout.
			r.backingOff.Store(true)
		}
		if err == nil {
			c.mu.Lock()
			other := r.applyReplyLocked(rep, nil, 0)
			c.mu.Unlock()
			if other {
				r.wantResync.Store(true)
				r.distrust()
				kick(r.kickReader)
			}
			c.sent.Add(1)
			c.deliver(Event{ID: rep.id, Origin: c.origin, Tables: tables, Time: at})
			return nil
		}
		cause = err
	}
	c.mu.Lock()
	s := c.st.Load()
	if all {
		r.pendingAll++
		s.all.advanceLocal()
	}
	for _, t := range tables {
		r.pending[t]++
		s.counterLocked(t).advanceLocal()
	}
	c.mu.Unlock()
	kick(r.kickPublish)
	c.deliver(Event{Origin: c.origin, Tables: tables, Time: at})
	return fmt.Errorf("%w (namespace %q, tables %q): %w", ErrNotPublished, c.namespace, tables, cause)
}

// publishLoop publishes the advances made while Redis could not be reached.
func (r *redisSide) publishLoop() {
	defer r.wg.Done()
	c := r.c
	backoff, failing := 10*time.Millisecond, false
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kickPublish:
		}
		for r.ctx.Err() == nil && r.connected.Load() {
			c.mu.Lock()
			versions := make(map[string]uint64, len(r.pending))
			tables := make([]string, 0, len(r.pending))
			for t, v := range r.pending {
				versions[t] = v
				tables = append(tables, t)
			}
			allVersion := r.pendingAll
			c.mu.Unlock()
			if len(tables) == 0 && allVersion == 0 {
				r.backingOff.Store(false)
				break
			}
			if allVersion > 0 {
				tables = nil
			}
			ctx, cancel := r.callCtx(r.ctx, opTimeout)
			epoch, last := r.position()
			rep, err := runAdvance(ctx, r.rdb, c.namespace, c.origin, c.instance, epoch, last, tables, allVersion > 0, c.now(), r.maxLen)
			cancel()
			if err != nil {
				if !failing {
					failing = true
					c.log.Warn("generation: publishing changes made while Redis was unreachable failed; retrying", "namespace", c.namespace, "err", err)
				}
				if !r.sleep(backoff, nil) {
					return
				}
				backoff = min(backoff*2, time.Second)
				continue
			}
			backoff, failing = 10*time.Millisecond, false
			if allVersion > 0 {
				// The namespace-wide change covers every pending table.
				rep.gens = map[string]uint64{}
			}
			c.mu.Lock()
			other := r.applyReplyLocked(rep, versions, allVersion)
			c.mu.Unlock()
			if other {
				r.wantResync.Store(true)
				r.distrust()
				kick(r.kickReader)
			}
			c.sent.Add(1)
		}
	}
}
