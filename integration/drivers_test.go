package integration_test

import (
	"sync"

	"github.com/cachedsql/cachedsql"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"
)

// Names under which the inner drivers are registered wrapped in cachedsql,
// for ORMs that take a driver name (GORM's DriverName, sqlx.Open).
const (
	cachedPgx    = "cachedsql-pgx"
	cachedMySQL  = "cachedsql-mysql"
	cachedSQLite = "cachedsql-sqlite3"
)

var registerOnce sync.Once

func registerCached() {
	registerOnce.Do(func() {
		cachedsql.Register(cachedPgx, stdlib.GetDefaultDriver(), cachedsql.Config{})
		cachedsql.Register(cachedMySQL, &gomysql.MySQLDriver{}, cachedsql.Config{})
		cachedsql.Register(cachedSQLite, &sqlite3.SQLiteDriver{}, cachedsql.Config{})
	})
}
