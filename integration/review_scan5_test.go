package integration_test

import "testing"

// MariaDB runs /*!50000 ... */ and skips /*M!999999 ... */: no reading of
// sqlscan did both at once (review H).
func TestMariaDBVersionedCommentsDecidedOneByOne(t *testing.T) {
	admin, db, _ := mariaDB(t, "_hmv")
	mustExec(t, admin, "CREATE TABLE a (id int)")
	mustExec(t, admin, "INSERT INTO a VALUES (1)")
	mustExec(t, admin, "CREATE TABLE b (v int)")
	mustExec(t, admin, "INSERT INTO b VALUES (1)")
	staleCheck(t, db, admin, "SELECT CAST(b.v AS char) FROM a /*!50000 , b */ /*M!999999 ( */", "UPDATE b SET v = 2")
	staleCheck(t, db, admin, "SELECT CAST(b.v AS char) FROM a /*!50000 , b */ /*!99999 ( */", "UPDATE b SET v = 3")
}
