// Package flight coalesces identical concurrent work: while a call for a key is
// in flight, later callers for that key wait for its result instead of starting
// their own.
//
// Unlike x/sync/singleflight, the shared work runs on a context detached from
// every caller (it keeps the first caller's values, not its cancellation or
// deadline); each caller waits under its own context and returns ctx.Err() the
// moment that ends, without disturbing the others; and the shared context is
// cancelled only when every caller has gone. A result is handed to every caller
// that was waiting and then forgotten: nothing is cached here.
//
// Do runs the shared work on a parked worker goroutine (or on the caller's own
// when the caller's context can never end); Share, for work as cheap as a
// cache lookup, runs it on the first caller's goroutine and context.
package flight

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Group is a set of in-flight calls keyed by K. The zero value is ready.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

type call[V any] struct {
	// done is closed when the call ends. A caller that does not wait on it
	// (a leader running fn itself) leaves it nil until someone joins, so a
	// call nobody joins, the usual case, makes no channel (BenchmarkShare);
	// guarded by Group.mu until made, fixed after.
	done    chan struct{}
	val     V
	err     error
	waiters int // callers still waiting; guarded by Group.mu
	joined  int // callers that ever joined, the first included; guarded by Group.mu
	shared  bool
	cancel  context.CancelFunc
	// onWorker: fn runs on a worker, not on the leader's goroutine; panicked
	// is then fn's panic, set before done is closed, for the leader to raise.
	onWorker bool
	panicked *PanicError
}

// Do returns the result of fn for key, running fn if no call for key is in
// flight and waiting for the running one otherwise; leader reports whether
// this caller's fn was the one run, and shared whether any other caller
// joined the call (and so may hold its result too). fn runs on a goroutine of its own (a
// parked worker), so that its caller can leave early; when ctx can never end
// (ctx.Done() is nil) it runs on the caller's goroutine instead, since that
// caller cannot leave anyway. If ctx ends first, Do returns ctx.Err() at
// once; fn's context is cancelled when the last waiting caller has returned
// this way. If fn panics, the waiters get ErrPanicked and the leader panics:
// run inline, with fn's own panic; run on a worker, with a *PanicError
// carrying fn's value and stack, re-raised on the leader's goroutine (as
// x/sync/singleflight does), so that a recover there, such as net/http's
// per request, catches it as it would without the hand-off instead of the
// whole process ending. A worker's panic that no leader is waiting for
// reaches only the waiters, as ErrPanicked.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, err error, leader, shared bool) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[K]*call[V])
	}
	c, ok := g.calls[key]
	var done chan struct{}
	if ok {
		done = c.joinLocked()
		g.mu.Unlock()
	} else {
		leader = true
		if ctx.Done() == nil {
			// This caller can never leave early, so nothing needs fn to run
			// apart from it, nor ever to be cancelled (the last caller to go
			// is this one, when fn has returned): run it here, on ctx itself,
			// and spare a hand-off (BenchmarkDo) and, in the database driver
			// below, the watcher a cancellable context costs.
			c = &call[V]{waiters: 1, joined: 1, cancel: func() {}}
			g.calls[key] = c
			g.mu.Unlock()
			g.run(key, c, ctx, fn)
			return c.val, c.err, true, c.shared
		}
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done = make(chan struct{})
		c = &call[V]{done: done, waiters: 1, joined: 1, cancel: cancel, onWorker: true}
		g.calls[key] = c
		g.mu.Unlock()
		spawn(func() { g.run(key, c, fctx, fn) })
	}
	if ctx.Done() == nil {
		// A joiner that cannot leave (such a leader ran fn above): a plain
		// receive, cheaper than a select with a nil case.
		<-done
		return c.val, c.err, false, c.shared
	}
	select {
	case <-done:
		if leader && c.panicked != nil {
			panic(c.panicked)
		}
		return c.val, c.err, leader, c.shared
	case <-ctx.Done():
	}
	g.mu.Lock()
	c.waiters--
	last := c.waiters == 0
	if last && g.calls[key] == c {
		// Unlink before cancelling, so a caller arriving now starts afresh
		// instead of joining work that is about to be cancelled.
		delete(g.calls, key)
	}
	g.mu.Unlock()
	select {
	case <-done:
		// The result arrived while we were leaving: take it rather than waste it.
		if leader && c.panicked != nil {
			panic(c.panicked)
		}
		return c.val, c.err, leader, c.shared
	default:
	}
	if last {
		c.cancel()
	}
	var zero V
	return zero, ctx.Err(), leader, false
}

// joinLocked adds a caller to c and returns the channel it waits on, made
// by the first to join where the leader did not make it.
func (c *call[V]) joinLocked() chan struct{} {
	c.waiters++
	c.joined++
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

// ErrPanicked is the error waiters receive when fn panicked; the panic
// itself goes on in the leader's goroutine (see Do).
var ErrPanicked = errors.New("flight: the shared call panicked")

// PanicError is what a leader panics with when its fn panicked on a worker:
// the value fn panicked with and the worker's stack then, which the re-raised
// panic's own trace no longer shows.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("flight: the shared call panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the value fn panicked with when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

func (g *Group[K, V]) run(key K, c *call[V], ctx context.Context, fn func(context.Context) (V, error)) {
	normal := false
	defer func() {
		if !normal {
			// fn panicked (or called runtime.Goexit): the waiters must not
			// take the zero value for a result.
			var zero V
			c.val, c.err = zero, ErrPanicked
			if c.onWorker {
				// A panic on a worker would end the process, out of reach
				// of any recover of the caller's: hand it to the leader.
				// (recover is nil for runtime.Goexit, which goes on.)
				if r := recover(); r != nil {
					c.panicked = &PanicError{Value: r, Stack: debug.Stack()}
				}
			}
		}
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		// Unlinked, the call takes no more callers: joined is final.
		c.shared = c.joined > 1
		done := c.done // nil when nobody waits on it
		g.mu.Unlock()
		if done != nil {
			close(done)
		}
	}()
	c.val, c.err = fn(ctx)
	normal = true
}

// Workers run the calls Do hands off. A new goroutine per call starts on a
// small stack that a database driver's call depth then grows, by copying,
// several times per query; a parked worker has grown its stack already, and
// handing it work is one channel send (BenchmarkMissNoop/rows=100/ctx=cancellable in
// the root package: a miss cost 74 us with a goroutine per call, 47 us with
// workers, against 45 us run inline).
var workers struct {
	ch   chan func()
	idle atomic.Int32
}

func init() { workers.ch = make(chan func()) }

const (
	// maxIdleWorkers bounds the parked workers; more exit when done.
	maxIdleWorkers = 64
	// workerIdleTime is how long a parked worker waits for work.
	workerIdleTime = 30 * time.Second
)

// spawn runs f on a parked worker, or on a new one if none is parked.
func spawn(f func()) {
	select {
	case workers.ch <- f:
	default:
		go work(f)
	}
}

func work(f func()) {
	var t *time.Timer
	for {
		f()
		f = nil
		if workers.idle.Add(1) > maxIdleWorkers {
			workers.idle.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(workerIdleTime)
		} else {
			t.Reset(workerIdleTime) // since Go 1.23 a Reset timer delivers no stale tick
		}
		select {
		case f = <-workers.ch:
			workers.idle.Add(-1)
		case <-t.C:
			workers.idle.Add(-1)
			return
		}
	}
}

// Share is Do for work cheap enough to run on the leader's own goroutine
// under the leader's own ctx (a cache lookup, not a database query): no
// goroutine is started and nothing is detached. Callers that arrive while it
// runs wait for its result, each returning ctx.Err() at once if its own ctx
// ends first. They receive the leader's result, errors included, even an
// error that came from the leader's ctx ending; a caller that needs more
// than the leader got must do its own work after. shared reports whether
// another caller may hold the same result: always for a waiter that receives
// it, and for the leader when anyone joined its call (when none did, the
// result is the leader's alone).
//
// Share and Do must not be used with the same key space on one Group.
func (g *Group[K, V]) Share(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, err error, leader, shared bool) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[K]*call[V])
	}
	if c, ok := g.calls[key]; ok {
		done := c.joinLocked()
		g.mu.Unlock()
		if ctx.Done() == nil {
			// A caller that cannot leave: a plain receive, cheaper than a
			// select with a nil case (BenchmarkShareWaiters: 0.9x the time
			// per round of 16 callers).
			<-done
			return c.val, c.err, false, true
		}
		select {
		case <-done:
			return c.val, c.err, false, true
		case <-ctx.Done():
			g.mu.Lock()
			c.waiters--
			g.mu.Unlock()
			var zero V
			return zero, ctx.Err(), false, false
		}
	}
	c := &call[V]{waiters: 1, joined: 1}
	g.calls[key] = c
	g.mu.Unlock()
	g.run(key, c, ctx, fn)
	// run has unlinked the call: nobody can join it now, so shared is final.
	return c.val, c.err, true, c.shared
}

// Waiting reports how many callers wait on key now (for tests and stats).
func (g *Group[K, V]) Waiting(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}

// Waiters reports how many callers wait on any key now.
func (g *Group[K, V]) Waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		n += c.waiters
	}
	return n
}
