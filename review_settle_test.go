package cachedsql

import (
	"context"
	"database/sql"
	"testing"
)

// Review 12: transaction statements sent through Query in SQLite are
// settled when their rows close, but only in one direction. A state the
// statement ended at statement time is never reopened when the driver says
// the transaction is still open (rows closed unread, or the statement failed
// at step), and a ROLLBACK TO that never ran has already forgotten writes.

const settleQuery = `SELECT v FROM kv WHERE id = 1`

var settleSchema = []string{`CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`}

// ROLLBACK through Query, closed unread: it never ran, the transaction is
// still open; the later COMMIT commits the UPDATE, which is never invalidated.
func TestSettleRollbackUnreadThenCommit(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	rows, err := conn.QueryContext(ctx, `ROLLBACK`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close() // never stepped: SQLite is still in the transaction
	// Another connection reads the committed row (1) and caches it.
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 {
		t.Fatalf("read %d before the commit", got)
	}
	mustExec(t, conn, `COMMIT`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("COMMIT did not commit: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("after ROLLBACK (closed unread) then COMMIT: cached read %d, database %d", got, want)
	}
}

// ROLLBACK TO through Query, closed unread: the writes it would have undone
// are forgotten at statement time, then committed.
func TestSettleRollbackToUnreadThenCommit(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `SAVEPOINT s`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	rows, err := conn.QueryContext(ctx, `ROLLBACK TO s`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	mustExec(t, conn, `COMMIT`)
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("after ROLLBACK TO (closed unread) then COMMIT: cached read %d, database %d", got, want)
	}
}

// COMMIT through Query, closed unread: the connection is still in the
// transaction but cachedsql caches its reads (uncommitted rows), and the
// ROLLBACK that follows leaves them in the cache.
func TestSettleCommitUnread(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	rows, err := conn.QueryContext(ctx, `COMMIT`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	readInt(t, env.c, conn, settleQuery) // inside the still-open transaction
	mustExec(t, conn, `ROLLBACK`)
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("after COMMIT (closed unread) then ROLLBACK: cached read %d, database %d", got, want)
	}
}

// COMMIT through QueryRow that fails at step (deferred foreign key): SQLite
// keeps the transaction open. The state was ended at statement time and the
// close hook does not reopen it; a reader refills the old row, and the
// COMMIT that finally succeeds invalidates nothing.
func TestSettleCommitFailsAtStep(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, append(settleSchema,
		`CREATE TABLE parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`)...)
	env.warm(t, settleQuery)
	conn := env.heldConn(t)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
	mustExec(t, conn, `INSERT INTO child VALUES (1, 99)`)
	var x int
	if err := conn.QueryRowContext(ctx, `COMMIT`).Scan(&x); err == nil || err.Error() == "sql: no rows in result set" {
		t.Fatalf("COMMIT should fail on the deferred foreign key: %v", err)
	}
	// Another connection reads the committed row (1) and caches it.
	if got, _ := readInt(t, env.c, env.db, settleQuery); got != 1 {
		t.Fatalf("read %d before the commit", got)
	}
	mustExec(t, conn, `DELETE FROM child`)
	mustExec(t, conn, `COMMIT`)
	if got := rawInt(t, env.raw, settleQuery); got != 2 {
		t.Fatalf("COMMIT did not commit: %d", got)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf("after a failed COMMIT through QueryRow, then COMMIT: cached read %d, database %d", got, want)
	}
}

// TestInvalidateSpacedDottedName: a dotted name with spaces around the dot
// and quoted parts ("main" . "kv", valid SQL) is the table kv, as the scanner
// files it (review 12: lastNamePart rejected it, and the fallback kept
// ` "kv"`, so Invalidate invalidated nothing).
func TestInvalidateSpacedDottedName(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, settleSchema...)
	env.warm(t, settleQuery)
	mustExec(t, env.raw, `UPDATE kv SET v = 2 WHERE id = 1`)
	if err := Invalidate(ctx, env.db, `"main" . "kv"`); err != nil {
		t.Fatal(err)
	}
	if got, want := readInt2(t, env, settleQuery); got != want {
		t.Errorf(`after Invalidate("\"main\" . \"kv\""): cached read %d, database %d (filed as %q)`, got, want, normTable(env.c.dialect, `"main" . "kv"`))
	}
}

// heldConn takes a connection out of env's pool for the test: the reads
// through env.db then run on others.
func (env *sqliteEnv) heldConn(t *testing.T) *sql.Conn {
	t.Helper()
	conn, err := env.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
