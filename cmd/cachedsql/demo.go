package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/probe"
	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/shop"
	"github.com/cachedsql/cachedsql/generation"
	"github.com/mattn/go-sqlite3"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "show the cache at work on an embedded SQLite shop (needs nothing but Go)",
		usage:   "demo [--redis URL] [--rows N] [--concurrent N]",
		help: `Creates a small shop database (customers, products, orders, order items) in
SQLite in a temporary directory, opens it through cachedsql and shows:

  1. the latency of one read by path: SQLite directly, a cachedsql miss,
     an L1 (in-process) hit and, with --redis, an L2 (Redis) hit;
  2. coalescing: N identical concurrent reads cost one database query;
  3. invalidation: a write through cachedsql makes the next read fresh;
  4. the cache's statistics.

Without --redis only the in-process cache (L1) is used. With --redis the
entries are shared through Redis (L2) and invalidations travel on a Redis
stream; the demo's keys are deleted at the end. It takes a few seconds.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer, io.Writer) error {
			redisURL := fs.String("redis", "", "Redis `URL` for the L2 tier, e.g. redis://127.0.0.1:6379/0 (default: L1 only)")
			orders := fs.Int("rows", 5000, "orders in the shop; customers, products and order items scale with it")
			conc := fs.Int("concurrent", 32, "identical concurrent reads in the coalescing step")
			return func(ctx context.Context, args []string, out, _ io.Writer) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if *orders < 10 || *orders > 10_000_000 {
					return usagef("--rows %d: give between 10 and 10000000 orders", *orders)
				}
				if *conc < 2 || *conc > 1000 {
					return usagef("--concurrent %d: give between 2 and 1000", *conc)
				}
				return runDemo(ctx, demoConfig{redisURL: *redisURL, orders: *orders, concurrent: *conc}, out)
			}
		},
	})
}

type demoConfig struct {
	redisURL   string
	orders     int
	concurrent int
}

const (
	// ordersQuery is the read measured per path: a customer's last orders
	// with their totals (reads orders and order_items).
	ordersQuery = `SELECT o.id, o.status, o.created_at, COUNT(oi.id) AS items, SUM(oi.quantity * oi.unit_price_cents) AS total_cents
FROM orders o JOIN order_items oi ON oi.order_id = o.id
WHERE o.customer_id = ? GROUP BY o.id ORDER BY o.created_at DESC LIMIT 10`
	// revenueQuery is the coalescing step's read: heavy enough that the
	// concurrent callers arrive while the first one's query runs.
	revenueQuery = `SELECT p.category, COUNT(DISTINCT o.id) AS orders, SUM(oi.quantity * oi.unit_price_cents) AS revenue_cents
FROM order_items oi JOIN products p ON p.id = oi.product_id JOIN orders o ON o.id = oi.order_id
WHERE o.status <> 'cancelled' GROUP BY p.category ORDER BY revenue_cents DESC`
	customerQuery = `SELECT name, email FROM customers WHERE id = ?`
)

// pathTiming is the latency of the measured read on one path.
type pathTiming struct {
	name  string
	times []time.Duration
	note  string
}

func runDemo(ctx context.Context, dc demoConfig, out io.Writer) (err error) {
	started := time.Now()
	dir, err := os.MkdirTemp("", "cachedsql-demo-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w (set TMPDIR to a writable directory)", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000"

	if dc.redisURL != "" {
		client, err := openRedis(ctx, dc.redisURL)
		if err != nil {
			return err
		}
		client.Close()
	}

	inner := probe.NewDriver(&sqlite3.SQLiteDriver{})
	direct := sql.OpenDB(dsnConnector{inner, dsn})
	defer direct.Close()
	size := shop.SizeFor(dc.orders)
	t0 := time.Now()
	counts, err := shop.Create(ctx, direct, size)
	if err != nil {
		return err
	}
	created := time.Since(t0)

	base := cachedsql.Config{DriverName: "sqlite3", Driver: inner, DSN: dsn, RedisURL: dc.redisURL}
	open := func(l1Off bool) (*sql.DB, error) {
		cfg := base
		if l1Off {
			cfg.L1MiB = -1
		}
		c, err := cachedsql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(c), nil
	}
	db, err := open(false)
	if err != nil {
		return err
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	if dc.redisURL != "" {
		if err := waitSynced(ctx, db); err != nil {
			return err
		}
	}
	c0, _ := cachedsql.StatsOf(db)
	namespace := c0.Namespace
	if dc.redisURL != "" {
		// Leave nothing behind in a Redis the user may share.
		defer cleanupRedis(dc.redisURL, namespace)
	}

	fmt.Fprintf(out, "cachedsql demo\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  database\tSQLite at %s\n", path)
	fmt.Fprintf(tw, "  \t%d customers, %d products, %d orders, %d order items (%d rows, created in %s)\n",
		counts.Customers, counts.Products, counts.Orders, counts.OrderItems, counts.Total(), fmtDur(created.Round(time.Millisecond)))
	if dc.redisURL == "" {
		fmt.Fprintf(tw, "  cache\tL1 in process (%d MiB); no L2: give --redis URL to add Redis\n", cachedsql.DefaultL1MiB)
	} else {
		fmt.Fprintf(tw, "  cache\tL1 in process (%d MiB) + L2 Redis at %s\n", cachedsql.DefaultL1MiB, redactURL(dc.redisURL))
	}
	fmt.Fprintf(tw, "  namespace\t%s\n", namespace)
	tw.Flush()

	// 1. Latency per path. Each path reads the orders of the same customers;
	// the miss path reads each for the first time, so each is a miss.
	customers := min(200, counts.Customers)
	ids := make([]int, customers)
	for i := range ids {
		ids[i] = i + 1
	}
	var paths []pathTiming
	measure := func(db *sql.DB) ([]time.Duration, error) {
		times := make([]time.Duration, 0, len(ids))
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return nil, errInterrupted
			}
			start := time.Now()
			if _, err := readAll(ctx, db, ordersQuery, id); err != nil {
				return nil, err
			}
			times = append(times, time.Since(start))
		}
		return times, nil
	}
	// Warm SQLite's page cache so the direct path is not paying for the disk.
	if _, err := measure(direct); err != nil {
		return err
	}
	steps := []struct {
		name string
		db   *sql.DB
		want func(before, after cachedsql.Stats) (int64, string)
	}{
		{"SQLite directly", direct, nil},
		{"cachedsql miss", db, func(b, a cachedsql.Stats) (int64, string) { return a.Fills - b.Fills, "results stored" }},
		{"cachedsql L1 hit", db, func(b, a cachedsql.Stats) (int64, string) { return a.L1Hits - b.L1Hits, "L1 hits" }},
	}
	for _, st := range steps {
		before, _ := cachedsql.StatsOf(db)
		times, err := measure(st.db)
		if err != nil {
			return err
		}
		pt := pathTiming{name: st.name, times: times}
		if st.want != nil {
			after, _ := cachedsql.StatsOf(db)
			n, what := st.want(before, after)
			pt.note = fmt.Sprintf("%d %s", n, what)
		}
		paths = append(paths, pt)
	}

	// 2. Coalescing.
	co, err := demoCoalescing(ctx, db, inner, dc.concurrent)
	if err != nil {
		return err
	}

	// 3. Invalidation.
	inv, err := demoInvalidation(ctx, db, inner, min(42, counts.Customers))
	if err != nil {
		return err
	}
	stats, _ := cachedsql.StatsOf(db)

	// L2 hits need a connector without L1 on the same namespace. Connectors
	// of one namespace in one process share one cache, so the first one is
	// closed first; its entries stay in Redis.
	if dc.redisURL != "" {
		db.Close()
		db = nil
		l2db, err := open(true)
		if err != nil {
			return err
		}
		defer l2db.Close()
		if err := waitSynced(ctx, l2db); err != nil {
			return err
		}
		before, _ := cachedsql.StatsOf(l2db)
		times, err := measure(l2db)
		if err != nil {
			return err
		}
		after, _ := cachedsql.StatsOf(l2db)
		paths = append(paths, pathTiming{name: "cachedsql L2 hit", times: times,
			note: fmt.Sprintf("%d L2 hits (L1 off)", after.L2Hits-before.L2Hits)})
	}

	fmt.Fprintf(out, "\n1. Latency of one read by path (%d reads each: a customer's last 10 orders, orders ⋈ order_items)\n\n", len(ids))
	fmt.Fprintf(out, "  %-18s %8s %8s %8s %9s   %s\n", "PATH", "P50", "P95", "P99", "SPEEDUP", "COUNTED")
	directP50 := percentile(paths[0].times, 50)
	for _, p := range paths {
		p50 := percentile(p.times, 50)
		speed := "1.0x"
		if p50 > 0 && p.name != paths[0].name {
			speed = fmt.Sprintf("%.1fx", float64(directP50)/float64(p50))
		}
		line := fmt.Sprintf("  %-18s %8s %8s %8s %9s   %s", p.name, fmtDur(p50), fmtDur(percentile(p.times, 95)), fmtDur(percentile(p.times, 99)), speed, p.note)
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
	fmt.Fprintf(out, "  (SPEEDUP: P50 of SQLite directly / P50 of the path)\n")
	if dc.redisURL == "" {
		fmt.Fprintf(out, "  (L2 hit: run with --redis redis://127.0.0.1:6379/0 to add Redis)\n")
	}

	fmt.Fprintf(out, "\n2. Coalescing: %d identical reads at the same moment (revenue by category)\n\n", co.callers)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  database queries\t%d\t(counted by the inner driver)\n", co.dbQueries)
	fmt.Fprintf(tw, "  waited for that query\t%d\t(stats CoalescedWaits)\n", co.coalesced)
	fmt.Fprintf(tw, "  served from L1\t%d\t(arrived after it finished)\n", co.l1Hits)
	fmt.Fprintf(tw, "  wall time\t%s\n", fmtDur(co.wall))
	tw.Flush()

	fmt.Fprintf(out, "\n3. Invalidation: read, read again, write through cachedsql, read\n\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range inv {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.op, s.sql, s.result, s.path)
	}
	tw.Flush()

	fmt.Fprintf(out, "\n4. Stats (cachedsql.StatsOf) of the connector used above\n\n")
	printStats(out, stats, dc.redisURL != "")
	fmt.Fprintf(out, "\ndone in %s\n", fmtDur(time.Since(started).Round(time.Millisecond)))
	return nil
}

// dsnConnector opens the probe-wrapped SQLite driver without registering it.
type dsnConnector struct {
	d   *probe.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// readAll runs query and reads every row, as an application would.
func readAll(ctx context.Context, db *sql.DB, query string, args ...any) ([][]any, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var res [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res = append(res, vals)
	}
	return res, rows.Err()
}

// waitSynced waits until a new connector's invalidation clock has caught up
// with Redis: until then reads bypass the cache (reason out_of_sync), which
// would make the L2 measurement a database measurement.
func waitSynced(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := cachedsql.StatsOf(db)
		if err != nil {
			return err
		}
		if s.StreamConnected {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the invalidation stream did not connect within 5s; is Redis overloaded?")
		}
		select {
		case <-ctx.Done():
			return errInterrupted
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type coalescing struct {
	callers                      int
	dbQueries, coalesced, l1Hits int64
	wall                         time.Duration
}

func demoCoalescing(ctx context.Context, db *sql.DB, inner *probe.Driver, n int) (coalescing, error) {
	// Open the connections first so that every caller is ready at once.
	db.SetMaxIdleConns(n)
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return coalescing{}, err
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
	before, _ := cachedsql.StatsOf(db)
	q0 := inner.Queries()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = readAll(ctx, db, revenueQuery)
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return coalescing{}, err
	}
	after, _ := cachedsql.StatsOf(db)
	return coalescing{
		callers:   n,
		dbQueries: inner.Queries() - q0,
		coalesced: after.CoalescedWaits - before.CoalescedWaits,
		l1Hits:    after.L1Hits - before.L1Hits,
		wall:      wall,
	}, nil
}

type invStep struct{ op, sql, result, path string }

func demoInvalidation(ctx context.Context, db *sql.DB, inner *probe.Driver, id int) ([]invStep, error) {
	var steps []invStep
	read := func() (string, error) {
		before, _ := cachedsql.StatsOf(db)
		q0 := inner.Queries()
		var name, email string
		if err := db.QueryRowContext(ctx, customerQuery, id).Scan(&name, &email); err != nil {
			return "", err
		}
		after, _ := cachedsql.StatsOf(db)
		path := "from the database"
		switch {
		case after.L1Hits > before.L1Hits:
			path = "L1 hit"
		case after.L2Hits > before.L2Hits:
			path = "L2 hit"
		case inner.Queries() > q0 && after.Fills > before.Fills:
			path = "miss: from the database, stored"
		}
		steps = append(steps, invStep{"read", fmt.Sprintf("customer %d", id), email, path})
		return email, nil
	}
	email, err := read()
	if err != nil {
		return nil, err
	}
	if _, err := read(); err != nil {
		return nil, err
	}
	newEmail := "moved." + email
	before, _ := cachedsql.StatsOf(db)
	if _, err := db.ExecContext(ctx, `UPDATE customers SET email = ? WHERE id = ?`, newEmail, id); err != nil {
		return nil, err
	}
	after, _ := cachedsql.StatsOf(db)
	steps = append(steps, invStep{"write", "UPDATE customers SET email = ? WHERE id = ?", newEmail,
		fmt.Sprintf("invalidates table customers (Invalidations +%d)", after.Invalidations-before.Invalidations)})
	got, err := read()
	if err != nil {
		return nil, err
	}
	if got != newEmail {
		return nil, fmt.Errorf("after the update the read returned %q, not %q: the cache served a stale row", got, newEmail)
	}
	return steps, nil
}

func printStats(out io.Writer, s cachedsql.Stats, withL2 bool) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	ratio := func(hits, misses int64) string {
		if hits+misses == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(hits+misses))
	}
	fmt.Fprintf(tw, "  L1 hits / misses\t%d / %d\thit ratio %s\n", s.L1Hits, s.L1Misses, ratio(s.L1Hits, s.L1Misses))
	if withL2 {
		fmt.Fprintf(tw, "  L2 hits / misses / errors\t%d / %d / %d\thit ratio %s\n", s.L2Hits, s.L2Misses, s.L2Errors, ratio(s.L2Hits, s.L2Misses))
		fmt.Fprintf(tw, "  L2 bytes written, breaker\t%d\t%s\n", s.L2BytesWritten, s.L2Breaker)
	}
	fmt.Fprintf(tw, "  fills (results stored)\t%d\n", s.Fills)
	fmt.Fprintf(tw, "  coalesced waits\t%d\n", s.CoalescedWaits)
	fmt.Fprintf(tw, "  uncacheable, corrupt\t%d, %d\n", s.Uncacheable, s.Corrupt)
	fmt.Fprintf(tw, "  invalidations\t%d\n", s.Invalidations)
	var reasons []string
	for r, n := range s.Bypass {
		if n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
		}
	}
	sort.Strings(reasons)
	if len(reasons) == 0 {
		reasons = []string{"none"}
	}
	fmt.Fprintf(tw, "  bypassed the cache\t%s\n", joinComma(reasons))
	fmt.Fprintf(tw, "  L1 entries, bytes, capacity\t%d, %d, %d\n", s.L1Entries, s.L1Bytes, s.L1Capacity)
	if withL2 {
		fmt.Fprintf(tw, "  stream sent / received\t%d / %d\tconnected=%v resyncs=%d\n", s.StreamSent, s.StreamReceived, s.StreamConnected, s.Resyncs)
	}
	tw.Flush()
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// percentile returns the p-th percentile (nearest rank) of times.
func percentile(times []time.Duration, p float64) time.Duration {
	if len(times) == 0 {
		return 0
	}
	s := slices.Clone(times)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// cleanupRedis deletes the demo namespace's keys: its generation hash and
// stream, and its L2 entries ("cachedsql:NAMESPACE:..." in tier.L2).
func cleanupRedis(redisURL, namespace string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	client, err := openRedis(ctx, redisURL)
	if err != nil {
		return
	}
	defer client.Close()
	hash, stream := generation.Keys(namespace)
	keys := []string{hash, stream, generation.ProbeKey(namespace)}
	iter := client.Scan(ctx, 0, "cachedsql:"+namespace+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	client.Del(ctx, keys...)
}
