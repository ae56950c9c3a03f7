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
