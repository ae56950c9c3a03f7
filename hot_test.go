package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/cachedsql/cachedsql/keying"
	"github.com/cachedsql/cachedsql/rowset"
	"github.com/cachedsql/cachedsql/tier"
)

// A caller that writes into the sql.RawBytes it scanned must not change what
// the next reader of the shared decoded result gets.
func TestHotHitsGiveEachReaderItsOwnBytes(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	var rows [][]driver.Value
	for i := range 20 { // more []byte values than hotRows keeps inline
		rows = append(rows, []driver.Value{int64(i), []byte("payload-" + string(rune('a'+i))), []byte{}})
	}
	d.CreateTable("docs", fakedb.Cols("id", "body", "empty"), rows...)
	db := openCached(t, name, "")
	const q = "SELECT * FROM docs"
	for round := range 4 { // a miss, an L1 hit that decodes, then decoded hits
		r, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for r.Next() {
			var id int64
			var body, empty sql.RawBytes
			if err := r.Scan(&id, &body, &empty); err != nil {
				t.Fatal(err)
			}
			if want := "payload-" + string(rune('a'+i)); string(body) != want || empty == nil || len(empty) != 0 {
				t.Fatalf("round %d row %d: body %q empty %#v; want %q and an empty non-nil slice", round, i, body, empty, want)
			}
			for j := range body { // scribble on what we were handed
				body[j] = 'X'
			}
			i++
		}
		r.Close()
		if i != 20 {
			t.Fatalf("round %d: %d rows", round, i)
		}
	}
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("%d database reads; want 1", n)
	}
	if s := stats(t, db); s.L1DecodedHits < 2 {
		t.Fatalf("decoded hits = %d; want the last rounds served from decoded results", s.L1DecodedHits)
	}
}

func TestHotEntriesExpireAndFollowInvalidation(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "ttl=1s")
	const q = "SELECT name FROM users WHERE id = ?"
	for range 3 {
		queryName(t, db, 1)
	}
	if s := stats(t, db); s.L1DecodedHits != 1 {
		t.Fatalf("decoded hits = %d; want 1", s.L1DecodedHits)
	}
	db.Exec("UPDATE users SET name = ? WHERE id = ?", "ann", 1)
	if got := queryName(t, db, 1); got != "ann" {
		t.Fatalf("decoded result outlived an invalidation: %q", got)
	}
	queryName(t, db, 1)
	queryName(t, db, 1)                 // now decoded again
	time.Sleep(1100 * time.Millisecond) // the TTL itself is under test
	before := d.QueryCount(q)
	queryName(t, db, 1)
	if d.QueryCount(q) != before+1 {
		t.Fatal("a decoded result outlived its TTL")
	}
}

func TestHotSetStaysWithinBudget(t *testing.T) {
	h := newHotSet(1) // 1 MiB of L1: 128 KiB for decoded results
	res := decodedSample(t)
	for i := range 5000 {
		var k [16]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		key := keying.Key(k)
		h.put(&key, res, 100, time.Minute)
	}
	var total int64
	for i := range h.shards {
		s := &h.shards[i]
		if s.bytes > h.budget {
			t.Fatalf("shard %d holds %d bytes over its budget %d", i, s.bytes, h.budget)
		}
		total += s.bytes
	}
	if total == 0 {
		t.Fatal("nothing kept")
	}
}

func decodedSample(t *testing.T) *rowset.Result {
	t.Helper()
	return &rowset.Result{Sets: []rowset.Set{{Columns: []rowset.Column{{Name: "a"}}, Rows: [][]driver.Value{{int64(1)}}}}}
}

// An over-cap result handed to its caller streams on the shared query's
// context; ending the caller's context must still reach the inner query.
func TestOverflowRowsFollowTheCallersContext(t *testing.T) {
	var innerCtx context.Context
	var mu sync.Mutex
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces, OnQuery: func(ctx context.Context, q string, _ []driver.NamedValue) error {
		mu.Lock()
		innerCtx = ctx
		mu.Unlock()
		return nil
	}})
	var rows [][]driver.Value
	for i := range 20 {
		rows = append(rows, []driver.Value{int64(i)})
	}
	d.CreateTable("many", fakedb.Cols("id"), rows...)
	db := openCached(t, name, "max_rows=5")
	ctx, cancel := context.WithCancel(context.Background())
	r, err := db.QueryContext(ctx, "SELECT * FROM many")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatal("no first row")
	}
	mu.Lock()
	qctx := innerCtx
	mu.Unlock()
	if qctx.Err() != nil {
		t.Fatal("inner query context already done")
	}
	cancel()
	select {
	case <-qctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("ending the caller's context did not reach the inner query of a streamed result")
	}
	r.Close()
}

// A shared query that outlives every connector must not write to closed tiers.
func TestSharedQueryFinishingAfterCloseIsHarmless(t *testing.T) {
	srv := redistest.Start(t)
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db, err := sql.Open("cachedsql", "driver="+name+" dsn=x namespace=afterclose redis="+srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitSync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT name FROM users WHERE id = ?"
	gate := d.Block(q)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var s string
		done <- db.QueryRowContext(ctx, q, 1).Scan(&s)
	}()
	<-gate.Arrived()
	cancel()
	<-done
	db.Close() // the last connector: tiers close while the query still runs
	gate.Release()
	waitFor(t, "the shared query to finish", func() bool { return d.OpenRows() == 0 && gate.Waiting() == 0 })
}

// The leader of a fill and the callers waiting on it read one decoded result:
// each must still get private []byte values, so that one scribbling on its
// sql.RawBytes changes nothing another reads.
func TestFillReadersGetTheirOwnBytes(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	var rows [][]driver.Value
	for i := range 8 {
		rows = append(rows, []driver.Value{int64(i), []byte("payload-" + string(rune('a'+i)))})
	}
	d.CreateTable("docs", fakedb.Cols("id", "body"), rows...)
	db := openCached(t, name, "")
	const q = "SELECT * FROM docs"
	gate := d.Block(q)
	sh := mustConnector(t, db).sh
	const readers = 8
	errs := make(chan string, readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := db.Query(q)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer r.Close()
			i := 0
			for r.Next() {
				var id int64
				var body sql.RawBytes
				if err := r.Scan(&id, &body); err != nil {
					errs <- err.Error()
					return
				}
				if want := "payload-" + string(rune('a'+i)); string(body) != want {
					errs <- "got " + string(body) + ", want " + want
					return
				}
				for j := range body {
					body[j] = 'X'
				}
				i++
			}
			if i != 8 {
				errs <- "short result"
			}
		}()
	}
	<-gate.Arrived()
	waitFor(t, "every reader on the one fill", func() bool { return sh.flights.Waiters() == readers })
	gate.Release()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("%d database reads; want 1", n)
	}
}

// The lock-free front of the hot set only ever points at entries its shards
// still hold, so it keeps nothing alive beyond the budget, and finds what it
// holds.
func TestHotFrontHoldsOnlyKeptEntries(t *testing.T) {
	h := newHotSet(1) // 128 KiB for decoded results: most puts evict
	res := decodedSample(t)
	keys := make([]keying.Key, 20000)
	for i := range keys {
		var k [16]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		k[8], k[9] = byte(i*7), byte(i>>3) // spread over the front's slots
		keys[i] = keying.Key(k)
		h.put(&keys[i], res, 100, time.Minute)
	}
	held := 0
	for i := range h.front {
		e := h.front[i].Load()
		if e == nil {
			continue
		}
		held++
		s := h.shard(&e.key)
		s.mu.RLock()
		kept := s.m[e.key] == e
		s.mu.RUnlock()
		if !kept {
			t.Fatalf("front slot %d holds an entry its shard has dropped", i)
		}
		if got := h.get(&e.key); got != e {
			t.Fatalf("get of a key in the front returned %p, want %p", got, e)
		}
	}
	if held == 0 {
		t.Fatal("the front holds nothing")
	}
	// Every kept entry is found, through the front or its shard.
	for i := range h.shards {
		for k, e := range h.shards[i].m {
			if got := h.get(&k); got != e {
				t.Fatalf("kept entry not found")
			}
		}
	}
}

// Each reader of a shared decoded result gets its own copy of the column
// names: changing it, or keeping it after Close, affects no other reader.
func TestHotColumnsArePrivate(t *testing.T) {
	_, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	const q = "SELECT id, name FROM users WHERE id = ?"
	var kept [][]string
	for round := range 200 { // enough to use up more than one slab
		r, err := db.Query(q, 1)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := r.Columns()
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != 2 || cols[0] != "id" || cols[1] != "name" {
			t.Fatalf("round %d: columns %q", round, cols)
		}
		cols[0], cols[1] = "X", "Y" // the program's to change
		cols = append(cols, "Z")    // and to grow, without reaching the next copy
		r.Close()
		kept = append(kept, cols)
	}
	for i, cols := range kept {
		if len(cols) != 3 || cols[0] != "X" || cols[1] != "Y" || cols[2] != "Z" {
			t.Fatalf("a kept slice changed after later queries: %d %q", i, cols)
		}
	}
	if s := stats(t, db); s.L1DecodedHits < 100 {
		t.Fatalf("decoded hits = %d: the test did not read shared results", s.L1DecodedHits)
	}
}

// TestLoneFillLeaderReadsCapturedRows: a miss nobody else joined hands its
// caller the captured rows themselves (no hot entry, no private copies), and
// what that caller does to them does not reach the cache.
func TestLoneFillLeaderReadsCapturedRows(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	if err := d.CreateTable("docs", fakedb.Cols("id", "body"), []driver.Value{int64(1), []byte("payload")}); err != nil {
		t.Fatal(err)
	}
	db := openCached(t, name, "")
	ctx := context.Background()
	dc, err := mustConnector(t, db).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	qc, ok := dc.(driver.QueryerContext)
	if !ok {
		t.Fatalf("%T is not a QueryerContext", dc)
	}
	const q = "SELECT * FROM docs"
	r, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*cachedRows); !ok {
		t.Fatalf("a lone miss read through %T; want the captured rows (*cachedRows)", r)
	}
	dest := make([]driver.Value, 2)
	if err := r.Next(dest); err != nil {
		t.Fatal(err)
	}
	body := dest[1].([]byte)
	for i := range body {
		body[i] = 'X' // the caller's to change, as a driver's buffer is
	}
	r.Close()
	var got []byte
	if err := db.QueryRow(q).Scan(new(int64), &got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "payload" || d.QueryCount(q) != 1 {
		t.Fatalf("hit after the lone miss: %q, %d database reads; want payload from the cache", got, d.QueryCount(q))
	}
}

// TestLoneLeaderValuesOutliveItsMemory: a lone leader's reader gives the
// memory its rows were captured into (values, rows, []byte copies) back for
// later captures when it closes (cachedRows.Close). What the program scanned
// from those rows must stay as the database returned it while later misses
// reuse that memory, and the closed reader must read nothing more.
func TestLoneLeaderValuesOutliveItsMemory(t *testing.T) {
	const groups, perGroup = 12, 30
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	var rows [][]driver.Value
	for g := range groups + 1 { // the last group is read while other misses run
		for i := range perGroup {
			rows = append(rows, []driver.Value{int64(g), int64(g*1000 + i), fmt.Sprintf("name-%d-%d", g, i), []byte(fmt.Sprintf("body-%d-%d", g, i))})
		}
	}
	if err := d.CreateTable("docs", fakedb.Cols("grp", "id", "name", "body"), rows...); err != nil {
		t.Fatal(err)
	}
	db := openCached(t, name, "")
	const q = "SELECT * FROM docs WHERE grp = ?"
	kept := make([][][]any, groups) // every group's values, scanned into any
	for g := range groups {
		r, err := db.Query(q, int64(g))
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			vals := make([]any, 4)
			if err := r.Scan(&vals[0], &vals[1], &vals[2], &vals[3]); err != nil {
				t.Fatal(err)
			}
			kept[g] = append(kept[g], vals)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for g := range groups {
		if len(kept[g]) != perGroup {
			t.Fatalf("group %d: %d rows, want %d", g, len(kept[g]), perGroup)
		}
		for i, vals := range kept[g] {
			want := []any{int64(g), int64(g*1000 + i), fmt.Sprintf("name-%d-%d", g, i), []byte(fmt.Sprintf("body-%d-%d", g, i))}
			if !reflect.DeepEqual(vals, want) {
				t.Fatalf("group %d row %d reads %v after later misses; the database returned %v", g, i, vals, want)
			}
		}
	}
	if n := d.QueryCount(q); n != groups {
		t.Fatalf("%d database reads for %d lone misses", n, groups)
	}

	// A reader still open while other lone misses capture: its chunk is not
	// back in the pool until it closes, so their rows cannot land in it.
	open, err := db.Query(q, int64(groups)) // the extra group
	if err != nil {
		t.Fatal(err)
	}
	var openRows [][]any
	scanOne := func() {
		t.Helper()
		vals := make([]any, 4)
		if !open.Next() {
			t.Fatalf("the open reader ended after %d rows: %v", len(openRows), open.Err())
		}
		if err := open.Scan(&vals[0], &vals[1], &vals[2], &vals[3]); err != nil {
			t.Fatal(err)
		}
		openRows = append(openRows, vals)
	}
	scanOne()
	for g := range groups { // a new query text: each a lone miss, on another connection
		r, err := db.Query("SELECT grp, id, name, body FROM docs WHERE grp = ?", int64(g))
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
		}
		r.Close()
	}
	for range perGroup - 1 {
		scanOne()
	}
	open.Close()
	for i, vals := range openRows {
		want := []any{int64(groups), int64(groups*1000 + i), fmt.Sprintf("name-%d-%d", groups, i), []byte(fmt.Sprintf("body-%d-%d", groups, i))}
		if !reflect.DeepEqual(vals, want) {
			t.Fatalf("the open reader's row %d reads %v after other misses; the database returned %v", i, vals, want)
		}
	}

	// The driver-level reader: nothing after Close.
	dc, err := mustConnector(t, db).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	r, err := dc.(driver.QueryerContext).QueryContext(context.Background(), q, []driver.NamedValue{{Ordinal: 1, Value: int64(groups + 2)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*cachedRows); !ok {
		t.Fatalf("a lone miss read through %T; want *cachedRows", r)
	}
	r.Close()
	if err := r.Next(make([]driver.Value, 4)); err != io.EOF {
		t.Fatalf("Next after Close: %v, want io.EOF", err)
	}
}

// TestHotSetAndL1Reset: reset (what a clock that could not check its
// history asks for) leaves neither the decoded set nor L1 with an entry.
func TestHotSetAndL1Reset(t *testing.T) {
	h, l1, res := resetFixture(t)
	ctx := context.Background()
	var keys []keying.Key
	for i := range 100 {
		k := keying.Key{byte(i), byte(i >> 8), 1}
		keys = append(keys, k)
		if h.put(&k, res, 16, time.Minute) == nil {
			t.Fatal("put kept nothing")
		}
		if err := l1.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	h.reset()
	if err := l1.Reset(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if h.get(&k) != nil {
			t.Fatalf("decoded set still holds %x after reset", k)
		}
		if _, _, hit, _ := l1.Get(ctx, k); hit {
			t.Fatalf("L1 still holds %x after Reset", k)
		}
	}
}

// resetFixture is a decoded set and an L1 of 8 MiB each, and a one-row
// result to put in them.
func resetFixture(t *testing.T) (*hotSet, *tier.L1, *rowset.Result) {
	t.Helper()
	l1, err := tier.NewL1(tier.L1Config{CapacityMiB: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l1.Close() })
	res := &rowset.Result{Sets: []rowset.Set{{Columns: []rowset.Column{{Name: "a"}}, Rows: [][]driver.Value{{int64(1)}}}}}
	return newHotSet(8), l1, res
}

// TestHotSetAndL1ResetRace: L1.Reset and hotSet.reset against concurrent
// Get/Set/put/get (a review's race test, run with -race); once the writers
// stop, a last reset leaves the decoded set's accounting at zero.
func TestHotSetAndL1ResetRace(t *testing.T) {
	h, l1, res := resetFixture(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keying.Key{byte(i), byte(w), 1, 9: byte(i >> 3)}
				h.put(&k, res, 16, time.Minute)
				h.get(&k)
				l1.Set(ctx, k, []byte("value"), time.Minute)
				l1.Get(ctx, k)
			}
		}()
	}
	for range 200 {
		h.reset()
		l1.Reset()
	}
	close(stop)
	wg.Wait()
	h.reset()
	for i := range h.shards {
		if s := &h.shards[i]; s.bytes != 0 || len(s.m) != 0 {
			t.Fatalf("shard %d after reset: %d bytes, %d entries", i, s.bytes, len(s.m))
		}
	}
	for i := range h.front {
		if h.front[i].Load() != nil {
			t.Fatalf("front slot %d still holds an entry after reset", i)
		}
	}
}
