package sqlscan

import "strings"

// volatileAndCalls finds the first non-deterministic function or session
// variable (s.volatile) and the calls of functions the scanner does not know
// (s.calls). It is a linear pass over the tokens, independent of the clause
// walker, so that a misread clause cannot hide a volatile call.
func (s *scanner) volatileAndCalls() {
	var buf [maxWordLen]byte
	for i := range s.toks {
		t := &s.toks[i]
		switch t.kind {
		case tVar:
			if i > 0 && (s.toks[i-1].kind == tIdent || s.toks[i-1].kind == tString) {
				continue // 'user'@'host' (MySQL account name)
			}
			s.setVolatile(strings.ToLower(t.text))
		case tString:
			if s.volatile == "" && (s.d == Postgres || s.d == Generic) && HasClockWord(t.text) {
				// PostgreSQL reads 'now' (and 'today'...) as the clock in any
				// literal of a date type, alone or inside an array or range
				// ('{now}'), and a literal's type may come from a column
				// (d >= 'today'): a false alarm costs a read from the
				// database.
				s.volatile = "now"
			}
		case tIdent:
			if s.volatile == "" && s.regCast(i) {
				s.volatile = strings.ToLower(t.text) // '…'::"regclass"
				continue
			}
			if s.isPunct(i+1, '(') && s.isCall(i) {
				s.addCall(i, strings.ToLower(t.text)) // "MyFunc"(x)
			}
		case tWord:
			if (i == 0 || s.isPunct(i-1, ';')) && s.isPunct(i+1, '(') {
				continue // EXPLAIN (ANALYZE) ..., VACUUM (FULL) ...: a statement, not a call
			}
			if s.volatile == "" && s.wordIs(i+1, "value") && s.wordIs(i+2, "for") &&
				(s.wordIs(i, "next") || s.wordIs(i, "previous")) {
				s.volatile = "next_value_for" // MariaDB and SQL Server sequences
				continue
			}
			paren := s.isPunct(i+1, '(')
			if !paren && s.volatile == "" && s.regCast(i) {
				s.volatile = strings.ToLower(t.text)
				continue
			}
			cls := t.cls
			if cls == 0 && !paren {
				continue
			}
			b, ok := lowerInto(buf[:], t.text)
			if !ok {
				if paren && s.isCall(i) {
					s.addCall(i, strings.ToLower(t.text))
				}
				continue
			}
			if paren {
				if string(b) == "set_config" {
					s.setsSession = true
				}
				if s.volatile == "" {
					s.checkVolatileCall(i, b, cls)
				}
				// Named like a built-in of some dialect but in a schema of
				// the database's, it is an application's function (audit.log
				// writing a table; MySQL needs the schema for one named like
				// a built-in) or an extension's (extensions.similarity): the
				// text cannot say which, so it is a function cachedsql does
				// not know (PureFunctions lists those that are pure). So is
				// one named like a built-in or keyword of another dialect.
				if (cls == 0 || s.userSchemaCall(i) || !builtInTo(s.d, string(b))) && s.isCall(i) {
					s.addCall(i, string(b))
				}
				continue
			}
			if s.volatile != "" {
				continue
			}
			qualified := s.isPunct(i-1, '.') || s.isPunct(i+1, '.')
			switch {
			case cls&fnNoParens != 0 && !qualified:
				s.volatile = string(b)
			case t.kw == kTablesample:
				if !s.repeatableAfter(i) {
					s.volatile = "tablesample"
				}
			case s.d == Postgres && !qualified && string(b) == "user":
				s.volatile = "user"
			}
		}
	}
}

// addCall records a call of a function the scanner does not know, but for
// the databases' own: SQLite's pragma_* table-valued functions (SQLite
// offers them only for pragmas without side effects, and their reads are
// catalog reads, isSystemTable) and PostgreSQL's pg_* functions (volatile). (Not st_*: PostGIS's topology functions, ST_AddIsoNode
// and the like, write tables.)
func (s *scanner) addCall(i int, name string) {
	switch {
	case strings.HasPrefix(name, "pragma_"):
	case strings.HasPrefix(name, "pg_"):
		// PostgreSQL's own functions write no table and set nothing a later
		// read sees (those with effects, pg_advisory_lock and the like, are
		// listed volatile already); the rest read the catalogs, which DDL
		// changes without naming them. Migration tools call them.
		s.setVolatile(name)
	default:
		s.calls = append(s.calls, name)
		s.callAt = append(s.callAt, int32(i))
	}
}

func (s *scanner) setVolatile(name string) {
	if s.volatile == "" {
		s.volatile = name
	}
}

// repeatableAfter reports whether the TABLESAMPLE at i has a REPEATABLE seed.
func (s *scanner) repeatableAfter(i int) bool {
	for j := i + 1; j < len(s.toks) && j < i+8; j++ {
		if s.wordIs(j, "repeatable") {
			return true
		}
	}
	return false
}

// checkVolatileCall sets s.volatile when the call at i (name b, class cls) is
// non-deterministic.
func (s *scanner) checkVolatileCall(i int, b []byte, cls uint8) {
	end := s.closeOf(i + 1)
	noArgs := end == i+2
	switch {
	case string(b) == "unix_timestamp":
		if noArgs {
			s.volatile = string(b)
		}
	case string(b) == "age" && (s.d == Postgres || s.d == Generic) && s.args(i+1, end) == 1:
		s.volatile = string(b) // age(t) is age(current_date, t)
	case cls&fnSQLiteNow != 0:
		// SQLite: date('now'), datetime() and strftime('%s') (no time value
		// means now), strftime('%s','now').
		timeValue := 0
		if string(b) == "strftime" {
			timeValue = 1 // after the format
		}
		if s.args(i+1, end) <= timeValue && (s.d == SQLite || s.d == Generic) {
			s.volatile = string(b)
			return
		}
		for j := i + 2; j < end; j++ {
			// Nested too: strftime(f, coalesce(x, 'now')).
			if t := &s.toks[j]; t.kind == tString && strings.EqualFold(strings.TrimSpace(t.text), "now") {
				s.volatile = string(b)
				return
			}
		}
	case cls&fnVolatile != 0:
		s.volatile = string(b)
	}
}

// args counts the arguments between the parentheses at open and end.
func (s *scanner) args(open, end int) int {
	if end == open+1 {
		return 0
	}
	n := 1
	for j := open + 1; j < end; j++ {
		if s.isPunct(j, '(') {
			j = s.closeOf(j)
		} else if s.isPunct(j, ',') {
			n++
		}
	}
	return n
}

// HasClockWord reports whether s holds now, today, tomorrow or yesterday,
// in any case, as a whole word: the words PostgreSQL's date types (and
// SQLite's date functions, for now) read as the clock.
func HasClockWord(s string) bool {
	for i := 0; i < len(s); {
		if !isLetter(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		if n := j - i; n == 3 || n == 5 || n == 8 || n == 9 {
			w := s[i:j]
			if strings.EqualFold(w, "now") || strings.EqualFold(w, "today") ||
				strings.EqualFold(w, "tomorrow") || strings.EqualFold(w, "yesterday") {
				return true
			}
		}
		i = j
	}
	return false
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// userSchemaCall reports a name at i qualified by a schema (or MySQL
// database) other than the system ones.
func (s *scanner) userSchemaCall(i int) bool {
	return i >= 2 && s.isPunct(i-1, '.') && s.isName(i-2) && !systemSchemas[s.norm(i-2)]
}

// regCast reports a PostgreSQL reg* type at i used as a cast or a typed
// literal: 't'::regclass, 't'::pg_catalog.regclass, CAST('t' AS
// "regclass"), regclass 't'. Its input function looks the name up in the
// catalog, which DDL changes without naming it.
func (s *scanner) regCast(i int) bool {
	if s.d != Postgres && s.d != Generic {
		return false
	}
	if !regTypes[strings.ToLower(s.toks[i].text)] {
		return false
	}
	j := i
	if j >= 2 && s.isPunct(j-1, '.') && s.isName(j-2) {
		j -= 2 // pg_catalog.regclass
	}
	return s.isOp(j-1, "::") || s.kwAt(j-1) == kAs || (i+1 < len(s.toks) && s.toks[i+1].kind == tString)
}

// regTypes are PostgreSQL's object identifier types whose input function
// reads the catalog.
var regTypes = map[string]bool{
	"regclass": true, "regtype": true, "regproc": true, "regprocedure": true,
	"regoper": true, "regoperator": true, "regconfig": true, "regdictionary": true,
	"regnamespace": true, "regrole": true, "regcollation": true,
}

// callPrefixes are words after which a name and a parenthesis are a call
// though the words are no keywords of the scanner's: MySQL's SELECT
// modifiers (SELECT SQL_NO_CACHE f()), BINARY, and AT TIME ZONE f(x).
var callPrefixes = map[string]bool{
	"sql_no_cache": true, "sql_cache": true, "high_priority": true, "low_priority": true,
	"sql_small_result": true, "sql_big_result": true, "sql_buffer_result": true,
	"sql_calc_found_rows": true, "distinctrow": true, "binary": true, "zone": true,
	// trim(BOTH f() FROM s), FETCH FIRST f() ROWS, overlay(s PLACING f()
	// FROM 1), SQLite's x GLOB f() and x MATCH f().
	"both": true, "leading": true, "trailing": true, "first": true, "next": true,
	"placing": true, "glob": true, "match": true,
}

// isCall reports whether the word at i, followed by '(', is a function call
// rather than a table or alias with a column list, a type with a length, or
// a CTE name.
func (s *scanner) isCall(i int) bool {
	end := s.closeOf(i + 1)
	if s.kwAt(end+1) == kAs && (s.isPunct(end+2, '(') || s.kwAt(end+2) == kNot || s.kwAt(end+2) == kMaterialized) {
		return false // WITH name(cols) AS (...)
	}
	j := i
	for j >= 2 && s.isPunct(j-1, '.') && s.isName(j-2) {
		j -= 2
	}
	if j == 0 {
		return true
	}
	p := &s.toks[j-1]
	switch p.kind {
	case tPunct:
		if p.text[0] == ')' {
			return s.closesDistinctOn(j - 1) // SELECT DISTINCT ON (a) f(x)
		}
		return p.text[0] != '.'
	case tOp:
		return p.text != "::"
	case tWord:
		if p.kw != kNone && isOperatorWord(p.kw) {
			return true
		}
		return callPrefixes[strings.ToLower(p.text)]
	}
	return false
}

// closesDistinctOn reports a ')' at c that closes PostgreSQL's DISTINCT ON (…).
func (s *scanner) closesDistinctOn(c int) bool {
	for o := c - 1; o >= 2; o-- {
		if s.isPunct(o, '(') && s.closeOf(o) == c {
			return s.kwAt(o-1) == kOn && s.kwAt(o-2) == kDistinct
		}
	}
	return false
}

// dropDefinitionCalls forgets the calls in the statement [lo,hi) when it
// defines rather than runs them: DDL, whose names before '(' are tables,
// index methods and routines (CREATE INDEX i ON t (a), USING btree (a),
// DROP FUNCTION IF EXISTS f(int)), and CALL, EXEC, EXECUTE and DO, which
// write everything already. The query of CREATE TABLE ... AS SELECT (or
// a materialized view's) runs: its calls stay.
//
// Statements come in order and callAt ascends, so s.callNext, the first
// call not before the last statement, moves only forward; dropped calls are
// marked (-1) and removed once, by compactCalls: linear in calls and
// statements together (one pass per DDL statement over every call made a
// text of many statements quadratic).
func (s *scanner) dropDefinitionCalls(lo, hi int) {
	for s.callNext < len(s.callAt) && s.callAt[s.callNext] < int32(lo) {
		s.callNext++
	}
	if s.callNext == len(s.callAt) || s.callAt[s.callNext] >= int32(hi) {
		return // no call in this statement
	}
	switch s.kwAt(lo) {
	case kCreate:
		for j := lo + 1; j < hi && j < lo+8; j++ {
			switch s.kwAt(j) {
			case kTable, kMaterialized:
				// The query runs from its AS (AS (SELECT ...), AS VALUES
				// (...)), or its SELECT (MySQL's CREATE TABLE t (...) SELECT).
				if q := s.topLevel(j, hi, func(k int) bool {
					kw := s.kwAt(k)
					return kw == kSelect || kw == kWith || kw == kAs || kw == kValues
				}); q >= 0 {
					hi = q
				}
			case kView, kFunction, kProcedure, kTrigger:
			default:
				continue
			}
			break
		}
	case kAlter, kDrop, kCall, kExec, kExecute, kDo:
	default:
		return
	}
	for k := s.callNext; k < len(s.callAt) && s.callAt[k] < int32(hi); k++ {
		s.callAt[k] = -1
		s.dropped = true
	}
}

// compactCalls removes the calls dropDefinitionCalls marked.
func (s *scanner) compactCalls() {
	if !s.dropped {
		return
	}
	n := 0
	for k, at := range s.callAt {
		if at >= 0 {
			s.calls[n], s.callAt[n] = s.calls[k], at
			n++
		}
	}
	s.calls, s.callAt = s.calls[:n], s.callAt[:n]
}
