package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/redistest"
)

// BenchmarkL2 is the L2 path: cachedsql with L1 disabled, every read an L2
// hit from a throwaway redis-server on loopback, against a raw go-redis GET
// of the very bytes cachedsql stored (raw-get, the baseline: it returns the
// bytes only, so the ratio is what cachedsql adds on top of the round trip:
// the decode and database/sql's scan), beside get+floor (that GET plus
// database/sql's own cost for the rows, the bound for any database/sql
// cache) and go-redis-cache-redis (go-redis/cache with Redis only: what a
// user would write by hand).
func BenchmarkL2(b *testing.B) {
	for _, n := range sizes {
		for _, g := range goroutines {
			b.Run(fmt.Sprintf("rows=%d/g=%d", n, g), func(b *testing.B) {
				w := newL2Workload(b, n, g)
				b.Run("raw-get", func(b *testing.B) { run(b, g, n, w.rawGet) })
				b.Run("get+floor", func(b *testing.B) { run(b, g, n, w.getFloor) })
				b.Run("go-redis-cache-redis", func(b *testing.B) {
					run(b, g, n, w.goRedisCache)
					wantInner(b, w.goRedisCacheInner, 1)
				})
				b.Run("cachedsql-l2", func(b *testing.B) {
					warm := w.cachedInner()
					run(b, g, n, w.cached)
					w.checkCached(b, warm, b.N+1) // run warms with one read
				})
			})
		}
	}
}

// BenchmarkL2Paired is BenchmarkL2's ratios measured in pairs with the raw
// GET (runPaired), as BenchmarkHitPaired is for hits: sequential runs of the
// same GET on loopback moved between 60 and 84 µs in one session.
func BenchmarkL2Paired(b *testing.B) {
	for _, n := range sizes {
		for _, g := range goroutines {
			b.Run(fmt.Sprintf("rows=%d/g=%d", n, g), func(b *testing.B) {
				w := newL2Workload(b, n, g)
				b.Run("get+floor", func(b *testing.B) { runPaired(b, g, n, "raw-get", w.rawGet, w.getFloor) })
				b.Run("go-redis-cache-redis", func(b *testing.B) {
					runPaired(b, g, n, "raw-get", w.rawGet, w.goRedisCache)
					wantInner(b, w.goRedisCacheInner, 1)
				})
				b.Run("cachedsql-l2", func(b *testing.B) {
					warm := w.cachedInner()
					reads := runPaired(b, g, n, "raw-get", w.rawGet, w.cached)
					w.checkCached(b, warm, reads+1)
				})
			})
		}
	}
}

// BenchmarkL2Versus pairs cachedsql's L2 hit with go-redis/cache's directly
// (runPaired, go-redis/cache as the baseline), rather than each with the raw
// GET as BenchmarkL2Paired does: where the two are within a few hundredths
// of each other, the ratio of two ratios to the GET, each from its own
// blocks, cannot say which is ahead.
func BenchmarkL2Versus(b *testing.B) {
	for _, n := range sizes {
		for _, g := range goroutines {
			b.Run(fmt.Sprintf("rows=%d/g=%d", n, g), func(b *testing.B) {
				w := newL2Workload(b, n, g)
				b.Run("cachedsql-l2", func(b *testing.B) {
					warm := w.cachedInner()
					reads := runPaired(b, g, n, "go-redis-cache-redis", w.goRedisCache, w.cached)
					w.checkCached(b, warm, reads+1)
					wantInner(b, w.goRedisCacheInner, 1)
				})
			})
		}
	}
}

// l2Workload is one L2 workload: a throwaway redis-server holding
// cachedsql's entry for n rows (L1 off, so every cachedsql read is an L2
// hit), and a reader per contender:
//
//   - rawGet: a go-redis GET of the very bytes cachedsql stored (the
//     baseline: it returns the bytes only, so the ratio is what a cache adds
//     on top of the round trip: the decode and database/sql's scan);
//   - getFloor: that GET, then the same rows through database/sql from the
//     no-op driver (the floor of BenchmarkHit): the least any database/sql L2
//     hit can cost. At 100 rows and more the floor alone is more than a
//     fifth of the GET, so no such cache is within 1.2x of rawGet there;
//   - goRedisCache: what a user would write for a Redis cache by hand:
//     go-redis/cache without its local cache, so every read is a GET and a
//     msgpack decode of the scanned rows;
//   - cached: the query through cachedsql.
type l2Workload struct {
	rawGet, getFloor, goRedisCache, cached reader
	goRedisCacheInner, cachedInner         func() int64
	stats                                  func() cachedsql.Stats
}

func newL2Workload(b *testing.B, n, g int) *l2Workload {
	b.Helper()
	srv := redistest.Start(b)
	// A generous timeout: on a loaded machine a read of 64 KiB at 64
	// goroutines can exceed the 200 ms default, which cachedsql rightly
	// treats as a miss, and this benchmark measures hits.
	db, c, count := cachedOverNoop(b, n, g, cachedsql.Config{RedisURL: srv.URL(), L1MiB: -1, RedisTimeout: 5 * time.Second})
	key, size := storedEntry(b, srv.Client(), func() {
		if rows, err := queryRows(context.Background(), db, noopQuery, n, n); err != nil || len(rows) != n {
			b.Fatalf("fill: %d rows, %v", len(rows), err)
		}
	})
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { rc.Close() })
	get := func(ctx context.Context) error {
		v, err := rc.Get(ctx, key).Bytes()
		if err != nil || len(v) != size {
			return fmt.Errorf("GET %s: %d bytes, %v; want %d bytes", key, len(v), err, size)
		}
		return nil
	}
	floor, _ := noopDB(b, n, g)
	ghFloor, noop := noopDB(b, n, g)
	gc := cache.New(&cache.Options{Redis: rc})
	return &l2Workload{
		rawGet: func(ctx context.Context) (int, error) {
			if err := get(ctx); err != nil {
				return 0, err
			}
			return n, nil
		},
		getFloor: rowsRead(func(ctx context.Context) ([]Row, error) {
			if err := get(ctx); err != nil {
				return nil, err
			}
			return queryRows(ctx, floor, noopQuery, n, n)
		}),
		// Each workload has a Redis of its own: the key needs nothing to
		// tell runs apart.
		goRedisCache:      rowsRead(goRedisCacheRead(gc, fmt.Sprintf("%s|%v", noopQuery, n), ghFloor, n)),
		goRedisCacheInner: noop.Queries,
		cached: rowsRead(func(ctx context.Context) ([]Row, error) {
			return queryRows(ctx, db, noopQuery, n, n)
		}),
		cachedInner: count,
		stats:       c.Stats,
	}
}

// checkCached reports the share of cachedsql's reads (of the reads since the
// database had been asked warm times) that reached the database. Under heavy
// load the invalidation stream may briefly lose its proof of being in sync,
// and cachedsql then rightly sends reads to the database (bypass
// out_of_sync); above 1% it is not an L2 benchmark any more.
func (w *l2Workload) checkCached(b *testing.B, warm int64, reads int) {
	b.Helper()
	missed := w.cachedInner() - warm
	b.ReportMetric(float64(missed)/float64(reads), "inner-queries/op")
	if s := w.stats(); missed*100 > int64(reads) {
		b.Fatalf("%d of %d reads reached the database (L2 errors %d, breaker %s, bypasses %v): not an L2 hit benchmark",
			missed, reads, s.L2Errors, s.L2Breaker, s.Bypass)
	}
}

// storedEntry reads (with read) until cachedsql's fill has reached Redis and
// returns the key and length of the one cache entry: the only string value in
// the server (generations and the invalidation stream are hashes and
// streams). It polls: the first reads may bypass the cache until the
// invalidation stream is connected, and the fill writes L2 off the caller's
// path, with no signal to wait on.
func storedEntry(b *testing.B, rc *redis.Client, read func()) (string, int) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		read()
		keys, err := rc.Keys(ctx, "*").Result()
		if err != nil {
			b.Fatal(err)
		}
		var found []string
		for _, k := range keys {
			if t, err := rc.Type(ctx, k).Result(); err == nil && t == "string" {
				found = append(found, k)
			}
		}
		switch {
		case len(found) == 1:
			n, err := rc.StrLen(ctx, found[0]).Result()
			if err != nil {
				b.Fatal(err)
			}
			return found[0], int(n)
		case len(found) > 1:
			b.Fatalf("%d string keys in Redis (%q), want the one cache entry", len(found), found)
		case time.Now().After(deadline):
			b.Fatalf("the fill did not reach Redis within 10s (keys: %q)", keys)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
