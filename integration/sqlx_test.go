package integration_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
)

type xItem struct {
	ID    int64          `db:"id"`
	Name  string         `db:"name"`
	Price int64          `db:"price"`
	Note  sql.NullString `db:"note"`
}

func TestSqlx(t *testing.T) {
	registerCached()
	// sqlx picks its bind variables by driver name; it knows "pgx" but not the
	// names cachedsql.Register was given.
	sqlx.BindDriver(cachedPgx, sqlx.DOLLAR)
	sqlx.BindDriver(cachedMySQL, sqlx.QUESTION)
	sqlx.BindDriver(cachedSQLite, sqlx.QUESTION)
	sqliteDSN := func(t testing.TB) string {
		return "file:" + filepath.Join(t.TempDir(), "sqlx.db") + "?_busy_timeout=5000&_journal_mode=WAL"
	}
	targets := []struct {
		name    string
		require func(testing.TB)
		inner   string // inner driver name
		wrapped string // the name registered with cachedsql.Register
		dsn     func(testing.TB) string
		serial  string
	}{
		{"SQLite", func(testing.TB) {}, "sqlite3", cachedSQLite, sqliteDSN, "INTEGER PRIMARY KEY"},
		{"PostgreSQL", requirePG, "pgx", cachedPgx, func(testing.TB) string { return pgURL() }, "bigserial PRIMARY KEY"},
		{"MariaDB", requireMySQL, "mysql", cachedMySQL, func(testing.TB) string { return mysqlDSN() }, "bigint AUTO_INCREMENT PRIMARY KEY"},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			ways := []struct {
				name string
				open func(t *testing.T) *sqlx.DB
			}{
				{"sqlx.Open registered name", func(t *testing.T) *sqlx.DB {
					db, err := sqlx.Open(tg.wrapped, tg.dsn(t))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}},
				{"sqlx.NewDb existing *sql.DB", func(t *testing.T) *sqlx.DB {
					return sqlx.NewDb(openCached(t, tg.inner, tg.dsn(t)), tg.inner)
				}},
			}
			for i, w := range ways {
				t.Run(w.name, func(t *testing.T) {
					db := w.open(t)
					table := fmt.Sprintf("%s_x%d_items", runID, i)
					db.MustExec(fmt.Sprintf("CREATE TABLE %s (id %s, name varchar(50) NOT NULL, price bigint NOT NULL, note varchar(50))", table, tg.serial))
					t.Cleanup(func() { db.Exec("DROP TABLE " + table) })
					sqlxSuite(t, db, table)
				})
			}
		})
	}
}

func sqlxSuite(t *testing.T, db *sqlx.DB, table string) {
	for _, it := range []xItem{{Name: "apple", Price: 3}, {Name: "pear", Price: 4}, {Name: "plum", Price: 5}} {
		if _, err := db.NamedExec("INSERT INTO "+table+" (name, price, note) VALUES (:name, :price, :note)", it); err != nil {
			t.Fatalf("NamedExec: %v", err)
		}
	}
	var one xItem
	get := func() error {
		one = xItem{}
		return db.Get(&one, db.Rebind("SELECT * FROM "+table+" WHERE name = ?"), "pear")
	}
	cachedRead(t, db.DB, "Get", get)
	if one.Price != 4 {
		t.Errorf("Get: %+v", one)
	}
	var all []xItem
	sel := func() error { all = nil; return db.Select(&all, "SELECT * FROM "+table+" ORDER BY id") }
	cachedRead(t, db.DB, "Select", sel)
	if len(all) != 3 {
		t.Fatalf("Select: %d rows", len(all))
	}

	// sqlx.In expands a slice into placeholders.
	var some []xItem
	in := func() error {
		q, args, err := sqlx.In("SELECT * FROM "+table+" WHERE name IN (?) ORDER BY id", []string{"apple", "plum"})
		if err != nil {
			return err
		}
		some = nil
		return db.Select(&some, db.Rebind(q), args...)
	}
	cachedRead(t, db.DB, "In", in)
	if len(some) != 2 {
		t.Errorf("In: %d rows", len(some))
	}

	// Prepared statements are cached like plain queries.
	st, err := db.Preparex(db.Rebind("SELECT * FROM " + table + " WHERE id = ?"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var byID xItem
	prepared := func() error { byID = xItem{}; return st.Get(&byID, all[0].ID) }
	cachedRead(t, db.DB, "Preparex Get", prepared)

	// Named queries.
	var named []xItem
	namedQuery := func() error {
		rows, err := db.NamedQuery("SELECT * FROM "+table+" WHERE price >= :min ORDER BY id", map[string]any{"min": 4})
		if err != nil {
			return err
		}
		defer rows.Close()
		named = nil
		for rows.Next() {
			var it xItem
			if err := rows.StructScan(&it); err != nil {
				return err
			}
			named = append(named, it)
		}
		return rows.Err()
	}
	cachedRead(t, db.DB, "NamedQuery", namedQuery)
	if len(named) != 2 {
		t.Errorf("NamedQuery: %d rows", len(named))
	}

	// Writes: every cached read above sees them.
	db.MustExec(db.Rebind("UPDATE "+table+" SET price = ?, note = ? WHERE name = ?"), 40, "ripe", "pear")
	if get(); one.Price != 40 || one.Note.String != "ripe" {
		t.Errorf("Get after update: %+v (stale)", one)
	}
	if namedQuery(); len(named) != 2 || named[0].Price != 40 {
		t.Errorf("NamedQuery after update: %+v (stale)", named)
	}
	db.MustExec(db.Rebind("UPDATE "+table+" SET price = ? WHERE id = ?"), 1, all[0].ID)
	if prepared(); byID.Price != 1 {
		t.Errorf("Preparex Get after update: %+v (stale)", byID)
	}

	// Transactions: reads inside bypass the cache and see their own writes;
	// commit publishes, rollback leaves the cached value right.
	tx := db.MustBegin()
	tx.MustExec(tx.Rebind("UPDATE "+table+" SET price = ? WHERE name = ?"), 41, "pear")
	var inTx xItem
	if err := tx.Get(&inTx, tx.Rebind("SELECT * FROM "+table+" WHERE name = ?"), "pear"); err != nil || inTx.Price != 41 {
		t.Errorf("Get inside the transaction: %+v %v, want its own write", inTx, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if get(); one.Price != 40 {
		t.Errorf("Get after rollback: price %d, want 40", one.Price)
	}
	tx = db.MustBegin()
	tx.MustExec(tx.Rebind("DELETE FROM "+table+" WHERE name = ?"), "pear")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := get(); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("Get after a committed delete: %v %+v, want sql.ErrNoRows (stale)", err, one)
	}
	if sel(); len(all) != 2 {
		t.Errorf("Select after a committed delete: %d rows, want 2 (stale)", len(all))
	}
}
