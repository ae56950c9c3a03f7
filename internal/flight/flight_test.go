package flight

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOneRunForManyCallers(t *testing.T) {
	var g Group[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-release
		return 42, nil
	}
	const n = 64
	var wg sync.WaitGroup
	results := make([]int, n)
	leaders := make([]bool, n)
	go func() { g.Do(context.Background(), "k", fn) }() // the first caller
	<-started
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err, leader, _ := g.Do(context.Background(), "k", fn)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			results[i], leaders[i] = v, leader
		}()
	}
	// Wait until every caller has joined, then let the one run finish.
	for g.Waiting("k") != n+1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if r := runs.Load(); r != 1 {
		t.Fatalf("fn ran %d times; want 1", r)
	}
	for i := range n {
		if results[i] != 42 || leaders[i] {
			t.Fatalf("caller %d got %d leader=%v", i, results[i], leaders[i])
		}
	}
}

func TestCallerLeavesOthersStay(t *testing.T) {
	var g Group[string, int]
	release := make(chan struct{})
	var sharedCtx context.Context
	started := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		sharedCtx = ctx
		close(started)
		<-release
		return 7, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error)
	go func() { _, err, _, _ := g.Do(ctx, "k", fn); leaderDone <- err }()
	<-started
	otherDone := make(chan int)
	go func() { v, _, _, _ := g.Do(context.Background(), "k", fn); otherDone <- v }()
	for g.Waiting("k") != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-leaderDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("leaving caller got %v; want context.Canceled", err)
		}
	case <-time.After(50 * time.Millisecond):
		t.Fatal("a caller whose context ended did not return within 50ms")
	}
	if sharedCtx.Err() != nil {
		t.Fatal("shared work was cancelled while a caller still waited")
	}
	close(release)
	if v := <-otherDone; v != 7 {
		t.Fatalf("remaining caller got %d; want 7", v)
	}
}

func TestLastCallerLeavingCancelsWork(t *testing.T) {
	var g Group[string, int]
	started := make(chan struct{})
	cancelled := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return 0, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Do(ctx, "k", fn); close(done) }()
	<-started
	cancel()
	<-done
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("shared work was not cancelled after every caller left")
	}
	// A new caller starts fresh work rather than inheriting the cancelled one.
	v, err, leader, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 9, nil })
	if v != 9 || err != nil || !leader {
		t.Fatalf("fresh call = %d, %v, leader=%v", v, err, leader)
	}
}

func TestErrorReachesEveryWaiterAndIsForgotten(t *testing.T) {
	var g Group[string, int]
	boom := errors.New("boom")
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(context.Context) (int, error) { close(started); <-release; return 0, boom }
	errs := make(chan error, 2)
	go func() { _, err, _, _ := g.Do(context.Background(), "k", fn); errs <- err }()
	<-started
	go func() { _, err, _, _ := g.Do(context.Background(), "k", fn); errs <- err }()
	for g.Waiting("k") != 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 2 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("waiter got %v; want boom", err)
		}
	}
	v, err, _, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
	if v != 1 || err != nil {
		t.Fatalf("error was remembered: %d %v", v, err)
	}
}

func TestDetachedContextKeepsValues(t *testing.T) {
	var g Group[string, any]
	type k struct{}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), k{}, "v"), time.Hour)
	defer cancel()
	v, _, _, _ := g.Do(ctx, "x", func(c context.Context) (any, error) {
		_, hasDeadline := c.Deadline()
		return []any{c.Value(k{}), hasDeadline}, nil
	})
	got := v.([]any)
	if got[0] != "v" || got[1] != false {
		t.Fatalf("shared context: value %v, deadline %v; want the caller's values without its deadline", got[0], got[1])
	}
}

type ctxKey struct{}

// TestShareRunsOnTheLeaderAndWaitersWait: Share runs fn once, on the first
// caller's own context (its values and its goroutine), hands the result to
// every caller that arrived meanwhile, lets a waiter leave at once, and
// forgets the result afterwards.
func TestShareRunsOnTheLeaderAndWaitersWait(t *testing.T) {
	var g Group[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		if ctx.Value(ctxKey{}) != "leader" {
			t.Errorf("fn ran on a context without the leader's value")
		}
		if runs.Add(1) == 1 {
			close(started)
		}
		<-release
		return 42, nil
	}
	leaderCtx := context.WithValue(context.Background(), ctxKey{}, "leader")
	leaderDone := make(chan int)
	go func() {
		v, err, leader, shared := g.Share(leaderCtx, "k", fn)
		if err != nil || !leader || !shared {
			t.Errorf("leader: %v, leader=%v, shared=%v; want a shared lead", err, leader, shared)
		}
		leaderDone <- v
	}()
	<-started
	const n = 16
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err, leader, shared := g.Share(context.Background(), "k", fn)
			if err != nil || leader || !shared {
				t.Errorf("waiter %d: %v, leader=%v, shared=%v", i, err, leader, shared)
			}
			results[i] = v
		}()
	}
	// One more waiter, which leaves.
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error)
	go func() {
		_, err, _, _ := g.Share(ctx, "k", fn)
		left <- err
	}()
	for g.Waiting("k") != n+2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaving waiter got %v", err)
	}
	if w := g.Waiting("k"); w != n+1 {
		t.Fatalf("after one waiter left, %d wait; want %d", w, n+1)
	}
	close(release)
	if v := <-leaderDone; v != 42 {
		t.Fatalf("leader got %d", v)
	}
	wg.Wait()
	for i, v := range results {
		if v != 42 {
			t.Fatalf("waiter %d got %d", i, v)
		}
	}
	if r := runs.Load(); r != 1 {
		t.Fatalf("fn ran %d times; want 1", r)
	}
	// Forgotten: the next call runs again, and nobody joining it, its result
	// is its own.
	if _, _, leader, shared := g.Share(leaderCtx, "k", func(context.Context) (int, error) { return 7, nil }); !leader || shared {
		t.Fatalf("a call after the flight ended: leader=%v, shared=%v; want an unshared lead", leader, shared)
	}
}

// TestShareErrorReachesWaiters: the leader's error, its ctx's included,
// is every waiter's result.
func TestShareErrorReachesWaiters(t *testing.T) {
	var g Group[string, int]
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	fn := func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	}
	leaderErr := make(chan error)
	go func() {
		_, err, _, _ := g.Share(ctx, "k", fn)
		leaderErr <- err
	}()
	<-started
	waiterErr := make(chan error)
	go func() {
		_, err, _, _ := g.Share(context.Background(), "k", fn)
		waiterErr <- err
	}()
	for g.Waiting("k") != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader got %v", err)
	}
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter got %v; want the leader's context.Canceled", err)
	}
}

// goid is the current goroutine's id, read from its stack header
// ("goroutine 42 [running]:").
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// TestDoInlineOnlyWhenCtxCannotEnd: with a context that can never end, fn
// runs on the leader's goroutine (no hand-off); with one that can, it runs
// on its own goroutine, so that the leader can leave early.
func TestDoInlineOnlyWhenCtxCannotEnd(t *testing.T) {
	var g Group[string, string]
	fn := func(context.Context) (string, error) { return goid(), nil }
	me := goid()
	if me == "" {
		t.Fatal("cannot read the goroutine id")
	}
	if got, err, leader, _ := g.Do(context.Background(), "k", fn); err != nil || !leader || got != me {
		t.Fatalf("Background: fn ran on goroutine %s (leader %v, %v); want the caller's, %s", got, leader, err, me)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got, err, leader, _ := g.Do(ctx, "k", fn); err != nil || !leader || got == me {
		t.Fatalf("cancellable: fn ran on goroutine %s (leader %v, %v); want another than the caller's %s", got, leader, err, me)
	}
}

// BenchmarkDo is one uncontended call: inline (a context that cannot end)
// against handed to a parked worker (one that can).
func BenchmarkDo(b *testing.B) {
	fn := func(context.Context) (int, error) { return 1, nil }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"inline", context.Background()}, {"handoff", ctx}} {
		b.Run(c.name, func(b *testing.B) {
			var g Group[int, int]
			b.ReportAllocs()
			for b.Loop() {
				if v, err, _, _ := g.Do(c.ctx, 1, fn); v != 1 || err != nil {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// BenchmarkShare is one uncontended Share call, as every L2 lookup at one
// goroutine makes.
func BenchmarkShare(b *testing.B) {
	fn := func(context.Context) (int, error) { return 1, nil }
	var g Group[int, int]
	b.ReportAllocs()
	for b.Loop() {
		if v, err, leader, shared := g.Share(context.Background(), 1, fn); v != 1 || err != nil || !leader || shared {
			b.Fatal(v, err, leader, shared)
		}
	}
}

// BenchmarkShareWaiters is a Share call that 15 other callers join, as 64
// goroutines reading one key through L2 make: ns/op is per round of 16
// callers, and the waiters' half of it is waking them up. The callers are
// parked goroutines, so that starting them is not measured.
func BenchmarkShareWaiters(b *testing.B) {
	const callers = 16
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", ctx}} {
		b.Run(c.name, func(b *testing.B) {
			var g Group[int, int]
			// The leader returns once every other caller has joined.
			fn := func(context.Context) (int, error) {
				for g.Waiting(1) < callers {
					runtime.Gosched()
				}
				return 1, nil
			}
			start := make([]chan struct{}, callers)
			var done sync.WaitGroup
			for i := range start {
				start[i] = make(chan struct{})
				go func() {
					for range start[i] {
						if v, err, _, _ := g.Share(c.ctx, 1, fn); v != 1 || err != nil {
							b.Error(v, err)
						}
						done.Done()
					}
				}()
			}
			defer func() {
				for _, ch := range start {
					close(ch)
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				done.Add(callers)
				for _, ch := range start {
					ch <- struct{}{}
				}
				done.Wait()
			}
		})
	}
}

// TestPanicReachesLeader: when fn panics, the waiters get ErrPanicked, not
// a zero value taken for a result, and the leader, if still waiting, panics
// on its own goroutine: run inline (a context that cannot end), with fn's
// own value; handed to a worker (a cancellable context), with a *PanicError
// carrying the value and fn's stack, since a panic left on the worker would
// end the process (this test binary). A leader that has left gets ctx.Err()
// and no panic, and the worker lives on.
func TestPanicReachesLeader(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name         string
		onWorker     bool // the leader's context is cancellable
		leaderLeaves bool
	}{
		{"inline", false, false},
		{"worker/leader-waits", true, false},
		{"worker/leader-left", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group[string, *int]
			started := make(chan struct{})
			release := make(chan struct{})
			fn := func(context.Context) (*int, error) {
				close(started)
				<-release
				panic(errBoom)
			}
			lctx, leave := context.Background(), context.CancelFunc(func() {})
			if tc.onWorker {
				lctx, leave = context.WithCancel(context.Background())
			}
			defer leave()
			type outcome struct {
				recovered any
				err       error
			}
			leader := make(chan outcome)
			go func() {
				var o outcome
				defer func() { o.recovered = recover(); leader <- o }()
				_, o.err, _, _ = g.Do(lctx, "k", fn)
			}()
			<-started
			wctx, wcancel := context.WithCancel(context.Background())
			defer wcancel()
			waiter := make(chan error)
			go func() {
				v, err, leader, _ := g.Do(wctx, "k", fn)
				if v != nil || leader {
					t.Errorf("waiter got %v, leader %v", v, leader)
				}
				waiter <- err
			}()
			for g.Waiting("k") != 2 {
				time.Sleep(time.Millisecond)
			}
			if tc.leaderLeaves {
				leave()
				if o := <-leader; o.recovered != nil || !errors.Is(o.err, context.Canceled) {
					t.Fatalf("leader that left: recovered %v, err %v; want context.Canceled and no panic", o.recovered, o.err)
				}
			}
			close(release)
			if err := <-waiter; !errors.Is(err, ErrPanicked) {
				t.Fatalf("waiter got %v; want ErrPanicked", err)
			}
			switch {
			case tc.leaderLeaves:
			case !tc.onWorker:
				if o := <-leader; o.recovered != errBoom {
					t.Fatalf("inline leader recovered %#v (err %v); want fn's own panic", o.recovered, o.err)
				}
			default:
				o := <-leader
				pe, ok := o.recovered.(*PanicError)
				if !ok {
					t.Fatalf("leader recovered %#v (err %v); want a *PanicError", o.recovered, o.err)
				}
				if pe.Value != errBoom || !errors.Is(pe, errBoom) || !strings.Contains(string(pe.Stack), "TestPanicReachesLeader") {
					t.Fatalf("PanicError value %v, stack:\n%s\nwant errBoom and fn's stack", pe.Value, pe.Stack)
				}
			}
			// The worker outlived the panic: the next hand-off is served.
			if v, err, _, _ := g.Do(wctx, "k2", func(context.Context) (*int, error) { one := 1; return &one, nil }); err != nil || v == nil || *v != 1 {
				t.Fatalf("after the panic: %v, %v", v, err)
			}
		})
	}
}

// TestWorkersAreReused: calls handed off one after another run on parked
// workers rather than on a new goroutine each.
func TestWorkersAreReused(t *testing.T) {
	var g Group[int, string]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := map[string]bool{}
	const calls = 50
	for i := range calls {
		v, err, _, _ := g.Do(ctx, i, func(context.Context) (string, error) { return goid(), nil })
		if err != nil {
			t.Fatal(err)
		}
		seen[v] = true
		// Let the worker park before the next call (not a synchronisation
		// the test depends on: a call finding none parked starts a worker).
		for workers.idle.Load() == 0 {
			runtime.Gosched()
		}
	}
	if len(seen) > calls/2 {
		t.Fatalf("%d calls ran on %d goroutines; want parked workers reused", calls, len(seen))
	}
}

// TestDoReportsShared: a call no other caller joined is not shared, for its
// leader on either path; one that others joined is, for everyone who got
// its result.
func TestDoReportsShared(t *testing.T) {
	var g Group[string, int]
	one := func(context.Context) (int, error) { return 1, nil }
	if _, _, leader, shared := g.Do(context.Background(), "a", one); !leader || shared {
		t.Fatalf("inline call alone: leader=%v shared=%v; want true, false", leader, shared)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, leader, shared := g.Do(ctx, "a", one); !leader || shared {
		t.Fatalf("worker call alone: leader=%v shared=%v; want true, false", leader, shared)
	}

	release := make(chan struct{})
	started := make(chan struct{})
	type out struct{ leader, shared bool }
	results := make(chan out, 3)
	go func() {
		_, _, l, s := g.Do(ctx, "b", func(context.Context) (int, error) {
			close(started)
			<-release
			return 2, nil
		})
		results <- out{l, s}
	}()
	<-started
	for range 2 {
		go func() {
			_, _, l, s := g.Do(ctx, "b", one)
			results <- out{l, s}
		}()
	}
	for g.Waiting("b") != 3 {
		runtime.Gosched()
	}
	close(release)
	leaders := 0
	for range 3 {
		r := <-results
		if !r.shared {
			t.Fatalf("a caller of a call three joined got shared=false")
		}
		if r.leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders; want 1", leaders)
	}
}
