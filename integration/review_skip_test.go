package integration_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// With interpolateParams=true go-sql-driver/mysql sends a query with
// arguments as text (the arguments inlined), except when inlining would
// exceed maxAllowedPacket: then it answers driver.ErrSkip and database/sql
// prepares the statement (binary protocol). cachedsql used to remember one
// ErrSkip per query text for the life of the connector, so after one
// oversized call every later call of that query was sent as a prepared
// statement, and answered with the binary protocol's types and column
// metadata instead of those the driver gives the same call directly
// (review 9).
func TestConnSkipFollowsTheCall(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "interpolateParams=true", "maxAllowedPacket=4096")
	direct := openDirect(t, "mysql", dsn)
	cached := openCached(t, "mysql", dsn)
	q := "SELECT ? AS v, LENGTH(?) AS n"

	// One call whose inlined text would not fit in maxAllowedPacket.
	var v any
	var n int64
	if err := cached.QueryRowContext(ctx, q, 0.5, strings.Repeat("x", 5000)).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}

	for round := range 2 { // a miss, then a hit
		sameAsDirect(t, direct, cached, q, []any{1.5, "small"}, fmt.Sprintf("round %d", round))
	}
}

// The same with the default DSN (no interpolateParams): one call of a query
// with a stray argument (an error the program may well handle) makes
// go-sql-driver/mysql answer driver.ErrSkip; every correct, argument-less
// call of that text must still be sent as text, as it is directly.
func TestConnSkipStrayArgument(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := mysqlDSN()
	direct := openDirect(t, "mysql", dsn)
	cached := openCached(t, "mysql", dsn)
	admin := openDirect(t, "mysql", dsn)
	tbl := runID + "_stray"
	mustExec(t, admin, "CREATE TABLE "+tbl+" (f FLOAT)")
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, admin, "INSERT INTO "+tbl+" VALUES (1.2345678)")
	q := "SELECT f FROM " + tbl

	if _, err := cached.QueryContext(ctx, q, 1); err == nil {
		t.Fatal("a stray argument should fail")
	}
	for round := range 2 {
		sameAsDirect(t, direct, cached, q, nil, fmt.Sprintf("round %d", round))
	}
}

// TestRawLegacyStmtExecMySQL: a write through driver.Stmt's own Exec inside
// sql.Conn.Raw invalidates what it wrote (review 8; SQLite's case is in the
// root package).
func TestRawLegacyStmtExecMySQL(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	raw := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_rawstmt"
	mustExec(t, raw, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v int)", tbl))
	t.Cleanup(func() { raw.Exec("DROP TABLE IF EXISTS " + tbl) })
	mustExec(t, raw, fmt.Sprintf("INSERT INTO %s VALUES (1, 1)", tbl))
	cached := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_rawstmt")
	q := fmt.Sprintf("SELECT v FROM %s WHERE id = 1", tbl)
	scalar(t, cached, q)
	conn, err := cached.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Raw(func(dc any) error {
		st, err := dc.(driver.Conn).Prepare(fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = 1", tbl))
		if err != nil {
			return err
		}
		defer st.Close()
		_, err = st.Exec(nil) //nolint:staticcheck // the legacy method is the point
		return err
	})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scalar(t, cached, q), scalar(t, raw, q); got != want {
		t.Errorf("after a write through Raw's driver.Stmt.Exec: cached %q, database %q", got, want)
	}
}

// TestConnSkipKeepsExplicitPreparesApart: a statement the program prepares
// and one database/sql prepares because the connection skipped the call
// answer alike, but only the second says the connection will skip the same
// arguments again. A small call on the connection path must not be served
// what an explicit db.Prepare of the same text and arguments stored, once
// another call of the text was skipped (review 10).
func TestConnSkipKeepsExplicitPreparesApart(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "interpolateParams=true", "maxAllowedPacket=4096")
	direct := openDirect(t, "mysql", dsn)
	cached := openCached(t, "mysql", dsn)
	q := "SELECT ? AS v, LENGTH(?) AS n"
	args := []any{1.5, "small"}
	if _, err := read(ctx, cached, modePrepared, q, args); err != nil {
		t.Fatal(err)
	}
	// One call too large to inline: the connection answers ErrSkip.
	var v any
	var n int64
	if err := cached.QueryRowContext(ctx, q, 0.5, strings.Repeat("x", 5000)).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // a miss, then a hit
		sameAsDirect(t, direct, cached, q, args, fmt.Sprintf("round %d: db.Query after an explicit Prepare and one oversized call", round))
	}
}

// TestConnSkipStillHits: with the default DSN every call with arguments is
// skipped and prepared; a repeated read is still a hit, and still answers
// as the driver does directly (through the same prepare).
func TestConnSkipStillHits(t *testing.T) {
	requireMySQL(t)
	direct := openDirect(t, "mysql", mysqlDSN())
	cached := openCached(t, "mysql", mysqlDSN())
	q := "SELECT ? AS v, LENGTH(?) AS n"
	args := []any{1.5, "small"}
	for round := range 3 {
		before := stats(t, cached)
		sameAsDirect(t, direct, cached, q, args, fmt.Sprintf("round %d", round))
		if after := stats(t, cached); round > 0 && after.L1Hits == before.L1Hits {
			t.Errorf("round %d: not a hit", round)
		}
	}
}

// TestSkipMarkOnlyForItsCall: a Raw callback's own QueryContext that the
// driver skips, followed by the program's own PrepareContext of that text
// kept for small calls: those small calls are not the skipped call, and
// what they store must not be served to the connection path, where the
// driver answers them as text (review 11).
func TestSkipMarkOnlyForItsCall(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "interpolateParams=true", "maxAllowedPacket=4096")
	direct := openDirect(t, "mysql", dsn)
	cached := openCached(t, "mysql", dsn)
	q := "SELECT ? AS v, LENGTH(?) AS n"
	args := []any{1.5, "small"}
	conn, err := cached.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := []driver.NamedValue{{Ordinal: 1, Value: 0.5}, {Ordinal: 2, Value: strings.Repeat("x", 5000)}}
	if err := conn.Raw(func(dc any) error {
		if _, err := dc.(driver.QueryerContext).QueryContext(ctx, q, big); !errors.Is(err, driver.ErrSkip) {
			t.Fatalf("Raw QueryContext: %v, want driver.ErrSkip", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err := conn.PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capture(rows); err != nil {
		t.Fatal(err)
	}
	// The skip flag is set: the connection path looks at the skip namespace.
	if err := cached.QueryRowContext(ctx, q, 0.5, strings.Repeat("x", 5000)).Scan(new(any), new(int64)); err != nil {
		t.Fatal(err)
	}
	sameAsDirect(t, direct, cached, q, args, "db.Query after an explicit Prepare following a Raw skip")
}

// TestSkipNamespaceInvalidated: a write invalidates what reads through
// statements prepared after a skip stored (generations are per table).
func TestSkipNamespaceInvalidated(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	direct := openDirect(t, "mysql", mysqlDSN())
	cached := openCached(t, "mysql", mysqlDSN())
	tbl := runID + "_skipinv"
	mustExec(t, direct, "CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v INT)")
	t.Cleanup(func() { direct.Exec("DROP TABLE IF EXISTS " + tbl) })
	mustExec(t, direct, "INSERT INTO "+tbl+" VALUES (1, 1)")
	q := "SELECT v FROM " + tbl + " WHERE id = ?"
	get := func() int64 {
		var v int64
		if err := cached.QueryRowContext(ctx, q, 1).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	get()
	before := stats(t, cached)
	if get(); stats(t, cached).L1Hits == before.L1Hits {
		t.Fatal("not a hit: the test would prove nothing")
	}
	for want := int64(2); want <= 3; want++ {
		if _, err := cached.ExecContext(ctx, "UPDATE "+tbl+" SET v = ? WHERE id = ?", want, 1); err != nil {
			t.Fatal(err)
		}
		if got := get(); got != want {
			t.Errorf("after a write through cachedsql: %d, want %d", got, want)
		}
	}
}

// sameAsDirect fails t when q read through cached (as text, not prepared)
// differs from q read directly.
func sameAsDirect(t *testing.T, direct, cached *sql.DB, q string, args []any, what string) {
	t.Helper()
	ctx := context.Background()
	want, err := read(ctx, direct, modeText, q, args)
	if err != nil {
		t.Fatal(err)
	}
	got, err := read(ctx, cached, modeText, q, args)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("%s: %s", what, joinDiffs(d))
	}
}
