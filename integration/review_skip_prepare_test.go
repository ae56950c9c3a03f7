package integration_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
)

// TestConnSkipSparesThePrepare: with go-sql-driver/mysql's default DSN every
// call with arguments is skipped and prepared. A repeated read must be
// served from the result of the statement prepared for the same skipped call
// without a server-side prepare, whatever the argument's type (review 12:
// []byte and unsigned arguments, which the key memo's comparison leaves out,
// never matched, and every repeat paid a prepare).
func TestConnSkipSparesThePrepare(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		arg  any
	}{
		{"int64", int64(7)},
		{"string", "abc"},
		{"bytes", []byte("abc")},
		{"uint32", uint32(7)},
		{"uint64", uint64(7)},
		{"float64", 1.5},
		{"time", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cached := openCached(t, "mysql", mysqlDSN(), "namespace="+runID+"_skipprep_"+tc.name)
			cached.SetMaxOpenConns(1)
			cached.SetMaxIdleConns(1)
			nocache := cachedsql.WithStrategy(ctx, cachedsql.NoCache)
			prepares := func() int64 {
				var name, v string
				if err := cached.QueryRowContext(nocache, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &v); err != nil {
					t.Fatal(err)
				}
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
			q := "SELECT ? AS v, 1 AS one"
			var out any
			var one int64
			if err := cached.QueryRowContext(ctx, q, tc.arg).Scan(&out, &one); err != nil {
				t.Fatal(err)
			}
			before := prepares()
			for range 5 {
				if err := cached.QueryRowContext(ctx, q, tc.arg).Scan(&out, &one); err != nil {
					t.Fatal(err)
				}
			}
			if n := prepares() - before; n > 0 {
				t.Errorf("arg %T: %d server prepares for 5 repeated reads of a cached query (want 0)", tc.arg, n)
			}
		})
	}
}
