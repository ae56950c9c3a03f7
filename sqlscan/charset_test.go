package sqlscan

import (
	"slices"
	"strings"
	"testing"
)

// A MySQL connection's character set, which the text does not show, may
// end a string or a name where UTF-8 does not (review M): texts are read
// as GBK, SJIS and latin1 would read them too, and the readings merged.
func TestCharsetReadings(t *testing.T) {
	// GBK: 0xbf 0x5c is one character, so the backslash after it escapes
	// the quote; 0x81 0x60 is one character of a name, not a backtick.
	mustRead(t, MySQL, "SELECT '\xbf\\\\'  '  + v FROM b -- '", "b")
	mustRead(t, MySQL, "SELECT v AS \x81` FROM b -- `", "b")
	// SJIS: 0x83 0x5c is "ソ"; 0xa1-0xdf are characters of one byte, so
	// 0xb1 0x5c is a character and a backslash.
	mustRead(t, MySQL, "SELECT '\x83\\' , v FROM b -- '", "b")
	// latin1: 0xa0 is white space.
	mustRead(t, MySQL, "SELECT v FROM\xa0b", "b")
	mustRead(t, MySQL, "SELECT 1 --\xa0'\n, v FROM b -- '", "b")
	// A write is filed under the name's own bytes (lower-cased, which makes
	// a byte that is not UTF-8 U+FFFD, in reads and writes alike).
	if st := Scan(MySQL, "UPDATE `\x81\x60x` SET v = 1"); st.WritesAll || len(st.Writes) != 1 || !strings.HasSuffix(st.Writes[0], "`x") {
		t.Errorf("UPDATE of a GBK name whose second byte is a backtick: %s", describe(st))
	}
	// UTF-8 text reads as it did.
	for _, sql := range []string{
		"SELECT name FROM t WHERE name = '中文\\'' AND city = 'Zürich'",
		"SELECT `名前` FROM t WHERE v = 'à la carte'",
	} {
		if st := Scan(MySQL, sql); st.Kind != Read || st.ReadsAll || !slices.Equal(st.Reads, []string{"t"}) {
			t.Errorf("%q: %s, want a read of t alone", sql, describe(st))
		}
	}
}

// Texts whose write a MariaDB server with some client character set
// makes, which every reading the scanner made hid (review R): Big5's own
// lead bytes, and -- before a byte a single-byte set takes for a control
// character.
func TestCharsetHiddenWrite(t *testing.T) {
	for _, c := range []struct{ cs, q string }{
		// big5: lead bytes are 0xa1-0xf9 only; 0x81 is a byte of its own,
		// so 0xa4 0x5c is one character and the second backslash escapes
		// the quote. The GBK reading pairs 0x81 0xa4 instead.
		{"big5", "SELECT '\x81\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		{"big5", "SELECT '\xfa\xa4\\\\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp850, cp852, cp866, keybcs2: -- before 0xff begins a comment.
		{"cp850", "SELECT 1 --\xff '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// cp1250, hp8, macroman, latin7: -- before 0x80 (or others) too.
		{"cp1250", "SELECT 1 --\x80 '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
		// hebrew: -- before 0xfd.
		{"hebrew", "SELECT 1 --\xfd '\n; UPDATE w SET x = x + 1 WHERE id = 1; -- '"},
	} {
		st := Scan(MySQL, c.q)
		if !st.WritesAll && !slices.Contains(st.Writes, "w") {
			t.Errorf("%s: %q: kind %v writes %v: the UPDATE of w is missed", c.cs, c.q, st.Kind, st.Writes)
		}
	}
}

// cp852, cp866, keybcs2 take 0xff for white space: FROM<0xff>w reads w.
func TestCharsetFFSpaceHidesRead(t *testing.T) {
	q := "SELECT x FROM\xffw WHERE id = 1"
	st := Scan(MySQL, q)
	if !st.ReadsAll && !slices.Contains(st.Reads, "w") {
		t.Errorf("%q: kind %v reads %v: w is missed", q, st.Kind, st.Reads)
	}
}

// An ordinary UTF-8 GORM update of a table with a one-character
// (three-byte) CJK name: read as GBK, the name's last byte pairs with the
// closing backtick and the text invalidated every table (review R). Valid
// UTF-8 is not read as another character set.
func TestUTF8CJKNameReadsAsBefore(t *testing.T) {
	for _, q := range []string{
		"UPDATE `表` SET `名` = ? WHERE `id` = ?",
	} {
		st := Scan(MySQL, q)
		if st.WritesAll || !slices.Equal(st.Writes, []string{"表"}) {
			t.Errorf("%q: kind %v writes %v writesAll %v, want writes [表] only", q, st.Kind, st.Writes, st.WritesAll)
		}
	}
}

// Under ANSI_QUOTES, @"a\" is the variable `a\`: the UPDATE runs. The
// lexer read @"..." with backslash escapes in every reading (review R).
func TestAnsiQuotesAtVariable(t *testing.T) {
	q := `SELECT @"a\", '\'' ; UPDATE w SET x = x + 1 WHERE id = 1; -- '"`
	st := Scan(MySQL, q)
	if !st.WritesAll && !slices.Contains(st.Writes, "w") {
		t.Errorf("%s: kind %v writes %v: the UPDATE of w is missed", q, st.Kind, st.Writes)
	}
}

// A 0xA0 or 0xFF that is the text's first byte is a space to latin1 and
// cp852 as much as any other: b0afef8's one pass began at the second byte,
// and "\xa0CALL p()" lost the CALL's Opaque (review V).
func TestCharsetSpaceAtFirstByte(t *testing.T) {
	for _, sql := range []string{"\xa0CALL p()", "\xffCALL p()", "\xa0DO f()", "\xa0EXECUTE s"} {
		if st := Scan(MySQL, sql); !st.Opaque {
			t.Errorf("%q: %s, want the opaque statement the server reads", sql, describe(st))
		}
	}
}
