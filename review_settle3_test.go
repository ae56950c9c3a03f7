package cachedsql

import (
	"context"
	"testing"
)

// TestSettleWriteHookKeepsPendingBegin: BEGIN sent through Query, its rows
// not read yet (SQLite has not run it), while an INSERT ... RETURNING on the
// same connection is read and closed. The write's close hook must not end
// the state because the driver is still in autocommit (review 14): BEGIN
// runs when its rows are read, and the UPDATE after it must be invalidated
// at its COMMIT.
func TestSettleWriteHookKeepsPendingBegin(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	begin, err := conn.QueryContext(ctx, `BEGIN`)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := conn.QueryContext(ctx, `INSERT INTO kv VALUES (2, 5) RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	for ins.Next() {
	}
	if err := ins.Close(); err != nil {
		t.Fatal(err)
	}
	for begin.Next() { // BEGIN runs now
	}
	if err := begin.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 { // another connection: committed 1
		t.Fatalf("read %d before the commit", got)
	}
	mustExec(t, conn, `COMMIT`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("COMMIT did not commit the UPDATE: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("BEGIN (rows open) + INSERT RETURNING closed, then UPDATE, COMMIT: cached read %d, database %d", got, want)
	}
}

// The same with SAVEPOINT (outside BEGIN) whose rows are read after the
// write's, and RELEASE commits.
func TestSettleWriteHookKeepsPendingSavepoint(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	sp, err := conn.QueryContext(ctx, `SAVEPOINT a`)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := conn.QueryContext(ctx, `INSERT INTO kv VALUES (2, 5) RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	for ins.Next() {
	}
	ins.Close()
	for sp.Next() {
	}
	sp.Close()
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 {
		t.Fatalf("read %d before the release", got)
	}
	mustExec(t, conn, `RELEASE a`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("RELEASE did not commit the UPDATE: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("SAVEPOINT (rows open) + INSERT RETURNING closed, then UPDATE, RELEASE: cached read %d, database %d", got, want)
	}
}
