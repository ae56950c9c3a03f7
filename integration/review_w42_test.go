package integration_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Behind a transaction-pooling PgBouncer (or any pooler that hands a new
// client a server backend an earlier client used), pgx's deterministic
// statement name "stmtcache_<sha256(sql)>" may already be prepared on the
// backend a new look connection gets: the earlier look connection (closed
// after a transient failure) left it there. The look then fails with
// 42P05 duplicate_prepared_statement: class 42, but transient and specific
// to that connection. 48c53bd took it for "the server refuses to look",
// ended the watch with one invalidation while the UPDATE still waited, and
// the UPDATE's later commit was never invalidated: a stale row (review AB).
// The leftover statement is simulated with an AfterConnect hook.
func TestW42PGDuplicatePreparedStatementEndsTheWatch(t *testing.T) {
	admin, schema, dsn := pgU(t, "_w42")
	p, dsn := proxiedPG(t, dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var victim atomic.Int64 // the abandoned UPDATE's backend, once known
	cfg.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		pid := victim.Load()
		if pid == 0 {
			return nil
		}
		look := "SELECT pid, state, state_change::text FROM pg_stat_activity WHERE pid IN (" + strconv.FormatInt(pid, 10) + ")"
		d := sha256.Sum256([]byte(look))
		name := "stmtcache_" + hex.EncodeToString(d[0:24])
		return pc.Exec(ctx, "PREPARE "+name+" AS SELECT 1").Close()
	}
	c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: "pgx", DSN: dsn, Connector: stdlib.GetConnector(*cfg), Namespace: schema})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })

	first := invalidationsOfU(t, c)
	halfOpenWriteCommitsLater(t, p, admin, c, db, pgWaiting, func() {
		var pid int64
		if err := admin.QueryRow(strings.Replace(pgWaiting, "count(*)", "pid", 1)).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		victim.Store(pid)
	}, func() {
		cancelLost(t, p)
		// The watch's first look meets the 42P05 before the lock goes.
		select {
		case <-first:
		case <-time.After(10 * time.Second):
			t.Fatal("10 s without the watch's first invalidation")
		}
	})
}
