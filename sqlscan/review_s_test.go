package sqlscan

import "testing"

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
