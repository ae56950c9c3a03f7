package integration_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strconv"
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
// to that connection. 48c53bd takes it for "the server refuses to look",
// ends the watch with one invalidation while the UPDATE still waits, and
// the UPDATE's later commit is never invalidated: a stale row.
// The leftover statement is simulated with an AfterConnect hook.
func TestW42PGDuplicatePreparedStatementEndsTheWatch(t *testing.T) {
	admin, schema, dsn := pgU(t, "_w42")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newHalfOpenProxy(t, u.Host)
	u.Host = p.addr()
	cfg, err := pgx.ParseConfig(u.String())
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cachedsql.NewConnector(cachedsql.Config{DriverName: "pgx", DSN: u.String(), Connector: stdlib.GetConnector(*cfg), Namespace: schema, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })

	const q = "SELECT v FROM u WHERE id = 1"
	lock := lockRow(t, admin)
	defer lock.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "UPDATE u SET v = 2 WHERE id = 1")
		done <- err
	}()
	waitFor(t, admin, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'UPDATE u SET%' AND wait_event_type = 'Lock'", "the UPDATE waiting")
	var pid int64
	if err := admin.QueryRow("SELECT pid FROM pg_stat_activity WHERE query LIKE 'UPDATE u SET%' AND wait_event_type = 'Lock'").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	victim.Store(pid)
	p.cut()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the UPDATE did not wait for the lock")
	}
	select {
	case <-p.cancels:
	case <-time.After(10 * time.Second):
		t.Fatal("no CancelRequest")
	}
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	time.Sleep(2 * time.Second) // the first look(s) happen meanwhile
	if got := scalar(t, db, q); got != "1" {
		t.Fatalf("read %s while the UPDATE waits, want 1", got)
	}
	events := invalidationsOfU(t, c)
	mustExec(t, lock, "COMMIT")
	waitFor(t, admin, "SELECT COUNT(*) FROM u WHERE v = 2", "the abandoned UPDATE's commit")
	readsFreshAfter(t, events, db, q, "after an UPDATE whose watch met a 42P05 on its look connection")
}
