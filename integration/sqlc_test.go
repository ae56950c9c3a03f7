package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"

	"github.com/cachedsql/cachedsql/integration/sqlcdb"
)

// TestSqlc runs sqlc-shaped query code (package sqlcdb) through cachedsql on
// PostgreSQL, with pgx and lib/pq: a *sql.DB from sql.Open("cachedsql", ...)
// is a DBTX, so sqlcdb.New takes it unchanged.
func TestSqlc(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	schemaSQL, err := os.ReadFile("sqlcdb/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	admin := openDirect(t, "pgx", pgURL())
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			schema := runID + "_sqlc_" + drv
			mustExec(t, admin, "CREATE SCHEMA "+schema)
			t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
			dsn := withParams(pgURL(), "search_path="+schema)
			mustExec(t, openDirect(t, drv, dsn), string(schemaSQL))

			db := openCached(t, drv, dsn)
			q := sqlcdb.New(db)
			ann, err := q.CreateAuthor(ctx, sqlcdb.CreateAuthorParams{Name: "Ann", Bio: sql.NullString{String: "poet", Valid: true}})
			if err != nil {
				t.Fatalf("CreateAuthor: %v", err)
			}
			if _, err := q.CreateAuthor(ctx, sqlcdb.CreateAuthorParams{Name: "Bob"}); err != nil {
				t.Fatal(err)
			}

			var got sqlcdb.Author
			get := func() (err error) { got, err = q.GetAuthor(ctx, ann.ID); return err }
			cachedRead(t, db, "GetAuthor", get)
			if got != ann {
				t.Errorf("GetAuthor: %+v, want %+v", got, ann)
			}
			var list []sqlcdb.Author
			lst := func() (err error) { list, err = q.ListAuthors(ctx); return err }
			cachedRead(t, db, "ListAuthors", lst)
			if len(list) != 2 {
				t.Errorf("ListAuthors: %d", len(list))
			}
			var n int64
			count := func() (err error) { n, err = q.CountAuthors(ctx); return err }
			cachedRead(t, db, "CountAuthors", count)

			if err := q.UpdateAuthorBio(ctx, sqlcdb.UpdateAuthorBioParams{ID: ann.ID, Bio: sql.NullString{String: "novelist", Valid: true}}); err != nil {
				t.Fatal(err)
			}
			if get(); got.Bio.String != "novelist" {
				t.Errorf("GetAuthor after UpdateAuthorBio: %+v (stale)", got)
			}
			if lst(); list[0].Bio.String != "novelist" {
				t.Errorf("ListAuthors after UpdateAuthorBio: %+v (stale)", list)
			}

			// WithTx: a rolled-back insert is never seen; a committed one is.
			for _, commit := range []bool{false, true} {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				qtx := q.WithTx(tx)
				if _, err := qtx.CreateAuthor(ctx, sqlcdb.CreateAuthorParams{Name: "Cy"}); err != nil {
					t.Fatal(err)
				}
				if in, err := qtx.CountAuthors(ctx); err != nil || in != 3 {
					t.Errorf("CountAuthors inside the transaction: %d %v, want 3", in, err)
				}
				if commit {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				want := int64(2)
				if commit {
					want = 3
				}
				if count(); n != want {
					t.Errorf("CountAuthors after commit=%v: %d, want %d", commit, n, want)
				}
			}

			if err := q.DeleteAuthor(ctx, ann.ID); err != nil {
				t.Fatal(err)
			}
			if err := get(); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("GetAuthor after DeleteAuthor: %v %+v, want sql.ErrNoRows (stale)", err, got)
			}
		})
	}
}
