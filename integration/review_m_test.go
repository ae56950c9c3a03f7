package integration_test

// Review M: MySQL/MariaDB texts that sqlscan reads differently from
// MariaDB, each proven as a stale read through cachedsql.

import (
	"context"
	"testing"
)

// MariaDB's lexer keeps one flag, not a count, for "inside /*! ... */":
// a /*! inside /*! sets it again and the first */ clears it, so the
// second */ is the operator * followed by whatever the / begins (here a
// comment). sqlscan counts the two openers, reads the second */ as the
// end of the outer one, and then reads the quote after * as the start of
// a string that swallows FROM b. MariaDB runs SELECT 2 * 3, v FROM b.
func TestReviewMNestedBangCommentFlag(t *testing.T) {
	admin, db, _ := mariaDB(t, "_rm1")
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT 2 /*! /*! */ */* ' */ 3 + v FROM b -- '", "UPDATE b SET v = 2")
	// A write the same way: MariaDB deletes from a.* and b, sqlscan
	// invalidates a only.
	staleCheck(t, db, admin, "SELECT CAST(COUNT(*) AS char) FROM b", "DELETE FROM a. /*! /*! */ */* ' */ , b USING a, b -- '")
}

// MariaDB starts a -- comment before any control character, DEL (0x7f)
// included (my_iscntrl); sqlscan only before bytes <= ' ', so it reads
// the quote in the comment as a string that hides FROM b.
func TestReviewMDashDashBeforeDEL(t *testing.T) {
	admin, db, _ := mariaDB(t, "_rm2")
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT 1 --\x7f '\n+ v FROM b -- '", "UPDATE b SET v = 2")
	// A write the same way: MariaDB deletes from a and b, sqlscan
	// invalidates a only.
	staleCheck(t, db, admin, "SELECT CAST(COUNT(*) AS char) FROM b", "DELETE FROM a --\x7f '\n, b USING a, b -- '")
}

// Under sql_mode ANSI_QUOTES (a DSN setting cachedsql cannot see) "b" is
// an identifier: MariaDB reads db."b" as the table b of db. sqlscan reads
// "b" as a string, so the qualifier db is filed as the table read, and a
// write to b does not reach the cached read.
// With a multi-byte client character set whose characters may end in the
// byte of a backslash (charset=gbk in the DSN: GBK, Big5, SJIS, CP932,
// GB18030), MariaDB reads 0xbf 0x5c as one character, so the backslash
// after it escapes the quote and the string goes on to the next quote.
// sqlscan reads 0x5c 0x5c as an escaped backslash (or, without backslash
// escapes, two backslashes) and the quote as the string's end; its next
// string then hides FROM b, which MariaDB reads.
// Under a single-byte client character set whose ctype calls 0xa0 (NBSP)
// white space (charset=latin1), MariaDB reads FROM<0xa0>b as FROM b;
// sqlscan reads every byte >= 0x80 as part of a word, so FROM<0xa0>b is
// one unknown word and the read names no table at all.
// Under sql_mode NO_BACKSLASH_ESCAPES MariaDB lexes the quoted part of
// @'...' (a user variable, or the host of user@'host') as any other
// string: a backslash is a backslash, and 'localhost\' ends at its second
// quote. sqlscan's at() scans it with backslash escapes in every reading
// (the NO_BACKSLASH_ESCAPES reading too), so the host runs on to the quote
// in the comment and hides VIEW vw: the statement is filed as writing x.
// MariaDB replaces the view vw.
func TestReviewMHostStringWithoutBackslashEscapes(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_rm6"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, map[string]string{"sql_mode": "'NO_BACKSLASH_ESCAPES'"})
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	mustExec(t, admin, "CREATE VIEW vw AS SELECT 1 AS v")
	staleCheck(t, db, admin, "SELECT CAST(v AS char) FROM vw",
		"CREATE OR REPLACE DEFINER=root@'localhost\\' SQL SECURITY INVOKER VIEW vw AS SELECT 2 AS v -- ' VIEW x AS SELECT 1")
}

// The same misreading without any DSN setting: a connection that runs SET
// sql_mode = 'ANSI_QUOTES' through cachedsql stops caching its own reads,
// but its writes are still scanned with the default rules. MariaDB updates
// b; sqlscan files the write under the qualifier, and the other
// connections keep serving b's old row.

// Under sql_mode ANSI_QUOTES (a DSN setting cachedsql cannot see) "b" is
// an identifier: MariaDB reads db."b" as the table b of db. sqlscan reads
// "b" as a string, so the qualifier db is filed as the table read, and a
// write to b does not reach the cached read.
func TestReviewMAnsiQuotesQualifiedName(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_rm3"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, map[string]string{"sql_mode": "'ANSI_QUOTES'"})
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	tablesAB(t, admin)
	staleCheck(t, db, admin, `SELECT v FROM `+name+`."b"`, `UPDATE b SET v = 2`)
}

// The same misreading without any DSN setting: a connection that runs SET
// sql_mode = 'ANSI_QUOTES' through cachedsql stops caching its own reads,
// but its writes are still scanned with the default rules. MariaDB updates
// b; sqlscan files the write under the qualifier, and the other
// connections keep serving b's old row.
func TestReviewMAnsiQuotesSessionWrite(t *testing.T) {
	admin, db, name := mariaDB(t, "_rm7")
	tablesAB(t, admin)
	q := "SELECT CAST(v AS char) FROM b"
	scalar(t, db, q)
	scalar(t, db, q)
	c := conn(t, db)
	mustExec(t, c, "SET sql_mode = 'ANSI_QUOTES'")
	mustExec(t, c, `UPDATE `+name+`."b" SET v = 2`)
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%s after UPDATE %s.\"b\" under ANSI_QUOTES: cachedsql %s, database %s", q, name, got, want)
	}
}

// With a multi-byte client character set whose characters may end in the
// byte of a backslash (charset=gbk in the DSN: GBK, Big5, SJIS, CP932,
// GB18030), MariaDB reads 0xbf 0x5c as one character, so the backslash
// after it escapes the quote and the string goes on to the next quote.
// sqlscan reads 0x5c 0x5c as an escaped backslash (or, without backslash
// escapes, two backslashes) and the quote as the string's end; its next
// string then hides FROM b, which MariaDB reads.
func TestReviewMGBKBackslashInMultibyteChar(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_rm4"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, map[string]string{"charset": "gbk"})
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT '\xbf\\\\'  '  + v FROM b -- '", "UPDATE b SET v = 2")
	// The same for a backtick (0x60) as the second byte of a character
	// in an unquoted name: sqlscan opens a quoted name there.
	staleCheck(t, db, admin, "SELECT v AS \x81` FROM b -- `", "UPDATE b SET v = 3")
}

// Under a single-byte client character set whose ctype calls 0xa0 (NBSP)
// white space (charset=latin1), MariaDB reads FROM<0xa0>b as FROM b;
// sqlscan reads every byte >= 0x80 as part of a word, so FROM<0xa0>b is
// one unknown word and the read names no table at all.
func TestReviewMLatin1NBSPIsSpace(t *testing.T) {
	requireMySQL(t)
	root := openDirect(t, "mysql", mysqlDSN())
	name := runID + "_rm5"
	mustExec(t, root, "CREATE DATABASE "+name)
	t.Cleanup(func() { root.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	dsn := mysqlDSNFor(t, name, map[string]string{"charset": "latin1"})
	admin, db := openDirect(t, "mysql", dsn), openCached(t, "mysql", dsn, "namespace="+name)
	tablesAB(t, admin)
	staleCheck(t, db, admin, "SELECT v FROM\xa0b", "UPDATE b SET v = 2")
	staleCheck(t, db, admin, "SELECT CAST(COUNT(*) AS char) FROM a WHERE id IN (SELECT\xa0v FROM b)", "UPDATE b SET v = 1")
}
