package integration_test

import (
	"fmt"
	"testing"
)

// A write hidden from every reading cachedsql makes, but run by the server
// under a client character set: the cached read of w must not survive it.
func TestRCharsetHiddenWrite(t *testing.T) {
	for i, c := range []struct{ cs, text string }{
		// big5: 0x81 is no lead byte, so 0xa4 0x5c is one character and the
		// backslash after it escapes the quote; cachedsql's GBK reading
		// pairs 0x81 0xa4 instead and keeps the backslash pair.
		{"big5", "SELECT '\x81\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// 0xfa-0xfe are no Big5 lead bytes either.
		{"big5", "SELECT '\xfa\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp850 (and cp852, cp866, keybcs2): -- before 0xff is a comment.
		{"cp850", "SELECT 1 --\xff '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp1250: -- before 0x80 is a comment.
		{"cp1250", "SELECT 1 --\x80 '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
	} {
		t.Run(fmt.Sprint(i, "_", c.cs), func(t *testing.T) {
			admin, db := mariaDBMulti(t, fmt.Sprintf("_rcs%d", i), map[string]string{"charset": c.cs})
			hiddenWriteCheck(t, admin, db, c.text)
		})
	}
}

// cp852 (also cp866, keybcs2) takes 0xff for white space: FROM<0xff>w
// reads w, which cachedsql does not see.
func TestRCharsetSpaceHidesTable(t *testing.T) {
	admin, db := mariaDBMulti(t, "_rsp", map[string]string{"charset": "cp852"})
	mustExec(t, admin, "CREATE TABLE w (id int PRIMARY KEY, x int)")
	mustExec(t, admin, "INSERT INTO w VALUES (1, 1)")
	q := "SELECT x FROM\xffw WHERE id = 1"
	scalar(t, db, q)
	scalar(t, db, q)
	mustExec(t, db, "UPDATE w SET x = 2 WHERE id = 1")
	if got, want := scalar(t, db, q), scalar(t, admin, q); got != want {
		t.Errorf("%q after an UPDATE of w through cachedsql: cachedsql %s, database %s (stale)", q, got, want)
	}
}

// Under sql_mode ANSI_QUOTES, @"..." names a variable with a quoted
// identifier, which takes no backslash escapes: @"a\" ends at the second
// quote. cachedsql's at() reads @"..." as a string with backslash escapes
// in every reading, and does not flag the text's "..." for the ANSI_QUOTES
// reading at all.
func TestRAnsiQuotesAtVariable(t *testing.T) {
	admin, db := mariaDBMulti(t, "_raq", map[string]string{"sql_mode": "'ANSI_QUOTES'"})
	hiddenWriteCheck(t, admin, db, `SELECT @"a\", '\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"`)
}
