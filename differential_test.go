package cachedsql

// The differential checker: several processes, several goroutines each, do
// random reads and writes through cachedsql on two small tables whose rows
// carry a version; Redis is restarted (empty) once in the middle. Every
// process logs every write (row, version, value, when the call started and
// returned, committed or rolled back) and every row every read returned
// (with when the read started). The parent merges the logs and checks each
// row read:
//
//   - wrong: the (version, value) pair was never committed to that row (a
//     rolled-back write, or a row that never existed).
//   - stale: a read that started at T returned version v although a later
//     version's write had already returned before T − Bound. Bound is the
//     configured stale_bound (how long a process may serve L1 while it cannot
//     prove it saw every invalidation) plus a propagation slack.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

const (
	diffRows       = 6
	diffStaleBound = 500 * time.Millisecond
	diffSlack      = 500 * time.Millisecond
	diffBound      = diffStaleBound + diffSlack
)

// diffRec is one log record: a row a read returned ('r') or a row a write
// set ('w').
type diffRec struct {
	K   byte   `json:"k"`
	T   string `json:"t"`
	ID  int64  `json:"i"`
	Ver int64  `json:"v"`
	Val string `json:"s"`
	S   int64  `json:"b"` // UnixNano when the call started
	E   int64  `json:"e"` // UnixNano when it returned (writes: the commit)
	St  byte   `json:"x"` // writes: 'c' committed, 'r' rolled back, 'u' unknown (commit failed)
	P   int64  `json:"p"` // the process
}

type diffSummary struct {
	Reads, Writes, RolledBack, Errors int64
	FirstError                        string
	Stats                             Stats
}

// runDiffChild runs the workload in a child: diff <ms> <goroutines> <seed> <proc> <logfile>.
func runDiffChild(ctx context.Context, db *sql.DB, c *Connector, f []string) (string, error) {
	if len(f) != 5 {
		return "", fmt.Errorf("usage: diff <ms> <goroutines> <seed> <proc> <logfile>")
	}
	var nums [4]int64
	for i := range 4 {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return "", err
		}
		nums[i] = n
	}
	deadline := time.Now().Add(time.Duration(nums[0]) * time.Millisecond)
	goroutines, seed, proc := int(nums[1]), uint64(nums[2]), nums[3]
	db.SetMaxOpenConns(goroutines + 2)

	var (
		sum   diffSummary
		errMu sync.Mutex
		wg    sync.WaitGroup
	)
	logs := make([][]diffRec, goroutines)
	fail := func(err error) {
		atomic.AddInt64(&sum.Errors, 1)
		errMu.Lock()
		if sum.FirstError == "" {
			sum.FirstError = err.Error()
		}
		errMu.Unlock()
	}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &diffWorker{db: db, r: rand.New(rand.NewPCG(seed, uint64(g))), tag: fmt.Sprintf("p%dg%d", proc, g), proc: proc}
			for time.Now().Before(deadline) {
				var err error
				if w.r.IntN(100) < 85 {
					err = w.read(ctx)
					atomic.AddInt64(&sum.Reads, 1)
				} else {
					var rb int64
					rb, err = w.write(ctx)
					atomic.AddInt64(&sum.Writes, 1)
					atomic.AddInt64(&sum.RolledBack, rb)
				}
				if err != nil {
					fail(err)
				}
			}
			logs[g] = w.log
		}()
	}
	wg.Wait()
	file, err := os.Create(f[4])
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriter(file)
	enc := json.NewEncoder(bw)
	for _, l := range logs {
		for i := range l {
			if err := enc.Encode(&l[i]); err != nil {
				file.Close()
				return "", err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		file.Close()
		return "", err
	}
	if err := file.Close(); err != nil {
		return "", err
	}
	sum.Stats = c.Stats()
	b, err := json.Marshal(sum)
	return string(b), err
}

type diffWorker struct {
	db   *sql.DB
	r    *rand.Rand
	tag  string
	proc int64
	seq  int
	log  []diffRec
}

func (w *diffWorker) table() string { return verTables[w.r.IntN(len(verTables))] }
func (w *diffWorker) id() int64     { return 1 + w.r.Int64N(diffRows) }

// read runs one of three query shapes and logs every row it returned.
func (w *diffWorker) read(ctx context.Context) error {
	var (
		q    string
		args []any
		join bool
		tb   = w.table()
	)
	switch w.r.IntN(3) {
	case 0:
		q, args = "SELECT id, ver, val FROM "+tb+" WHERE id = ?", []any{w.id()}
	case 1:
		q = "SELECT id, ver, val FROM " + tb + " ORDER BY id"
	default:
		q, args, join = "SELECT t1.id, t1.ver, t1.val, t2.ver, t2.val FROM t1 JOIN t2 ON t2.id = t1.id WHERE t1.id = ?", []any{w.id()}, true
	}
	start := time.Now().UnixNano()
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, v1, v2 int64
		var s1, s2 string
		if join {
			err = rows.Scan(&id, &v1, &s1, &v2, &s2)
		} else {
			err = rows.Scan(&id, &v1, &s1)
		}
		if err != nil {
			return err
		}
		n++
		if join {
			w.log = append(w.log, diffRec{K: 'r', T: "t1", ID: id, Ver: v1, Val: s1, S: start, P: w.proc},
				diffRec{K: 'r', T: "t2", ID: id, Ver: v2, Val: s2, S: start, P: w.proc})
		} else {
			w.log = append(w.log, diffRec{K: 'r', T: tb, ID: id, Ver: v1, Val: s1, S: start, P: w.proc})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	want := 1
	if len(args) == 0 {
		want = diffRows
	}
	if n != want {
		// A row that vanished or appeared is a wrong answer.
		w.log = append(w.log, diffRec{K: 'r', T: tb, ID: -int64(n), Ver: -1, Val: "row count", S: start})
	}
	return nil
}

const diffUpdate = " SET ver = ver + 1, val = ? WHERE id = ? RETURNING ver"

// write picks one of four forms; it returns how many row writes were rolled back.
func (w *diffWorker) write(ctx context.Context) (rolledBack int64, err error) {
	type rowWrite struct {
		t   string
		id  int64
		val string
		ver int64
		st  byte
	}
	next := func() rowWrite {
		w.seq++
		return rowWrite{t: w.table(), id: w.id(), val: fmt.Sprintf("%s.%d", w.tag, w.seq)}
	}
	upd := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, rw *rowWrite) error {
		return q.QueryRowContext(ctx, "UPDATE "+rw.t+diffUpdate, rw.val, rw.id).Scan(&rw.ver)
	}
	start := time.Now().UnixNano()
	var done []rowWrite
	switch form := w.r.IntN(10); {
	case form < 5: // autocommit
		rw := next()
		if err := upd(w.db, &rw); err != nil {
			return 0, err
		}
		rw.st = 'c'
		done = append(done, rw)
	default: // a transaction: commit, rollback, or commit after ROLLBACK TO
		tx, err := w.db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		a, b := next(), next()
		if err := upd(tx, &a); err != nil {
			tx.Rollback()
			return 0, err
		}
		if form == 9 {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT sp"); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		if b.t == a.t && b.id == a.id {
			b.id = 1 + b.id%diffRows
		}
		if err := upd(tx, &b); err != nil {
			tx.Rollback()
			return 0, err
		}
		switch form {
		case 7, 8:
			if err := tx.Rollback(); err != nil {
				return 0, err
			}
			a.st, b.st = 'r', 'r'
		case 9:
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO sp"); err != nil {
				tx.Rollback()
				return 0, err
			}
			b.st = 'r'
			fallthrough
		default:
			st := byte('c')
			if err := tx.Commit(); err != nil {
				st = 'u'
			}
			a.st = st
			if b.st == 0 {
				b.st = st
			}
		}
		done = append(done, a, b)
	}
	end := time.Now().UnixNano()
	for _, rw := range done {
		if rw.st == 'r' {
			rolledBack++
		}
		w.log = append(w.log, diffRec{K: 'w', T: rw.t, ID: rw.id, Ver: rw.ver, Val: rw.val, S: start, E: end, St: rw.st, P: w.proc})
	}
	return rolledBack, nil
}

// diffResult is what the checker found.
type diffResult struct {
	rowsRead, writes, rolledBack, uncertain int64
	stale, wrong                            int64
	behind                                  int64         // rows read whose newer version had returned before the read began
	maxBehind                               time.Duration // the largest such lag
	maxBehindCalm                           time.Duration // the same, for reads outside the chaos window
	ownStale                                int64         // rows read older than a write the same process had already returned
	examples                                []string
}

type rowKey struct {
	t  string
	id int64
}

type version struct {
	val  string
	end  int64
	proc int64
}

// checkDiff merges the logs. Reads that start in [chaosFrom, chaosTo) (Unix
// nanoseconds) count in maxBehind but not in maxBehindCalm.
func checkDiff(recs []diffRec, bound time.Duration, chaosFrom, chaosTo int64) diffResult {
	var res diffResult
	committed := map[rowKey]map[int64]version{}
	uncertain := map[rowKey]map[int64]string{}
	note := func(format string, args ...any) {
		if len(res.examples) < 10 {
			res.examples = append(res.examples, fmt.Sprintf(format, args...))
		}
	}
	for _, r := range recs {
		if r.K != 'w' {
			continue
		}
		k := rowKey{r.T, r.ID}
		switch r.St {
		case 'c':
			res.writes++
			if committed[k] == nil {
				committed[k] = map[int64]version{}
			}
			if old, dup := committed[k][r.Ver]; dup {
				res.wrong++
				note("%v version %d committed twice: %q and %q", k, r.Ver, old.val, r.Val)
			}
			committed[k][r.Ver] = version{r.Val, r.E, r.P}
		case 'r':
			res.rolledBack++
		case 'u':
			res.uncertain++
			if uncertain[k] == nil {
				uncertain[k] = map[int64]string{}
			}
			uncertain[k][r.Ver] = r.Val
		}
	}
	// supersededAt[k][v] is the earliest moment a write of a version above v
	// had returned; ownSupersededAt[k][p][v] the same for writes by process p.
	const never = int64(1<<63 - 1)
	supersededAt := map[rowKey]map[int64]int64{}
	ownSupersededAt := map[rowKey]map[int64]map[int64]int64{}
	for k, vs := range committed {
		vers := make([]int64, 0, len(vs)+1)
		vers = append(vers, 0)
		for v := range vs {
			vers = append(vers, v)
		}
		slices.Sort(vers)
		m := map[int64]int64{}
		own := map[int64]map[int64]int64{}
		earliest := never
		ownEarliest := map[int64]int64{}
		for i := len(vers) - 1; i >= 0; i-- {
			m[vers[i]] = earliest
			for p, e := range ownEarliest {
				if own[p] == nil {
					own[p] = map[int64]int64{}
				}
				own[p][vers[i]] = e
			}
			if v, ok := vs[vers[i]]; ok {
				earliest = min(earliest, v.end)
				if e, ok := ownEarliest[v.proc]; !ok || v.end < e {
					ownEarliest[v.proc] = v.end
				}
			}
		}
		supersededAt[k] = m
		ownSupersededAt[k] = own
	}
	for _, r := range recs {
		if r.K != 'r' {
			continue
		}
		res.rowsRead++
		k := rowKey{r.T, r.ID}
		switch {
		case r.Ver == -1:
			res.wrong++
			note("a read of %s returned %d rows", r.T, -r.ID)
			continue
		case r.Ver == 0 && r.Val == "init":
		case committed[k][r.Ver].val == r.Val && r.Val != "":
		case uncertain[k][r.Ver] == r.Val && r.Val != "":
		default:
			res.wrong++
			note("%v: read version %d %q, never committed", k, r.Ver, r.Val)
			continue
		}
		if at, ok := ownSupersededAt[k][r.P][r.Ver]; ok && at < r.S {
			// Read-your-writes: in the process that wrote it, a write is
			// seen by every read that starts after it returned.
			res.ownStale++
			note("%v: process %d read version %d %v after its own newer write returned", k, r.P, r.Ver, time.Duration(r.S-at))
		}
		at, ok := supersededAt[k][r.Ver]
		if !ok || at == never {
			continue // the newest version, or one never superseded
		}
		if lag := time.Duration(r.S - at); lag > 0 {
			res.behind++
			res.maxBehind = max(res.maxBehind, lag)
			if r.S < chaosFrom || r.S >= chaosTo {
				res.maxBehindCalm = max(res.maxBehindCalm, lag)
			}
			if lag > bound {
				res.stale++
				note("%v: read at %s returned version %d, superseded %v earlier",
					k, time.Unix(0, r.S).Format("15:04:05.000"), r.Ver, lag)
			}
		}
	}
	return res
}

// TestCheckDiffFindsStaleAndWrongRows shows the checker itself can fail.
func TestCheckDiffFindsStaleAndWrongRows(t *testing.T) {
	msec := int64(time.Millisecond)
	w := func(id, ver int64, val string, end int64, st byte) diffRec {
		return diffRec{K: 'w', T: "t1", ID: id, Ver: ver, Val: val, S: end - msec, E: end, St: st, P: 1}
	}
	r := func(id, ver int64, val string, start int64) diffRec {
		return diffRec{K: 'r', T: "t1", ID: id, Ver: ver, Val: val, S: start}
	}
	base := []diffRec{w(1, 1, "a", 1000*msec, 'c'), w(1, 2, "b", 2000*msec, 'c'), w(1, 2, "x", 1500*msec, 'r')}
	cases := []struct {
		name                    string
		read                    diffRec
		stale, wrong, lagd, own int64
	}{
		{"initial row before any write", r(1, 0, "init", 900*msec), 0, 0, 0, 0},
		{"current version", r(1, 2, "b", 5000*msec), 0, 0, 0, 0},
		{"behind within the bound", r(1, 1, "a", 2500*msec), 0, 0, 1, 0},
		{"behind beyond the bound", r(1, 0, "init", 2500*msec), 1, 0, 1, 0},
		{"a rolled-back value", r(1, 2, "x", 2500*msec), 0, 1, 0, 0},
		{"a version never written", r(1, 7, "b", 2500*msec), 0, 1, 0, 0},
		{"a row that does not exist", r(9, 1, "a", 2500*msec), 0, 1, 0, 0},
		{"a wrong row count", diffRec{K: 'r', T: "t1", ID: -5, Ver: -1}, 0, 1, 0, 0},
		{"own write, read before it returned", diffRec{K: 'r', T: "t1", ID: 1, Ver: 1, Val: "a", S: 1999 * msec, P: 1}, 0, 0, 0, 0},
		{"own write, read after it returned", diffRec{K: 'r', T: "t1", ID: 1, Ver: 1, Val: "a", S: 2001 * msec, P: 1}, 0, 0, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := checkDiff(append(slices.Clone(base), tc.read), time.Second, 0, 0)
			if res.stale != tc.stale || res.wrong != tc.wrong || res.behind != tc.lagd || res.ownStale != tc.own {
				t.Errorf("stale %d wrong %d behind %d own %d, want %d %d %d %d (%q)",
					res.stale, res.wrong, res.behind, res.ownStale, tc.stale, tc.wrong, tc.lagd, tc.own, res.examples)
			}
		})
	}
}

// TestDifferential runs 3 processes × 4 goroutines for 30 s (5 s with
// -short), restarting Redis in the middle.
func TestDifferential(t *testing.T) {
	dur := 30 * time.Second
	if testing.Short() {
		dur = 5 * time.Second
	}
	const procs, goroutines = 3, 4
	s := redistest.Start(t)
	dsn := verDSN(newVerDB(t, diffRows), s.URL(), fmt.Sprintf("diff%d", invSeq.Add(1)),
		"stale_bound="+diffStaleBound.String())
	ps := make([]*proc4, procs)
	for i := range ps {
		ps[i] = startProc4(t, dsn)
	}
	dir := t.TempDir()
	sums := make([]diffSummary, procs)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := fmt.Sprintf("diff %d %d %d %d %s", dur.Milliseconds(), goroutines, 1000+i, i, filepath.Join(dir, strconv.Itoa(i)))
			p.mu.Lock()
			defer p.mu.Unlock()
			p.send(cmd)
			ans, ok := p.line(cmd)
			if ok {
				if err := json.Unmarshal([]byte(ans), &sums[i]); err != nil {
					t.Errorf("summary %q: %v", ans, err)
				}
			}
		}()
	}
	// The chaos is scheduled by the clock: the workload runs on its own
	// deadline, and Redis goes away (empty on return) half way through.
	time.Sleep(dur / 2)
	restartedAt := time.Now()
	s.Restart()
	t.Logf("redis restarted at %s (took %v)", restartedAt.Format("15:04:05.000"), time.Since(restartedAt))
	wg.Wait()
	if t.Failed() {
		return
	}

	var recs []diffRec
	var tot diffSummary
	for i, sm := range sums {
		f, err := os.Open(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bufio.NewReader(f))
		for dec.More() {
			var r diffRec
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		f.Close()
		tot.Reads += sm.Reads
		tot.Writes += sm.Writes
		tot.Errors += sm.Errors
		if sm.FirstError != "" {
			t.Errorf("process %d: %d errors, first: %s", i, sm.Errors, sm.FirstError)
		}
		st := sm.Stats
		t.Logf("process %d: %d reads, %d write calls; L1 hits %d, L2 hits %d, fills %d, out_of_sync bypasses %d, resyncs %d, L2 errors %d, stream received %d",
			i, sm.Reads, sm.Writes, st.L1Hits, st.L2Hits, st.Fills, st.Bypass[BypassOutOfSync], st.Resyncs, st.L2Errors, st.StreamReceived)
		if st.Resyncs == 0 {
			t.Errorf("process %d never resynchronised: the Redis restart went unnoticed", i)
		}
	}
	// Reads from just before the restart until well after it may lag by up
	// to stale_bound; outside that window the lag is propagation alone.
	res := checkDiff(recs, diffBound, restartedAt.Add(-diffBound).UnixNano(), restartedAt.Add(3*time.Second).UnixNano())
	t.Logf("%v run, bound %v (stale_bound %v + slack %v): %d read calls (%d rows checked), %d write calls (%d row writes committed, %d rolled back, %d uncertain); stale %d, wrong %d, behind own write %d; %d rows behind within the bound, max %v (max %v outside [restart-1s, restart+3s])",
		dur, diffBound, diffStaleBound, diffSlack, tot.Reads, res.rowsRead, tot.Writes, res.writes, res.rolledBack, res.uncertain,
		res.stale, res.wrong, res.ownStale, res.behind, res.maxBehind, res.maxBehindCalm)
	for _, ex := range res.examples {
		t.Log(ex)
	}
	if res.stale > 0 || res.wrong > 0 || res.ownStale > 0 {
		t.Errorf("%d stale rows, %d wrong rows, %d rows older than the reading process's own write", res.stale, res.wrong, res.ownStale)
	}
	if tot.Reads == 0 || res.writes == 0 {
		t.Error("the workload did nothing")
	}
}
