package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

func TestParseStrategy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Strategy
		err  bool
	}{
		{"realtime", RealTime, false}, {"SHORT", ShortTerm, false}, {"medium", MediumTerm, false},
		{"long", LongTerm, false}, {"nocache", NoCache, false}, {"90s", Custom(90 * time.Second), false},
		{"0s", Strategy{}, true}, {"-1m", Strategy{}, true}, {"forever", Strategy{}, true}, {"", Strategy{}, true},
	} {
		got, err := ParseStrategy(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseStrategy(%q) = %v, %v", c.in, got, err)
		}
	}
	// The duration parser's reason is kept, wrapped.
	if _, err := ParseStrategy("5 minutes"); err == nil || errors.Unwrap(err) == nil || !strings.Contains(err.Error(), "unknown unit") {
		t.Errorf(`ParseStrategy("5 minutes") = %v; want the duration parser's error wrapped`, err)
	}
	if RealTime.TTL() != 10*time.Second || ShortTerm.TTL() != 5*time.Minute || MediumTerm.TTL() != time.Hour ||
		LongTerm.TTL() != 3*time.Hour || Default.TTL() != 5*time.Minute || NoCache.Caches() || Custom(0) != NoCache {
		t.Fatal("preset durations differ from the design")
	}
}

// TestWhatIsNeverCached sends each kind of statement that must not be cached
// twice and requires both to reach the database, with the bypass reason counted.
func TestWhatIsNeverCached(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	one := fakedb.ResultSet{Columns: fakedb.Cols("x"), Rows: [][]driver.Value{{int64(1)}}}
	cases := []struct{ query, reason string }{
		{"SELECT name FROM users FOR UPDATE", BypassLocking},
		{"SELECT name FROM users LOCK IN SHARE MODE", BypassLocking},
		{"SELECT NOW()", BypassVolatile},
		{"SELECT random() FROM users", BypassVolatile},
		{"SELECT nextval('s')", BypassVolatile},
		{"SELECT LAST_INSERT_ID()", BypassVolatile},
		{"SELECT @@session.time_zone", BypassVolatile},
		{"/* cachedsql:nocache */ SELECT name FROM users", BypassNoCache},
		{"UPDATE users SET name = 'x' RETURNING id", BypassWrite},
		{"SELECT name FROM users; DELETE FROM users", BypassWrite},
		{"FROBNICATE users", BypassUnknown},
	}
	for _, c := range cases {
		d.Canned(c.query, one)
	}
	db := openCached(t, name, "")
	for _, c := range cases {
		before := stats(t, db).Bypass[c.reason]
		for range 2 {
			rows, err := db.Query(c.query)
			if err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			rows.Close()
		}
		if n := d.QueryCount(c.query); n != 2 {
			t.Errorf("%q reached the database %d times; want 2 (never cached)", c.query, n)
		}
		if got := stats(t, db).Bypass[c.reason] - before; got < 2 {
			t.Errorf("%q: bypass %q counted %d; want 2", c.query, c.reason, got)
		}
	}
}

func TestStrategyPrecedence(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.CreateTable("prices", fakedb.Cols("sku", "cents"), []driver.Value{"a", int64(100)})
	c, err := NewConnector(Config{DriverName: name, DSN: "x", Namespace: t.Name(),
		Tables: map[string]Strategy{"prices": NoCache}})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	read := func(ctx context.Context, q string) {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	bg := context.Background()
	const prices = "SELECT cents FROM prices"
	read(bg, prices)
	read(bg, prices)
	if n := d.QueryCount(prices); n != 2 {
		t.Fatalf("a table rule of NoCache: %d database reads; want 2", n)
	}
	// The context wins over the table rule.
	ctx := WithStrategy(bg, ShortTerm)
	read(ctx, prices)
	read(ctx, prices)
	if n := d.QueryCount(prices); n != 3 {
		t.Fatalf("WithStrategy over a NoCache rule: %d database reads; want 3", n)
	}
	// A hint wins over the table rule, and the context over the hint.
	const hinted = "/* cachedsql:ttl=1m */ SELECT cents FROM prices"
	read(bg, hinted)
	read(bg, hinted)
	if n := d.QueryCount(hinted); n != 1 {
		t.Fatalf("ttl hint over a NoCache rule: %d database reads; want 1", n)
	}
	read(WithStrategy(bg, NoCache), hinted)
	if n := d.QueryCount(hinted); n != 2 {
		t.Fatalf("WithStrategy(NoCache) over a hint: %d database reads; want 2", n)
	}
	// The zero Strategy chooses nothing: the hint rules again, even below a
	// context that chose NoCache (it used to mean "never cache").
	read(WithStrategy(WithStrategy(bg, NoCache), Strategy{}), hinted)
	if n := d.QueryCount(hinted); n != 2 {
		t.Fatalf("WithStrategy(Strategy{}) over a hint: %d database reads; want 2 (a hit)", n)
	}
	read(WithStrategy(bg, Strategy{}), prices)
	if n := d.QueryCount(prices); n != 4 {
		t.Fatalf("WithStrategy(Strategy{}) over a NoCache rule: %d database reads; want 4", n)
	}
	// Tables without a rule use the default.
	read(bg, "SELECT name FROM users")
	read(bg, "SELECT name FROM users")
	if n := d.QueryCount("SELECT name FROM users"); n != 1 {
		t.Fatalf("default strategy: %d database reads; want 1", n)
	}
}

func TestSessionStatementMakesConnectionUncacheable(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.Canned("SET search_path = other")
	db := openCached(t, name, "")
	db.SetMaxOpenConns(2)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET search_path = other"); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT name FROM users WHERE id = ?"
	for range 2 {
		var s string
		if err := conn.QueryRowContext(ctx, q, 1).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("reads on a connection with session state: %d database reads; want 2", n)
	}
	if got := stats(t, db).Bypass[BypassSession]; got != 2 {
		t.Fatalf("session bypasses = %d", got)
	}
	// Other connections still cache, and never see the session's results.
	queryName(t, db, 1)
	queryName(t, db, 1)
	if n := d.QueryCount(q); n != 3 {
		t.Fatalf("other connection: %d database reads in all; want 3", n)
	}
}

func TestOverflowIsStreamedWholeAndNotCached(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces, ReuseBuffers: true})
	var rows [][]driver.Value
	for i := range 50 {
		rows = append(rows, []driver.Value{int64(i), []byte{byte(i), byte(i)}})
	}
	d.CreateTable("big", fakedb.Cols("id", "b"), rows...)
	db := openCached(t, name, "max_rows=10")
	const q = "SELECT * FROM big"
	for range 2 {
		r, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for r.Next() {
			var id int64
			var b []byte
			if err := r.Scan(&id, &b); err != nil {
				t.Fatal(err)
			}
			if id != int64(n) || len(b) != 2 || b[0] != byte(n) || b[1] != byte(n) {
				t.Fatalf("row %d = %d %v: wrong or aliased", n, id, b)
			}
			n++
		}
		if err := r.Err(); err != nil || n != 50 {
			t.Fatalf("got %d rows, %v; want all 50", n, err)
		}
		r.Close()
	}
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("an over-cap result was cached: %d database reads; want 2", n)
	}
	if s := stats(t, db); s.Uncacheable != 2 || d.OpenRows() != 0 {
		t.Fatalf("uncacheable=%d open inner rows=%d", s.Uncacheable, d.OpenRows())
	}
}

func TestReusedDriverBuffersAreCopied(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces, ReuseBuffers: true})
	d.CreateTable("blobs", fakedb.Cols("id", "b"),
		[]driver.Value{int64(1), []byte("first")}, []driver.Value{int64(2), []byte("secnd")})
	db := openCached(t, name, "")
	for range 2 { // a miss, then a hit
		r, err := db.Query("SELECT * FROM blobs")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for r.Next() {
			var id int64
			var b sql.RawBytes
			r.Scan(&id, &b)
			got = append(got, string(b))
		}
		r.Close()
		if len(got) != 2 || got[0] != "first" || got[1] != "secnd" {
			t.Fatalf("got %q: the driver's reused buffer leaked into the cache", got)
		}
	}
}

func TestUnsupportedValueTypePassesThrough(t *testing.T) {
	type money struct{ cents int64 }
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.Canned("SELECT price FROM odd", fakedb.ResultSet{Columns: fakedb.Cols("price"), Rows: [][]driver.Value{{money{250}}}})
	db := openCached(t, name, "")
	for range 2 {
		var v any
		if err := db.QueryRow("SELECT price FROM odd").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(money); !ok || m.cents != 250 {
			t.Fatalf("value was mangled: %T %v", v, v)
		}
	}
	if n := d.QueryCount("SELECT price FROM odd"); n != 2 {
		t.Fatalf("a value the codec does not know was cached (%d reads)", n)
	}
}

func TestSetConfigMakesConnectionUncacheable(t *testing.T) {
	d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
	d.Canned("SELECT set_config('search_path', 'tenant_7', false)", fakedb.ResultSet{Columns: fakedb.Cols("set_config"), Rows: [][]driver.Value{{"tenant_7"}}})
	db2, err := sql.Open("cachedsql", "driver="+name+" dsn=x dialect_probe=1")
	if err == nil {
		db2.Close()
		t.Fatal("unknown DSN key accepted")
	}
	cdb, err := sql.Open("cachedsql", "driver="+name+" dsn='postgres-like'")
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	ctx := context.Background()
	conn, err := cdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v string
	if err := conn.QueryRowContext(ctx, "SELECT set_config('search_path', 'tenant_7', false)").Scan(&v); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT name FROM users WHERE id = ?"
	for range 2 {
		if err := conn.QueryRowContext(ctx, q, 1).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.QueryCount(q); n != 2 {
		t.Fatalf("reads after set_config on the connection were cached: %d database reads; want 2", n)
	}
}
