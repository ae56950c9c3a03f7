package tier

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql/keying"
)

// L2Config configures the Redis tier. Exactly one of Client and URL is set.
type L2Config struct {
	// Client is a go-redis client the application already has (single node,
	// Sentinel or Cluster). L2 does not close it, and the timeout fields below
	// do not apply to it: its own options rule. Without ContextTimeoutEnabled
	// it ignores context deadlines, and Get's share of its caller's deadline
	// (see Get) cannot cut a lookup short.
	Client redis.UniversalClient
	// URL is a Redis URL: redis:// or rediss:// (redis.ParseURL); with a
	// master_name query parameter, Sentinel (redis.ParseFailoverURL); with
	// addr query parameters or Cluster set, Redis Cluster
	// (redis.ParseClusterURL). L2 owns the client it makes and closes it.
	URL string
	// Cluster makes URL name a node of a Redis Cluster even without addr
	// parameters.
	Cluster bool
	// Namespace separates this cache's keys from others': keys are
	// "cachedsql:<Namespace>:<32 hex digits>". Required. It may not contain
	// '{' or '}', which would make Redis Cluster put every key in one slot.
	Namespace string

	// DialTimeout, ReadTimeout and WriteTimeout bound each connect, read and
	// write. 0 means the URL's value if it sets one (dial_timeout=...), else
	// DefaultL2DialTimeout (250 ms), DefaultL2ReadTimeout (200 ms) and
	// DefaultL2WriteTimeout (200 ms). Negative is an error.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// BreakerFailures is how many consecutive failures (timeouts, refused
	// connections, a server that is loading or down) open the circuit
	// breaker. 0 means 3. Negative is an error. With a Redis Cluster or a
	// Ring, each node has its own breaker, counting only its keys' calls.
	BreakerFailures int
	// BreakerBackoff is how long the breaker stays open before letting one
	// probe through; each failed probe doubles it up to BreakerMaxBackoff.
	// 0 means 500 ms and 10 s respectively.
	BreakerBackoff    time.Duration
	BreakerMaxBackoff time.Duration

	// CompressAbove is the value size in bytes from which values are
	// compressed with S2. 0 means DefaultCompressAbove; negative turns
	// compression off. Reading compressed values needs no setting.
	CompressAbove int
	// MaxValueBytes is the largest value Set stores and Get decompresses.
	// 0 means 64 MiB.
	MaxValueBytes int
}

// DefaultCompressAbove is the default compression threshold. S2 stores
// row sets in about a third of the bytes. BenchmarkL2GetLarge (loopback,
// interleaved) found it 4–20% slower to read at 4 and 16 KiB, 13–30% faster
// at 64 KiB and within noise at 512 KiB (decoding costs as much as loopback
// saves); over a real network, and for Redis's memory, the saved bytes
// count for more.
const DefaultCompressAbove = 32 << 10

const (
	defaultBreakerFailures   = 3
	defaultBreakerBackoff    = 500 * time.Millisecond
	defaultBreakerMaxBackoff = 10 * time.Second
	defaultMaxValueBytes     = 64 << 20
)

// ErrNoTTL reports an L2 entry without an expiry. cachedsql always writes
// with PX, so such a value was not written by it, and promoting it would
// give it a life nobody chose: it is a miss. GetValue, which does not ask
// Redis for the TTL, tells such an entry by the end written into it, once
// that is deadlineSlack past by the reader's clock.
var ErrNoTTL = errors.New("tier: L2 entry has no TTL")

// maxSetHold is the most of ctx's deadline that Set counts on the client
// holding a SET back, when it stamps the entry's end: the longest budget
// cachedsql gives a fill's write.
const maxSetHold = 5 * time.Second

// deadlineSlack is how far past the end written into an entry GetValue
// still serves it: room for the writer's and reader's clocks to disagree.
const deadlineSlack = time.Second

// L2Stats is a snapshot of the L2 counters. Every Get is counted once in
// Hits or Misses; a Get or Set that failed is also counted in Errors.
type L2Stats struct {
	Hits         int64
	Misses       int64
	Errors       int64 // Redis errors, corrupt entries and entries without TTL
	Corrupt      int64 // entries that were not in cachedsql's format (also in Errors)
	Rejected     int64 // calls refused at once because the breaker was open (not in Errors)
	Sets         int64 // values stored
	BytesWritten int64 // bytes of stored values as sent to Redis (after compression)
	// BreakerState is the worst state among the breakers: with a Redis
	// Cluster or a Ring, open if any node's breaker is open (L2 is off for
	// that node's keys only), else half-open if any is, else closed.
	// NodeBreakers tells which node.
	BreakerState BreakerState
	BreakerOpens int64 // times a breaker opened, summed over the nodes
}

// L2 is the Redis tier.
//
// Get reads the value and its remaining TTL (PTTL, milliseconds) in one
// round trip (a GET+PTTL pipeline) and reports the TTL measured from when
// the call started, so a copy promoted to L1 never
// outlives the Redis entry. Set writes with SET PX. A circuit breaker stops
// calls after repeated failures and probes Redis again after a backoff.
//
// With a Redis Cluster or a Ring there is one breaker per node, chosen by
// the node that owns the key (ClusterClient.MasterForKey from go-redis's
// cached slot map, Ring.GetShardClientForKey: no round trip): a stalled
// master costs its own keys a few timeouts, then misses at once, while the
// other masters keep serving theirs.
//
// An L2 is safe for concurrent use.
type L2 struct {
	client    redis.UniversalClient
	ownClient bool
	prefix    string
	compress  int
	maxValue  int
	// breaker is the only breaker for a single node or Sentinel. For a
	// Cluster or Ring it guards routing (a Cluster's first slot-map load
	// contacts the nodes), and nodes holds the per-node breakers.
	breaker *breaker
	// route returns the client of the node that owns a key; nil unless
	// the client is a Cluster or Ring.
	route func(ctx context.Context, key string) (*redis.Client, error)
	nodes *nodeBreakers
	base  time.Time
	now   func() time.Time // tests replace it to move the breaker's time
	// readTimeout is the client's read timeout (DefaultL2ReadTimeout where
	// it cannot be known): a lookup cut short by its share of a caller's
	// deadline counts against the breaker only if that share was at least a
	// quarter of it, or of DefaultL2ReadTimeout if that is shorter (50 ms:
	// a client with go-redis's 3 s default would otherwise never back off
	// for callers with deadlines under 1.5 s).
	readTimeout time.Duration

	// fetch reads a value and its PTTL in one round trip. It is
	// fetchPipeline; the benchmarks swap in the alternatives they compare.
	fetch func(ctx context.Context, k string) (raw []byte, pttl int64, found bool, err error)

	hits, misses, errs, corrupt, rejected, sets, written atomic.Int64
}

// NewL2 validates cfg and returns an L2. It does not contact Redis: an
// unreachable Redis at start is a run of misses, not an error.
func NewL2(cfg L2Config) (*L2, error) {
	if (cfg.Client == nil) == (cfg.URL == "") {
		return nil, errors.New("tier: L2 needs exactly one of Client and URL")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("tier: L2 Namespace is empty")
	}
	if strings.ContainsAny(cfg.Namespace, "{}") {
		return nil, fmt.Errorf("tier: L2 Namespace %q contains '{' or '}': Redis Cluster would put every key in one slot", cfg.Namespace)
	}
	for name, d := range map[string]time.Duration{
		"DialTimeout": cfg.DialTimeout, "ReadTimeout": cfg.ReadTimeout, "WriteTimeout": cfg.WriteTimeout,
		"BreakerBackoff": cfg.BreakerBackoff, "BreakerMaxBackoff": cfg.BreakerMaxBackoff,
	} {
		if d < 0 {
			return nil, fmt.Errorf("tier: L2 %s is %v; it must be 0 (default) or positive", name, d)
		}
	}
	if cfg.BreakerFailures < 0 {
		return nil, fmt.Errorf("tier: L2 BreakerFailures is %d; it must be 0 (default %d) or positive", cfg.BreakerFailures, defaultBreakerFailures)
	}
	if cfg.MaxValueBytes < 0 {
		return nil, fmt.Errorf("tier: L2 MaxValueBytes is %d; it must be 0 (default) or positive", cfg.MaxValueBytes)
	}
	failures := cmp(cfg.BreakerFailures, defaultBreakerFailures)
	backoff := cmp(cfg.BreakerBackoff, defaultBreakerBackoff)
	maxBackoff := cmp(cfg.BreakerMaxBackoff, defaultBreakerMaxBackoff)
	if maxBackoff < backoff {
		return nil, fmt.Errorf("tier: L2 BreakerMaxBackoff %v is below BreakerBackoff %v", maxBackoff, backoff)
	}
	compress := cmp(cfg.CompressAbove, DefaultCompressAbove)

	l := &L2{
		prefix:   "cachedsql:" + cfg.Namespace + ":",
		compress: compress,
		maxValue: cmp(cfg.MaxValueBytes, defaultMaxValueBytes),
		base:     time.Now(),
		now:      time.Now,
	}
	l.breaker = newBreaker(failures, backoff, maxBackoff, l.clock)
	l.fetch = l.fetchPipeline
	if cfg.Client != nil {
		l.client = cfg.Client
	} else {
		c, err := newClient(cfg)
		if err != nil {
			return nil, err
		}
		l.client, l.ownClient = c, true
	}
	l.readTimeout = DefaultL2ReadTimeout
	switch c := l.client.(type) {
	case *redis.Client:
		l.readTimeout = cmp(max(c.Options().ReadTimeout, 0), DefaultL2ReadTimeout)
	case *redis.ClusterClient:
		l.readTimeout = cmp(max(c.Options().ReadTimeout, 0), DefaultL2ReadTimeout)
	}
	switch c := l.client.(type) {
	case *redis.ClusterClient:
		l.route = c.MasterForKey
	case *redis.Ring:
		l.route = func(_ context.Context, key string) (*redis.Client, error) { return c.GetShardClientForKey(key) }
	}
	if l.route != nil {
		l.nodes = newNodeBreakers(func() *breaker { return newBreaker(failures, backoff, maxBackoff, l.clock) })
	}
	return l, nil
}

// acquire returns the breaker guarding the node that owns k once it has let
// the call through; the caller reports the outcome to it with done. err is
// ErrOpen if a breaker refused the call, or why the node could not be
// found (already counted against the routing breaker). ctx is the call's,
// caller the context of whoever asked for it (see breaker.done).
func (l *L2) acquire(ctx, caller context.Context, k string) (*breaker, error) {
	if !l.breaker.allow() {
		return nil, ErrOpen
	}
	if l.route == nil {
		return l.breaker, nil
	}
	node, err := l.route(ctx, k)
	l.breaker.done(caller, err)
	if err != nil {
		return nil, err
	}
	b := l.nodes.get(node.Options().Addr)
	if !b.allow() {
		return nil, ErrOpen
	}
	return b, nil
}

// cmp returns v, or def when v is zero.
func cmp[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (l *L2) clock() int64 { return int64(l.now().Sub(l.base)) }

// Key returns the Redis key under which L2 stores key.
func (l *L2) Key(key keying.Key) string {
	b := make([]byte, len(l.prefix)+2*len(key))
	copy(b, l.prefix)
	hex.Encode(b[len(l.prefix):], key[:])
	return unsafe.String(&b[0], len(b))
}

// Get implements Tier. On a hit, ttl is the entry's remaining PTTL minus the
// time the call took (so it is never longer than the Redis entry's life),
// and always positive. An entry without a TTL, or with less than the call's
// duration left, is a miss (err wraps ErrNoTTL for the former). An entry
// not in cachedsql's format is a miss with an error wrapping ErrCorrupt.
// While the breaker (with a Cluster or Ring, the key's node's) is open,
// Get returns a miss with ErrOpen at once. Under a context with a deadline,
// the call may take half of the time left: the caller keeps the other half
// to ask the database, and a call cut short counts as Redis failing if that
// half was at least a quarter of the client's read timeout (or of
// DefaultL2ReadTimeout, if shorter).
func (l *L2) Get(ctx context.Context, key keying.Key) ([]byte, time.Duration, bool, error) {
	return l.get(ctx, key, true)
}

// GetValue is Get for a reader that has no use for the remaining life (it
// will not copy the entry into L1): one GET instead of GET and PTTL, which
// at 64 concurrent readers is a third of Redis's work per hit. An entry
// without a TTL is a hit until the end Set wrote into it is deadlineSlack
// past, by this host's clock, and then a miss wrapping ErrNoTTL. An
// earlier version's entry, with no end written in it, costs a PTTL too.
func (l *L2) GetValue(ctx context.Context, key keying.Key) ([]byte, bool, error) {
	v, _, hit, err := l.get(ctx, key, false)
	return v, hit, err
}

func (l *L2) get(ctx context.Context, key keying.Key, withTTL bool) ([]byte, time.Duration, bool, error) {
	var start time.Time
	if withTTL {
		start = time.Now()
	}
	caller := ctx
	if dl, ok := ctx.Deadline(); ok {
		// A lookup may take half of what the caller has left, so that a
		// stalled Redis leaves it time to ask the database instead. A lookup
		// cut short that way counts against the breaker, which it would not
		// if it ran into the caller's own deadline; but only if its share
		// was a fair time to wait, or callers near their deadlines would
		// open the breaker for everyone over a brief stall.
		share := time.Until(dl) / 2
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-share))
		defer cancel()
		if share < min(l.readTimeout, DefaultL2ReadTimeout)/4 {
			caller = ctx // cut short by its share, it counts as its caller leaving
		}
	}
	k := l.Key(key)
	b, err := l.acquire(ctx, caller, k)
	if err == ErrOpen {
		l.rejected.Add(1)
		l.misses.Add(1)
		return nil, 0, false, ErrOpen
	}
	var (
		raw   []byte
		pttl  int64
		found bool
	)
	if err == nil {
		if withTTL {
			raw, pttl, found, err = l.fetch(ctx, k)
		} else {
			raw, found, err = l.fetchValue(ctx, k)
		}
		b.done(caller, err)
	}
	if err != nil {
		l.misses.Add(1)
		l.errs.Add(1)
		if errors.Is(err, ErrCorrupt) {
			l.corrupt.Add(1)
		}
		return nil, 0, false, fmt.Errorf("tier: L2 get %s: %w", k, err)
	}
	if !found {
		l.misses.Add(1)
		return nil, 0, false, nil
	}
	if withTTL && pttl < 0 {
		l.misses.Add(1)
		l.errs.Add(1)
		return nil, 0, false, fmt.Errorf("%w: %s (PTTL %d)", ErrNoTTL, k, pttl)
	}
	value, deadline, err := decodeValue(raw, l.maxValue)
	if err != nil {
		l.misses.Add(1)
		l.errs.Add(1)
		l.corrupt.Add(1)
		return nil, 0, false, fmt.Errorf("tier: L2 get %s: %w", k, err)
	}
	if !withTTL && deadline == 0 {
		// An earlier version's entry, with no end written in it: only
		// Redis can say whether it still has a TTL (one more round trip,
		// until such entries are rewritten or expire).
		left, err := l.client.PTTL(ctx, k).Result()
		b.done(caller, err) // a Redis call like the GET, for the breaker
		switch {
		case err != nil:
			l.misses.Add(1)
			l.errs.Add(1)
			return nil, 0, false, fmt.Errorf("tier: L2 get %s: %w", k, err)
		case left == -2:
			l.misses.Add(1) // gone since the GET: an ordinary miss
			return nil, 0, false, nil
		case left < 0:
			l.misses.Add(1)
			l.errs.Add(1)
			return nil, 0, false, fmt.Errorf("%w: %s (an entry with no end written in it, PTTL %d)", ErrNoTTL, k, int64(left))
		}
	}
	if !withTTL && deadline != 0 && time.Now().UnixMilli() > deadline+deadlineSlack.Milliseconds() {
		// Past the end it was written for, so Redis holds it without a TTL
		// (or the two hosts' clocks disagree by more than the slack, which
		// costs hits, never serves a stale entry).
		l.misses.Add(1)
		l.errs.Add(1)
		return nil, 0, false, fmt.Errorf("%w: %s ended %v ago", ErrNoTTL, k, time.Duration(time.Now().UnixMilli()-deadline)*time.Millisecond)
	}
	var ttl time.Duration
	if withTTL {
		// Measured after decompressing, which takes time out of the life
		// left too.
		if ttl = time.Duration(pttl)*time.Millisecond - time.Since(start); ttl <= 0 {
			l.misses.Add(1)
			return nil, 0, false, nil
		}
	}
	l.hits.Add(1)
	return value, ttl, true, nil
}

// fetchPipeline sends GET and PTTL in one pipeline: one round trip, and
// one write, so Redis finds both commands in the connection's input buffer
// and runs them back to back, with no other client's command between them.
// (If the key expires in between, PTTL says -2 and the read is a miss.)
//
// BenchmarkL2GetInterleaved compares it with a Lua script returning
// {GET, PTTL} via EVALSHA and with MULTI/EXEC, against a raw GET of the same
// bytes (1–64 KiB): the pipeline cost 0.91–1.05× the raw GET, MULTI/EXEC
// 0.93–1.19×, the script 1.25–1.93× (Redis copies the value into Lua and
// back).
func (l *L2) fetchPipeline(ctx context.Context, k string) (raw []byte, pttl int64, found bool, err error) {
	pipe := l.client.Pipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	_, err = pipe.Exec(ctx)
	if errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	// Bytes aliases the buffer go-redis allocated for this reply alone
	// (proto.Reader.readStringReply): no copy, and private to our caller,
	// who may write to it. (Only a hook on an application's own client that
	// kept a command after it returned could see that.)
	b, _ := get.Bytes()
	d := ttl.Val()
	if d < 0 {
		if d == -2 { // expired between the two commands
			return nil, 0, false, nil
		}
		return b, int64(d), true, nil
	}
	return b, d.Milliseconds(), true, nil
}

// fetchValue is a plain GET.
func (l *L2) fetchValue(ctx context.Context, k string) (raw []byte, found bool, err error) {
	// Bytes aliases the reply's own buffer, as in fetchPipeline.
	raw, err = l.client.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return raw, true, nil
}

// setBuffersL2 holds encode buffers up to maxPooledSetBuffer bytes.
var setBuffersL2 sync.Pool

// Set implements Tier: SET key value PX ttl. ttl is truncated to whole
// milliseconds (Redis's resolution); a ttl under 1 ms is an error wrapping
// ErrBadTTL, as is ttl ≤ 0. A value longer than MaxValueBytes is an error
// wrapping ErrTooLarge. While the breaker is open, Set returns ErrOpen
// without calling Redis.
func (l *L2) Set(ctx context.Context, key keying.Key, value []byte, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: L2 Set with ttl %v (Redis needs at least 1ms)", ErrBadTTL, ttl)
	}
	if len(value) > l.maxValue {
		return fmt.Errorf("%w: %d bytes, the L2 limit is %d", ErrTooLarge, len(value), l.maxValue)
	}
	k := l.Key(key)
	b, err := l.acquire(ctx, ctx, k)
	if err == ErrOpen {
		l.rejected.Add(1)
		return ErrOpen
	}
	if err != nil {
		l.errs.Add(1)
		return fmt.Errorf("tier: L2 set %s: %w", k, err)
	}
	var bp *[]byte
	if len(value) < maxPooledSetBuffer {
		bp, _ = setBuffersL2.Get().(*[]byte)
	}
	var buf []byte
	if bp != nil {
		buf = *bp
	}
	// The end written into the entry is the latest Redis's own can be: the
	// client may hold the SET until ctx's deadline, and PX counts from when
	// it arrives. (GetValue would otherwise take a live entry sent late for
	// one whose TTL was removed.)
	// A distant deadline counts for no more than maxSetHold: a stamp that
	// far ahead would serve an entry whose TTL was removed that much longer,
	// while a SET held past it only ends the entry's GetValue hits early.
	now := time.Now()
	sent := now
	if dl, ok := ctx.Deadline(); ok && dl.After(sent) {
		sent = dl
		if latest := now.Add(maxSetHold); dl.After(latest) {
			sent = latest
		}
	}
	buf = encodeValue(buf, value, l.compress, sent.Add(ttl).UnixMilli())
	err = l.client.Set(ctx, k, buf, ttl.Truncate(time.Millisecond)).Err()
	n := len(buf)
	if cap(buf) <= maxPooledSetBuffer+1 {
		if bp == nil {
			bp = new([]byte)
		}
		*bp = buf[:0]
		setBuffersL2.Put(bp)
	}
	b.done(ctx, err)
	if err != nil {
		l.errs.Add(1)
		return fmt.Errorf("tier: L2 set %s: %w", k, err)
	}
	l.sets.Add(1)
	l.written.Add(int64(n))
	return nil
}

// Stats returns the current counters.
func (l *L2) Stats() L2Stats {
	state := BreakerState(l.breaker.state.Load())
	opens := l.breaker.opens.Load()
	if l.nodes != nil {
		for _, b := range *l.nodes.m.Load() {
			if s := BreakerState(b.state.Load()); worse(s, state) {
				state = s
			}
			opens += b.opens.Load()
		}
	}
	return L2Stats{
		Hits:         l.hits.Load(),
		Misses:       l.misses.Load(),
		Errors:       l.errs.Load(),
		Corrupt:      l.corrupt.Load(),
		Rejected:     l.rejected.Load(),
		Sets:         l.sets.Load(),
		BytesWritten: l.written.Load(),
		BreakerState: state,
		BreakerOpens: opens,
	}
}

// NodeBreakers returns the breaker of each node a key was routed to, sorted
// by address, for a Redis Cluster or Ring; nil for a single node or
// Sentinel, whose one breaker Stats reports.
func (l *L2) NodeBreakers() []NodeBreaker {
	if l.nodes == nil {
		return nil
	}
	return l.nodes.list()
}

// Client returns the go-redis client L2 uses (for example to share its
// connections with the invalidation stream).
func (l *L2) Client() redis.UniversalClient { return l.client }

// Close implements Tier. It closes the client if L2 made it from a URL.
func (l *L2) Close() error {
	if l.ownClient {
		return l.client.Close()
	}
	return nil
}
