package sqlscan

// Found by a review of the mends of 2026-11-21.

import (
	"slices"
	"strings"
	"testing"
)

// deepBackslashText nests x IN (SELECT 1 FROM u ...) in d parentheses between two
// strings that end differently with and without backslash escapes.
func deepBackslashText(d int) string {
	expr := "x IN (SELECT 1 FROM u WHERE u.id = 1)"
	expr = strings.Repeat("(", d) + expr + strings.Repeat(")", d)
	return "SELECT count(*) FROM t WHERE s = 'a\\'' OR " + expr + " OR s = 'b\\''"
}

// A text nested deeper than the scanner follows, read both ways for its
// backslashes: MySQL's own reading (the default sql_mode) is too deep, and
// the other puts the subquery inside a string. Too deep is not invalid
// SQL (MariaDB runs it), so the text must not be a cacheable read of t
// alone, missing u.
func TestBackslashTooDeepIsUnknown(t *testing.T) {
	got := Scan(MySQL, deepBackslashText(199))
	if got.Kind == Read && !got.ReadsAll && !slices.Contains(got.Reads, "u") {
		t.Errorf("Scan(MySQL, deep text) = %s: u, which MySQL reads, is missing", describe(got))
	}
}

// PostgreSQL keeps the first 63 bytes of a name (cut at a character) and
// lower-cases only ASCII letters. With a letter whose lower case is shorter
// (İ -> i), cutting after lower-casing left the long name and the name in
// the catalog two tables.
func TestPG63BytesNonASCII(t *testing.T) {
	long := "orders_" + strings.Repeat("İ", 30) // 67 bytes
	short := long[:63]                          // what PostgreSQL keeps: 7 + 28*2 bytes
	w := Scan(Postgres, "UPDATE "+long+" SET v = 1")
	r := Scan(Postgres, "SELECT v FROM "+short)
	if len(w.Writes) != 1 || len(r.Reads) != 1 || w.Writes[0] != r.Reads[0] {
		t.Errorf("UPDATE by the declared name writes %q; SELECT by the catalog's name reads %q: one table to PostgreSQL", w.Writes, r.Reads)
	}
}

// A space after the qualifier's dot, which MySQL accepts (test. 2fa_codes
// is test.2fa_codes), still lexes as a number: the read is filed under the
// database's name and an UPDATE test.2fa_codes misses it.
func TestMySQLDigitNameAfterDotAndSpace(t *testing.T) {
	r := Scan(MySQL, "SELECT v FROM test. 2fa_codes")
	w := Scan(MySQL, "UPDATE test.2fa_codes SET v = 2")
	if len(w.Writes) != 1 || len(r.Reads) != 1 || w.Writes[0] != r.Reads[0] {
		t.Errorf("SELECT FROM test. 2fa_codes reads %q; UPDATE test.2fa_codes writes %q: one table to MySQL", r.Reads, w.Writes)
	}
}

// MySQL allows a comment between a qualifier, the dot and a name that
// begins with a digit, as it allows spaces: the write is of 2fa_codes.
func TestMySQLDigitNameCommentAroundDot(t *testing.T) {
	for _, q := range []string{
		"UPDATE db /**/ . 2fa_codes SET a = 1",
		"UPDATE db /* c */.2fa_codes SET a = 1",
		"UPDATE db . /**/ 2fa_codes SET a = 1",
		"UPDATE db ./**/2fa_codes SET a = 1",
		"UPDATE db . -- c\n 2fa_codes SET a = 1",
		"UPDATE db . # c\n 2fa_codes SET a = 1",
	} {
		st := Scan(MySQL, q)
		if !st.WritesAll && !slices.Contains(st.Writes, "2fa_codes") {
			t.Errorf("%q: Writes %v, want 2fa_codes", q, st.Writes)
		}
	}
	// A keyword is no qualifier: THEN .5 is a number.
	if st := Scan(MySQL, "SELECT CASE WHEN a THEN .5 END FROM t"); len(st.Reads) != 1 || st.Reads[0] != "t" {
		t.Errorf("THEN .5: Reads %v, want [t]", st.Reads)
	}
}

// A word MySQL does not reserve (security, type, value) names a database:
// right before the dot it qualifies a name that begins with a digit or $.
func TestMySQLKeywordQualifiesDigitName(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"UPDATE security.2fa_codes SET v = 2", "2fa_codes"},
		{"UPDATE type.2fa_codes SET v = 2", "2fa_codes"},
		{"UPDATE value.2fa_codes SET v = 2", "2fa_codes"},
		{"UPDATE first.2fa_codes SET v = 2", "2fa_codes"},
		{"UPDATE security . 2fa_codes SET v = 2", "2fa_codes"},
		{"DELETE FROM security.2fa_codes", "2fa_codes"},
		{"UPDATE security.$t SET v = 2", "$t"},
	} {
		w := Scan(MySQL, c.q)
		if len(w.Writes) != 1 || w.Writes[0] != c.want {
			t.Errorf("%q writes %q, want [%s]", c.q, w.Writes, c.want)
		}
	}
}

// A name that is not UTF-8 is cut at 63 bytes, not emptied.
func TestTableNameInvalidUTF8(t *testing.T) {
	name := "a" + strings.Repeat("\xa2", 70)
	if got, want := TableName(Postgres, name), strings.ToLower(name[:63]); got == "" || got != want {
		t.Errorf("TableName of %d bytes not UTF-8 = %q, want %q", len(name), got, want)
	}
}
