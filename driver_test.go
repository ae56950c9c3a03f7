package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// transcript runs one script of database/sql calls and writes down everything
// a program could observe: values and their Go types, column metadata,
// errors, results, and the argument types the driver received.
func transcript(t *testing.T, db *sql.DB, inner *fakedb.Driver) string {
	t.Helper()
	var b strings.Builder
	ctx := context.Background()
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	dumpRows := func(label string, rows *sql.Rows, err error) {
		if err != nil {
			w("%s: error %v", label, err)
			return
		}
		defer rows.Close()
		for set := 0; ; set++ {
			cts, err := rows.ColumnTypes()
			if err != nil {
				w("%s: columntypes error %v", label, err)
			}
			for _, ct := range cts {
				l, lok := ct.Length()
				n, nok := ct.Nullable()
				p, s, pok := ct.DecimalSize()
				w("%s: set %d col %s db=%q len=%d/%v null=%v/%v dec=%d,%d/%v scan=%v", label, set, ct.Name(), ct.DatabaseTypeName(), l, lok, n, nok, p, s, pok, ct.ScanType())
			}
			for rows.Next() {
				vals := make([]any, len(cts))
				ptrs := make([]any, len(cts))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					w("%s: scan error %v", label, err)
				}
				w("%s: row %s", label, typed(vals))
			}
			if !rows.NextResultSet() {
				break
			}
		}
		w("%s: err %v", label, rows.Err())
	}
	args := func(q string) {
		var types []string
		for _, a := range inner.LastArgs(q) {
			types = append(types, fmt.Sprintf("%s#%d=%T(%v)", a.Name, a.Ordinal, a.Value, a.Value))
		}
		w("inner args for %q: %v", q, types)
	}

	w("ping: %v", db.PingContext(ctx))
	const q1 = "SELECT id, name, score FROM users WHERE id = ?"
	for i := range 2 { // the second read is a cache hit when wrapped
		rows, err := db.QueryContext(ctx, q1, 1)
		dumpRows(fmt.Sprintf("q1#%d", i), rows, err)
	}
	args(q1)
	const q2 = "SELECT name FROM users WHERE score = ?"
	rows, err := db.QueryContext(ctx, q2, fakedb.Celsius{Degrees: 9.5})
	dumpRows("celsius", rows, err)
	args(q2)
	const q3 = "SELECT name FROM users WHERE id = :id"
	rows, err = db.QueryContext(ctx, q3, sql.Named("id", 2))
	dumpRows("named", rows, err)
	args(q3)
	rows, err = db.QueryContext(ctx, "SELECT name FROM users WHERE id = ?", fakedb.Bad{})
	dumpRows("bad", rows, err)
	rows, err = db.QueryContext(ctx, "SELECT * FROM users")
	dumpRows("all", rows, err)
	rows, err = db.QueryContext(ctx, "multi")
	dumpRows("multi", rows, err)
	rows, err = db.QueryContext(ctx, "multi")
	dumpRows("multi again", rows, err)

	const up = "UPDATE users SET name = ? WHERE id = ?"
	res, err := db.ExecContext(ctx, up, "bea", int64(2))
	if err != nil {
		w("update: error %v", err)
	} else {
		n, err := res.RowsAffected()
		w("update: affected %d %v", n, err)
	}
	args(up)
	rows, err = db.QueryContext(ctx, "SELECT * FROM users")
	dumpRows("all after update", rows, err)

	st, err := db.PrepareContext(ctx, "SELECT name FROM users WHERE id = ?")
	if err != nil {
		w("prepare: error %v", err)
	} else {
		for i := range 2 {
			rows, err := st.QueryContext(ctx, int64(1))
			dumpRows(fmt.Sprintf("stmt#%d", i), rows, err)
		}
		rows, err := st.QueryContext(ctx, fakedb.Celsius{Degrees: 1})
		dumpRows("stmt celsius", rows, err)
		st.Close()
	}
	for _, opts := range []*sql.TxOptions{nil, {Isolation: sql.LevelSerializable}, {ReadOnly: true}} {
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			w("begin %+v: error %v", opts, err)
			continue
		}
		rows, err := tx.QueryContext(ctx, "SELECT name FROM users WHERE id = ?", int64(1))
		dumpRows("tx read", rows, err)
		_, err = tx.ExecContext(ctx, "UPDATE users SET score = ? WHERE id = ?", 1.5, int64(1))
		w("tx update: %v", err)
		w("rollback: %v", tx.Rollback())
	}
	w("tx options seen: %+v", inner.TxOptions())
	conn, err := db.Conn(ctx)
	if err == nil {
		w("conn ping: %v", conn.PingContext(ctx))
		conn.Close()
	}
	return b.String()
}

// typed prints values with their Go types, so int64(1) and "1" differ.
func typed(vals []any) string {
	var parts []string
	for _, v := range vals {
		if bs, ok := v.([]byte); ok && bs == nil {
			parts = append(parts, "[]byte(nil)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%T(%v)", v, v))
	}
	return strings.Join(parts, " ")
}

func seedMatrix(t *testing.T, d *fakedb.Driver) {
	t.Helper()
	cols := []fakedb.Column{
		{Name: "id", DatabaseTypeName: "BIGINT", ScanType: nil, Nullable: false, HasNullable: true},
		{Name: "name", DatabaseTypeName: "VARCHAR", Length: 40, HasLength: true},
		{Name: "score", DatabaseTypeName: "DECIMAL", Precision: 5, Scale: 2, HasPrecisionScale: true},
	}
	d.CreateTable("users", cols, []driver.Value{int64(1), "ada", 9.5}, []driver.Value{int64(2), "bob", 7.25})
	d.Canned("multi",
		fakedb.ResultSet{Columns: fakedb.Cols("a"), Rows: [][]driver.Value{{int64(1)}, {int64(2)}}},
		fakedb.ResultSet{Columns: fakedb.Cols("b", "c"), Rows: [][]driver.Value{{"x", []byte{}}, {nil, []byte(nil)}}},
	)
}

// matrixSets are the interface combinations the matrix runs: all, none, each
// interface alone and all but each one.
func matrixSets() map[string]fakedb.Iface {
	sets := map[string]fakedb.Iface{"all": fakedb.AllIfaces, "none": 0}
	for _, b := range fakedb.Bits() {
		sets["only "+b.String()] = b
		sets["all but "+b.String()] = fakedb.AllIfaces &^ b
	}
	return sets
}

// TestWrappedBehavesLikeUnwrapped runs the same script through database/sql
// over a fake driver directly and through cachedsql over an identical fake
// driver, for many combinations of optional interfaces, and requires the two
// transcripts to be identical.
func TestWrappedBehavesLikeUnwrapped(t *testing.T) {
	for name, ifaces := range matrixSets() {
		for _, dc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/drivercontext=%v", name, dc), func(t *testing.T) {
				opts := fakedb.Options{Ifaces: ifaces, DriverContext: dc}
				plain := fakedb.New(opts)
				seedMatrix(t, plain)
				plainDB := sql.OpenDB(connectorFor(plain))
				defer plainDB.Close()

				wrapped := fakedb.New(opts)
				seedMatrix(t, wrapped)
				c, err := NewConnector(Config{Driver: wrapped.AsDriver(), DSN: "x", Namespace: t.Name()})
				if err != nil {
					t.Fatal(err)
				}
				wrappedDB := sql.OpenDB(c)
				defer wrappedDB.Close()

				want := transcript(t, plainDB, plain)
				got := transcript(t, wrappedDB, wrapped)
				if got != want {
					t.Fatalf("wrapped transcript differs from unwrapped:\n%s", diffLines(want, got))
				}
			})
		}
	}
}

func connectorFor(d *fakedb.Driver) driver.Connector {
	drv := d.AsDriver()
	if dc, ok := drv.(driver.DriverContext); ok {
		c, _ := dc.OpenConnector("x")
		return c
	}
	return dsnConnector{dsn: "x", drv: drv}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  unwrapped: %s\n  wrapped:   %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func TestQueryRowAndPreparedAreCached(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	const q = "SELECT name FROM users WHERE id = ?"
	for range 3 {
		queryName(t, db, 2)
	}
	st, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 3 {
		var n string
		if err := st.QueryRow(int64(2)).Scan(&n); err != nil || n != "bob" {
			t.Fatalf("prepared: %q %v", n, err)
		}
	}
	// One query per path: reads through a prepared statement are keyed apart
	// from the same text on the connection (a driver may answer them
	// differently: TestPathsAreKeyedApart).
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("inner saw %d queries for three QueryRow and three prepared reads; want 2", n)
	}
}

func TestEmptyResultIsCached(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	for range 3 {
		var n string
		if err := db.QueryRow("SELECT name FROM users WHERE id = ?", 99).Scan(&n); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("want ErrNoRows, got %v", err)
		}
	}
	if n := d.Queries(); n != 1 {
		t.Fatalf("inner saw %d queries; want 1", n)
	}
}

func TestConcurrentIdenticalQueriesReachDatabaseOnce(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	db.SetMaxOpenConns(100)
	const q = "SELECT name FROM users WHERE id = ?"
	gate := d.Block(q)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got string
			if err := db.QueryRow(q, 1).Scan(&got); err != nil || got != "ada" {
				errs <- fmt.Errorf("got %q, %v", got, err)
			}
		}()
	}
	<-gate.Arrived()
	sh := mustConnector(t, db).sh
	waitFor(t, "64 callers waiting on one query", func() bool { return sh.flights.Waiters() == n })
	gate.Release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := d.QueryCount(q); got != 1 {
		t.Fatalf("64 concurrent identical queries reached the database %d times; want 1", got)
	}
	if s := stats(t, db); s.CoalescedWaits != n-1 {
		t.Fatalf("coalesced waits = %d; want %d", s.CoalescedWaits, n-1)
	}
}

func TestCancelledCallerLeavesAtOnceOthersGetRows(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	const q = "SELECT name FROM users WHERE id = ?"
	gate := d.Block(q)
	sh := mustConnector(t, db).sh

	// The leader, whose connection runs the shared query, is the one that leaves.
	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		var s string
		leaderErr <- db.QueryRowContext(ctx, q, 1).Scan(&s)
	}()
	<-gate.Arrived()
	others := make(chan string, 2)
	for range 2 {
		go func() {
			var s string
			if err := db.QueryRow(q, 1).Scan(&s); err != nil {
				s = "error: " + err.Error()
			}
			others <- s
		}()
	}
	waitFor(t, "three callers waiting", func() bool { return sh.flights.Waiters() == 3 })
	start := time.Now()
	cancel()
	select {
	case err := <-leaderErr:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v; want context.Canceled", err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Fatalf("cancelled caller took %v to return; want < 50ms", el)
		}
	case <-time.After(time.Second):
		t.Fatal("cancelled caller did not return")
	}
	if gate.Canceled() != 0 {
		t.Fatal("the shared query was cancelled while others still waited")
	}
	gate.Release()
	for range 2 {
		if s := <-others; s != "ada" {
			t.Fatalf("remaining caller got %q", s)
		}
	}
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("inner saw %d queries; want 1", n)
	}
	// The connection the leader left is usable again.
	if got := queryName(t, db, 2); got != "bob" {
		t.Fatalf("after: %q", got)
	}
}

func TestSharedQueryCancelledWhenEveryCallerLeaves(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	const q = "SELECT name FROM users WHERE id = ?"
	gate := d.Block(q)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		go func() {
			var s string
			done <- db.QueryRowContext(ctx, q, 1).Scan(&s)
		}()
	}
	<-gate.Arrived()
	sh := mustConnector(t, db).sh
	waitFor(t, "two callers waiting", func() bool { return sh.flights.Waiters() == 2 })
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	}
	waitFor(t, "the shared query to see its context cancelled", func() bool { return gate.Canceled() == 1 })
	gate.Release()
	if got := queryName(t, db, 1); got != "ada" {
		t.Fatalf("after: %q", got)
	}
}

func TestErrorsReachCallerAndAreNotCached(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	const q = "SELECT name FROM users WHERE id = ?"
	boom := errors.New("boom")
	d.FailNext(q, boom)
	var s string
	if err := db.QueryRow(q, 1).Scan(&s); !errors.Is(err, boom) {
		t.Fatalf("got %v; want boom", err)
	}
	if got := queryName(t, db, 1); got != "ada" {
		t.Fatalf("after error: %q", got)
	}
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("inner saw %d queries; want 2 (errors are not cached)", n)
	}
}

func TestWriteIsSeenByNextReadFromEveryDB(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db1 := openCached(t, name, "")
	db2 := openCached(t, name, "")
	if queryName(t, db1, 1) != "ada" || queryName(t, db2, 1) != "ada" {
		t.Fatal("seed")
	}
	if _, err := db1.Exec("UPDATE users SET name = ? WHERE id = ?", "ann", 1); err != nil {
		t.Fatal(err)
	}
	if got := queryName(t, db1, 1); got != "ann" {
		t.Fatalf("same DB read after write: %q", got)
	}
	if got := queryName(t, db2, 1); got != "ann" {
		t.Fatalf("second DB read after write: %q", got)
	}
	_ = d
}

func TestTransactions(t *testing.T) {
	_, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "")
	queryName(t, db, 1) // cached: ada

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE users SET name = ? WHERE id = ?", "tmp", 1); err != nil {
		t.Fatal(err)
	}
	if got := queryName(t, tx, 1); got != "tmp" {
		t.Fatalf("transaction does not read its own write: %q", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := queryName(t, db, 1); got != "ada" {
		t.Fatalf("after rollback: %q; want ada", got)
	}

	tx, _ = db.Begin()
	tx.Exec("UPDATE users SET name = ? WHERE id = ?", "new", 1)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := queryName(t, db, 1); got != "new" {
		t.Fatalf("after commit: %q; want new", got)
	}
}

func TestTTLExpires(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	db := openCached(t, name, "ttl=1s")
	const q = "SELECT name FROM users WHERE id = ?"
	queryName(t, db, 1)
	queryName(t, db, 1)
	if n := d.QueryCount(q); n != 1 {
		t.Fatalf("before expiry: %d inner queries", n)
	}
	time.Sleep(1100 * time.Millisecond) // the TTL itself is what is under test
	queryName(t, db, 1)
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("after the 1s TTL: %d inner queries; want 2", n)
	}
}

func mustConnector(t testing.TB, db *sql.DB) *Connector {
	t.Helper()
	c, err := connectorOf(db)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds, for conditions no signal reports.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInnerPanicReachesTheCaller: a panic in the inner driver during a miss
// reaches the caller's goroutine, where a recover (net/http's per request,
// say) catches it as it would without cachedsql, whatever the context. With a
// cancellable context the query runs on a worker goroutine (flight.Do), and
// there a driver's panic would end the whole process.
func TestInnerPanicReachesTheCaller(t *testing.T) {
	_, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces, OnQuery: func(_ context.Context, _ string, args []driver.NamedValue) error {
		if len(args) == 1 && args[0].Value == int64(99) {
			panic("driver bug")
		}
		return nil
	}})
	db := openCached(t, name, "")
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			// Twice: nothing of the first panic is cached.
			for range 2 {
				recovered := func() (p any) {
					defer func() { p = recover() }()
					rows, err := db.QueryContext(ctx, "SELECT name FROM users WHERE id = ?", int64(99))
					if err == nil {
						rows.Close()
					}
					t.Errorf("the query returned (err %v) instead of panicking", err)
					return nil
				}()
				if recovered == nil || !strings.Contains(fmt.Sprint(recovered), "driver bug") {
					t.Fatalf("recovered %v; want the driver's panic", recovered)
				}
			}
			var got string
			if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", int64(1)).Scan(&got); err != nil || got != "ada" {
				t.Fatalf("after the panic: %q, %v; want ada", got, err)
			}
		})
	}
}
