package integration_test

import (
	"testing"
)

// MariaDB skips /*!80000 ... */ (a MySQL-only version) with one level of
// nested /* */ inside: it reads a and b here. cachedsql read only a in both
// of its readings, so the cached join missed b's write (review F).
func TestMariaDBSkippedVersionedCommentNests(t *testing.T) {
	admin, db, _ := mariaDB(t, "_fn")
	tablesAB(t, admin)
	q := "SELECT b.v FROM a /*!80000 /* */ ' */ , b -- '"
	if got := scalar(t, admin, q); got != "1" {
		t.Fatalf("MariaDB read %s", got)
	}
	staleCheck(t, db, admin, q, "UPDATE b SET v = 2")
}

// SYS_GUID() is a MariaDB built-in (10.6.1+) that builtIn filed under no
// dialect: an INSERT calling it invalidated every table (and marked its
// connection uncached), so an unrelated cached read missed (review F).
func TestMariaDBSysGuidIsBuiltIn(t *testing.T) {
	admin, db, _ := mariaDB(t, "_fg")
	mustExec(t, admin, "CREATE TABLE a (id varchar(40))")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	db.SetMaxOpenConns(1)
	q := "SELECT v FROM b"
	scalar(t, db, q)
	scalar(t, db, q)
	h := countHits(t, db)
	mustExec(t, db, "INSERT INTO a (id) VALUES (SYS_GUID())")
	scalar(t, db, q)
	if hits, fills := h.delta(); hits != 1 {
		t.Errorf("after INSERT ... SYS_GUID() into a, the read of b: %d hits, %d fills (want a hit)", hits, fills)
	}
}
