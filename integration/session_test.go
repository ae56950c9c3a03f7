package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// Session state (issue 5, item 3). cachedsql's rule: a statement that changes
// session state (SET, RESET, USE, CREATE TEMP TABLE, ...) makes the connection
// uncacheable for the rest of its life, since its results may differ from every
// other session's. These tests hold that rule to real servers: one session's
// cached result never reaches a session where it would differ, and the other
// sessions keep caching.

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scalar(t *testing.T, q queryRower, query string, args ...any) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func conn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sessionCheck reads query on the default sessions (cached) and on a session
// changed by setup, and asserts that each sees what the database says for it.
type sessionCheck struct {
	t        *testing.T
	db       *sql.DB
	query    string
	dflt     string // what a default session reads
	changed  string // what the changed session reads
	setup    []string
	bypassed bool // reads on the changed session must bypass the cache (reason "session")
}

func (c sessionCheck) run() {
	t, db := c.t, c.db
	t.Helper()
	// The default sessions fill and hit.
	h := countHits(t, db)
	if got := scalar(t, db, c.query); got != c.dflt {
		t.Fatalf("default session read %q, want %q", got, c.dflt)
	}
	if got := scalar(t, db, c.query); got != c.dflt {
		t.Fatalf("default session read %q on the second read, want %q", got, c.dflt)
	}
	if hits, _ := h.delta(); hits != 1 {
		t.Fatalf("default sessions: %d L1 hits for a repeated read, want 1", hits)
	}

	s := conn(t, db)
	for _, q := range c.setup {
		if _, err := s.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before := stats(t, db)
	for i := range 2 {
		if got := scalar(t, s, c.query); got != c.changed {
			t.Errorf("changed session (%v) read %d: %q, want %q: another session's cached result reached it", c.setup, i, got, c.changed)
		}
	}
	after := stats(t, db)
	if c.bypassed {
		if after.L1Hits != before.L1Hits || after.Fills != before.Fills {
			t.Errorf("changed session used the cache: hits %d→%d, fills %d→%d", before.L1Hits, after.L1Hits, before.Fills, after.Fills)
		}
		if d := after.Bypass["session"] - before.Bypass["session"]; d != 2 {
			t.Errorf("session bypasses grew by %d, want 2", d)
		}
	}

	// A query text the changed session reads first must not reach the others.
	fresh := c.query + " /* read first by the changed session */"
	if got := scalar(t, s, fresh); got != c.changed {
		t.Errorf("changed session read %q, want %q", got, c.changed)
	}
	if got := scalar(t, db, fresh); got != c.dflt {
		t.Errorf("default session read %q after the changed session, want %q: the changed session's result was cached", got, c.dflt)
	}

	// The other sessions keep caching while the changed session is open and
	// reading. (The setup may have written a same-named temp table, which
	// invalidates the name for everyone: one read refills.)
	if got := scalar(t, db, c.query); got != c.dflt {
		t.Fatalf("default session read %q, want %q", got, c.dflt)
	}
	h = countHits(t, db)
	for range 3 {
		if got := scalar(t, s, c.query); got != c.changed {
			t.Fatalf("changed session read %q, want %q", got, c.changed)
		}
		if got := scalar(t, db, c.query); got != c.dflt {
			t.Fatalf("default session read %q, want %q", got, c.dflt)
		}
	}
	if hits, fills := h.delta(); c.bypassed && (hits != 3 || fills != 0) {
		t.Errorf("default sessions while another is changed: %d hits and %d fills for 3 reads, want 3 and 0", hits, fills)
	}
}

// pooledCheck returns a changed session to the pool of a one-connection
// *sql.DB and reads through the pool: database/sql hands the same connection
// back (with its session state), so the read must say what that connection
// says, not what the cache holds for the default sessions.
func pooledCheck(t *testing.T, driverName, dsn, query, dflt, changed string, setup ...string) {
	t.Helper()
	db := openCached(t, driverName, dsn)
	db.SetMaxOpenConns(1)
	if got := scalar(t, db, query); got != dflt { // fill
		t.Fatalf("default read %q, want %q", got, dflt)
	}
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range setup {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.Close() // back to the pool, session state and all
	before := stats(t, db)
	if got := scalar(t, db, query); got != changed {
		t.Errorf("pooled connection after %v read %q, want %q (what the connection itself says)", setup, got, changed)
	}
	if d := stats(t, db).Bypass["session"] - before.Bypass["session"]; d != 1 {
		t.Errorf("session bypasses grew by %d, want 1: the connection forgot its session state when it went back to the pool", d)
	}
}

var pgDrivers = []string{"pgx", "postgres"}

func TestSessionPostgres(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	s1, s2, tbl := runID+"_s1", runID+"_s2", runID+"_items"
	tsTbl := runID + "_ts"
	for _, q := range []string{
		"CREATE SCHEMA " + s1, "CREATE SCHEMA " + s2,
		fmt.Sprintf("CREATE TABLE public.%s (v text)", tbl),
		fmt.Sprintf("CREATE TABLE %s.%s (v text)", s1, tbl),
		fmt.Sprintf("CREATE TABLE %s.%s (v text)", s2, tbl),
		fmt.Sprintf("INSERT INTO public.%s VALUES ('public')", tbl),
		fmt.Sprintf("INSERT INTO %s.%s VALUES ('s1')", s1, tbl),
		fmt.Sprintf("INSERT INTO %s.%s VALUES ('s2')", s2, tbl),
		fmt.Sprintf("CREATE TABLE %s (ts timestamptz)", tsTbl),
		fmt.Sprintf("INSERT INTO %s VALUES ('2024-07-01 12:00:00-07')", tsTbl),
	} {
		mustExec(t, admin, q)
	}
	t.Cleanup(func() {
		admin.ExecContext(ctx, fmt.Sprintf("DROP SCHEMA %s, %s CASCADE", s1, s2))
		admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS public.%s, %s", tbl, tsTbl))
	})
	items := "SELECT v FROM " + tbl
	tsText := "SELECT ts::text FROM " + tsTbl

	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			cases := []struct {
				name           string
				query          string
				dflt, changed  string
				setup          []string
				bypassedByRule bool
			}{
				{"SET search_path", items, "public", "s1", []string{"SET search_path TO " + s1}, true},
				{"SET search_path other schema", items + " -- 2", "public", "s2", []string{"SET search_path TO " + s2 + ", public"}, true},
				{"SET SESSION search_path", items + " -- 3", "public", "s1", []string{"SET SESSION search_path = " + s1}, true},
				{"SET TIME ZONE", tsText, "2024-07-01 19:00:00+00", "2024-07-02 00:30:00+05:30", []string{"SET TIME ZONE 'Asia/Kolkata'"}, true},
				{"SET timezone =", tsText + " -- 2", "2024-07-01 19:00:00+00", "2024-07-01 15:00:00-04", []string{"SET timezone = 'America/New_York'"}, true},
				{"CREATE TEMP TABLE shadows", items + " -- 4", "public", "temp",
					[]string{fmt.Sprintf("CREATE TEMP TABLE %s (v text)", tbl), fmt.Sprintf("INSERT INTO %s VALUES ('temp')", tbl)}, true},
				// set_config is a function: the connection's later reads
				// depend on it exactly as after SET.
				{"SELECT set_config(search_path)", items + " -- 5", "public", "s1",
					[]string{fmt.Sprintf("SELECT set_config('search_path', '%s', false)", s1)}, true},
				{"CREATE TABLE pg_temp.x shadows", items + " -- 7", "public", "pg_temp",
					[]string{fmt.Sprintf("CREATE TABLE pg_temp.%s (v text)", tbl), fmt.Sprintf("INSERT INTO pg_temp.%s VALUES ('pg_temp')", tbl)}, true},
				// SELECT INTO TEMP creates a temp table that shadows the other.
				{"SELECT INTO TEMP TABLE shadows", items + " -- 6", "public", "into",
					[]string{fmt.Sprintf("SELECT 'into'::text AS v INTO TEMP TABLE %s", tbl)}, true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					db := openCached(t, drv, pgURL(), "namespace="+runID+"_"+drv+"_"+sanitize(c.name))
					sessionCheck{t: t, db: db, query: c.query, dflt: c.dflt, changed: c.changed, setup: c.setup, bypassed: c.bypassedByRule}.run()
				})
			}
			t.Run("pooled connection keeps its session state", func(t *testing.T) {
				pooledCheck(t, drv, pgURL(), items, "public", "s1", "SET search_path TO "+s1)
			})
			t.Run("session-reading functions are not cached", func(t *testing.T) {
				db := openCached(t, drv, pgURL())
				s := conn(t, db)
				if _, err := s.ExecContext(ctx, "SET search_path TO "+s1); err != nil {
					t.Fatal(err)
				}
				if got := scalar(t, db, "SELECT current_setting('search_path')"); got == s1 {
					t.Errorf("a default session read search_path %q", got)
				}
				if got := scalar(t, s, "SELECT current_setting('search_path')"); got != s1 {
					t.Errorf("the changed session read search_path %q, want %q", got, s1)
				}
			})
		})
	}
}

func TestSessionMySQL(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	other, tbl, tsTbl, names := runID+"_other", runID+"_items", runID+"_ts", runID+"_names"
	for _, q := range []string{
		"CREATE DATABASE " + other,
		fmt.Sprintf("CREATE TABLE %s (v varchar(20))", tbl),
		fmt.Sprintf("CREATE TABLE %s.%s (v varchar(20))", other, tbl),
		fmt.Sprintf("INSERT INTO %s VALUES ('test')", tbl),
		fmt.Sprintf("INSERT INTO %s.%s VALUES ('other')", other, tbl),
		fmt.Sprintf("CREATE TABLE %s (ts timestamp NULL)", tsTbl),
		fmt.Sprintf("CREATE TABLE %s (v varchar(20) CHARACTER SET utf8mb4)", names),
		fmt.Sprintf("INSERT INTO %s VALUES ('héllo')", names),
		// Written in UTC whatever the server's zone.
		fmt.Sprintf("INSERT INTO %s VALUES (FROM_UNIXTIME(1719860400))", tsTbl), // 2024-07-01 19:00:00 UTC
	} {
		mustExec(t, admin, q)
	}
	t.Cleanup(func() {
		admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+other)
		admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s, %s", tbl, tsTbl, names))
	})
	utc := withParams(mysqlDSN(), "time_zone=%27%2B00%3A00%27")
	items := "SELECT v FROM " + tbl
	tsText := "SELECT CAST(ts AS CHAR) FROM " + tsTbl
	cases := []struct {
		name          string
		query         string
		dflt, changed string
		setup         []string
	}{
		{"SET time_zone", tsText, "2024-07-01 19:00:00", "2024-07-02 00:30:00", []string{"SET time_zone = '+05:30'"}},
		{"SET SESSION time_zone", tsText + " -- 2", "2024-07-01 19:00:00", "2024-07-01 12:00:00", []string{"SET SESSION time_zone = '-07:00'"}},
		{"SET @@session.time_zone", tsText + " -- 3", "2024-07-01 19:00:00", "2024-07-02 00:30:00", []string{"SET @@session.time_zone = '+05:30'"}},
		{"SET NAMES latin1", "SELECT v FROM " + names, "héllo", "h\xe9llo", []string{"SET NAMES latin1"}},
		{"USE otherdb", items, "test", "other", []string{"USE " + other}},
		{"CREATE TEMPORARY TABLE shadows", items + " -- 2", "test", "temp",
			[]string{fmt.Sprintf("CREATE TEMPORARY TABLE %s (v varchar(20))", tbl), fmt.Sprintf("INSERT INTO %s VALUES ('temp')", tbl)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openCached(t, "mysql", utc, "namespace="+runID+"_my_"+sanitize(c.name))
			sessionCheck{t: t, db: db, query: c.query, dflt: c.dflt, changed: c.changed, setup: c.setup, bypassed: true}.run()
		})
	}
	t.Run("pooled connection keeps its session state", func(t *testing.T) {
		pooledCheck(t, "mysql", utc, items, "test", "other", "USE "+other)
	})
	t.Run("session-reading functions are not cached", func(t *testing.T) {
		db := openCached(t, "mysql", utc)
		s := conn(t, db)
		if _, err := s.ExecContext(ctx, "SET time_zone = '+05:30'"); err != nil {
			t.Fatal(err)
		}
		if got := scalar(t, db, "SELECT @@session.time_zone"); got != "+00:00" {
			t.Errorf("a default session read time_zone %q", got)
		}
		if got := scalar(t, s, "SELECT @@session.time_zone"); got != "+05:30" {
			t.Errorf("the changed session read time_zone %q, want +05:30", got)
		}
		if got := scalar(t, s, "SELECT DATABASE()"); got != "test" {
			t.Errorf("DATABASE() = %q", got)
		}
	})
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
