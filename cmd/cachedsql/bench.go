package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/hist"
	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/probe"
	"github.com/cachedsql/cachedsql/internal/redact"
	"golang.org/x/term"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "run a read/write workload and report throughput, hit ratios and latency per path",
		usage:   "bench [--dsn DSN | --redis URL] [--reads F] [--keys N] [--zipf S | --uniform] [--concurrency N] [--duration D | --ops N] [--rows N] [--json] [--chart FILE]",
		help: `Runs a workload through cachedsql and reports throughput, the hit ratio of
each tier, latency percentiles per path, the database queries saved and the
errors.

The workload uses one table, cachedsql_bench (id, k, name, price_cents,
payload), with --keys keys of --rows rows each. A read fetches the rows of
one key:  SELECT id, name, price_cents, payload FROM cachedsql_bench WHERE k = ?
A write updates one row: UPDATE cachedsql_bench SET price_cents = price_cents + 1 WHERE id = ?
Every write invalidates every cached read of the table (cachedsql invalidates
by table), so the hit ratio falls quickly as --reads goes below 1.

Without --dsn the table is created in an SQLite database in a temporary
directory (L1 only, or L1 + Redis with --redis). With --dsn the table is
created in that database if it is missing or has another shape; the inner
driver must be one compiled into this binary (sqlite3).

Each read is given a path, observed, not guessed from its latency:
  database   this read ran the query on the database (a miss)
  coalesced  it missed L1 and L2 and waited for another read's query
  L1 hit     answered from the in-process cache
  L2 hit     answered from Redis
  write      a write
The inner driver is wrapped to see which reads reach the database, and a
go-redis hook sees which Redis lookups answered. Without Redis a coalesced
wait cannot be told from an L1 hit and counts as one; the stats line
shows the CoalescedWaits total. Tier hit ratios come from cachedsql.StatsOf.

Progress goes to stderr: a bar on a terminal, a line a second otherwise.
Ctrl-C stops the run and prints the report of what was measured (exit 0).`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer, io.Writer) error {
			var bc benchConfig
			fs.StringVar(&bc.dsn, "dsn", "", "cachedsql `DSN` to benchmark, e.g. \"driver=sqlite3 dsn='file:app.db' redis=redis://127.0.0.1:6379/0\"\n(default: a fresh SQLite database in a temporary directory)")
			fs.StringVar(&bc.redisURL, "redis", "", "Redis `URL` for L2 (adds or replaces the DSN's redis= key)")
			fs.Float64Var(&bc.reads, "reads", 0.9, "share of operations that are reads, 0..1")
			fs.IntVar(&bc.keys, "keys", 1000, "number of distinct keys (distinct read queries)")
			fs.Float64Var(&bc.zipf, "zipf", 1.1, "Zipf exponent `S` (> 1) of key popularity: higher is more skewed")
			fs.BoolVar(&bc.uniform, "uniform", false, "pick keys uniformly instead of by Zipf")
			fs.IntVar(&bc.concurrency, "concurrency", 8, "concurrent workers")
			fs.DurationVar(&bc.duration, "duration", 0, "how long to run (default 10s unless --ops is given)")
			fs.Int64Var(&bc.ops, "ops", 0, "stop after this many operations")
			fs.IntVar(&bc.rows, "rows", 10, "rows per key, i.e. per read result")
			fs.BoolVar(&bc.asJSON, "json", false, "print the report as JSON on stdout")
			fs.StringVar(&bc.chart, "chart", "", "draw the latency distribution per path to `FILE`.png or FILE.svg")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if err := bc.validate(); err != nil {
					return err
				}
				return runBench(ctx, &bc, out, errOut)
			}
		},
	})
}

type benchConfig struct {
	dsn, redisURL string
	reads         float64
	keys, rows    int
	zipf          float64
	uniform       bool
	concurrency   int
	duration      time.Duration
	ops           int64
	asJSON        bool
	chart         string
}

func (bc *benchConfig) validate() error {
	switch {
	case bc.reads < 0 || bc.reads > 1:
		return usagef("--reads %v: give a share between 0 and 1 (0.9 = 90%% reads)", bc.reads)
	case bc.keys < 1 || bc.keys > 10_000_000:
		return usagef("--keys %d: give between 1 and 10000000", bc.keys)
	case bc.rows < 1 || bc.rows > 100_000:
		return usagef("--rows %d: give between 1 and 100000", bc.rows)
	case int64(bc.keys)*int64(bc.rows) > 50_000_000:
		return usagef("--keys × --rows = %d rows: keep it under 50000000", int64(bc.keys)*int64(bc.rows))
	case !bc.uniform && bc.zipf <= 1:
		return usagef("--zipf %v: the exponent must be greater than 1 (or use --uniform)", bc.zipf)
	case bc.concurrency < 1 || bc.concurrency > 10_000:
		return usagef("--concurrency %d: give between 1 and 10000", bc.concurrency)
	case bc.duration < 0 || bc.ops < 0:
		return usagef("--duration and --ops cannot be negative")
	case bc.duration > 0 && bc.ops > 0:
		return usagef("give --duration or --ops, not both")
	}
	if bc.duration == 0 && bc.ops == 0 {
		bc.duration = 10 * time.Second
	}
	if bc.chart != "" {
		if ext := strings.ToLower(filepath.Ext(bc.chart)); ext != ".png" && ext != ".svg" {
			return usagef("--chart %s: the file name must end in .png or .svg", bc.chart)
		}
	}
	return nil
}

// Paths of an operation, in report order.
const pathWrite = "write"

var benchPaths = []string{probe.PathL1, probe.PathL2, probe.PathCoalesced, probe.PathDatabase, pathWrite}

const (
	benchTable = "cachedsql_bench"
	benchRead  = `SELECT id, name, price_cents, payload FROM cachedsql_bench WHERE k = ? ORDER BY id`
	benchWrite = `UPDATE cachedsql_bench SET price_cents = price_cents + 1 WHERE id = ?`
)

// benchTarget is the database under test.
type benchTarget struct {
	label   string // for the report; the DSN with its passwords redacted
	db      *sql.DB
	direct  *sql.DB // the inner database without cachedsql, for the setup
	inner   *probe.Driver
	withL2  bool
	cleanup []func()
}

func (t *benchTarget) close() {
	for i := len(t.cleanup) - 1; i >= 0; i-- {
		t.cleanup[i]()
	}
}

func openBenchTarget(ctx context.Context, bc *benchConfig, errOut io.Writer) (*benchTarget, error) {
	t := &benchTarget{}
	dsn := bc.dsn
	if dsn == "" {
		dir, err := os.MkdirTemp("", "cachedsql-bench-")
		if err != nil {
			return nil, fmt.Errorf("creating a temporary directory: %w (set TMPDIR to a writable directory)", err)
		}
		t.cleanup = append(t.cleanup, func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, "bench.db")
		dsn = "driver=sqlite3 dsn='file:" + path + "?_journal_mode=WAL&_busy_timeout=10000'"
	}
	cfg, err := cachedsql.ParseDSN(dsn)
	if err != nil {
		t.close()
		return nil, usagef("--dsn: %v", err)
	}
	if bc.redisURL != "" {
		cfg.RedisURL = bc.redisURL
	}
	drv, err := registeredDriver(cfg.DriverName)
	if err != nil {
		t.close()
		return nil, err
	}
	t.inner = probe.NewDriver(drv)
	cfg.Driver = t.inner
	if cfg.RedisURL != "" {
		client, err := openRedis(ctx, cfg.RedisURL)
		if err != nil {
			t.close()
			return nil, err
		}
		client.AddHook(probe.Hook{})
		cfg.Redis = client
		t.withL2 = true
		t.cleanup = append(t.cleanup, func() { client.Close() })
	}
	t.label = cachedsql.FormatDSN(&cachedsql.Config{DriverName: cfg.DriverName, DSN: redactDSN(cfg.DSN), RedisURL: redactURL(cfg.RedisURL), Namespace: cfg.Namespace})
	if bc.dsn == "" {
		t.label = "embedded SQLite (" + t.label + ")"
	}
	conn, err := cachedsql.NewConnector(*cfg)
	if err != nil {
		t.close()
		return nil, err
	}
	t.db = sql.OpenDB(conn)
	t.cleanup = append(t.cleanup, func() { t.db.Close() })
	t.db.SetMaxIdleConns(bc.concurrency)
	if t.withL2 {
		// Measure the cache, not the first moments of a connector whose
		// invalidation stream is not yet connected (it bypasses the cache).
		if err := waitSynced(ctx, t.db); err != nil {
			t.close()
			return nil, err
		}
	}
	t.direct = sql.OpenDB(dsnConnector{t.inner, cfg.DSN})
	t.cleanup = append(t.cleanup, func() { t.direct.Close() })
	if err := setupBenchTable(ctx, t, bc, errOut); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// registeredDriver returns the driver registered under name.
func registeredDriver(name string) (driver.Driver, error) {
	if name == "cachedsql" || !slices.Contains(sql.Drivers(), name) {
		var known []string
		for _, d := range sql.Drivers() {
			if d != "cachedsql" {
				known = append(known, d)
			}
		}
		return nil, usagef("--dsn: inner driver %q is not compiled into this binary (it has: %s); benchmark the embedded SQLite, or build a copy of this command that imports the driver", name, strings.Join(known, ", "))
	}
	// sql.Open does not connect: it is how a registered driver is reached by name.
	db, err := sql.Open(name, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Driver(), nil
}

// redactDSN hides a password in an inner DSN: a URL's, or a password= key's.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return redactURL(dsn)
	}
	// libpq reads an unquoted value to the next space, & and ; included:
	// the whole field goes.
	fields := strings.Fields(redact.Hide(dsn, dsn))
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

// setupBenchTable makes sure the table holds keys × rows rows, writing them
// around cachedsql, then invalidates the table so that no entry cached by an
// earlier run on other data is served.
func setupBenchTable(ctx context.Context, t *benchTarget, bc *benchConfig, errOut io.Writer) error {
	db := t.direct
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS cachedsql_bench (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, name TEXT NOT NULL, price_cents INTEGER NOT NULL, payload BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS cachedsql_bench_k ON cachedsql_bench (k)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating table %s: %w", benchTable, err)
		}
	}
	var n, maxK int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(k), -1) FROM cachedsql_bench`).Scan(&n, &maxK); err != nil {
		return fmt.Errorf("reading table %s: %w", benchTable, err)
	}
	want := int64(bc.keys) * int64(bc.rows)
	if n != want || maxK != int64(bc.keys-1) {
		start := time.Now()
		if err := fillBenchTable(ctx, db, bc); err != nil {
			return fmt.Errorf("filling table %s: %w", benchTable, err)
		}
		fmt.Fprintf(errOut, "bench: wrote %d rows to %s in %s\n", want, benchTable, fmtDur(time.Since(start).Round(time.Millisecond)))
	}
	if err := cachedsql.Invalidate(ctx, t.db, benchTable); err != nil {
		return fmt.Errorf("invalidating %s after the setup: %w", benchTable, err)
	}
	return nil
}

func fillBenchTable(ctx context.Context, db *sql.DB, bc *benchConfig) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	if _, err := tx.ExecContext(ctx, `DELETE FROM cachedsql_bench`); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO cachedsql_bench (id, k, name, price_cents, payload) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	r := rand.New(rand.NewSource(1))
	payload := make([]byte, 100)
	for k := range bc.keys {
		for j := range bc.rows {
			r.Read(payload)
			id := k*bc.rows + j + 1
			if _, err := st.ExecContext(ctx, id, k, fmt.Sprintf("item %d of key %d", j, k), 100+r.Intn(10000), payload); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// benchResult is what a run measured.
type benchResult struct {
	elapsed     time.Duration
	interrupted bool
	paths       map[string]*hist.Histogram
	errors      int64
	errSamples  []string
	dbQueries   int64
	before      cachedsql.Stats
	after       cachedsql.Stats
}

// worker state shared with the progress reporter.
type benchCounters struct {
	ops, errs atomic.Int64
}

func runBench(ctx context.Context, bc *benchConfig, out, errOut io.Writer) error {
	t, err := openBenchTarget(ctx, bc, errOut)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	defer t.close()

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	// The run's clock and its deadline start together: elapsed, taken from
	// start, is then never below --duration when the deadline ends the run.
	start := time.Now()
	if bc.duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithDeadline(runCtx, start.Add(bc.duration))
		defer cancelT()
	}
	res := &benchResult{paths: map[string]*hist.Histogram{}}
	for _, p := range benchPaths {
		res.paths[p] = &hist.Histogram{}
	}
	res.before, _ = cachedsql.StatsOf(t.db)
	q0 := t.inner.Queries()

	var (
		ctr     benchCounters
		claimed atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	stopProgress := startProgress(runCtx, bc, t.db, &ctr, start, errOut)
	for w := range bc.concurrency {
		wg.Go(func() {
			local := map[string]*hist.Histogram{}
			for _, p := range benchPaths {
				local[p] = &hist.Histogram{}
			}
			var errs int64
			var samples []string
			r := rand.New(rand.NewSource(int64(w) + 1))
			var zipf *rand.Zipf
			if !bc.uniform && bc.keys > 1 {
				zipf = rand.NewZipf(r, bc.zipf, 1, uint64(bc.keys-1))
			}
			for runCtx.Err() == nil {
				if bc.ops > 0 && claimed.Add(1) > bc.ops {
					break
				}
				key := 0
				switch {
				case zipf != nil:
					key = int(zipf.Uint64())
				case bc.keys > 1:
					key = r.Intn(bc.keys)
				}
				read := r.Float64() < bc.reads
				pr := &probe.Probe{}
				octx := probe.With(runCtx, pr)
				t0 := time.Now()
				var err error
				if read {
					err = benchReadOnce(octx, t.db, key)
				} else {
					_, err = t.db.ExecContext(octx, benchWrite, key*bc.rows+r.Intn(bc.rows)+1)
				}
				d := time.Since(t0)
				if err != nil {
					if runCtx.Err() != nil {
						break // cut short by the end of the run: not measured
					}
					errs++
					ctr.errs.Add(1)
					if len(samples) < 3 {
						samples = append(samples, err.Error())
					}
					continue
				}
				path := pathWrite
				if read {
					path = probe.Path(pr, t.withL2)
				}
				local[path].Record(d)
				ctr.ops.Add(1)
			}
			mu.Lock()
			defer mu.Unlock()
			for p, h := range local {
				res.paths[p].Merge(h)
			}
			res.errors += errs
			for _, s := range samples {
				if len(res.errSamples) < 3 {
					res.errSamples = append(res.errSamples, s)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.interrupted = ctx.Err() != nil
	stopProgress()
	res.after, _ = cachedsql.StatsOf(t.db)
	res.dbQueries = t.inner.Queries() - q0

	rep := makeReport(bc, t, res)
	if bc.chart != "" {
		if err := drawChart(bc.chart, rep, res); err != nil {
			return fmt.Errorf("--chart %s: %w", bc.chart, err)
		}
		rep.Chart = bc.chart
	}
	if bc.asJSON {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		printReport(out, rep)
	}
	if rep.Ops == 0 && rep.Errors > 0 {
		return fmt.Errorf("every operation failed; first error: %s", res.errSamples[0])
	}
	return nil
}

func benchReadOnce(ctx context.Context, db *sql.DB, key int) error {
	rows, err := db.QueryContext(ctx, benchRead, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		id, price int64
		name      string
		payload   []byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &name, &price, &payload); err != nil {
			return err
		}
	}
	return rows.Err()
}

// startProgress shows progress on errOut until the returned func is called:
// a bar redrawn in place on a terminal, a plain line a second otherwise.
func startProgress(ctx context.Context, bc *benchConfig, db *sql.DB, ctr *benchCounters, start time.Time, errOut io.Writer) (stop func()) {
	f, ok := errOut.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	every := time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	base, _ := cachedsql.StatsOf(db)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(errOut, "\r\033[K")
				}
				return
			case <-tick.C:
			}
			el := time.Since(start)
			ops := ctr.ops.Load()
			frac := 0.0
			if bc.duration > 0 {
				frac = float64(el) / float64(bc.duration)
			} else {
				frac = float64(ops) / float64(bc.ops)
			}
			frac = min(max(frac, 0), 1)
			s, _ := cachedsql.StatsOf(db)
			hits := (s.L1Hits - base.L1Hits) + (s.L2Hits - base.L2Hits) + (s.CoalescedWaits - base.CoalescedWaits)
			lookups := s.L1Hits - base.L1Hits + s.L1Misses - base.L1Misses
			hit := "-"
			if lookups > 0 {
				hit = fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(lookups))
			}
			line := fmt.Sprintf("%3.0f%%  %6.1fs  %d ops  %s ops/s  hit %s  errors %d",
				100*frac, el.Seconds(), ops, humanRate(float64(ops)/el.Seconds()), hit, ctr.errs.Load())
			if tty {
				const width = 30
				n := int(frac * width)
				fmt.Fprintf(errOut, "\r\033[K[%s%s] %s", strings.Repeat("#", n), strings.Repeat(".", width-n), line)
			} else {
				fmt.Fprintf(errOut, "bench: %s\n", line)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
