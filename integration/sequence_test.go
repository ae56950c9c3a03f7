package integration_test

import (
	"context"
	"fmt"
	"testing"
)

// TestSequenceReads holds the README's word on sequences: a sequence read
// as a table changes with nextval, which names no table as written, so such
// a read is only as fresh as its TTL (shown here, so that the day cachedsql
// learns better this test says so), while the same read marked nocache and
// the sequence functions that read it are never cached.
func TestSequenceReads(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, driver, dsn string
		require           func(testing.TB)
		create, next      string
		asTable, fn       string
	}{
		{
			name: "postgres", driver: "pgx", dsn: pgURL(), require: requirePG,
			create:  "CREATE SEQUENCE %s",
			next:    "SELECT nextval('%s')",
			asTable: "SELECT last_value FROM %s",
			fn:      "SELECT currval('%s')",
		},
		{
			name: "mariadb", driver: "mysql", dsn: mysqlDSN(), require: requireMySQL,
			// NOCACHE: by default MariaDB hands out a thousand values
			// before the table's row moves.
			create:  "CREATE SEQUENCE %s NOCACHE",
			next:    "SELECT NEXTVAL(%s)",
			asTable: "SELECT next_not_cached_value FROM %s",
			fn:      "SELECT PREVIOUS VALUE FOR %s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.require(t)
			seq := runID + "_seq"
			admin := openDirect(t, tc.driver, tc.dsn)
			mustExec(t, admin, fmt.Sprintf(tc.create, seq))
			t.Cleanup(func() { admin.ExecContext(ctx, "DROP SEQUENCE "+seq) })
			db := openCached(t, tc.driver, tc.dsn, "namespace="+runID+"seq"+tc.name)
			s := conn(t, db) // currval and PREVIOUS VALUE FOR are per session
			scalar(t, s, fmt.Sprintf(tc.next, seq))
			asTable := fmt.Sprintf(tc.asTable, seq)
			nocache := "/* cachedsql:nocache */ " + asTable
			fn := fmt.Sprintf(tc.fn, seq)
			before := [3]string{scalar(t, s, asTable), scalar(t, s, nocache), scalar(t, s, fn)}
			scalar(t, s, fmt.Sprintf(tc.next, seq))
			after := [3]string{scalar(t, s, asTable), scalar(t, s, nocache), scalar(t, s, fn)}
			if after[1] == before[1] {
				t.Errorf("the nocache read stayed %q after nextval", after[1])
			}
			if after[2] == before[2] {
				t.Errorf("%s stayed %q after nextval: it was cached", fn, after[2])
			}
			if after[0] != before[0] {
				t.Errorf("the plain read moved from %q to %q after nextval: cachedsql now sees sequence writes; update the README's word on sequences and this test", before[0], after[0])
			}
		})
	}
}
