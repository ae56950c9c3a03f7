package cachedsql

import (
	"context"
	"testing"
)

// Review 13: transaction statements sent through Query whose rows stay
// open while the connection goes on, and more names.

// COMMIT through Query whose rows stay open: until they close the state is
// nil, so a read on the same connection (still inside the transaction) fills
// the cache with an uncommitted row, served to every other connection.
func TestSettleCommitRowsOpenRead(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	rows, err := conn.QueryContext(ctx, `COMMIT`)
	if err != nil {
		t.Fatal(err)
	}
	readInt(t, env.c, conn, settleQuery) // inside the transaction: 2, uncommitted
	got, hit := readInt(t, env.c, env.db, settleQuery)
	want := rawInt(t, env.raw, settleQuery)
	rows.Close()
	mustExec(t, conn, `ROLLBACK`)
	if got != want {
		t.Errorf("while COMMIT's rows are open: another connection read %d (hit %v), database %d", got, hit, want)
	}
}

// COMMIT through Query whose rows stay open; an UPDATE runs on the same
// connection meanwhile (inside the still-open transaction). It is invalidated
// at once but not kept in the state that settleTx restores, so the COMMIT that
// finally commits it invalidates nothing.
func TestSettleCommitRowsOpenWrite(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	rows, err := conn.QueryContext(ctx, `COMMIT`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 { // committed row, cached
		t.Fatalf("read %d before the commit", got)
	}
	rows.Close() // unread: still in the transaction, state restored uncertain
	mustExec(t, conn, `COMMIT`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("COMMIT did not commit: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("UPDATE while COMMIT's rows were open, then COMMIT: cached read %d, database %d", got, want)
	}
}

// RELEASE through Query, closed unread, never ran, but it already dropped
// the savepoint marks. A later ROLLBACK TO matches an older mark than SQLite
// does and forgets a write that stays, which COMMIT then never invalidates.
func TestSettleReleaseUnreadKeepsMarks(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `SAVEPOINT a`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	mustExec(t, conn, `SAVEPOINT a`)
	rows, err := conn.QueryContext(ctx, `RELEASE a`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()                       // never ran: both savepoints a remain
	mustExec(t, conn, `ROLLBACK TO a`) // to the newer a: the UPDATE stays
	mustExec(t, conn, `COMMIT`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("COMMIT did not commit the UPDATE: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("after RELEASE (unread), ROLLBACK TO, COMMIT: cached read %d, database %d", got, want)
	}
}

// "BEGIN; UPDATE ... RETURNING" through Query. mattn runs only the last
// statement, as its rows are read, in autocommit. cachedsql opens an
// uncertain state and invalidates at statement time; the close hook skips
// the second invalidation because a state is open, and nothing ends it.
func TestSettleBeginUpdateThroughQuery(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	rows, err := conn.QueryContext(ctx, `BEGIN; UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 { // refilled before the UPDATE runs
		t.Fatalf("read %d before the rows were read", got)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("the UPDATE did not commit: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf(`after "BEGIN; UPDATE ... RETURNING" through Query: cached read %d, database %d`, got, want)
	}
}

// Bare names with white space around the dot (valid SQL) are the table
// after it: Invalidate("main . kv") invalidated " kv".
func TestInvalidateSpacedBareName(t *testing.T) {
	for _, name := range []string{`main . kv`, `main. kv`, "\"main\"\f.\f\"kv\""} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			env := newSQLiteEnv(t, Config{}, settleSchema...)
			env.warm(t, settleQuery)
			mustExec(t, env.raw, `UPDATE kv SET v = 2 WHERE id = 1`)
			mustExec(t, env.raw, `SELECT 1 FROM `+name) // valid SQL in SQLite
			if err := Invalidate(ctx, env.db, name); err != nil {
				t.Fatal(err)
			}
			if got, want := readInt2(t, env, settleQuery); got != want {
				t.Errorf("after Invalidate(%q): cached read %d, database %d (filed as %q)", name, got, want, normTable(env.c.dialect, name))
			}
		})
	}
}
