package integration_test

import (
	"context"
	"testing"
)

// MariaDB runs /*!50000 ... */ and skips /*M!999999 ... */: no reading of
// sqlscan did both at once (review H).
func TestMariaDBVersionedCommentsDecidedOneByOne(t *testing.T) {
	admin, db, _ := mariaDB(t, "_hmv")
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT CAST(b.v AS char) FROM a /*!50000 , b */ /*M!999999 ( */", "UPDATE b SET v = 2")
	staleCheck(t, db, admin, "SELECT CAST(b.v AS char) FROM a /*!50000 , b */ /*!99999 ( */", "UPDATE b SET v = 3")
}

// Review I: forms MariaDB runs that no reading of sqlscan made.

// /*! not followed by five digits is code, digits included: FROM /*!9t */ a
// reads table 9t (aliased a); sqlscan dropped the digit and filed it under a, t.
func TestMariaDBVersionDigitsAfterBang(t *testing.T) {
	admin, db, _ := mariaDB(t, "_ri1")
	mustExec(t, admin, "CREATE TABLE a (v int)")
	mustExec(t, admin, "INSERT INTO a VALUES (1)")
	mustExec(t, admin, "CREATE TABLE t (v int)")
	mustExec(t, admin, "INSERT INTO t VALUES (1)")
	mustExec(t, admin, "CREATE TABLE `9t` (v int)")
	mustExec(t, admin, "INSERT INTO `9t` VALUES (1)")
	staleCheck(t, db, admin, "SELECT CAST(v AS char) FROM /*!9t */ a", "UPDATE `9t` SET v = 2")
	staleCheck(t, db, admin, "SELECT CAST(v AS char) FROM /*M!1000009t */ a", "UPDATE `9t` SET v = 3")
}

// MariaDB runs /*M!100500 and treats /*m!100500 as a plain comment; the
// case-insensitive tag comparison makes them one version.
func TestMariaDBLowercaseMIsAComment(t *testing.T) {
	admin, db, _ := mariaDB(t, "_ri2")
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT CAST(b.v AS char) FROM a /*M!100500 , b */ /*m!100500 ( */", "UPDATE b SET v = 2")
}

// Under NO_BACKSLASH_ESCAPES the server makes the MySQL dialect's second
// reading, whose versioned / mixedVersions flags either() throws away.
func TestMariaDBVersionedCommentsWithoutBackslashEscapes(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_ri3"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, map[string]string{"sql_mode": "'NO_BACKSLASH_ESCAPES'"})
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT CAST(COUNT(*) AS char) FROM a WHERE '\\' /*!99999 ' -- */ OR 1 IN (SELECT v FROM b) -- '\n", "UPDATE b SET v = 2 WHERE v = 1")
	mustExec(t, admin, "UPDATE b SET v = 1")
	staleCheck(t, db, admin, "SELECT CAST(COUNT(*) AS char) FROM a /*!50000 */ WHERE '\\' /*!50000 OR 1 IN (SELECT v FROM b) */ /*!99999 ( */ -- '\n", "UPDATE b SET v = 3 WHERE v = 1")
}
