package cachedsql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unsafe"

	"github.com/cachedsql/cachedsql/internal/readhook"
	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	"github.com/cachedsql/cachedsql/sqlscan"
	"github.com/cachedsql/cachedsql/tier"
)

// query is the read path of DESIGN §2: bypass what must not be cached, look in
// L1 then L2, and on a miss let one caller per key run the query while the
// others wait for its result.
func (cn *conn) query(ctx context.Context, query string, args []driver.NamedValue, st *stmt) (driver.Rows, error) {
	rows, err := cn.read(ctx, query, args, st)
	if err == nil && cn.c.lazyRows && ctx.Done() != nil {
		followContext(rows, ctx)
	}
	return rows, err
}

// read answers a query from the cache, or from the database through it.
func (cn *conn) read(ctx context.Context, query string, args []driver.NamedValue, st *stmt) (driver.Rows, error) {
	cn.hasSkipped = false // a skip is followed by its prepare, or forgotten
	c := cn.c
	sh := c.sh
	p := cn.lastPlan
	if p == nil || query != cn.lastQuery {
		p = c.planFor(query)
		cn.lastQuery, cn.lastPlan = query, p
	}
	if !p.canRead {
		sh.ctr.bypass[p.reason].Add(1)
		if p.st.Kind == sqlscan.Read && !p.mayWrite {
			if p.setsSession {
				cn.session = true
			}
			return cn.passQuery(ctx, query, args, st)
		}
		return cn.writeQuery(ctx, query, args, st, p)
	}
	switch {
	case cn.tx != nil:
		sh.ctr.bypass[byTx].Add(1)
		return cn.passQuery(ctx, query, args, st)
	case cn.session:
		sh.ctr.bypass[bySession].Add(1)
		return cn.passQuery(ctx, query, args, st)
	}
	ttl := c.ttlFor(ctx, p)
	if ttl <= 0 {
		sh.ctr.bypass[byNoCache].Add(1)
		return cn.passQuery(ctx, query, args, st)
	}
	// Taken before the generations: entries filled under them are not
	// stored if the process's cache was dropped meanwhile (stale reset).
	mark := sh.resets.Load()
	gens, ok := sh.clock.Read(cn.gens[:0], p.reads)
	cn.gens = gens
	if !ok {
		sh.ctr.bypass[byOutOfSync].Add(1)
		return cn.passQuery(ctx, query, args, st)
	}
	// Reads through a prepared statement have keys of their own (the driver
	// may answer them in another protocol, with other Go types); so do
	// connection-path reads on a connection that cannot query, which
	// database/sql sends through a prepared statement anyway: their rows come
	// from the statement path, and a hit here spares the prepare.
	ns, km := c.keyNamespace, &cn.memo
	switch {
	case st != nil && st.skipped(args):
		ns, km = c.skipNamespace, &cn.skipMemo
	case st != nil || (cn.qc == nil && cn.q == nil):
		ns, km = c.stmtNamespace, &cn.stmtMemo
	}
	// skips: the inner connection's last answer to this text with arguments
	// was driver.ErrSkip. Whether it says so again depends on the call as much
	// as on the text (go-sql-driver/mysql skips every call with arguments
	// without interpolateParams, and with it only those too large to inline),
	// so a miss asks it again; what the flag spares is the Redis round trip
	// before that, and, where this process holds the result of a statement
	// database/sql prepared after the connection skipped the same call (it
	// will skip it again), the prepare.
	skips := st == nil && len(args) > 0 && p.connSkips.Load() && ns == c.keyNamespace
	if skips {
		if skey, _, ok := cn.keyFor(c.skipNamespace, &cn.skipMemo, query, args, gens, ttl); ok {
			if rows := cn.lookL1(ctx, skey, p, mark); rows != nil {
				return rows, nil
			}
		}
	}
	key, memo := km.lookup(query, args, gens, ttl) // the hit path's usual case, kept inline
	if !memo {
		var why bypassReason
		if key, why, ok = cn.keyFor(ns, km, query, args, gens, ttl); !ok {
			sh.ctr.bypass[why].Add(1)
			return cn.passQuery(ctx, query, args, st)
		}
	}
	if e := sh.hot.get(&key); e != nil {
		sh.ctr.hotHits.add(cn.lane, 1) // counted in L1Hits by Stats
		return newHotRows(e), nil
	}
	if rows := cn.lookL1(ctx, key, p, mark); rows != nil {
		return rows, nil
	}
	if st == nil && cn.qc == nil && cn.q == nil {
		// database/sql will prepare the statement and come back through stmt,
		// which looks in L2 and counts the miss; doing it here too would cost
		// a second Redis round trip.
		return nil, driver.ErrSkip
	}
	// Misses are counted once their outcome is known: a connection-path read
	// that ends in ErrSkip is counted by the statement path that follows it.
	var l2miss, l2err bool
	if sh.l2 != nil && !skips {
		e, err, leader, shared := sh.l2reads.Share(ctx, key, func(lctx context.Context) (*hotEntry, error) {
			e, err := cn.lookL2(lctx, key, p, mark)
			if err != nil && lctx.Err() != nil {
				// Whatever the client made of it, the lookup failed because its
				// caller left; those waiting on it have not.
				err = fmt.Errorf("%w: %w", errLookupLeft, err)
			}
			return e, err
		})
		if ctx.Err() != nil {
			// This caller has gone: no miss to count, no query to start.
			return nil, ctx.Err()
		}
		if errors.Is(err, errLookupLeft) {
			e, err = cn.lookL2(ctx, key, p, mark)
			shared = false // this caller's own lookup
		} else if !leader {
			if h := readhook.From(ctx); h != nil {
				h.SharedL2(err == nil && e != nil)
			}
		}
		switch {
		case err != nil && !errors.Is(err, tier.ErrOpen):
			l2err = true
		case e == nil:
			// A miss, or the breaker refusing to call a failing Redis.
			l2miss = true
		default:
			sh.ctr.l1Misses.add(cn.lane, 1)
			sh.ctr.l2Hits.add(cn.lane, 1)
			if !shared && !e.kept {
				// Nobody joined the lookup and the hot set did not keep the
				// decoded result: it is this caller's alone, values and all,
				// so it needs none of hotRows' private copies
				// (BenchmarkL2Hit).
				return newCachedRows(e.res), nil
			}
			return newHotRows(e), nil
		}
	}
	rows, err := cn.fill(ctx, key, query, args, st, ttl, p, mark)
	if err == driver.ErrSkip && st == nil {
		// database/sql prepares it next, on this connection (PrepareContext).
		cn.skipped, cn.skippedArgs, cn.hasSkipped = query, append(cn.skippedArgs[:0], args...), true
		return nil, err
	}
	sh.ctr.l1Misses.add(cn.lane, 1)
	switch {
	case l2err:
		sh.ctr.l2Errors.Add(1)
	case l2miss:
		sh.ctr.l2Misses.Add(1)
	}
	return rows, err
}

// keyFor is the key of a read in namespace ns, remembered in km. A read
// that cannot be keyed (ok false) gives the bypass reason instead: an argument the
// database may read as the time of the query, or one of a type with no
// canonical encoding.
func (cn *conn) keyFor(ns string, km *keyMemo, query string, args []driver.NamedValue, gens []uint64, ttl time.Duration) (key keying.Key, why bypassReason, ok bool) {
	if key, ok := km.lookup(query, args, gens, ttl); ok {
		return key, 0, true
	}
	kb := &cn.kb
	kb.Reset(ns)
	kb.Query(query)
	for i := range args {
		if clockArg(cn.c.dialect, args[i].Value) {
			return keying.Key{}, byVolatile, false
		}
		if err := kb.Arg(args[i]); err != nil {
			return keying.Key{}, byArgs, false
		}
	}
	for _, g := range gens {
		kb.Generation(g)
	}
	// A reader under a shorter life (WithStrategy, a hint, a table rule
	// another process has) must not be served an entry stored for longer.
	kb.TTL(ttl)
	key = kb.Sum()
	km.store(query, args, gens, ttl, key)
	return key, 0, true
}

// lookL1 answers a read from the hot set or L1, or returns nil.
func (cn *conn) lookL1(ctx context.Context, key keying.Key, p *plan, mark uint64) driver.Rows {
	sh := cn.c.sh
	if e := sh.hot.get(&key); e != nil {
		sh.ctr.hotHits.add(cn.lane, 1) // counted in L1Hits by Stats
		return newHotRows(e)
	}
	if v, left, hit, _ := sh.l1.Get(ctx, key); hit {
		// The life left was measured before decoding, which can take
		// milliseconds: the decoded copy's is counted from then, so that
		// it never outlives the entry.
		end := time.Now().Add(left)
		if res, err := p.cols.Decode(v); err == nil {
			sh.ctr.l1Hits.Add(1)
			var rows driver.Rows
			if !sh.keep(mark, func() { rows = sh.hot.share(&key, res, len(v), time.Until(end)) }) {
				rows = newHotRows(newHotEntry(res, len(v))) // read before a reset: kept nowhere
			}
			return rows
		}
		sh.ctr.corrupt.Add(1)
	}
	return nil
}

// clockArg reports an argument the database may read as the time of the
// query: 'now' to SQLite's date functions and PostgreSQL's date types, and
// 'today', 'tomorrow' and 'yesterday' to PostgreSQL's, alone or inside a
// longer text ('{now}'::timestamptz[], '[-infinity,now]'::tstzrange,
// 'today 10:00 UTC'). The text of the query cannot show it
// (strftime('%s', ?)), so a read with one of those words anywhere in an
// argument is not cached: a false alarm costs a read from the database.
// MySQL reads none of them.
func clockArg(d sqlscan.Dialect, v driver.Value) bool {
	if d == sqlscan.MySQL {
		return false
	}
	switch x := v.(type) {
	case string:
		return sqlscan.HasClockWord(x)
	case []byte:
		return sqlscan.HasClockWord(unsafe.String(unsafe.SliceData(x), len(x)))
	}
	return false
}

// errLookupLeft marks a shared L2 lookup that failed because the caller
// running it left.
var errLookupLeft = errors.New("cachedsql: the caller running the L2 lookup left")

// lookL2 reads key from L2 and decodes it once for every caller waiting on
// the same lookup: nil on a miss (a corrupt entry included). An entry with
// life left is promoted into L1 for no longer than that.
func (cn *conn) lookL2(ctx context.Context, key keying.Key, p *plan, mark uint64) (*hotEntry, error) {
	sh := cn.c.sh
	var (
		v    []byte
		left time.Duration
		hit  bool
		err  error
	)
	if vg, ok := sh.l2.(tier.ValueGetter); ok && !sh.l1.Enabled() {
		// Nothing to promote into: the remaining life is of no use.
		v, hit, err = vg.GetValue(ctx, key)
	} else {
		v, left, hit, err = sh.l2.Get(ctx, key)
	}
	if err != nil || !hit {
		return nil, err
	}
	end := time.Now().Add(left) // the L2 entry's end, as of the reply
	res, err := p.cols.Decode(v)
	if err != nil {
		sh.ctr.corrupt.Add(1)
		return nil, nil
	}
	// The L1 copy lives no longer than the L2 entry has left, counted from
	// the reply and not from after decoding (which can take milliseconds):
	// a promotion never extends an entry's life.
	if left > 0 && sh.l1.Enabled() {
		var e *hotEntry
		sh.keep(mark, func() {
			if sh.l1.Set(ctx, key, v, time.Until(end)) == nil {
				sh.ctr.promotions.Add(1)
				e = sh.hot.put(&key, res, len(v), min(time.Until(end), sh.l1.MaxTTL()))
			}
		})
		if e != nil {
			return e, nil
		}
	}
	return newHotEntry(res, len(v)), nil
}

// passQuery sends a read to the database untouched.
func (cn *conn) passQuery(ctx context.Context, query string, args []driver.NamedValue, st *stmt) (driver.Rows, error) {
	if err := cn.wait(ctx); err != nil {
		return nil, err
	}
	return cn.innerQuery(ctx, query, args, st)
}

// writeQuery runs a statement that is not a cacheable read through Query
// (INSERT ... RETURNING, a CTE that deletes, SQL the scanner cannot classify,
// a read calling a function that may write).
// It invalidates when the query returns and again when its rows close, since
// a database may finish the statement only as the rows are read.
func (cn *conn) writeQuery(ctx context.Context, query string, args []driver.NamedValue, st *stmt, p *plan) (driver.Rows, error) {
	rows, err := cn.passQuery(ctx, query, args, st)
	if err == driver.ErrSkip {
		return nil, err
	}
	// The caller's rows are open: nothing else may be sent on the connection.
	cn.rowsOpen = err == nil
	prev := cn.tx
	cn.afterStatement(ctx, p, err)
	cn.rowsOpen = false
	if err != nil {
		return nil, err
	}
	if cn.settlesTx(p.st.Kind) {
		if cn.tx == nil && prev != nil {
			// A COMMIT or ROLLBACK that may not have run yet: until its rows
			// close, the transaction goes on, uncertain (reads on this
			// connection bypass, writes are kept for its end).
			prev.uncertain = true
			cn.tx = prev
		}
		if cn.tx != nil && cn.tx != prev {
			// A BEGIN (or SQLite's SAVEPOINT) that may not have run yet:
			// a write sent before its rows close autocommits, so the state
			// it opened is uncertain (writes invalidate at once, and again
			// at its end).
			cn.tx.uncertain = true
		}
		cn.txRowsOpen++
		return newHookRows(rows, func() {
			cn.txRowsOpen--
			cn.settleTx(prev)
		}), nil
	}
	if p.st.Kind != sqlscan.Write && p.st.Kind != sqlscan.Unknown && !p.mayWrite {
		return rows, nil
	}
	return newHookRows(rows, func() {
		// Again once the rows are read (some drivers write as they are): at
		// once, unless a transaction this connection is sure of keeps the
		// write for its end (it may have begun since the write was sent,
		// and the write run inside it).
		switch s := cn.tx; {
		case s == nil || s.uncertain:
			cn.afterStatement(context.Background(), p, nil)
		default:
			s.add(p.writes, p.st.WritesAll || p.st.Kind == sqlscan.Unknown || p.mayWrite)
		}
		// A state the driver has left ("BEGIN; UPDATE ..." whose BEGIN never
		// ran; SQLite rolling back on its own) ends, unless a transaction
		// statement sent through Query may still run.
		if cn.ac != nil && cn.txRowsOpen == 0 {
			cn.settleTx(nil)
		}
	}), nil
}

// fill is the outcome of one shared query.
type fill struct {
	// res is the result; nil when it was not cacheable.
	res *rowset.Result
	// mem holds res (and this fill); a reader that alone had res gives it
	// back for another capture once done (cachedRows.Close).
	mem *fillMem
	// late: the previous leader for the key stored its result in L1 just
	// after this caller missed it, so no query ran for this flight.
	late bool
	// e prepares res to be read by several callers at once through hotRows
	// (each reader gets private copies of []byte values); made by the first
	// caller that shares the fill.
	once sync.Once
	e    *hotEntry
}

// entry is f's result for a caller that shares it.
func (f *fill) entry() *hotEntry {
	// Never kept in the hot set, so its size counts against no budget.
	f.once.Do(func() { f.e = newHotEntry(f.res, 0) })
	return f.e
}

// handoff gives the leader (the caller whose connection ran the shared query)
// the rows of a result too large or too odd to cache, which only it can read.
type handoff struct {
	mu   sync.Mutex
	gone bool        // the leader stopped waiting
	rows driver.Rows // set when the result was not cacheable
}

func (h *handoff) give(r driver.Rows) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		r.Close() // overflowRows.Close also cancels their query
		return
	}
	h.rows = r
}

func (h *handoff) abandon() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gone = true
	if h.rows != nil {
		h.rows.Close()
		h.rows = nil
	}
}

func (h *handoff) take() driver.Rows {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rows
	h.rows = nil
	return r
}

var errNoHandoff = errors.New("cachedsql: internal error: the shared query left no rows for its leader")

func (cn *conn) fill(ctx context.Context, key keying.Key, query string, args []driver.NamedValue, st *stmt, ttl time.Duration, p *plan, mark uint64) (driver.Rows, error) {
	if err := cn.wait(ctx); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // gone already: start nothing on its behalf
	}
	sh := cn.c.sh
	h := &handoff{}
	// A caller whose context can never end runs the shared query itself
	// (flight.Do), with its own argument buffers, and cannot leave before it
	// is done: nothing to copy or to mark.
	shared := args
	var busy *chan struct{}
	if ctx.Done() != nil {
		// The shared query may outlive this caller, whose argument buffers
		// database/sql passes through and the program may then reuse.
		shared = cloneArgs(args)
		// Mark the connection busy before the shared query can start, so
		// that if this caller leaves early, the next user of the connection
		// waits for it.
		ch := make(chan struct{})
		busy = &ch
		cn.setBusy(busy)
	}
	f, err, leader, joined := sh.flights.Do(ctx, key, func(fctx context.Context) (*fill, error) {
		if busy != nil {
			defer cn.clearBusy(busy)
		}
		f, err := cn.runFill(fctx, h, key, query, shared, st, ttl, p, mark)
		if st == nil {
			// Whether the connection skips depends on the call: the flag
			// follows its last answer (see read).
			if skipped := err == driver.ErrSkip; p.connSkips.Load() != skipped {
				p.connSkips.Store(skipped)
			}
		}
		return f, err
	})
	if !leader && busy != nil {
		cn.clearBusy(busy)
	}
	if err != nil {
		if leader && ctx.Err() != nil {
			h.abandon()
		}
		if !leader && (errors.Is(err, driver.ErrBadConn) || (err == driver.ErrSkip && st != nil)) {
			// The leader's connection broke (ours may be fine, and handing
			// ErrBadConn on would make database/sql discard it), or the leader
			// came through a connection whose driver wants a prepared statement,
			// which we already are: run our own query.
			return cn.passQuery(ctx, query, args, st)
		}
		return nil, err
	}
	if !leader || f.late {
		// Answered by another caller's query: by waiting for it, or by
		// arriving just after it.
		sh.ctr.coalesced.Add(1)
	}
	if f.res != nil {
		if leader && !joined && !f.late {
			// Nobody else has this result, and nobody ever will: what the
			// query captured is this caller's to read as it is, with no hot
			// entry and no private copies (BenchmarkMissNoop rows=100:
			// 25.0 -> 23.3 us).
			return &cachedRows{res: f.res, mem: f.mem}, nil
		}
		return newHotRows(f.entry()), nil
	}
	if leader {
		if r := h.take(); r != nil {
			if o, ok := r.(*overflowRows); ok {
				o.follow(ctx)
			}
			return r, nil
		}
		return nil, errNoHandoff
	}
	// Not cacheable: run our own query, as we would have without the cache.
	return cn.passQuery(ctx, query, args, st)
}

// runFill runs on the shared context in its own goroutine: it queries the
// database on the leader's connection, materialises every row, and stores the
// encoded result when it is within the caps.
func (cn *conn) runFill(ctx context.Context, h *handoff, key keying.Key, query string, args []driver.NamedValue, st *stmt, ttl time.Duration, p *plan, mark uint64) (*fill, error) {
	c := cn.c
	sh := c.sh
	// A caller that missed L1 just before the previous leader for this key
	// stored its result, and asked for a flight just after that flight ended,
	// becomes a leader: look again, so that it does not query a second time.
	if v, _, hit, _ := sh.l1.Get(ctx, key); hit {
		if res, err := p.cols.Decode(v); err == nil {
			return &fill{res: res, late: true}, nil
		}
	}
	// The query gets its own cancel: rows handed to the leader for streaming
	// must stop when the leader's context ends, as they would unwrapped.
	// (A context that can never end needs none, and keeps the inner driver
	// from starting a watcher for it.)
	qctx, qcancel := ctx, context.CancelFunc(func() {})
	if ctx.Done() != nil {
		qctx, qcancel = context.WithCancel(ctx)
	}
	rows, err := cn.innerQuery(qctx, query, args, st)
	if err != nil {
		qcancel()
		return nil, err
	}
	bp := encodeScratch.Get().(*[]byte)
	var enc rowset.Encoder
	// Encoded after room for L1's entry header, so that L1 stores it without
	// copying it to put one in front.
	enc.Begin(append((*bp)[:0], make([]byte, tier.L1Room)...))
	mem := getFillMem()
	res, got, overflow, err := capture(rows, c.cfg.maxRows(), c.cfg.maxBytes(), p.sizeHint(), &enc, mem)
	if err != nil || overflow {
		putScratch(bp, enc.Abandon())
	}
	if err != nil && !overflow {
		rows.Close()
		qcancel()
		return nil, err
	}
	if overflow {
		// Too large to cache, or a row the driver failed to read: the leader
		// reads the rest (or the error) as it would have unwrapped; the
		// others run their own query.
		sh.ctr.uncacheable.Add(1)
		o := newOverflowRows(res, rows, qcancel)
		o.err, o.lazy = err, c.lazyRows
		if e, ok := err.(nextSetError); ok {
			o.err, o.atNextSet = e.err, true
		}
		h.give(o)
		return &fill{}, nil
	}
	defer qcancel()
	p.setSizeHint(got)
	if err := rows.Close(); err != nil {
		// Every row came, then the driver failed to close them: the leader
		// reads the rows and then gets the error (database/sql reports it
		// from Rows.Err), as it would have unwrapped; the others run their
		// own query. Nothing is cached.
		putScratch(bp, enc.Abandon())
		sh.ctr.uncacheable.Add(1)
		h.give(&cachedRows{res: res, closeErr: err})
		return &fill{}, nil
	}
	buf, err := enc.Finish()
	// capture checks the cap after each row; column descriptions written
	// after the last row (a set with no rows) count too.
	if err == nil && c.cfg.maxBytes() > 0 && enc.Len() > c.cfg.maxBytes() {
		err = errTooLarge
	}
	if err != nil {
		putScratch(bp, buf)
		sh.ctr.uncacheable.Add(1)
		h.give(newCachedRows(res))
		return &fill{}, nil
	}
	data := buf[tier.L1Room:]
	// The entry's life counts from here, in Redis as in L1 (see the L2 write).
	stored := time.Now()
	// A fill that began before an invalidation is stored under the generations
	// it read at the start, which no later reader asks for.
	kept := sh.keep(mark, func() {
		if err := sh.l1.SetWithRoom(ctx, key, buf, ttl); err == nil || sh.l2 != nil {
			sh.ctr.fills.Add(1)
		}
	})
	if !kept {
		// The process's cache was dropped after this fill read its
		// generations, which may be numbers Redis lost and handed out again.
		putScratch(bp, buf)
		f := &mem.fill
		f.res, f.mem = res, mem
		return f, nil
	}
	if sh.l2 != nil {
		l2 := sh.l2
		// The write owns the scratch buffer until it is done: no copy.
		sh.async(func() { // skipped once the namespace's last connector has closed
			defer putScratch(bp, buf)
			// Redis counts PX from when the SET arrives, which may be well
			// after the store: this goroutine may start late, and the client
			// may wait for a pooled connection, dial, or retry. So the write
			// asks for what is left of the TTL, and gets a fraction of the
			// TTL to be sent in; the entry can outlive the TTL counted from
			// the store by at most that (l2WriteBudget).
			left := ttl - time.Since(stored)
			if left < time.Millisecond {
				return // nothing worth writing is left
			}
			wctx, cancel := context.WithTimeout(context.Background(), l2WriteBudget(ttl))
			defer cancel()
			// No lock across a Redis call: a reset waits for none. (An L2
			// write is exposed to a Redis that lost writes anyway: see
			// generation's Redis losing writes.)
			if sh.resets.Load() == mark && l2.Set(wctx, key, data, left) != nil {
				sh.ctr.l2Errors.Add(1)
			}
		})
	} else {
		putScratch(bp, buf)
	}
	f := &mem.fill
	f.res, f.mem = res, mem
	return f, nil
}

// l2WriteBudget is how long a fill's Redis write may take, and so by how
// much its entry may outlive the TTL: a tenth of the TTL, at least 50 ms (a
// busy client's pool wait) and at most 5 s. A write that takes longer is
// dropped (an L2 error): the next process to miss fills it again.
func l2WriteBudget(ttl time.Duration) time.Duration {
	return min(max(ttl/10, 50*time.Millisecond), 5*time.Second)
}

// encodeScratch holds buffers for encoding fills. Appending into a fresh
// slice grows it by doubling (for a 100-row result, three times the final size
// allocated and copied); L1 copies what it stores, and the L2 write is the
// only other reader, so a reused buffer serves.
var encodeScratch = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledScratch bounds what encodeScratch keeps, so that one huge result
// does not stay pinned in the pool.
const maxPooledScratch = 256 << 10

// putScratch returns a buffer to encodeScratch once nothing reads it.
func putScratch(bp *[]byte, buf []byte) {
	if cap(buf) <= maxPooledScratch {
		*bp = buf[:0]
		encodeScratch.Put(bp)
	}
}

// Small []byte values are copied into shared chunks of arenaChunk bytes
// rather than allocated one by one.
const (
	arenaChunk   = 4096
	maxArenaCopy = 256
)

// sizeHint is what the last capture of a query held, to size the next one's
// allocations: a result of the same size is then read into one allocation of
// each kind rather than a doubling series.
type sizeHint struct {
	rows  int // rows in the first result set
	small int // []byte values copied into the arena
	arena int // their bytes
}

// capture reads every row of every result set, deep-copying what drivers may
// reuse, and encodes each row into enc (begun by the caller) as it reads it.
// It stops early (overflow) when the result exceeds a cap (maxBytes counts
// encoded bytes) or holds a value or column type the codec cannot reproduce;
// res then holds what was read so far, rows is positioned just after it, and
// enc is unusable. A row the driver fails to read is an overflow too, with
// that error: res holds the rows before it. got is the hint this result gives. The result is read
// into mem's chunks where they are large enough, and mem keeps the chunks
// that had to be made instead, for the capture that reuses it.
func capture(rows driver.Rows, maxRows, maxBytes int, hint sizeHint, enc *rowset.Encoder, mem *fillMem) (res *rowset.Result, got sizeHint, overflow bool, err error) {
	res = &mem.res
	res.Sets = mem.sets[:0]
	rowsHint := min(hint.rows, 4096)
	if maxRows > 0 {
		rowsHint = min(rowsHint, maxRows+1)
	}
	nrows := 0
	var free []driver.Value // rows are cut from chunks, not allocated one by one
	first := true           // the next chunk is the first
	inFirst := false        // free is in the first chunk
	var cp copier           // and []byte copies likewise
	if hint.small > 0 {
		// Capped: the hint is the last result's, and this one, for other
		// arguments, may be far smaller.
		if n := min(hint.small, 1024); cap(mem.headers) < n {
			mem.headers = make([][]byte, 0, n)
		}
		if n := min(hint.arena, 16<<10); cap(mem.arena) < n {
			mem.arena = make([]byte, 0, n)
		}
	}
	cp.headers, cp.arena = mem.headers[:0], mem.arena[:0]
	defer func() {
		got.small, got.arena = cp.small, cp.bytes
		if err == nil && len(res.Sets) > 0 {
			got.rows = len(res.Sets[0].Rows)
		}
		// What reset clears: the rows written into mem.rows, by the sets
		// that began there (up to the first with rows: an empty set leaves
		// it to the next), even those that outgrew it; and the headers.
		if res != nil && rowsHint > 0 {
			for _, s := range res.Sets {
				mem.nRows = max(mem.nRows, min(len(s.Rows), cap(mem.rows)))
				if len(s.Rows) > 0 {
					break
				}
			}
		}
		mem.nHeaders = min(cp.small, cap(mem.headers))
	}()
	for {
		set := rowset.Set{Columns: rowset.Describe(rows)}
		width := len(set.Columns)
		if enc.Set(set.Columns) != nil {
			// A column type the codec cannot reproduce: the caller reads
			// this set from the driver.
			res.Sets = append(res.Sets, set)
			return res, got, true, nil
		}
		if nrows == 0 && rowsHint > 0 {
			if cap(mem.rows) < rowsHint {
				mem.rows = make([][]driver.Value, 0, rowsHint)
			}
			set.Rows = mem.rows[:0]
		}
		for {
			if len(free) < width {
				n := min(max(nrows, 8), 256)
				if nrows == 0 && rowsHint > 0 {
					n = rowsHint + 1 // the call that returns io.EOF takes a row too
				}
				if first {
					// The first chunk may be one a reader gave back
					// (cachedRows.Close), cleared then.
					if cap(mem.values) < width*n {
						mem.values = make([]driver.Value, width*n)
					}
					free, first, inFirst = mem.values[:cap(mem.values)], false, true
				} else {
					free, inFirst = make([]driver.Value, width*n), false
				}
			}
			dest := free[:width:width]
			if inFirst {
				// Every value slot the driver was given: putFillMem clears them.
				mem.nValues = len(mem.values) - len(free) + width
			}
			err := rows.Next(dest)
			if err == io.EOF {
				// The slot becomes the next set's first row: what a driver
				// wrote into it here is not that row's.
				clear(dest)
				break
			}
			if err != nil {
				// The rows read so far go to the caller, then this error, as
				// the driver would have given them.
				res.Sets = append(res.Sets, set)
				return res, got, true, err
			}
			// Each value is encoded as it is copied, in one switch on its
			// type, while the row is in the CPU's cache. An error sticks in
			// enc and is checked once the row is copied.
			buf := enc.BeginRow(width)
			for i, v := range dest {
				switch x := v.(type) {
				case int64:
					buf = enc.AppendInt64(buf, x)
				case string:
					buf = enc.AppendString(buf, x)
				case float64:
					buf = enc.AppendFloat64(buf, x)
				case time.Time:
					buf = enc.AppendTime(buf, x)
				case []byte:
					dest[i] = cp.copy(x)
					buf = enc.AppendBytes(buf, x)
				default:
					buf = enc.AppendValue(buf, v)
				}
			}
			enc.EndRow(buf)
			free = free[width:]
			set.Rows = append(set.Rows, dest)
			nrows++
			if enc.Err() != nil || (maxRows > 0 && nrows > maxRows) || (maxBytes > 0 && enc.Len() > maxBytes) {
				res.Sets = append(res.Sets, set)
				return res, got, true, nil
			}
		}
		res.Sets = append(res.Sets, set)
		nrs, ok := rows.(driver.RowsNextResultSet)
		if !ok || !nrs.HasNextResultSet() {
			return res, got, false, nil
		}
		if err := nrs.NextResultSet(); err != nil {
			if err == io.EOF {
				return res, got, false, nil
			}
			// A later statement failed before sending rows: the sets so far
			// go to the caller whole, then this error from NextResultSet, as
			// the driver would have given them (go-sql-driver/mysql with
			// multiStatements).
			return res, got, true, nextSetError{err}
		}
	}
}

// nextSetError is an error of the inner rows' NextResultSet, which capture
// reports after every set before it was read whole.
type nextSetError struct{ err error }

func (e nextSetError) Error() string { return e.err.Error() }
func (e nextSetError) Unwrap() error { return e.err }

// errTooLarge: an encoded result above max_bytes.
var errTooLarge = errors.New("cachedsql: result above max_bytes")

// fillMem is the memory a capture reads a result into: the result, its
// first chunk of driver values, its rows, the first chunks of its []byte
// copies, and the fill that carries it. A miss allocated all of it anew
// (8 KB of values alone, with pointers, for 100 rows of 5 columns), which
// cost more than the rest of capturing; a lone leader's reader gives it back
// when it closes (cachedRows.Close), for the next capture. A fill that other
// callers share is never given back.
type fillMem struct {
	fill   fill
	res    rowset.Result
	sets   [1]rowset.Set
	values []driver.Value   // first chunk of row values
	rows   [][]driver.Value // the first set's rows
	// The copier's first chunks, which the []byte values handed out point
	// into. database/sql copies a []byte it scans, except into a
	// sql.RawBytes or a sql.Scanner, and those may keep it only until the
	// next Next, Scan or Close (as a driver's own reused buffers): so once
	// the reader has closed, nothing may read these.
	headers [][]byte
	arena   []byte
	// How much of values, rows and headers the last capture wrote.
	nValues, nRows, nHeaders int
}

var fillMems = sync.Pool{New: func() any { return new(fillMem) }}

// Bounds on what fillMems keeps, so that one huge result does not stay
// pinned in the pool: values, rows, and bytes.
const (
	maxPooledValues = 16 << 10
	maxPooledRows   = 4 << 10
	maxPooledArena  = 16 << 10
)

func getFillMem() *fillMem { return fillMems.Get().(*fillMem) }

// putFillMem gives back m once nothing reads its result any more.
func putFillMem(m *fillMem) {
	if cap(m.values) > maxPooledValues || cap(m.rows) > maxPooledRows || cap(m.arena) > maxPooledArena || cap(m.headers) > maxPooledRows {
		return
	}
	m.reset()
	fillMems.Put(m)
}

// reset clears what the last capture wrote into m: so that the pool pins none
// of its values, nor chunks made after the first, and so that a driver that
// fails to set a value in Next never leaves one of an earlier result.
func (m *fillMem) reset() {
	clear(m.values[:m.nValues])
	clear(m.rows[:m.nRows])
	clear(m.headers[:m.nHeaders])
	m.nValues, m.nRows, m.nHeaders = 0, 0, 0
	clear(m.sets[:])
	m.res = rowset.Result{}
	m.fill = fill{}
}

// copier copies the []byte values a capture keeps: drivers may reuse their
// buffers once Next is called again.
type copier struct {
	arena   []byte   // small copies, cut from shared chunks
	headers [][]byte // the slice headers their interfaces point at
	small   int      // copies made in the arena
	bytes   int      // their bytes
}

// copy returns a copy of x, boxed.
func (c *copier) copy(x []byte) driver.Value {
	n := len(x)
	if n == 0 || n > maxArenaCopy {
		return bytes.Clone(x) // keeps nil and empty apart
	}
	if cap(c.arena)-len(c.arena) < n {
		// Chunks grow from small, so that a one-row result does not take a
		// whole chunk.
		c.arena = make([]byte, 0, min(max(2*cap(c.arena), 256), arenaChunk))
	}
	at := len(c.arena)
	c.arena = append(c.arena, x...)
	c.small++
	c.bytes += n
	if len(c.headers) == cap(c.headers) {
		c.headers = make([][]byte, 0, min(max(2*cap(c.headers), 8), 64))
	}
	// Capped: appending to one value never writes into the next.
	c.headers = append(c.headers, c.arena[at:at+n:at+n])
	// Boxing the header would allocate it; the slab holds it, and nothing
	// changes a header once it is in the slab.
	return rowset.BytesValue(&c.headers[len(c.headers)-1])
}

// cloneArgs copies args, and every []byte in them.
func cloneArgs(args []driver.NamedValue) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	copy(out, args)
	for i := range out {
		if b, ok := out[i].Value.([]byte); ok {
			out[i].Value = bytes.Clone(b)
		}
	}
	return out
}
