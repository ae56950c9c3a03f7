package cachedsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// Stale reads through API corners review 8 found: legacy driver.Stmt methods
// reached through sql.Conn.Raw, strategies of different lives sharing
// entries, and quoted names holding a dot.

// TestRawLegacyStmtInvalidates: inside sql.Conn.Raw a program holds
// cachedsql's driver connection, and driver.Stmt's own Exec and Query are the
// natural driver-agnostic calls there. A write through either must
// invalidate what it wrote, as the Context forms do.
func TestRawLegacyStmtInvalidates(t *testing.T) {
	for _, tc := range []struct {
		name, write string
		call        func(driver.Stmt) error
	}{
		{"Exec", `UPDATE kv SET v = 2 WHERE id = 1`, func(st driver.Stmt) error {
			_, err := st.Exec(nil) //nolint:staticcheck // the legacy method is the point
			return err
		}},
		{"Query RETURNING", `UPDATE kv SET v = 2 WHERE id = 1 RETURNING v`, func(st driver.Stmt) error {
			rows, err := st.Query(nil) //nolint:staticcheck
			if err != nil {
				return err
			}
			dest := make([]driver.Value, 1)
			for rows.Next(dest) != io.EOF {
			}
			return rows.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			env := newSQLiteEnv(t, Config{}, `CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`)
			const q = `SELECT v FROM kv WHERE id = 1`
			readInt(t, env.c, env.db, q)
			if _, hit := readInt(t, env.c, env.db, q); !hit {
				t.Fatal("the read is not cached: the test would prove nothing")
			}
			conn, err := env.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = conn.Raw(func(dc any) error {
				st, err := dc.(driver.Conn).Prepare(tc.write)
				if err != nil {
					return err
				}
				defer st.Close()
				return tc.call(st)
			})
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rawInt(t, env.raw, q), int64(2); got != want {
				t.Fatalf("the write did not reach the database: %d", got)
			}
			if got, _ := readInt(t, env.c, env.db, q); got != 2 {
				t.Errorf("after a write through Raw's driver.Stmt.%s: cached read %d, database 2", tc.name, got)
			}
		})
	}
}

// TestRawLegacyStmtQueryCaches: a read through driver.Stmt.Query inside Raw
// is cached like any other, and answers what the database holds.
func TestRawLegacyStmtQueryCaches(t *testing.T) {
	env := newSQLiteEnv(t, Config{}, `CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 7)`)
	read := func() driver.Value {
		conn := env.heldConn(t)
		var got driver.Value
		err := conn.Raw(func(dc any) error {
			st, err := dc.(driver.Conn).Prepare(`SELECT v FROM kv WHERE id = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Query([]driver.Value{int64(1)}) //nolint:staticcheck
			if err != nil {
				return err
			}
			defer rows.Close()
			dest := make([]driver.Value, 1)
			if err := rows.Next(dest); err != nil {
				return err
			}
			got = dest[0]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	read()
	hits := env.c.Stats().L1Hits
	if got := read(); got != int64(7) {
		t.Fatalf("read %v (%T), want 7", got, got)
	}
	if env.c.Stats().L1Hits == hits {
		t.Error("the second read through driver.Stmt.Query was not a hit")
	}
}

// TestStrategyLivesKeepApart: a read under a shorter life (WithStrategy, a
// table rule) must not be served an entry stored under a longer one, or a
// write that bypassed cachedsql stays visible for the longer life.
func TestStrategyLivesKeepApart(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{TTL: LongTerm}, `CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`)
	const q = `SELECT v FROM kv WHERE id = 1`
	readInt(t, env.c, env.db, q) // stored for LongTerm
	mustExec(t, env.raw, `UPDATE kv SET v = 2 WHERE id = 1`)
	for _, s := range []Strategy{RealTime, Custom(time.Minute)} {
		short := WithStrategy(ctx, s)
		read := func() (v int64, hit bool) {
			before := env.c.Stats().L1Hits
			if err := env.db.QueryRowContext(short, q).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v, env.c.Stats().L1Hits > before
		}
		if got, hit := read(); hit || got != 2 {
			t.Errorf("under %v: read %d (hit %v) after an outside write; the database has 2, and the only entry was stored for %v", s, got, hit, LongTerm)
		}
		if got, hit := read(); !hit || got != 2 {
			t.Errorf("under %v, again: read %d (hit %v), want a hit of its own entry", s, got, hit)
		}
	}
	if got, hit := readInt(t, env.c, env.db, q); !hit || got != 1 {
		t.Errorf("under the default: read %d (hit %v); its own entry (1) is still within its life", got, hit)
	}
}

// TestDottedNamesAreOneName: a quoted table name holding a dot is one name
// to the scanner, and must be to Invalidate, Config.Tables and
// Config.Dependencies too.
func TestDottedNamesAreOneName(t *testing.T) {
	ctx := context.Background()
	schema := []string{`CREATE TABLE "my.table" (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO "my.table" VALUES (1, 1)`,
		`CREATE TABLE other (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO other VALUES (1, 1)`}
	const q = `SELECT v FROM "my.table" WHERE id = 1`
	t.Run("Invalidate", func(t *testing.T) {
		for _, name := range []string{`"my.table"`, `main."my.table"`} {
			env := newSQLiteEnv(t, Config{}, schema...)
			readInt(t, env.c, env.db, q)
			mustExec(t, env.raw, `UPDATE "my.table" SET v = v + 1`)
			if err := Invalidate(ctx, env.db, name); err != nil {
				t.Fatal(err)
			}
			if got, want := readInt2(t, env, q); got != want {
				t.Errorf("after Invalidate(%s): cached read %d, database %d", name, got, want)
			}
		}
	})
	t.Run("Tables", func(t *testing.T) {
		env := newSQLiteEnv(t, Config{Tables: map[string]Strategy{`"my.table"`: NoCache}}, schema...)
		readInt(t, env.c, env.db, q)
		if _, hit := readInt(t, env.c, env.db, q); hit {
			t.Errorf(`Tables["my.table"] = NoCache, yet the read was a hit`)
		}
	})
	t.Run("Dependencies", func(t *testing.T) {
		// A write to other must invalidate reads of "my.table".
		env := newSQLiteEnv(t, Config{Dependencies: map[string][]string{"other": {`"my.table"`}}}, schema...)
		readInt(t, env.c, env.db, q)
		mustExec(t, env.raw, `UPDATE "my.table" SET v = v + 1`)
		mustExec(t, env.db, `UPDATE other SET v = v + 1`)
		if got, want := readInt2(t, env, q); got != want {
			t.Errorf("after a write to a table it depends on: cached read %d, database %d", got, want)
		}
	})
}

// readInt2 reads query through cachedsql and returns it with what the
// database holds.
func readInt2(t *testing.T, env *sqliteEnv, query string) (cached, direct int64) {
	t.Helper()
	cached, _ = readInt(t, env.c, env.db, query)
	return cached, rawInt(t, env.raw, query)
}

// TestDottedSavepointNames: SQLite commits when the outermost savepoint
// (one opened outside BEGIN) is released. Savepoint names are compared
// whole: "a.b" and "x.b" are two names, and releasing "a.b" releases the
// outermost one.
func TestDottedSavepointNames(t *testing.T) {
	for _, names := range [][2]string{{`"a"`, `"x"`}, {`"a.b"`, `"x.b"`}, {`a`, `"A"`}} {
		t.Run(names[0]+"/"+names[1], func(t *testing.T) {
			env := newSQLiteEnv(t, Config{}, `CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`)
			const q = `SELECT v FROM kv WHERE id = 1`
			readInt(t, env.c, env.db, q)
			conn := env.heldConn(t) // held: the read below runs on another connection
			for _, s := range []string{
				`SAVEPOINT ` + names[0],
				`UPDATE kv SET v = 2 WHERE id = 1`,
				`SAVEPOINT ` + names[1],
				`RELEASE ` + names[0], // the outermost: commits
			} {
				mustExec(t, conn, s)
			}
			if got, want := readInt2(t, env, q); got != want {
				t.Errorf("after RELEASE %s: cached read %d, database %d", names[0], got, want)
			}
		})
	}
}

// TestPlainNamesWithPunctuation: a name the text has to quote (line-items,
// audit log), given bare to Invalidate, Config.Tables or
// Config.Dependencies, is that one table (review 10: reading it as the
// scanner reads "FROM line-items" filed it as line).
func TestPlainNamesWithPunctuation(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"line-items", "audit log", "public.line-items"} {
		quoted := `"line-items"`
		if name == "audit log" {
			quoted = `"audit log"`
		}
		schema := []string{`CREATE TABLE ` + quoted + ` (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO ` + quoted + ` VALUES (1, 1)`,
			`CREATE TABLE other (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO other VALUES (1, 1)`}
		q := `SELECT v FROM ` + quoted + ` WHERE id = 1`
		t.Run(name+"/Invalidate", func(t *testing.T) {
			env := newSQLiteEnv(t, Config{}, schema...)
			readInt(t, env.c, env.db, q)
			if _, hit := readInt(t, env.c, env.db, q); !hit {
				t.Fatal("not cached: the test would prove nothing")
			}
			mustExec(t, env.raw, `UPDATE `+quoted+` SET v = v + 1`)
			if err := Invalidate(ctx, env.db, name); err != nil {
				t.Fatal(err)
			}
			if got, want := readInt2(t, env, q); got != want {
				t.Errorf("after Invalidate(%q): cached read %d, database %d", name, got, want)
			}
		})
		t.Run(name+"/Tables", func(t *testing.T) {
			env := newSQLiteEnv(t, Config{Tables: map[string]Strategy{name: NoCache}}, schema...)
			readInt(t, env.c, env.db, q)
			if _, hit := readInt(t, env.c, env.db, q); hit {
				t.Errorf("Tables[%q] = NoCache, yet the read was a hit", name)
			}
		})
		t.Run(name+"/Dependencies", func(t *testing.T) {
			env := newSQLiteEnv(t, Config{Dependencies: map[string][]string{"other": {name}}}, schema...)
			readInt(t, env.c, env.db, q)
			mustExec(t, env.raw, `UPDATE `+quoted+` SET v = v + 1`)
			mustExec(t, env.db, `UPDATE other SET v = v + 1`)
			if got, want := readInt2(t, env, q); got != want {
				t.Errorf("after a write to a table it depends on: cached read %d, database %d", got, want)
			}
		})
	}
}

// wrappedSQLite stands for an instrumentation wrapper (otelsql, sqlmw) around
// the SQLite driver: registered in a package whose path does not say sqlite,
// it is read as the Generic dialect, which keeps the case of quoted names.
// With hide, its connections hide the driver's own methods (AutoCommit)
// behind the interfaces database/sql uses, as such wrappers' do.
type wrappedSQLite struct {
	driver.Driver
	hide bool
}

type hiddenConn struct {
	driver.Conn
	driver.ExecerContext
	driver.QueryerContext
}

func (w wrappedSQLite) Open(name string) (driver.Conn, error) {
	cn, err := w.Driver.Open(name)
	if err != nil || !w.hide {
		return cn, err
	}
	return hiddenConn{cn, cn.(driver.ExecerContext), cn.(driver.QueryerContext)}, nil
}

// TestSavepointReleaseCommits: SQLite commits when the outermost savepoint
// opened outside BEGIN is released, and compares names folding ASCII case
// only: RELEASE a releases SAVEPOINT "A", and "É" and "é" are two names. The
// commit must be seen (review 10), by the driver's AutoCommit where it can
// be asked, and otherwise by folded names, flushing twice where two
// savepoints answer to the name.
func TestSavepointReleaseCommits(t *testing.T) {
	probe, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	inner := probe.Driver()
	probe.Close()
	for _, tc := range []struct {
		name        string
		drv         driver.Driver // nil: sqlite3 by name, the SQLite dialect
		first, last string
	}{
		{"case/Generic/AutoCommit", wrappedSQLite{inner, false}, `"A"`, `a`},
		{"case/Generic/names", wrappedSQLite{inner, true}, `"A"`, `a`},
		{"non-ASCII/SQLite", nil, `"É"`, `"é"`},
		{"non-ASCII/Generic/AutoCommit", wrappedSQLite{inner, false}, `"É"`, `"é"`},
		{"non-ASCII/Generic/names", wrappedSQLite{inner, true}, `"É"`, `"é"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newSQLiteEnv(t, Config{Driver: tc.drv}, `CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`)
			if want := sqlscan.Generic; tc.drv != nil && env.c.dialect != want {
				t.Fatalf("dialect %v, the test needs %v", env.c.dialect, want)
			}
			const q = `SELECT v FROM kv WHERE id = 1`
			conn := env.heldConn(t)                  // held: the reads run on another connection
			mustExec(t, conn, `SAVEPOINT `+tc.first) // opens a transaction
			mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
			if tc.last != `a` {
				mustExec(t, conn, `SAVEPOINT `+tc.last)
			}
			if got, _ := readInt(t, env.c, env.db, q); got != 1 { // cached before the commit
				t.Fatalf("read %d before the commit", got)
			}
			release := `RELEASE ` + tc.last
			if tc.last != `a` {
				release = `RELEASE ` + tc.first
			}
			mustExec(t, conn, release)
			if got := rawInt(t, env.raw, q); got != 2 {
				t.Fatalf("%s did not commit: database %d", release, got)
			}
			if got, want := readInt2(t, env, q); got != want {
				t.Errorf("after %s committed: cached read %d, database %d", release, got, want)
			}
		})
	}
}

// TestTxStatementsThroughQuery: mattn/go-sqlite3 runs a statement sent
// through Query as its rows are read, and not at all if they close unread.
// A RELEASE that commits, sent through QueryRow, must invalidate what the
// transaction wrote and end its state; a SAVEPOINT closed unread opened
// nothing, and the connection's autocommitted writes must invalidate at once
// (review 11).
func TestTxStatementsThroughQuery(t *testing.T) {
	ctx := context.Background()
	const q = `SELECT v FROM kv WHERE id = 1`
	schema := []string{`CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO kv VALUES (1, 1)`}
	t.Run("RELEASE", func(t *testing.T) {
		env := newSQLiteEnv(t, Config{}, schema...)
		conn := env.heldConn(t)
		mustExec(t, conn, `SAVEPOINT a`)
		mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
		if got, _ := readInt(t, env.c, env.db, q); got != 1 {
			t.Fatalf("read %d before the commit", got)
		}
		var x int
		if err := conn.QueryRowContext(ctx, `RELEASE a`).Scan(&x); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("RELEASE through QueryRow: %v", err)
		}
		if got := rawInt(t, env.raw, q); got != 2 {
			t.Fatalf("RELEASE did not commit: database %d", got)
		}
		if got, want := readInt2(t, env, q); got != want {
			t.Errorf("after RELEASE (through QueryRow) committed: cached read %d, database %d", got, want)
		}
		mustExec(t, conn, `UPDATE kv SET v = 3 WHERE id = 1`)
		if got, want := readInt2(t, env, q); got != want {
			t.Errorf("after an autocommit write on the connection: cached read %d, database %d", got, want)
		}
	})
	t.Run("SAVEPOINT unread", func(t *testing.T) {
		env := newSQLiteEnv(t, Config{}, schema...)
		conn := env.heldConn(t)
		rows, err := conn.QueryContext(ctx, `SAVEPOINT a`)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		readInt(t, env.c, env.db, q)
		mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
		if got, want := readInt2(t, env, q); got != want {
			t.Errorf("after an autocommitted write: cached read %d, database %d", got, want)
		}
	})
	t.Run("COMMIT", func(t *testing.T) {
		env := newSQLiteEnv(t, Config{}, schema...)
		conn := env.heldConn(t)
		mustExec(t, conn, `BEGIN`)
		mustExec(t, conn, `UPDATE kv SET v = 2 WHERE id = 1`)
		rows, err := conn.QueryContext(ctx, `COMMIT`)
		if err != nil {
			t.Fatal(err)
		}
		// Filled from the old row after COMMIT was sent, before it ran.
		if got, _ := readInt(t, env.c, env.db, q); got != 1 {
			t.Fatalf("read %d before the commit ran", got)
		}
		rows.Next()
		rows.Close()
		if got, want := readInt2(t, env, q); got != want {
			t.Errorf("after COMMIT through Query: cached read %d, database %d", got, want)
		}
	})
}

// TestBareNameWithBracket: a bare name holding a bracket is one table
// (review 11: x[1] was read as table x with an alias).
func TestBareNameWithBracket(t *testing.T) {
	ctx := context.Background()
	env := newSQLiteEnv(t, Config{}, `CREATE TABLE "x[1]" (id INTEGER PRIMARY KEY, v INTEGER)`, `INSERT INTO "x[1]" VALUES (1, 1)`)
	const q = `SELECT v FROM "x[1]" WHERE id = 1`
	readInt(t, env.c, env.db, q)
	if _, hit := readInt(t, env.c, env.db, q); !hit {
		t.Fatal("not cached: the test would prove nothing")
	}
	mustExec(t, env.raw, `UPDATE "x[1]" SET v = v + 1`)
	if err := Invalidate(ctx, env.db, "x[1]"); err != nil {
		t.Fatal(err)
	}
	if got, want := readInt2(t, env, q); got != want {
		t.Errorf(`after Invalidate("x[1]"): cached read %d, database %d (filed as %q)`, got, want, normTable(env.c.dialect, "x[1]"))
	}
}

// TestNormTable: names as Invalidate, Config.Tables and Config.Dependencies
// file them, against the name the scanner gives a read of the same table.
func TestNormTable(t *testing.T) {
	for _, tc := range []struct{ name, from string }{
		{`users`, `users`},
		{`Public.Users`, `public.users`},
		{`"my.table"`, `"my.table"`},
		{`main."my.table"`, `main."my.table"`},
		{"`a.b`", "`a.b`"},
		{`[x.y]`, `[x.y]`},
		{`"a""b"`, `"a""b"`},
		{`line-items`, `"line-items"`},
		{`public.line-items`, `public."line-items"`},
		{`audit log`, `"audit log"`},
		{`x[1]`, `"x[1]"`},
		{`a.[b.c]`, `a.[b.c]`},
	} {
		want := sqlscan.Scan(sqlscan.SQLite, "SELECT 1 FROM "+tc.from).Reads
		if got := normTable(sqlscan.SQLite, tc.name); len(want) != 1 || got != want[0] {
			t.Errorf("normTable(%s) = %q; the scanner files FROM %s as %q", tc.name, got, tc.from, want)
		}
	}
}

// TestTableName: the exported filing, which the command line's invalidate
// uses, is the one Invalidate uses, with the dialect of the driver name.
func TestTableName(t *testing.T) {
	long := strings.Repeat("x", 70)
	for _, tc := range []struct{ driver, name, want string }{
		{"pgx", `public."Orders"`, "orders"},
		{"", "Shop.Items", "items"},
		{"sqlite3", `"shop.items"`, "shop.items"},
		{"mysql", "`a.b`", "a.b"},
		{"pgx", long, long[:63]}, // PostgreSQL cuts names to 63 bytes
		{"", long, long},
	} {
		if got := TableName(tc.driver, tc.name); got != tc.want {
			t.Errorf("TableName(%q, %q) = %q, want %q", tc.driver, tc.name, got, tc.want)
		}
	}
}
