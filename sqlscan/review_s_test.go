package sqlscan

import "testing"

// MariaDB takes @@session.autocommit with blanks or a comment around the
// dot, and with the name as a string (@@session.'autocommit'): each turns
// autocommit off (checked on MariaDB 10.11). The scanner records no
// SessionVar at all, not even the unnamed one (Name "") that makes the
// connection ask the server.
func TestSSpacedSessionAutocommit(t *testing.T) {
	for _, q := range []string{
		"SET @@session .autocommit = 0",
		"SET @@session . autocommit = 0",
		"SET @@session/**/.autocommit = 0",
		"SET @@session.'autocommit' = 0",
		"SET @@local . autocommit = 0",
		"SET @@session . completion_type = 1",
		"SET @@session.'completion_type' = 'CHAIN'",
	} {
		st := Scan(MySQL, q)
		found := false
		for _, v := range st.SessionVars {
			if v.Name == "autocommit" || v.Name == "completion_type" || v.Name == "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: SessionVars %v, want an autocommit/completion_type (or unnamed) assignment", q, st.SessionVars)
		}
	}
}

// A text a GBK connection sends may be valid UTF-8: E4 B8 AD is UTF-8
// "中", but GBK pairs E4 B8 and AD 5C, so the backslash belongs to a
// character and the next one escapes the quote; the UPDATE is then outside
// any string. At 1159639 every text with a byte above 0x7F was also read as
// GBK and this one invalidated w (everything); since 5a52764 a valid UTF-8
// text is read only as UTF-8: a plain read.
func TestSGBKValidUTF8HidesWrite(t *testing.T) {
	q := "SELECT '\xe4\xb8\xad\\\\', '; UPDATE w SET v = 2 WHERE id = 1; -- '"
	st := Scan(MySQL, q)
	wrote := st.WritesAll
	for _, w := range st.Writes {
		if w == "w" {
			wrote = true
		}
	}
	if !wrote {
		t.Errorf("%q: Kind %v Writes %v WritesAll %v; GBK reads UPDATE w", q, st.Kind, st.Writes, st.WritesAll)
	}
}

// MariaDB's SET STATEMENT completion_type = 1 FOR COMMIT is a COMMIT AND
// CHAIN (@@in_transaction is 1 after it, MariaDB 10.11); the scanner reads
// a plain COMMIT.
func TestSSetStatementCompletionChain(t *testing.T) {
	for _, q := range []string{
		"SET STATEMENT completion_type = 1 FOR COMMIT",
		"SET STATEMENT completion_type = 'CHAIN' FOR ROLLBACK",
		"SET STATEMENT max_statement_time = 5, completion_type = CHAIN FOR COMMIT WORK",
	} {
		st := Scan(MySQL, q)
		if !st.Chain {
			t.Errorf("%s: Kind %v Chain %v, want a chaining end", q, st.Kind, st.Chain)
		}
	}
}

// PostgreSQL: SELECT ... INTO LOCAL TEMP t (and LOCAL TEMPORARY, GLOBAL
// TEMP[ORARY]) makes a temporary table t; the scanner reads a write of a
// table named "local" or "global".
func TestSSelectIntoLocalTemp(t *testing.T) {
	for _, q := range []string{
		"SELECT 1 AS id INTO LOCAL TEMP users",
		"SELECT 1 AS id INTO LOCAL TEMPORARY TABLE users",
		"SELECT 1 AS id INTO GLOBAL TEMP users",
	} {
		st := Scan(Postgres, q)
		if st.Kind != Session {
			t.Errorf("%s: Kind %v Writes %v, want Session", q, st.Kind, st.Writes)
		}
	}
}
