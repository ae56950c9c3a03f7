package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	entsql "entgo.io/ent/dialect/sql"
	gomysql "github.com/go-sql-driver/mysql"

	"entgo.io/ent/dialect"
	"github.com/cachedsql/cachedsql/integration/ent"
	"github.com/cachedsql/cachedsql/integration/ent/pet"
	_ "github.com/cachedsql/cachedsql/integration/ent/runtime"
	"github.com/cachedsql/cachedsql/integration/ent/user"
)

// mysqlDSNFor returns the MySQL DSN with another database and extra parameters.
func mysqlDSNFor(t testing.TB, dbName string, params map[string]string) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(mysqlDSN())
	if err != nil {
		t.Fatalf("CACHEDSQL_MYSQL_DSN: %v", err)
	}
	cfg.DBName = dbName
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for k, v := range params {
		cfg.Params[k] = v
	}
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

func TestEnt(t *testing.T) {
	ctx := context.Background()
	targets := []struct {
		name    string
		require func(testing.TB)
		dialect string
		inner   string
		// dsn makes a database or schema of the run's own (ent's table names
		// are fixed) and returns a DSN that selects it.
		dsn func(t *testing.T) string
	}{
		{"SQLite", func(testing.TB) {}, dialect.SQLite, "sqlite3", func(t *testing.T) string {
			return "file:" + filepath.Join(t.TempDir(), "ent.db") + "?_busy_timeout=5000&_journal_mode=WAL&_fk=1"
		}},
		{"PostgreSQL", requirePG, dialect.Postgres, "pgx", func(t *testing.T) string {
			admin := openDirect(t, "pgx", pgURL())
			schema := runID + "_ent"
			mustExec(t, admin, "CREATE SCHEMA "+schema)
			t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
			// search_path as a connection parameter, not SET: the
			// connections stay cacheable.
			return withParams(pgURL(), "search_path="+schema)
		}},
		{"MariaDB", requireMySQL, dialect.MySQL, "mysql", func(t *testing.T) string {
			admin := openDirect(t, "mysql", mysqlDSN())
			name := runID + "_ent"
			mustExec(t, admin, "CREATE DATABASE "+name)
			t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
			return mysqlDSNFor(t, name, nil)
		}},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			dsn := tg.dsn(t)
			// Migrate on a plain *sql.DB (see TestEntMigrateThroughCache for why).
			direct := ent.NewClient(ent.Driver(entsql.OpenDB(tg.dialect, openDirect(t, tg.inner, dsn))))
			if err := direct.Schema.Create(ctx); err != nil {
				t.Fatalf("Schema.Create: %v", err)
			}
			db := openCached(t, tg.inner, dsn)
			client := ent.NewClient(ent.Driver(entsql.OpenDB(tg.dialect, db)))
			entSuite(t, ctx, client, db)
		})
	}
	t.Run("migrate through cachedsql", func(t *testing.T) {
		for _, tg := range targets {
			t.Run(tg.name, func(t *testing.T) {
				tg.require(t)
				db := openCached(t, tg.inner, tg.dsn(t))
				client := ent.NewClient(ent.Driver(entsql.OpenDB(tg.dialect, db)))
				if err := client.Schema.Create(ctx); err != nil {
					t.Fatalf("Schema.Create: %v", err)
				}
				// Migrating again must find the tables the first run made:
				// catalog reads after DDL must not be stale (TestCatalogAfterDDL).
				if err := client.Schema.Create(ctx); err != nil {
					t.Errorf("Schema.Create, second run in the same process: %v", err)
				}
				// The migration's session statements (SQLite: PRAGMA
				// foreign_keys = on) must not leave the pool unable to cache.
				if _, err := client.User.Create().SetName("ann").SetAge(1).Save(ctx); err != nil {
					t.Fatal(err)
				}
				cachedRead(t, db, "Query after migrating through cachedsql", func() error {
					_, err := client.User.Query().Where(user.Name("ann")).Only(ctx)
					return err
				})
			})
		}
	})
}

func entSuite(t *testing.T, ctx context.Context, client *ent.Client, sqlDB *sql.DB) {
	pets, err := client.Pet.CreateBulk(client.Pet.Create().SetName("rex"), client.Pet.Create().SetName("tom")).Save(ctx)
	if err != nil {
		t.Fatalf("CreateBulk: %v", err)
	}
	ann, err := client.User.Create().SetName("ann").SetAge(30).AddPets(pets...).Save(ctx)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	// The hook refuses a negative age.
	if _, err := client.User.Create().SetName("bad").SetAge(-1).Save(ctx); err == nil {
		t.Errorf("the hook did not refuse a negative age")
	}

	var u *ent.User
	only := func() (err error) { u, err = client.User.Query().Where(user.Name("ann")).Only(ctx); return err }
	cachedRead(t, sqlDB, "Only", only)
	if u.Age != 30 {
		t.Errorf("Only: %+v", u)
	}
	var withPets *ent.User
	eager := func() (err error) {
		withPets, err = client.User.Query().Where(user.ID(ann.ID)).WithPets(func(q *ent.PetQuery) { q.Order(ent.Asc(pet.FieldName)) }).Only(ctx)
		return err
	}
	cachedRead(t, sqlDB, "WithPets", eager)
	if len(withPets.Edges.Pets) != 2 {
		t.Errorf("WithPets: %d pets", len(withPets.Edges.Pets))
	}
	var owner *ent.User
	traverse := func() (err error) {
		owner, err = client.Pet.Query().Where(pet.Name("rex")).QueryOwner().Only(ctx)
		return err
	}
	cachedRead(t, sqlDB, "QueryOwner", traverse)
	if owner.ID != ann.ID {
		t.Errorf("QueryOwner: %v", owner)
	}
	var count int
	countPets := func() (err error) { count, err = client.Pet.Query().Where(pet.HasOwner()).Count(ctx); return err }
	cachedRead(t, sqlDB, "Count", countPets)

	// Writes through ent: nothing read above is stale.
	if err := client.User.UpdateOneID(ann.ID).SetAge(31).Exec(ctx); err != nil {
		t.Fatalf("UpdateOneID: %v", err)
	}
	if only(); u.Age != 31 {
		t.Errorf("Only after update: age %d, want 31 (stale)", u.Age)
	}
	if _, err := client.Pet.Create().SetName("kit").SetOwner(ann).Save(ctx); err != nil {
		t.Fatal(err)
	}
	if eager(); len(withPets.Edges.Pets) != 3 {
		t.Errorf("WithPets after adding a pet: %d, want 3 (stale)", len(withPets.Edges.Pets))
	}
	if countPets(); count != 3 {
		t.Errorf("Count after adding a pet: %d, want 3 (stale)", count)
	}

	// Transactions.
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.User.UpdateOneID(ann.ID).SetAge(99).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if in, err := tx.User.Get(ctx, ann.ID); err != nil || in.Age != 99 {
		t.Errorf("read inside the transaction: %v %v, want its own write", in, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if only(); u.Age != 31 {
		t.Errorf("after rollback: age %d, want 31", u.Age)
	}
	tx, err = client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Pet.Delete().Where(pet.Name("tom")).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if countPets(); count != 2 {
		t.Errorf("Count after a committed delete: %d, want 2 (stale)", count)
	}
	if traverse(); owner == nil || owner.ID != ann.ID {
		t.Errorf("QueryOwner after delete: %v", owner)
	}

	// Delete.
	if _, err := client.Pet.Delete().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.User.DeleteOneID(ann.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := only(); !ent.IsNotFound(err) {
		t.Errorf("Only after delete: %v, want not found (stale)", err)
	}
	if err := eager(); !ent.IsNotFound(err) {
		t.Errorf("WithPets after delete: %v, want not found (stale)", err)
	}
	var nf *ent.NotFoundError
	if err := traverse(); !errors.As(err, &nf) {
		t.Errorf("QueryOwner after delete: %v, want not found (stale)", err)
	}
}
