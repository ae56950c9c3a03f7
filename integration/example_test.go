package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jmoiron/sqlx"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/integration/ent"
	"github.com/cachedsql/cachedsql/integration/ent/user"
	"github.com/cachedsql/cachedsql/integration/sqlcdb"
)

// tempDSN returns a SQLite DSN in a fresh directory, and a function removing it.
func tempDSN(name string) (string, func()) {
	dir, err := os.MkdirTemp("", "cachedsql-example-")
	if err != nil {
		log.Fatal(err)
	}
	return "file:" + filepath.Join(dir, name) + "?_fk=1", func() { os.RemoveAll(dir) }
}

// hits returns the L1 hits of db so far.
func hits(db *sql.DB) int64 {
	s, err := cachedsql.StatsOf(db)
	if err != nil {
		log.Fatal(err)
	}
	return s.L1Hits
}

type Product struct {
	ID    uint
	Code  string
	Price int
}

func Example_gorm() {
	dsn, cleanup := tempDSN("gorm.db")
	defer cleanup()

	// An existing *sql.DB opened on cachedsql becomes GORM's connection pool.
	sqlDB, err := sql.Open("cachedsql", cachedsql.FormatDSN(&cachedsql.Config{DriverName: "sqlite3", DSN: dsn}))
	if err != nil {
		log.Fatal(err)
	}
	defer sqlDB.Close()
	db, err := gorm.Open(sqlite.New(sqlite.Config{Conn: sqlDB}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	db.AutoMigrate(&Product{})
	db.Create(&Product{Code: "D42", Price: 100})

	var p1, p2 Product
	db.First(&p1, "code = ?", "D42") // from SQLite; the result is cached
	before := hits(sqlDB)
	db.First(&p2, "code = ?", "D42") // from the cache
	fmt.Println(p2.Code, p2.Price, "cached:", hits(sqlDB) > before)

	db.Model(&p2).Update("price", 200) // invalidates the products table
	var again Product
	db.First(&again, "code = ?", "D42")
	fmt.Println(again.Code, again.Price)
	// Output:
	// D42 100 cached: true
	// D42 200
}

func Example_sqlx() {
	dsn, cleanup := tempDSN("sqlx.db")
	defer cleanup()

	sqlDB, err := sql.Open("cachedsql", cachedsql.FormatDSN(&cachedsql.Config{DriverName: "sqlite3", DSN: dsn}))
	if err != nil {
		log.Fatal(err)
	}
	// sqlx picks bind variables by driver name: give it the inner driver's.
	db := sqlx.NewDb(sqlDB, "sqlite3")
	defer db.Close()
	db.MustExec(`CREATE TABLE place (country text, city text)`)
	db.MustExec(`INSERT INTO place VALUES ('France', 'Paris'), ('Japan', 'Tokyo')`)

	var cities []string
	db.Select(&cities, `SELECT city FROM place ORDER BY city`) // filled
	before := hits(db.DB)
	db.Select(&cities, `SELECT city FROM place ORDER BY city`) // cached
	fmt.Println(cities, "cached:", hits(db.DB) > before)

	db.MustExec(db.Rebind(`INSERT INTO place VALUES (?, ?)`), "Peru", "Lima")
	db.Select(&cities, `SELECT city FROM place ORDER BY city`)
	fmt.Println(cities)
	// Output:
	// [Paris Tokyo] cached: true
	// [Lima Paris Tokyo]
}

func Example_ent() {
	ctx := context.Background()
	dsn, cleanup := tempDSN("ent.db")
	defer cleanup()

	db, err := sql.Open("cachedsql", cachedsql.FormatDSN(&cachedsql.Config{DriverName: "sqlite3", DSN: dsn}))
	if err != nil {
		log.Fatal(err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db)))
	defer client.Close()
	// Catalog reads are never cached, so migrations see the schema as it is.
	if err := client.Schema.Create(ctx); err != nil {
		log.Fatal(err)
	}

	client.User.Create().SetName("ann").SetAge(30).SaveX(ctx)
	client.User.Query().Where(user.Name("ann")).OnlyX(ctx) // filled
	before := hits(db)
	u := client.User.Query().Where(user.Name("ann")).OnlyX(ctx) // cached
	fmt.Println(u.Name, u.Age, "cached:", hits(db) > before)

	client.User.UpdateOne(u).SetAge(31).ExecX(ctx)
	fmt.Println(client.User.Query().Where(user.Name("ann")).OnlyX(ctx).Age)
	// Output:
	// ann 30 cached: true
	// 31
}

// Example_sqlc shows sqlc-generated code (package sqlcdb, engine postgresql)
// on cachedsql: the *sql.DB is the generated code's DBTX. It needs a
// PostgreSQL server, so it is compiled but not run; TestSqlc runs the same code.
func Example_sqlc() {
	ctx := context.Background()
	db, err := sql.Open("cachedsql", `driver=pgx dsn='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'`)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	q := sqlcdb.New(db)

	a, err := q.CreateAuthor(ctx, sqlcdb.CreateAuthorParams{Name: "Ann"}) // INSERT ... RETURNING: a write
	if err != nil {
		log.Fatal(err)
	}
	a, _ = q.GetAuthor(ctx, a.ID) // filled
	a, _ = q.GetAuthor(ctx, a.ID) // cached
	q.UpdateAuthorBio(ctx, sqlcdb.UpdateAuthorBioParams{ID: a.ID, Bio: sql.NullString{String: "poet", Valid: true}})
	a, _ = q.GetAuthor(ctx, a.ID) // the new bio: the update invalidated authors
	fmt.Println(a.Bio.String)
}
