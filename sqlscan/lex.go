package sqlscan

import (
	"strings"
	"unicode/utf8"
)

// tokKind is the lexical class of a token.
type tokKind uint8

const (
	tWord   tokKind = iota // unquoted identifier or keyword
	tIdent                 // quoted identifier; text is the content between the quotes
	tString                // string literal of any form; text is the raw content
	tNumber                // numeric literal
	tParam                 // placeholder: ?, ?1, $1, :name, @p1
	tVar                   // MySQL @user or @@system variable (@@ also in Generic)
	tPunct                 // one of ( ) , ; .
	tOp                    // any other operator
)

type token struct {
	kind tokKind
	kw   kw    // keyword id of a tWord, kNone otherwise
	cls  uint8 // function class of a tWord (fn* bits), 0 when unknown
	esc  uint8 // for tIdent: the quote character when the content holds a doubled quote
	text string
}

// lexOpts are the quoting and comment rules of a dialect.
type lexOpts struct {
	backslashSingle bool // '...' strings take backslash escapes (MySQL)
	dqString        bool // "..." is a string, not an identifier (MySQL)
	backtick        bool // `...` identifiers
	bracket         bool // [...] identifiers
	hashComment     bool // # starts a line comment (MySQL)
	mysqlDashDash   bool // -- starts a comment only before whitespace (MySQL)
	nestedComments  bool // /* /* */ */ nests (Postgres)
	condComments    bool // /*! ... */ holds code (MySQL)
	skipVersioned   bool // /*!NNNNN ... */ and /*M! ... */ are comments: the server is older, or MySQL
	plainMaria      bool // with skipVersioned, /*M! ... */ is a plain comment, as to MySQL (no nesting)
	crEndsDash      bool // a -- comment ends at \r as well as \n (Postgres)
	dollarQuote     bool // $tag$...$tag$ strings (Postgres)
	eStrings        bool // E'...' strings with backslash escapes (Postgres)
	atVars          bool // @name is a user variable (MySQL); otherwise a placeholder
	atAtVars        bool // @@name is a system variable (MySQL, SQL Server)
	// lexSrc, when set, is the text to lex in place of the one scanned, of
	// the same length and read as another character set would read it
	// (charsetReadings); the tokens' texts are the scanned text's.
	lexSrc string
}

func optsFor(d Dialect) lexOpts {
	switch d {
	case Postgres:
		return lexOpts{nestedComments: true, dollarQuote: true, eStrings: true, crEndsDash: true}
	case MySQL:
		return lexOpts{backslashSingle: true, dqString: true, backtick: true, hashComment: true,
			mysqlDashDash: true, condComments: true, atVars: true, atAtVars: true}
	case SQLite:
		return lexOpts{backtick: true, bracket: true}
	default:
		return lexOpts{backtick: true, bracket: true, condComments: true, dollarQuote: true,
			eStrings: true, atAtVars: true}
	}
}

const hintPrefix = "cachedsql:"

// lex tokenises s.src into s.toks and records hints. It sets s.bad for an
// unterminated string, identifier or comment, and s.ambiguous when the text
// contains a form whose meaning depends on the dialect (used by Generic).
func (s *scanner) lex() {
	src := s.src
	o := s.opts
	n := len(src)
	cond := false // inside a MySQL conditional comment (a flag, as in the server's lexer)
	i := 0
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < n && src[i+1] == '-' &&
			(!o.mysqlDashDash || i+2 >= n || src[i+2] <= ' ' || src[i+2] == 0x7f):
			j := dashCommentLen(src[i:], o.crEndsDash)
			if r := strings.IndexByte(src[i:i+j], '\r'); !o.crEndsDash && s.d == Generic && r >= 0 && r < j-1 {
				// PostgreSQL ends the comment at the \r: read it both ways.
				// (Not for the \r of a \r\n line end, which ends it at
				// the same place either way.)
				s.ambiguous = true
			}
			s.hint(src[i+2 : i+j])
			i += j
		case c == '#' && o.hashComment:
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = n - i
			}
			s.hint(src[i+1 : i+j])
			i += j
		case c == '/' && i+1 < n && src[i+1] == '*':
			// (/*m! is a plain comment to MariaDB too: only a capital M.)
			if o.condComments && i+2 < n && (src[i+2] == '!' ||
				(i+3 < n && src[i+2] == 'M' && src[i+3] == '!')) {
				// Executable comment: its content is code, but for a version
				// (or MariaDB's /*M!) the server may not be: Scan reads the
				// text both ways.
				at := i
				i += 3
				if src[i-1] != '!' {
					i++
				}
				e := i
				for e < n && isDigit(src[e]) {
					e++
				}
				digits := e - i
				if src[at+2] == '!' && digits > 0 && digits < 5 {
					// Not a version: MySQL and MariaDB read these digits
					// as code (FROM /*!9t */ a is table 9t).
					e, digits = i, 0
				}
				if digits > 0 && digits != 5 && (src[at+2] == '!' || digits != 6) {
					// MySQL reads five digits of a version and the rest
					// as code, MariaDB up to six: two readings not made
					// here.
					s.mixedVersions = true
				}
				if src[at+2] != '!' || (digits > 0 && !alwaysRuns(src[i:e])) {
					// The server decides each version on its own: a text
					// with two different ones is not read here.
					if tag := src[at:e]; s.versionTag == "" {
						s.versionTag = tag
					} else if tag != s.versionTag {
						s.mixedVersions = true
					}
					s.versioned = true
					if src[at+2] != '!' {
						s.maria = true
					}
					if o.skipVersioned {
						if o.plainMaria && src[at+2] != '!' {
							i = s.blockComment(at) // MySQL's plain comment
						} else {
							i = s.skippedComment(at)
						}
						continue
					}
				}
				i = e // past the version, if there is one
				cond = true
				continue
			}
			i = s.blockComment(i)
		case c == '*' && cond && i+1 < n && src[i+1] == '/':
			cond = false
			i += 2
		case c == '\'':
			i = s.quoted(i, i+1, '\'', o.backslashSingle, tString)
		case (c == 'E' || c == 'e') && o.eStrings && i+1 < n && src[i+1] == '\'':
			i = s.quoted(i, i+2, '\'', true, tString)
		case (c == 'U' || c == 'u') && (s.d == Postgres || s.d == Generic) && strings.HasPrefix(src[i+1:], "&\""):
			i = s.unicodeIdent(i)
		case c == '"':
			s.dquote = s.d == MySQL
			if o.dqString {
				i = s.quoted(i, i+1, '"', o.backslashSingle, tString)
			} else {
				j := s.quoted(i, i+1, '"', false, tIdent)
				if s.d == Generic && strings.IndexByte(src[i:j], '\\') >= 0 {
					// To MySQL "a\"..." is a string that a backslash
					// escape makes longer.
					s.dquote = true
				}
				i = j
			}
		case c == '`' && o.backtick:
			i = s.quoted(i, i+1, '`', false, tIdent)
		case c == '[' && o.bracket && (s.d == SQLite || bracketIdent(src[i+1:])):
			j := strings.IndexByte(src[i+1:], ']')
			if j < 0 {
				s.bad = true
				s.emit(tIdent, src[i+1:])
				i = n
			} else {
				s.emit(tIdent, src[i+1:i+1+j])
				i += j + 2
			}
		case s.d == SQLite && (c == '$' || c == ':' || c == '@' || c == '#') && i+1 < n &&
			(isWordByte(src[i+1]) || strings.HasPrefix(src[i+1:], "::")):
			i = s.sqliteVar(i)
		case c == '$':
			i = s.dollar(i)
		case c == '?':
			j := i + 1
			for j < n && isDigit(src[j]) {
				j++
			}
			s.emit(tParam, src[i:j])
			i = j
		case c == ':':
			if i+1 < n && src[i+1] == ':' {
				s.emit(tOp, "::")
				i += 2
			} else if i+1 < n && isWordStart(src[i+1]) {
				j := wordEnd(src, i+1)
				s.emit(tParam, src[i:j])
				i = j
			} else {
				s.emit(tOp, src[i:i+1])
				i++
			}
		case c == '@':
			i = s.at(i)
		case c == '.' && i+1 < n && (isDigit(src[i+1]) || (src[i+1] == '$' && s.d == MySQL)) && s.afterName(src, i):
			// db.2fa_codes, db.$t: a name qualified by another, not a
			// number (MySQL names may begin with digits or $).
			s.emit(tPunct, ".")
			j := wordEnd(src, i+1)
			s.emitWord(src[i+1 : j])
			i = j
		case s.d == MySQL && (isDigit(c) || c == '$') && s.afterQualifierDot():
			// db . 2fa_codes, db ./**/2fa_codes: MySQL allows spaces and
			// comments around the dot.
			j := wordEnd(src, i+1)
			s.emitWord(src[i:j])
			i = j
		case s.d == MySQL && isDigit(c) && mysqlDigitName(src, i):
			// 2fa, 1_000, 0x1G: a name in MySQL, in every statement.
			j := wordEnd(src, i)
			s.emitWord(src[i:j])
			i = j
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(src[i+1])):
			i = s.number(i)
		case isWordStart(c):
			j := wordEnd(src, i)
			s.emitWord(src[i:j])
			i = j
		case c == '(' || c == ')' || c == ',' || c == ';' || c == '.':
			s.emit(tPunct, src[i:i+1])
			i++
		default:
			s.emit(tOp, src[i:i+1])
			i++
		}
	}
}

// bracketIdent reports whether the text after a '[' looks like a [quoted
// identifier] rather than an array subscript or constructor (a[1], ARRAY[(SELECT
// ...)]): Generic text may be either.
func bracketIdent(rest string) bool {
	j := strings.IndexByte(rest, ']')
	if j <= 0 {
		return j < 0 // unterminated: let the identifier rule report it
	}
	if isDigit(rest[0]) || rest[0] == '$' || rest[0] == '?' || rest[0] == ':' {
		return false
	}
	return !strings.ContainsAny(rest[:j], "()',:\"\n[")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isWordByte(c byte) bool { return isWordStart(c) || isDigit(c) || c == '$' }

func wordEnd(src string, i int) int {
	for i < len(src) && isWordByte(src[i]) {
		i++
	}
	return i
}

// afterName reports that the last token is a name that the '.' at i may
// qualify: in MySQL, which allows spaces and comments around the dot, any
// name but a keyword; elsewhere one that ends just before the dot.
func (s *scanner) afterName(src string, i int) bool {
	if len(s.toks) == 0 || i == 0 {
		return false
	}
	t := &s.toks[len(s.toks)-1]
	if s.d == MySQL {
		// Right before the dot any word qualifies (security.2fa_codes:
		// security is no reserved word in MySQL); across spaces or
		// comments, none that an expression may follow (THEN .5).
		return t.kind == tIdent || (t.kind == tWord && (isWordByte(src[i-1]) || !isOperatorWord(t.kw)))
	}
	switch t.kind {
	case tWord:
		return isWordByte(src[i-1])
	case tIdent:
		c := src[i-1]
		return c == '`' || c == '"' || c == ']'
	}
	return false
}

// afterQualifierDot reports that the last two tokens are a name (no word an
// expression may follow) and a '.': what follows is the name it qualifies
// (MySQL).
func (s *scanner) afterQualifierDot() bool {
	n := len(s.toks)
	if n < 2 || s.toks[n-1].kind != tPunct || s.toks[n-1].text != "." {
		return false
	}
	t := &s.toks[n-2]
	return t.kind == tIdent || (t.kind == tWord && !isOperatorWord(t.kw))
}

func (s *scanner) emit(k tokKind, text string) {
	s.toks = append(s.toks, token{kind: k, text: text})
}

func (s *scanner) emitWord(w string) {
	wi := lookupWord(w)
	s.toks = append(s.toks, token{kind: tWord, kw: wi.kw, cls: wi.cls, text: w})
}

// blockComment skips the comment starting at i and returns the index after it.
// alwaysRuns reports a /*!NNNNN version that every server cachedsql meets
// has reached: below MySQL 5.7.0, which MySQL 5.7 and later run, and
// MariaDB too (it runs every five-digit version below 50700). mysqldump
// writes such versions (/*!40101 SET ... */, /*!50503 SET NAMES ... */).
func alwaysRuns(version string) bool {
	return len(version) == 5 && version < "50700"
}

// skippedComment is the end of a MySQL executable comment begun at i that
// the server skips (a later version's, or /*M! on MySQL): MySQL's and
// MariaDB's consume_comment let one comment nest in it, so the first */
// after a /* inside ends that one, not the skipped comment.
func (s *scanner) skippedComment(i int) int {
	src := s.src
	n := len(src)
	nested := false
	for j := i + 2; j < n; j++ {
		switch {
		case !nested && src[j] == '/' && j+1 < n && src[j+1] == '*':
			nested = true
			j++
		case src[j] == '*' && j+1 < n && src[j+1] == '/':
			if !nested {
				return j + 2
			}
			nested = false
			j++
		}
	}
	s.bad = true
	return n
}

func (s *scanner) blockComment(i int) int {
	src := s.src
	n := len(src)
	start := i + 2
	depth := 1
	j := start
	for j < n {
		if src[j] == '*' && j+1 < n && src[j+1] == '/' {
			depth--
			j += 2
			if depth == 0 || !s.opts.nestedComments {
				s.hint(src[start : j-2])
				return j
			}
			continue
		}
		if src[j] == '/' && j+1 < n && src[j+1] == '*' {
			if s.opts.nestedComments {
				depth++
			} else {
				s.ambiguous = true
			}
			j += 2
			continue
		}
		j++
	}
	s.bad = true
	return n
}

// hint records the body of a comment that starts with the hint prefix.
func (s *scanner) hint(body string) {
	body = strings.TrimSpace(body)
	if len(body) < len(hintPrefix) || !strings.EqualFold(body[:len(hintPrefix)], hintPrefix) {
		return
	}
	s.hints = append(s.hints, strings.TrimSpace(body[len(hintPrefix):]))
}

// quoted scans a string or quoted identifier whose content starts at from
// (the token starts at at), closed by q; a doubled q is a q, and a backslash
// escapes the next byte when backslash is set.
func (s *scanner) quoted(at, from int, q byte, backslash bool, k tokKind) int {
	src := s.src
	n := len(src)
	var esc uint8
	j := from
	for j < n {
		c := src[j]
		if c == '\\' {
			if backslash {
				if s.d == MySQL && k == tString {
					// Read otherwise under sql_mode NO_BACKSLASH_ESCAPES.
					s.ambiguous = true
				}
				j += 2
				continue
			}
			if k == tString && (q == '\'' || q == '"') {
				s.ambiguous = true
			}
		}
		if c == q {
			if j+1 < n && src[j+1] == q {
				esc = q
				j += 2
				continue
			}
			s.toks = append(s.toks, token{kind: k, esc: esc, text: src[from:j]})
			return j + 1
		}
		j++
	}
	s.bad = true
	if from > n {
		from = n
	}
	s.toks = append(s.toks, token{kind: k, esc: esc, text: src[from:]})
	return n
}

// unicodeIdent scans PostgreSQL's U&"..." identifier at i, with an optional
// UESCAPE 'c' after it, and emits it decoded (U&"\0074" is the table t), so
// that every statement files it under the name the server reads. An
// escape it cannot decode makes the text bad.
func (s *scanner) unicodeIdent(i int) int {
	src := s.src
	j := s.quoted(i, i+3, '"', false, tIdent)
	t := &s.toks[len(s.toks)-1]
	name := t.text
	if t.esc != 0 {
		name = strings.ReplaceAll(name, `""`, `"`)
	}
	esc := byte('\\')
	k := j
	for k < len(src) && isSpace(src[k]) {
		k++
	}
	if k+7 <= len(src) && strings.EqualFold(src[k:k+7], "uescape") && (k+7 == len(src) || !isWordByte(src[k+7])) {
		k += 7
		for k < len(src) && isSpace(src[k]) {
			k++
		}
		if k+2 < len(src) && src[k] == '\'' && src[k+2] == '\'' {
			esc = src[k+1]
			j = k + 3
		} else {
			s.bad = true
		}
	} else if c := pastComments(src, k, s.opts.nestedComments, s.opts.crEndsDash); c != k && c+7 <= len(src) &&
		strings.EqualFold(src[c:c+7], "uescape") && (c+7 == len(src) || !isWordByte(src[c+7])) {
		// UESCAPE after a comment: not worth following. (Only the comments
		// right after the name are looked past: a search of the rest of the
		// text made one per name.)
		s.bad = true
	}
	decoded, ok := decodeUnicodeEscapes(name, esc)
	if !ok {
		s.bad = true
	}
	t.text, t.esc = decoded, 0
	return j
}

// dashCommentLen is the length of the -- comment src begins with, up to
// the end of its line.
func dashCommentLen(src string, crEnds bool) int {
	for j := 2; j < len(src); j++ {
		if src[j] == '\n' || (crEnds && src[j] == '\r') {
			return j
		}
	}
	return len(src)
}

// pastComments is where the white space and comments from k end.
func pastComments(src string, k int, nested, crEnds bool) int {
	for k < len(src) {
		switch {
		case isSpace(src[k]):
			k++
		case strings.HasPrefix(src[k:], "--"):
			k += dashCommentLen(src[k:], crEnds)
		case strings.HasPrefix(src[k:], "/*"):
			depth := 1
			k += 2
			for k < len(src) && depth > 0 {
				switch {
				case strings.HasPrefix(src[k:], "*/"):
					depth--
					k += 2
				case nested && strings.HasPrefix(src[k:], "/*"):
					depth++
					k += 2
				default:
					k++
				}
			}
		default:
			return k
		}
	}
	return k
}

// decodeUnicodeEscapes undoes PostgreSQL's U& escapes: esc followed by four
// hex digits, or by + and six, or by itself. Surrogates are refused.
func decodeUnicodeEscapes(name string, esc byte) (string, bool) {
	if strings.IndexByte(name, esc) < 0 {
		return name, true
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != esc {
			b.WriteByte(name[i])
			continue
		}
		if i+1 < len(name) && name[i+1] == esc {
			b.WriteByte(esc)
			i++
			continue
		}
		digits, from := 4, i+1
		if i+1 < len(name) && name[i+1] == '+' {
			digits, from = 6, i+2
		}
		if from+digits > len(name) {
			return "", false
		}
		r := rune(0)
		for _, c := range []byte(name[from : from+digits]) {
			if !isHexDigit(c) {
				return "", false
			}
			r = r<<4 | rune(hexValue(c))
		}
		if r == 0 || r > utf8.MaxRune || r >= 0xD800 && r <= 0xDFFF {
			return "", false
		}
		b.WriteRune(r)
		i = from + digits - 1
	}
	return b.String(), true
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// dollar scans what starts with '$': a $1 placeholder, a $tag$ string, or a
// $name placeholder or operator.
func (s *scanner) dollar(i int) int {
	src := s.src
	n := len(src)
	if i+1 < n && isDigit(src[i+1]) {
		j := i + 1
		for j < n && isDigit(src[j]) {
			j++
		}
		s.emit(tParam, src[i:j])
		return j
	}
	if s.opts.dollarQuote {
		j := i + 1
		for j < n && (isWordStart(src[j]) || isDigit(src[j])) {
			j++
		}
		if j < n && src[j] == '$' {
			tag := src[i : j+1]
			end := strings.Index(src[j+1:], tag)
			if end < 0 {
				s.bad = true
				s.emit(tString, src[j+1:])
				return n
			}
			s.emit(tString, src[j+1:j+1+end])
			return j + 1 + end + len(tag)
		}
	}
	if i+1 < n && isWordStart(src[i+1]) {
		j := wordEnd(src, i+1)
		s.emit(tParam, src[i:j])
		return j
	}
	s.emit(tOp, src[i:i+1])
	return i + 1
}

// sqliteVar scans a variable as SQLite's tokenizer does: after at least one
// name character, a '(' takes everything up to white space or a ')' into
// the token (Tcl's $a(index)), quotes included, and "::" belongs to the
// name. A quote there opens no string, so reading it as one would hide the
// statements that follow.
func (s *scanner) sqliteVar(i int) int {
	src := s.src
	n := len(src)
	names := 0
	j := i + 1
	for j < n {
		c := src[j]
		switch {
		case isWordByte(c):
			names++
			j++
			continue
		case c == '(' && names > 0:
			j++
			for j < n && src[j] != ')' && !isSpace(src[j]) {
				j++
			}
			if j < n && src[j] == ')' {
				j++
			} else {
				s.bad = true // SQLite's TK_ILLEGAL: the text does not run
			}
		case c == ':' && j+1 < n && src[j+1] == ':':
			j += 2
			continue
		}
		break
	}
	if names == 0 {
		s.bad = true
	}
	s.emit(tParam, src[i:j])
	return j
}

// isSpace reports SQLite's white space (sqlite3Isspace).
func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// at scans what starts with '@': a variable, a placeholder, or an operator.
func (s *scanner) at(i int) int {
	src := s.src
	n := len(src)
	o := s.opts
	if i+1 < n && src[i+1] == '@' && o.atAtVars {
		j := i + 2
		for j < n && (isWordByte(src[j]) || src[j] == '.') {
			j++
		}
		if j > i+2 {
			s.emit(tVar, src[i:j])
			return j
		}
	}
	if i+1 < n && (isWordStart(src[i+1]) || isDigit(src[i+1])) {
		j := wordEnd(src, i+1)
		if o.atVars {
			s.emit(tVar, src[i:j])
		} else {
			s.emit(tParam, src[i:j])
		}
		return j
	}
	if o.atVars && i+1 < n && (src[i+1] == '\'' || src[i+1] == '"' || src[i+1] == '`') {
		// @'quoted name' (MySQL); also the host part of 'user'@'host'.
		// Quoted as a string, it takes the strings' backslash escapes;
		// @"name" under ANSI_QUOTES is a quoted name, which takes none.
		q := src[i+1]
		if q == '"' {
			s.dquote = s.d == MySQL
		}
		before := len(s.toks)
		j := s.quoted(i, i+2, q, o.backslashSingle && (q == '\'' || q == '"' && o.dqString), tString)
		s.toks = s.toks[:before]
		s.emit(tVar, src[i:j])
		return j
	}
	s.emit(tOp, src[i:i+1])
	return i + 1
}

// mysqlDigitName reports that the token starting with the digit at i is a
// name, as MySQL's lexer decides: names may begin with digits, unless all
// digits, a 0x or 0b literal (lower-case x or b), or digits with an
// exponent (1e5x is the number 1e5 and the alias x).
func mysqlDigitName(src string, i int) bool {
	n := len(src)
	if src[i] == '0' && i+1 < n && (src[i+1] == 'x' || src[i+1] == 'b') {
		j := i + 2
		for j < n && (src[i+1] == 'x' && isHexDigit(src[j]) || src[i+1] == 'b' && (src[j] == '0' || src[j] == '1')) {
			j++
		}
		return j == i+2 || j < n && isWordByte(src[j])
	}
	j := i
	for j < n && isDigit(src[j]) {
		j++
	}
	if j >= n || !isWordByte(src[j]) {
		return false
	}
	if src[j] == 'e' || src[j] == 'E' {
		k := j + 1
		if k < n && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < n && isDigit(src[k]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) number(i int) int {
	src := s.src
	n := len(src)
	j := i
	if src[j] == '0' && j+1 < n && (src[j+1] == 'x' || src[j+1] == 'X' || src[j+1] == 'b' || src[j+1] == 'B') {
		j += 2
		for j < n && (isDigit(src[j]) || src[j] >= 'a' && src[j] <= 'f' || src[j] >= 'A' && src[j] <= 'F' || src[j] == '_') {
			j++
		}
		s.emit(tNumber, src[i:j])
		return j
	}
	for j < n && (isDigit(src[j]) || src[j] == '_') {
		j++
	}
	if j < n && src[j] == '.' {
		j++
		for j < n && isDigit(src[j]) {
			j++
		}
	}
	if j < n && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < n && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < n && isDigit(src[k]) {
			j = k
			for j < n && isDigit(src[j]) {
				j++
			}
		}
	}
	s.emit(tNumber, src[i:j])
	return j
}
