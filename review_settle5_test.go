package cachedsql

import (
	"context"
	"testing"
)

// TestAutoRollbackThenWrite: SQLite ends a transaction by itself on an ON
// CONFLICT ROLLBACK (or INSERT OR ROLLBACK, RAISE(ROLLBACK)) failure, while
// cachedsql's state for the BEGIN stays open. A write then commits at once,
// through Query or Exec, and must invalidate (review 15).
func TestAutoRollbackThenWrite(t *testing.T) {
	for _, through := range []string{"Query", "Exec"} {
		t.Run(through, func(t *testing.T) {
			ctx := context.Background()
			env := newSQLiteEnv(t, Config{}, append(settleSchema,
				`CREATE TABLE u (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)`)...)
			env.warm(t, settleQuery)
			conn := env.heldConn(t)
			mustExec(t, conn, `BEGIN`)
			mustExec(t, conn, `INSERT INTO u VALUES (1)`)
			if _, err := conn.ExecContext(ctx, `INSERT INTO u VALUES (1)`); err == nil {
				t.Fatal("duplicate insert did not fail")
			}
			if through == "Exec" {
				mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
			} else {
				rows, err := conn.QueryContext(ctx, `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if got := rawInt(t, env.raw, settleQuery); got != 2 {
				t.Fatalf("the UPDATE did not commit in autocommit: %d", got)
			}
			if got, want := readInt2(t, env, settleQuery); got != want {
				t.Errorf("after SQLite rolled back on its own, UPDATE through %s committed: cached read %d, database %d", through, got, want)
			}
		})
	}
}

// TestSettleWriteCommittedBeforeBegin: a write sent through Query in
// autocommit, refilled around by another connection before SQLite runs it,
// then run (and committed) before a BEGIN, its rows closing inside the
// transaction, which then rolls back: the write must still be invalidated
// (review 15 checked that the close hook's filing of it in the state
// cannot lose it).
func TestSettleWriteCommittedBeforeBegin(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	rows, err := conn.QueryContext(ctx, `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 { // refills: not run yet
		t.Fatalf("read %d before the UPDATE ran", got)
	}
	for rows.Next() { // runs and commits (autocommit)
	}
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("UPDATE not committed when stepped to the end: %d", got)
	}
	mustExec(t, conn, `BEGIN`)
	rows.Close()
	mustExec(t, conn, `ROLLBACK`)
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("UPDATE RETURNING read before BEGIN, closed inside it, ROLLBACK: cached read %d, database %d", got, want)
	}
}

// The same with a driver transaction (sql.Conn.BeginTx / Tx.Rollback).
func TestSettleWriteCommittedBeforeDriverTx(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	rows, err := conn.QueryContext(ctx, `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 {
		t.Fatalf("read %d before the UPDATE ran", got)
	}
	for rows.Next() {
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("UPDATE RETURNING read before BeginTx, closed inside it, Rollback: cached read %d, database %d", got, want)
	}
}

// TestSettleWriteSentInOldTx: a write sent inside one transaction and not
// run, a COMMIT, the write run in autocommit, a second BEGIN in which its
// rows close, and a ROLLBACK: the write must be invalidated.
func TestSettleWriteSentInOldTx(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	rows, err := conn.QueryContext(ctx, `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `COMMIT`)
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 {
		t.Fatalf("read %d before the UPDATE ran", got)
	}
	for rows.Next() {
	}
	mustExec(t, conn, `BEGIN`)
	rows.Close()
	mustExec(t, conn, `ROLLBACK`)
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("UPDATE sent in tx1, run after its COMMIT, closed in tx2, ROLLBACK: cached read %d, database %d", got, want)
	}
}
