package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// slowConnector is the no-op driver with a database's latency: each query
// waits delay (or its context) before answering, so that concurrent
// identical queries overlap as they would against a real server.
type slowConnector struct {
	noop  *fakedb.Noop
	delay time.Duration
}

func (s slowConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := s.noop.Connect(ctx)
	if err != nil {
		return nil, err
	}
	qc, ok := c.(driver.QueryerContext)
	if !ok {
		return nil, errors.New("bench: the no-op conn has no QueryContext")
	}
	return slowConn{Conn: c, qc: qc, delay: s.delay}, nil
}

func (s slowConnector) Driver() driver.Driver { return s.noop }

type slowConn struct {
	driver.Conn
	qc    driver.QueryerContext
	delay time.Duration
}

func (c slowConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	t := time.NewTimer(c.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.qc.QueryContext(ctx, q, args)
}

// BenchmarkColdStampede is a cold cache under a thundering herd: in each
// iteration 1000 goroutines send one query whose key is new (its argument
// is the iteration number) to a database that takes 2 ms per query. The
// metric inner-queries/op is how many of them reached the database: 1000
// directly (the baseline), and it must be exactly 1 through cachedsql.
func BenchmarkColdStampede(b *testing.B) {
	const (
		herd  = 1000
		n     = 10
		delay = 2 * time.Millisecond
	)
	bench := func(b *testing.B, db *sql.DB, inner *fakedb.Noop, wantPerOp int64) {
		db.SetMaxIdleConns(herd + 1)
		ctx := context.Background()
		b.ReportAllocs()
		before := inner.Queries()
		for i := 0; i < b.N; i++ {
			start := make(chan struct{})
			errs := make(chan error, herd)
			var wg sync.WaitGroup
			for range herd {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rows, err := queryRows(ctx, db, noopQuery, n, int64(i))
					if err == nil && len(rows) != n {
						err = errors.New("wrong number of rows")
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
		got := inner.Queries() - before
		b.ReportMetric(float64(got)/float64(b.N), "inner-queries/op")
		if got != wantPerOp*int64(b.N) {
			b.Fatalf("%d inner queries in %d iterations, want %d per iteration", got, b.N, wantPerOp)
		}
	}
	b.Run("g=1000/direct", func(b *testing.B) {
		noop := fakedb.NewNoop(columns, noopValues(n))
		db := sql.OpenDB(slowConnector{noop, delay})
		b.Cleanup(func() { db.Close() })
		bench(b, db, noop, herd)
	})
	b.Run("g=1000/cachedsql", func(b *testing.B) {
		noop := fakedb.NewNoop(columns, noopValues(n))
		db, _ := openCached(b, cachedsql.Config{Connector: slowConnector{noop, delay}}, herd)
		bench(b, db, noop, 1)
	})
}
