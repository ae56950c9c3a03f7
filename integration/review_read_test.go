package integration_test

// Tests from an independent review of the read path against PostgreSQL
// and MariaDB: each failed on the code as reviewed and states the bug it
// showed.

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

func scanAny(t *testing.T, rows *sql.Rows, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var v, w any
		if err := rows.Scan(&v, &w); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%T(%v) %T(%v); ", v, v, w, w)
	}
	return out
}

// The same query text read through the text protocol (db.Query) and the binary
// protocol (db.Prepare + stmt.Query) gives different Go types from
// go-sql-driver/mysql; cachedsql keys them alike.
func TestReadPathMySQLTextVsBinaryShareKey(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_proto"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (u BIGINT UNSIGNED, f FLOAT)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES (5, 1.5), (18446744073709551615, 0.1234567)", tbl))
	q := "SELECT u, f FROM " + tbl

	for _, order := range []string{"text-first", "prepared-first"} {
		t.Run(order, func(t *testing.T) {
			direct := openDirect(t, "mysql", mysqlDSN())
			cached := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+order)
			readText := func(db *sql.DB) string { r, err := db.QueryContext(ctx, q); return scanAny(t, r, err) }
			readPrep := func(db *sql.DB) string {
				st, err := db.PrepareContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				r, err := st.QueryContext(ctx)
				return scanAny(t, r, err)
			}
			wantText, wantPrep := readText(direct), readPrep(direct)
			t.Logf("direct: text %s | prepared %s", wantText, wantPrep)
			var gotText, gotPrep string
			if order == "text-first" {
				gotText, gotPrep = readText(cached), readPrep(cached)
			} else {
				gotPrep, gotText = readPrep(cached), readText(cached)
			}
			if gotText != wantText {
				t.Errorf("text protocol through cachedsql: %s, driver: %s", gotText, wantText)
			}
			if gotPrep != wantPrep {
				t.Errorf("prepared statement through cachedsql: %s, driver: %s", gotPrep, wantPrep)
			}
		})
	}
}

func TestReadPathSessionNotMarked(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	admin := openDirect(t, "pgx", pgURL())
	s1, tbl := runID+"_rs1", runID+"_ritems"
	for _, q := range []string{
		"CREATE SCHEMA " + s1,
		fmt.Sprintf("CREATE TABLE public.%s (v text)", tbl),
		fmt.Sprintf("CREATE TABLE %s.%s (v text)", s1, tbl),
		fmt.Sprintf("INSERT INTO public.%s VALUES ('public')", tbl),
		fmt.Sprintf("INSERT INTO %s.%s VALUES ('s1')", s1, tbl),
		fmt.Sprintf("CREATE FUNCTION public.%s_setpath(p text) RETURNS text LANGUAGE sql AS $$ SELECT set_config('search_path', p, false) $$", runID),
	} {
		mustExec(t, admin, q)
	}
	t.Cleanup(func() {
		admin.ExecContext(ctx, fmt.Sprintf("DROP SCHEMA %s CASCADE", s1))
		admin.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS public.%s", tbl))
		admin.ExecContext(ctx, fmt.Sprintf("DROP FUNCTION IF EXISTS public.%s_setpath(text)", runID))
	})
	items := "SELECT v FROM " + tbl
	for _, setup := range []string{
		fmt.Sprintf("SELECT now() IS NOT NULL, set_config('search_path', '%s', false)", s1),
		fmt.Sprintf("DO $$BEGIN PERFORM set_config('search_path', '%s', false); END$$", s1),
		fmt.Sprintf("SELECT public.%s_setpath('%s')", runID, s1),
	} {
		t.Run(setup[:12], func(t *testing.T) {
			db := openCached(t, "pgx", pgURL(), "namespace="+runID+sanitize(setup[:12]))
			s := conn(t, db)
			if _, err := s.ExecContext(ctx, setup); err != nil {
				t.Fatal(err)
			}
			// The changed session reads first: its result must not be cached for others.
			got1 := scalar(t, s, items)
			got2 := scalar(t, db, items)
			t.Logf("changed session read %q; default session then read %q", got1, got2)
			if got1 != "s1" {
				t.Errorf("changed session read %q, want s1", got1)
			}
			if got2 != "public" {
				t.Errorf("default session read %q, want public: the changed session's result was cached", got2)
			}
		})
	}
}
