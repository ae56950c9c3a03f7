package cachedsql

import (
	"context"
	"testing"
)

// TestSettlePendingBeginInText: "UPDATE w ...; BEGIN" sent through Query,
// an Exec write before the BEGIN has run (the driver is still in
// autocommit), then the BEGIN run as the rows are read, a write inside the
// transaction and its COMMIT: the write must be invalidated at the commit
// (review 16 expected this to fail; it holds, and is kept as a test).
func TestSettlePendingBeginInText(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, append(settleSchema, `CREATE TABLE w (x INTEGER)`)...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	rows, err := conn.QueryContext(ctx, `UPDATE w SET x = 1; BEGIN`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`) // autocommit: BEGIN not run yet
	for rows.Next() {                                     // BEGIN runs
	}
	mustExec(t, conn, `UPDATE kv SET v = 3 WHERE id = 1`)           // inside the transaction
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 2 { // refill from committed rows
		t.Fatalf("refill read %d, want the committed 2", got)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `COMMIT`)
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf(`"UPDATE w; BEGIN" through Query, Exec write before its BEGIN ran, write inside, COMMIT: cached read %d, database %d`, got, want)
	}
}

// TestAutoRollbackInDriverTx: SQLite leaves a driver transaction (sql.Tx)
// on its own (ON CONFLICT ROLLBACK); the write after it commits at once and
// must be invalidated at once, and tx.Rollback, which then fails, must not
// leave it stale (review 16).
func TestAutoRollbackInDriverTx(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, append(settleSchema,
		`CREATE TABLE u (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)`)...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, `INSERT INTO u VALUES (1)`)
	if _, err := tx.ExecContext(ctx, `INSERT INTO u VALUES (1)`); err == nil {
		t.Fatal("duplicate insert did not fail")
	}
	mustExec(t, tx, `UPDATE kv SET v = 2 WHERE id = 1`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("the UPDATE did not commit at once: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("auto-rollback inside sql.Tx, then a write, before Rollback: cached read %d, database %d", got, want)
	}
	if err := tx.Rollback(); err == nil {
		t.Log("tx.Rollback succeeded: SQLite kept the transaction") // the check below still holds
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("auto-rollback inside sql.Tx, write, Rollback: cached read %d, database %d", got, want)
	}
}

// TestAutoRollbackInDriverTxViaQuery: as TestAutoRollbackInDriverTx, but
// the statement SQLite rolls back on, and the write after it, are sent
// through tx.Query (INSERT/UPDATE ... RETURNING). The write commits at once,
// and must be invalidated before tx.Rollback (review 17).
func TestAutoRollbackInDriverTxViaQuery(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, append(settleSchema,
		`CREATE TABLE u (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)`)...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, `INSERT INTO u VALUES (1)`)
	if rows, err := tx.QueryContext(ctx, `INSERT INTO u VALUES (1) RETURNING id`); err == nil {
		for rows.Next() {
		}
		if rows.Err() == nil {
			t.Fatal("duplicate insert did not fail")
		}
		rows.Close()
	}
	rows, err := tx.QueryContext(ctx, `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("the UPDATE did not commit at once: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("auto-rollback (via Query) inside sql.Tx, then a write via Query, before Rollback: cached read %d, database %d", got, want)
	}
	tx.Rollback() // fails: SQLite has no transaction open
}
