package sqlscan

import (
	"slices"
	"testing"
)

// mustRead fails unless Scan of sql reads table (or is Unknown, or reads
// everything).
func mustRead(t *testing.T, d Dialect, sql, table string) {
	t.Helper()
	st := Scan(d, sql)
	if st.Kind == Unknown || st.ReadsAll || slices.Contains(st.Reads, table) {
		return
	}
	t.Errorf("%v %q: %s, not reading %s", d, sql, describe(st), table)
}

// MySQL and MariaDB run /*! (and MariaDB /*M!) not followed by five digits
// as code, digits included; a sixth or seventh digit past the version is
// code too. The scanner dropped every digit: FROM /*!9t */ a is table 9t
// aliased a (review I).
func TestVersionDigitsAfterBang(t *testing.T) {
	mustRead(t, MySQL, "SELECT CAST(v AS char) FROM /*!9t */ a", "9t")
	mustRead(t, MySQL, "SELECT CAST(v AS char) FROM /*M!1000009t */ a", "9t")
	mustRead(t, MySQL, "SELECT CAST(v AS char) FROM /*!1000009t */ a", "9t")
}

// MariaDB's /*m! (lower case) is a plain comment; /*M! is code. The tag
// comparison was case-insensitive, so the two counted as one version
// (review I).
func TestLowercaseMIsAComment(t *testing.T) {
	mustRead(t, MySQL, "SELECT CAST(b.v AS char) FROM a /*M!100500 , b */ /*m!100500 ( */", "b")
}

// With NO_BACKSLASH_ESCAPES the server reads the text the other way; either
// kept only the first reading's versioned and mixedVersions flags (review I).
func TestVersionedCommentsInEitherReading(t *testing.T) {
	// alt reading alone holds a versioned comment: never read skipped
	mustRead(t, MySQL, "SELECT CAST(COUNT(*) AS char) FROM a WHERE '\\' /*!99999 ' -- */ OR 1 IN (SELECT v FROM b) -- '\n", "b")
	// alt reading alone holds a second tag: not Unknown
	mustRead(t, MySQL, "SELECT CAST(COUNT(*) AS char) FROM a /*!50000 */ WHERE '\\' /*!50000 OR 1 IN (SELECT v FROM b) */ /*!99999 ( */ -- '\n", "b")
}

// Texts with ordinary version tags (mysqldump 8's header sent as one text;
// SHOW CREATE TABLE with COLUMNS partitioning and an invisible column) are
// read, not Unknown: versions below 5.7 always run. (Two versions from 5.7
// on, as in SELECT /*!50700 SQL_NO_CACHE */ ... /*!80000 FOR SHARE */, stay
// Unknown: MySQL 5.7 runs one and skips the other.)
func TestOrdinaryVersionTagsAreRead(t *testing.T) {
	for _, sql := range []string{
		"/*!40101 SET NAMES utf8 */; /*!50503 SET NAMES utf8mb4 */; /*!80016 SET @x = 1 */; INSERT INTO t VALUES (1)",
		"CREATE TABLE p (a int /*!80023 INVISIBLE */) /*!50500 PARTITION BY RANGE COLUMNS(a) (PARTITION p0 VALUES LESS THAN (10)) */",
	} {
		if st := Scan(MySQL, sql); st.Kind == Unknown {
			t.Errorf("%q: Unknown", sql)
		}
	}
}

// MySQL, MariaDB and SQLite run a text one statement at a time, so a
// reading that is invalid only after whole statements has run those
// statements when the server meets the error: either dropped such a
// reading as one no server makes, and the UPDATE it holds invalidated
// nothing. PostgreSQL parses the whole text first and runs none of it; a
// ';' inside a parenthesis that never closes ends no statement.
func TestInvalidReadingAfterWholeStatements(t *testing.T) {
	for _, c := range []struct {
		d       Dialect
		sql     string
		unknown bool
	}{
		// MariaDB skips /*!99999: SELECT 1; UPDATE w …; SELECT (1
		{MySQL, "SELECT /*!99999 '*/ 1; UPDATE w SET x = 2 WHERE id = 1; SELECT /*!99999 '*/ (1 /*!99999 ) */", true},
		// Under NO_BACKSLASH_ESCAPES: SELECT 'a\'; UPDATE w …; SELECT '
		{MySQL, `SELECT 'a\'; UPDATE w SET x = 1; SELECT '`, true},
		{Generic, `SELECT 'a\'; UPDATE w SET x = 1; SELECT '`, true},
		{Postgres, `SELECT 'a\'; UPDATE w SET x = 1; SELECT '`, false},
		// Read as code, the '(' holds the ';': the first statement fails.
		{MySQL, "SELECT 1 /*!99999 ( */ ; UPDATE w SET x = 1", false},
	} {
		st := Scan(c.d, c.sql)
		if got := st.Kind == Unknown; got != c.unknown {
			t.Errorf("%v %q: %s; want Unknown %v", c.d, c.sql, describe(st), c.unknown)
		}
	}
	if st := Scan(MySQL, "SELECT 1 /*!99999 ( */ ; UPDATE w SET x = 1"); !slices.Contains(st.Writes, "w") {
		t.Errorf("the skipped reading's UPDATE: %s, not writing w", describe(st))
	}
}

// Three texts MariaDB lexes otherwise than the scanner did (review M):
// a /*! inside a running /*! sets one flag again, so the first */ ends
// both and the second is the operator * (the scanner counted openers);
// -- starts a comment before DEL (0x7f) as before any control byte; and
// the quoted host of user@'host' takes no backslash escapes under
// NO_BACKSLASH_ESCAPES, as no other string does.
func TestMariaDBLexerEdges(t *testing.T) {
	mustRead(t, MySQL, "SELECT 2 /*! /*! */ */* ' */ 3 + v FROM b -- '", "b")
	mustRead(t, MySQL, "SELECT 1 --\x7f '\n+ v FROM b -- '", "b")
	st := Scan(MySQL, `CREATE OR REPLACE DEFINER=root@'localhost\' SQL SECURITY INVOKER VIEW vw AS SELECT 2 AS v -- ' VIEW x AS SELECT 1`)
	if st.Kind != Unknown && !st.WritesAll && !slices.Contains(st.Writes, "vw") {
		t.Errorf("DEFINER=root@'localhost\\' ... VIEW vw: %s, not writing vw", describe(st))
	}
}

// Under sql_mode ANSI_QUOTES (a DSN setting, the server's configuration or
// a SET the scanner cannot follow into other connections) "..." is an
// identifier: db."b" is the table b, which the string reading filed under
// db (review M). MySQL texts with "..." are read both ways; a plain string
// still reads as one.
func TestMySQLAnsiQuotes(t *testing.T) {
	mustRead(t, MySQL, `SELECT v FROM db."b"`, "b")
	if st := Scan(MySQL, `UPDATE db."b" SET v = 2`); !st.WritesAll && !slices.Contains(st.Writes, "b") {
		t.Errorf(`UPDATE db."b": %s, not writing b`, describe(st))
	}
	if st := Scan(MySQL, `SELECT * FROM t WHERE name = "O'Brien"`); st.Kind != Read || st.ReadsAll || !slices.Equal(st.Reads, []string{"t"}) {
		t.Errorf("a double-quoted string: %s, want a read of t alone", describe(st))
	}
}

// MySQL takes a quoted name for a setting: SET `autocommit` = 0 turns
// autocommit off, which the connection must follow (review T). A name the
// scanner cannot read at all comes as Name "", for the connection to ask
// the server about.
func TestQuotedSessionVarNames(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []SessionVar
	}{
		{"SET `autocommit` = 0", []SessionVar{{"autocommit", "0"}}},
		{"SET SESSION `autocommit` = 0", []SessionVar{{"autocommit", "0"}}},
		{"SET @@session.`autocommit` = 0", []SessionVar{{"autocommit", "0"}}},
		{"SET `completion_type` = 1", []SessionVar{{"completion_type", "1"}}},
		{"SET @@`autocommit` = 0", []SessionVar{{"", "0"}}},
		{"SET @x = 1, @`y` = 2", nil},
	} {
		if got := Scan(MySQL, c.sql).SessionVars; !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.sql, got, c.want)
		}
	}
}

// Generic, which may be MySQL, read "..." only as a name; MySQL (without
// ANSI_QUOTES) reads it as a string with backslash escapes, where "\""
// ends at its third quote and the UPDATE runs (review R).
func TestGenericMySQLDoubleQuotedString(t *testing.T) {
	q := `SELECT "\"", 1; UPDATE w SET x = x + 1 WHERE id = 1; -- "`
	if st := Scan(Generic, q); !st.WritesAll && !slices.Contains(st.Writes, "w") {
		t.Errorf("%s: %s: the UPDATE of w is missed", q, describe(st))
	}
	// A quoted name without a backslash reads as one, as before.
	if st := Scan(Generic, `SELECT * FROM "delete" WHERE "a" = 1`); st.ReadsAll || !slices.Equal(st.Reads, []string{"delete"}) {
		t.Errorf("a quoted name: %s, want a read of delete alone", describe(st))
	}
}
