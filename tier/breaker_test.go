package tier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	errRefused = fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)
	errReply   = redisReply("WRONGTYPE Operation against a key holding the wrong kind of value")
	errLoading = redisReply("LOADING Redis is loading the dataset in memory")
)

// redisReply is an error Redis sent, as go-redis types them (redis.Error).
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

var _ redis.Error = redisReply("")

func TestIsOutage(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{errReply, false},
		{fmt.Errorf("wrapped: %w", errReply), false},
		{errLoading, true},
		{errRefused, true},
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{redis.ErrClosed, true},
	}
	for _, tt := range tests {
		if got := isOutage(tt.err); got != tt.want {
			t.Errorf("isOutage(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestBreaker walks the state machine on a fake clock. Each step either
// asks allow (with the answer expected) or reports an outcome.
func TestBreaker(t *testing.T) {
	type step struct {
		advance time.Duration
		allow   *bool // ask allow and expect this
		outcome error // report this outcome (after an allowed call)
		report  bool
		state   BreakerState
	}
	yes, no := new(bool), new(bool)
	*yes = true
	ok := func(s BreakerState) step { return step{report: true, outcome: nil, state: s} }
	fail := func(s BreakerState) step { return step{report: true, outcome: errRefused, state: s} }
	ask := func(d time.Duration, want *bool, s BreakerState) step { return step{advance: d, allow: want, state: s} }
	const base, top = 100 * time.Millisecond, 350 * time.Millisecond

	tests := []struct {
		name  string
		steps []step
		opens int64
	}{
		{"failures below threshold stay closed", []step{fail(BreakerClosed), fail(BreakerClosed), ok(BreakerClosed), fail(BreakerClosed), fail(BreakerClosed)}, 0},
		{"replies are not failures", []step{
			{report: true, outcome: errReply, state: BreakerClosed}, {report: true, outcome: redis.Nil, state: BreakerClosed},
			{report: true, outcome: errReply, state: BreakerClosed}, fail(BreakerClosed), fail(BreakerClosed),
		}, 0},
		{"threshold opens, backoff holds, probe closes", []step{
			fail(BreakerClosed), fail(BreakerClosed), fail(BreakerOpen),
			ask(0, no, BreakerOpen), ask(base-1, no, BreakerOpen),
			ask(1, yes, BreakerHalfOpen), ask(0, no, BreakerHalfOpen),
			ok(BreakerClosed), ask(0, yes, BreakerClosed),
		}, 1},
		{"failed probes double the backoff up to the cap", []step{
			fail(BreakerClosed), fail(BreakerClosed), fail(BreakerOpen),
			ask(base, yes, BreakerHalfOpen), fail(BreakerOpen),
			ask(2*base-1, no, BreakerOpen), ask(1, yes, BreakerHalfOpen), fail(BreakerOpen),
			ask(top-1, no, BreakerOpen), ask(1, yes, BreakerHalfOpen), fail(BreakerOpen),
			ask(top, yes, BreakerHalfOpen), ok(BreakerClosed),
			// After recovery the backoff starts again from the base.
			fail(BreakerClosed), fail(BreakerClosed), fail(BreakerOpen), ask(base, yes, BreakerHalfOpen),
		}, 5},
		{"a probe whose caller gave up hands the turn on", []step{
			fail(BreakerClosed), fail(BreakerClosed), fail(BreakerOpen),
			ask(base, yes, BreakerHalfOpen),
			{report: true, outcome: context.Canceled, state: BreakerOpen},
			ask(0, yes, BreakerHalfOpen),
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now int64
			b := newBreaker(3, base, top, func() int64 { return now })
			for i, s := range tt.steps {
				now += int64(s.advance)
				if s.allow != nil {
					if got := b.allow(); got != *s.allow {
						t.Fatalf("step %d: allow = %v, want %v", i, got, *s.allow)
					}
				}
				if s.report {
					ctx := context.Background()
					if errors.Is(s.outcome, context.Canceled) {
						c, cancel := context.WithCancel(ctx)
						cancel()
						ctx = c
					}
					b.done(ctx, s.outcome)
				}
				if got := BreakerState(b.state.Load()); got != s.state {
					t.Fatalf("step %d: state %v, want %v", i, got, s.state)
				}
			}
			if got := b.opens.Load(); got != tt.opens {
				t.Fatalf("opens = %d, want %d", got, tt.opens)
			}
		})
	}
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[BreakerState]string{BreakerClosed: "closed", BreakerOpen: "open", BreakerHalfOpen: "half-open", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

// lateContext has a deadline that has passed and an Err that does not say so
// yet: a context whose timer has not run, as on a busy machine.
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }
func (lateContext) Err() error                  { return nil }

// TestBreakerCallerPastDeadline: a call that failed because its caller's
// deadline came is not Redis's failure, even when the context's timer has
// not yet set Err (TestL2PausedShortDeadlines failed so under load).
func TestBreakerCallerPastDeadline(t *testing.T) {
	b := newBreaker(2, time.Second, time.Second, func() int64 { return 0 })
	ctx := lateContext{context.Background()}
	for range 5 {
		b.done(ctx, fmt.Errorf("read: %w", context.DeadlineExceeded))
		b.done(ctx, errRefused)
	}
	if st := BreakerState(b.state.Load()); st != BreakerClosed {
		t.Fatalf("breaker %v after failures past the caller's deadline, want closed", st)
	}
	b.done(context.Background(), errRefused)
	b.done(context.Background(), errRefused)
	if st := BreakerState(b.state.Load()); st != BreakerOpen {
		t.Fatalf("breaker %v after two failures of callers within their time, want open", st)
	}
}
