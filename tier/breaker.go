package tier

import (
	"context"
	"errors"
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
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about Redis. A probe must
		// still hand its turn on, or the breaker would stay half-open.
		b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen))
	default:
		b.failure()
	}
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
