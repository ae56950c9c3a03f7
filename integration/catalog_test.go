package integration_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestCatalogAfterDDL: a read of the database's catalog (information_schema,
// pg_catalog, sqlite_master) made before a DDL statement must not be served
// after it. Migration tools (ent/atlas, GORM's AutoMigrate, golang-migrate)
// read the catalog to decide what to create; a stale answer makes a second
// migration in the same process (or, through Redis, in any process) try to
// create a table that exists.
func TestCatalogAfterDDL(t *testing.T) {
	ctx := context.Background()
	table := runID + "_cat"
	targets := []struct {
		name    string
		require func(testing.TB)
		driver  string
		dsn     func(t *testing.T) string
		queries []string // each returns the number of tables named %[1]s
	}{
		{"PostgreSQL", requirePG, "pgx", func(*testing.T) string { return pgURL() }, []string{
			"SELECT count(*) FROM information_schema.tables WHERE table_name = '%[1]s'",
			"SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = '%[1]s'",
			"SELECT count(*) FROM pg_class WHERE relname = '%[1]s'",
		}},
		{"MariaDB", requireMySQL, "mysql", func(*testing.T) string { return mysqlDSN() }, []string{
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = '%[1]s'",
			"SELECT count(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE table_name = '%[1]s' AND column_name = 'id'",
		}},
		{"SQLite", func(testing.TB) {}, "sqlite3", func(t *testing.T) string {
			return "file:" + filepath.Join(t.TempDir(), "cat.db")
		}, []string{
			"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%[1]s'",
			"SELECT count(*) FROM sqlite_schema WHERE name = '%[1]s'",
		}},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			db := openCached(t, tg.driver, tg.dsn(t))
			t.Cleanup(func() { db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table) })
			for _, q := range tg.queries {
				q = fmt.Sprintf(q, table)
				for range 2 {
					if got := scalar(t, db, q); got != "0" {
						t.Fatalf("%s before CREATE TABLE: %s", q, got)
					}
				}
			}
			mustExec(t, db, fmt.Sprintf("CREATE TABLE %s (id integer)", table))
			for _, q := range tg.queries {
				if got := scalar(t, db, fmt.Sprintf(q, table)); got != "1" {
					t.Errorf("%s after CREATE TABLE through the same *sql.DB: %s, want 1 (a cached catalog read survived DDL)", fmt.Sprintf(q, table), got)
				}
			}
		})
	}
}
