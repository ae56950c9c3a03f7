package tier

import (
	"context"
	"errors"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// BreakerState is the state of L2's circuit breaker.
type BreakerState int32

const (
	// BreakerClosed: calls go to Redis.
	BreakerClosed BreakerState = iota
	// BreakerOpen: Redis failed repeatedly; calls are refused with ErrOpen
	// until the backoff has passed.
	BreakerOpen
	// BreakerHalfOpen: one probe call is on its way to Redis; others are
	// refused until it succeeds (closed) or fails (open, longer backoff).
	BreakerHalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// ErrOpen is returned by L2.Get and L2.Set while the circuit breaker is open:
// Redis was not called.
var ErrOpen = errors.New("tier: L2 circuit breaker is open (Redis failing); not calling it")

// breaker stops calls to a failing Redis so that a dead or stalled server
// costs one timeout per backoff period instead of one per query.
//
// The closed state costs one atomic load per call and, on success, one more
// load (no shared write), so the healthy path does not bounce a cache line
// between cores.
type breaker struct {
	threshold  int64
	minBackoff time.Duration
	maxBackoff time.Duration
	clock      func() int64 // monotonic nanoseconds

	state     atomic.Int32
	failures  atomic.Int64 // consecutive outage failures while closed
	openUntil atomic.Int64 // clock value when a probe may go
	backoff   atomic.Int64 // current open period, doubled per failed probe
	opens     atomic.Int64
}

func newBreaker(threshold int, minBackoff, maxBackoff time.Duration, clock func() int64) *breaker {
	b := &breaker{threshold: int64(threshold), minBackoff: minBackoff, maxBackoff: maxBackoff, clock: clock}
	b.backoff.Store(int64(minBackoff))
	return b
}

// allow reports whether a call may go to Redis. In the open state, the first
// caller after the backoff becomes the half-open probe.
func (b *breaker) allow() bool {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if b.clock() < b.openUntil.Load() {
			return false
		}
		return b.state.CompareAndSwap(int32(BreakerOpen), int32(BreakerHalfOpen))
	default:
		return false
	}
}

// done records the outcome of a call that allow let through.
func (b *breaker) done(ctx context.Context, err error) {
	switch {
	case !isOutage(err):
		b.success()
	case ctx.Err() != nil || pastDeadline(ctx):
		// The caller gave up: that says nothing about Redis. A probe must
		// still hand its turn on, or the breaker would stay half-open.
		// (The deadline is read as well as Err: the client's read deadline
		// and the context's timer end together, and on a busy machine the
		// read's timeout error can come back before the timer has run.)
		b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen))
	default:
		b.failure()
	}
}

// pastDeadline reports a context whose deadline has passed, whether or not
// its timer has ended it yet.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (b *breaker) success() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if BreakerState(b.state.Load()) != BreakerClosed {
		b.backoff.Store(int64(b.minBackoff))
		b.state.Store(int32(BreakerClosed))
	}
}

func (b *breaker) failure() {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		if b.failures.Add(1) < b.threshold {
			return
		}
		back := b.backoff.Load()
		b.openUntil.Store(b.clock() + back)
		if b.state.CompareAndSwap(int32(BreakerClosed), int32(BreakerOpen)) {
			b.failures.Store(0)
			b.opens.Add(1)
		}
	case BreakerHalfOpen:
		back := min(2*b.backoff.Load(), int64(b.maxBackoff))
		b.backoff.Store(back)
		b.openUntil.Store(b.clock() + back)
		if b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen)) {
			b.opens.Add(1)
		}
	}
}

// worse reports whether state a is worse than b: open, then half-open
// (the node is still failing or being probed), then closed.
func worse(a, b BreakerState) bool {
	rank := func(s BreakerState) int {
		switch s {
		case BreakerOpen:
			return 2
		case BreakerHalfOpen:
			return 1
		}
		return 0
	}
	return rank(a) > rank(b)
}

// nodeBreakers holds one breaker per Redis node address, for clients that
// spread keys over nodes (Cluster, Ring): a stalled node must not cost its
// keys a timeout each because the live nodes' successes keep a shared
// breaker closed, nor turn L2 off for the keys of the live nodes.
//
// The map is copy-on-write: the read path is one atomic load and a map
// lookup, with no lock and no shared write. Nodes are added when a key first
// routes to them, which is rare, and never removed: a Cluster that moves its
// slots to new addresses leaves a few idle breakers behind.
type nodeBreakers struct {
	m   atomic.Pointer[map[string]*breaker]
	mu  sync.Mutex // serialises adding a node
	new func() *breaker
}

func newNodeBreakers(new func() *breaker) *nodeBreakers {
	n := &nodeBreakers{new: new}
	n.m.Store(&map[string]*breaker{})
	return n
}

// get returns the breaker for the node at addr, making it on first use.
func (n *nodeBreakers) get(addr string) *breaker {
	if b, ok := (*n.m.Load())[addr]; ok {
		return b
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := *n.m.Load()
	if b, ok := old[addr]; ok {
		return b
	}
	m := make(map[string]*breaker, len(old)+1)
	maps.Copy(m, old)
	b := n.new()
	m[addr] = b
	n.m.Store(&m)
	return b
}

// NodeBreaker is the breaker of one Redis node (see L2.NodeBreakers).
type NodeBreaker struct {
	Addr  string // host:port as the client routes to it
	State BreakerState
	Opens int64 // times this node's breaker opened
}

// list returns every node's breaker, sorted by address.
func (n *nodeBreakers) list() []NodeBreaker {
	m := *n.m.Load()
	out := make([]NodeBreaker, 0, len(m))
	for addr, b := range m {
		out = append(out, NodeBreaker{Addr: addr, State: BreakerState(b.state.Load()), Opens: b.opens.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// isOutage tells a failure of Redis (unreachable, timing out, not serving)
// from an answer: a reply such as WRONGTYPE means Redis works and our key
// holds something odd, which must not open the breaker.
func isOutage(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return redis.IsLoadingError(err) || redis.IsClusterDownError(err) ||
			redis.IsTryAgainError(err) || redis.IsMasterDownError(err) ||
			redis.IsMaxClientsError(err)
	}
	return true
}
