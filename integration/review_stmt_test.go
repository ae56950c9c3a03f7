package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// readSets reads every result set as far as database/sql lets a caller:
// the rows of each set, then the error that ended the reading (if any).
func readSets(db *sql.DB, q string, args ...any) (sets [][]string, err error) {
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	for {
		var set []string
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				return sets, err
			}
			set = append(set, fmt.Sprintf("%T(%v)", v, v))
		}
		sets = append(sets, set)
		if err := rows.Err(); err != nil {
			return sets, fmt.Errorf("rows.Err: %w", err)
		}
		if !rows.NextResultSet() {
			if err := rows.Err(); err != nil {
				return sets, fmt.Errorf("NextResultSet: %w", err)
			}
			return sets, nil
		}
	}
}

// MariaDB with multiStatements: when a later statement of a multi-statement
// read fails before sending rows (here: its table does not exist), the driver
// reports the error from NextResultSet, after the earlier sets' rows. Read
// directly, the caller gets the first set's rows and then the error; through
// cachedsql, capture turns the NextResultSet error into a failure of the
// whole query, and the caller gets no rows at all.
func TestNextResultSetErrorKeepsEarlierSets(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	dsn := withParams(mysqlDSN(), "multiStatements=true")
	direct := openDirect(t, "mysql", dsn)
	tbl := runID + "_nrs"
	mustExec(t, direct, fmt.Sprintf("CREATE TABLE %s (id int)", tbl))
	t.Cleanup(func() { direct.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, direct, fmt.Sprintf("INSERT INTO %s VALUES (1), (2)", tbl))
	q := fmt.Sprintf("SELECT id FROM %s ORDER BY id; SELECT id FROM %s_missing", tbl, tbl)

	cached := openCached(t, "mysql", dsn, "namespace="+runID+"nrs")
	wantSets, wantErr := readSets(direct, q)
	t.Logf("direct: sets %v, err %v", wantSets, wantErr)
	for i := range 2 {
		gotSets, gotErr := readSets(cached, q)
		t.Logf("cached read %d: sets %v, err %v", i, gotSets, gotErr)
		if fmt.Sprint(gotSets) != fmt.Sprint(wantSets) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("cached read %d: sets %v, err %v; direct: sets %v, err %v", i, gotSets, gotErr, wantSets, wantErr)
		}
	}
}

// Two pools on the same database that share a namespace (as the README asks
// of processes that must see each other's writes) but whose DSNs differ in
// an option that changes the Go types the driver returns (parseTime) share
// cache entries: the pool without parseTime is served the other pool's
// time.Time values where its driver returns []byte, and the other way round.
// The key carries the namespace, the local zone and the driver identity, but
// nothing of the inner DSN.
func TestSharedNamespaceKeepsDSNOptionsApart(t *testing.T) {
	requireMySQL(t)
	ctx := context.Background()
	admin := openDirect(t, "mysql", mysqlDSN())
	tbl := runID + "_pt"
	mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (d DATETIME, e DATETIME)", tbl))
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl) })
	mustExec(t, admin, fmt.Sprintf("INSERT INTO %s VALUES ('2024-02-29 13:45:56', NULL)", tbl))
	q := "SELECT d, e FROM " + tbl
	ns := "namespace=" + runID + "pt"
	withTime := withParams(mysqlDSN(), "parseTime=true")
	read := func(db *sql.DB) string { r, err := db.QueryContext(ctx, q); return scanAny(t, r, err) }

	a := openCached(t, "mysql", withTime, ns)
	b := openCached(t, "mysql", mysqlDSN(), ns)
	wantA, wantB := read(openDirect(t, "mysql", withTime)), read(openDirect(t, "mysql", mysqlDSN()))
	if got := read(a); got != wantA {
		t.Fatalf("parseTime pool: %s, direct %s", got, wantA)
	}
	if got := read(b); got != wantB {
		t.Errorf("pool without parseTime, same namespace: %s; its driver returns %s", got, wantB)
	}
}
