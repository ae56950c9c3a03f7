package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/redistest"
)

// Two processes sharing one Redis and one DSN (so one default namespace)
// whose time.Local differ: go-sql-driver/mysql with loc=Local reads a
// DATETIME as a wall clock in the process's Local, so the two processes'
// drivers return different instants for the same row. The reader gets the
// writer's instant from L2.
func TestReviewL2LocalZoneAcrossProcesses(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "parseTime=true", "loc=Local")
	if os.Getenv("REVIEW_LOCAL_CHILD") != "" {
		tbl := os.Getenv("REVIEW_LOCAL_TABLE")
		q := "SELECT d FROM " + tbl
		direct := openDirect(t, "mysql", dsn)
		db, err := sql.Open("cachedsql", fmt.Sprintf("driver=mysql dsn='%s' redis=%s", dsn, os.Getenv("REVIEW_LOCAL_REDIS")))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		waitSynced(t, db)
		var want, got time.Time
		if err := direct.QueryRowContext(ctx, q).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		s := stats(t, db)
		t.Logf("child TZ=%s: L2 hits %d", os.Getenv("TZ"), s.L2Hits)
		if !want.Equal(got) || want.Format(time.RFC3339) != got.Format(time.RFC3339) {
			t.Errorf("child (TZ=%s): cachedsql returned %s, its driver returns %s", os.Getenv("TZ"), got.Format(time.RFC3339), want.Format(time.RFC3339))
		}
		return
	}
	srv := redistest.Start(t)
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_localzone"
	mustExec(t, admin, "CREATE TABLE "+tbl+" (d DATETIME)")
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, admin, "INSERT INTO "+tbl+" VALUES ('2024-01-01 10:00:00')")

	// This process (TZ=UTC) fills L1 and L2.
	db, err := sql.Open("cachedsql", fmt.Sprintf("driver=mysql dsn='%s' redis=%s", dsn, srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitSynced(t, db)
	var v time.Time
	if err := db.QueryRowContext(ctx, "SELECT d FROM "+tbl).Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("parent TZ=%q read %s", os.Getenv("TZ"), v.Format(time.RFC3339))
	for i := 0; stats(t, db).L2BytesWritten == 0 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReviewL2LocalZoneAcrossProcesses$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TZ=Asia/Kolkata", "REVIEW_LOCAL_CHILD=1",
		"REVIEW_LOCAL_TABLE="+tbl, "REVIEW_LOCAL_REDIS="+srv.URL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("the other process: %v\n%s", err, out)
	}
}

// waitSynced is cachedsql.WaitSync with a deadline: until the namespace
// follows the invalidation stream, reads bypass the cache (out_of_sync).
func waitSynced(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cachedsql.WaitSync(ctx, db); err != nil {
		t.Fatal(err)
	}
}
