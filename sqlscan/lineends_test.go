package sqlscan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCommentAndLineEdges holds texts whose comments end where a server
// ends them, which the corpus file cannot spell (a bare \r), or which need
// several readings (review G). Each must name the table or the call it
// hides, or be Unknown.
func TestCommentAndLineEdges(t *testing.T) {
	for _, c := range []struct {
		d             Dialect
		sql           string
		read, written string // a table that must be read, or written
		call          string // a call that must be named
	}{
		// PostgreSQL ends a -- comment at \r too (scan.l's non_newline).
		{Postgres, "SELECT b.v::text FROM a --c\r, b", "b", "", ""},
		{Generic, "SELECT b.v::text FROM a --c\r, b", "b", "", ""},
		{Postgres, "SELECT v FROM U&\"d!0061ta\" --c\rUESCAPE '!'", "data", "", ""},
		// Generic may be PostgreSQL with standard strings: '\' is a whole
		// string there, and the comment ends at the \r (review H).
		{Generic, "SELECT 1 FROM a WHERE x = '\\' --\r AND 1 IN (SELECT 1 FROM b) -- '\n", "b", "", ""},
		// To MySQL, /*M! is a plain comment, which does not nest: it runs
		// UPDATE w SET x = '1' * 2.
		{MySQL, "/*M! SELECT ' /* */ UPDATE w SET x = '1' */* ' */ 2", "", "w", ""},
		{Generic, "/*M! SELECT ' /* */ UPDATE w SET x = '1' */* ' */ 2", "", "w", ""},
		// The query of CREATE TABLE ... AS runs, parenthesised or VALUES.
		{Postgres, "CREATE TABLE t2 AS (SELECT bump() AS x)", "", "t2", "bump"},
		{Postgres, "CREATE TABLE t3 AS VALUES (bump())", "", "t3", "bump"},
		{MySQL, "CREATE TABLE t4 (a int) SELECT bump() AS a", "", "t4", "bump"},
	} {
		st := Scan(c.d, c.sql)
		if st.Kind == Unknown {
			continue
		}
		if c.read != "" && !st.ReadsAll && !slices.Contains(st.Reads, c.read) {
			t.Errorf("%v %q: reads %v, not %s", c.d, c.sql, st.Reads, c.read)
		}
		if c.written != "" && !st.WritesAll && !slices.Contains(st.Writes, c.written) {
			t.Errorf("%v %q: writes %v, not %s", c.d, c.sql, st.Writes, c.written)
		}
		if c.call != "" && !slices.Contains(st.Calls, c.call) {
			t.Errorf("%v %q: calls %v, not %s", c.d, c.sql, st.Calls, c.call)
		}
	}
}

// TestCRLFLineEnds: a text whose lines end in \r\n (written on Windows)
// reads as the same text with \n, in every dialect, its comments included.
func TestCRLFLineEnds(t *testing.T) {
	for _, c := range loadCorpus(t) {
		text := "-- a comment\n" + c.sql + "\n-- ; DELETE FROM z\n"
		want := Scan(c.dialect, text)
		got := Scan(c.dialect, strings.ReplaceAll(text, "\n", "\r\n"))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("corpus line %d with \\r\\n line ends:\n got: %s\nwant: %s", c.line, describe(got), describe(want))
		}
	}
}
