package cachedsql

import (
	"context"
	"testing"
)

// TestSettleWriteSteppedInsideLaterBegin: INSERT ... RETURNING sent through
// Query before BEGIN, its rows read after BEGIN: SQLite runs it inside the
// transaction, so the COMMIT must invalidate its table (review 14: the close
// hook skipped it because a certain state was open).
func TestSettleWriteSteppedInsideLaterBegin(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	const q = `SELECT count(*) FROM kv`
	env.warm(t, q)
	conn := env.heldConn(t)
	ins, err := conn.QueryContext(ctx, `INSERT INTO kv VALUES (2, 5) RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `BEGIN`)
	for ins.Next() {
	}
	ins.Close()
	if got, _ := readInt(t, env.c, env.db, q); got != 1 {
		t.Fatalf("read %d before the commit", got)
	}
	mustExec(t, conn, `COMMIT`)
	if got, want := readInt2(t, env, q); got != want {
		t.Errorf("INSERT RETURNING stepped inside a later BEGIN, COMMIT: cached %d, database %d", got, want)
	}
}
