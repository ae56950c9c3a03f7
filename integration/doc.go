// Package integration proves cachedsql on real databases and real ORMs:
// PostgreSQL through pgx's stdlib and lib/pq, MariaDB/MySQL through
// go-sql-driver/mysql (with and without parseTime), SQLite through go-sqlite3,
// and GORM, sqlx, ent and sqlc-style code on top of them.
//
// It is its own module so that the library's dependencies stay small. The
// tests read their DSNs from the environment, with defaults for the local
// servers:
//
//	CACHEDSQL_PG_DSN     postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	CACHEDSQL_MYSQL_DSN  root@tcp(127.0.0.1:3306)/test
//
// A test skips, naming the server and the error, only when its server does not
// answer. Every run works in tables, schemas and databases named with a prefix
// unique to the run, and drops them at the end.
//
// Regenerate testdata/fidelity.md (the driver × type table of the README) with
//
//	go test -race -run TestFidelity -update .
package integration
