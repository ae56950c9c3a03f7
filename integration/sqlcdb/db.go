// Package sqlcdb is query code in exactly the shape sqlc generates (engine
// postgresql, sql_package database/sql, emit_prepared_queries false): a DBTX
// interface, New, Queries and WithTx, and one method per query calling
// QueryRowContext, QueryContext or ExecContext with a constant query text.
// It is written by hand from query.sql and schema.sql, since the sqlc binary
// is not a Go module dependency; the integration tests run it through
// cachedsql to show that sqlc code needs no change to be cached.
package sqlcdb

import (
	"context"
	"database/sql"
)

type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

func New(db DBTX) *Queries {
	return &Queries{db: db}
}

type Queries struct {
	db DBTX
}

func (q *Queries) WithTx(tx *sql.Tx) *Queries {
	return &Queries{
		db: tx,
	}
}
