package sqlscan

import (
	"strings"
	"unicode/utf8"
)

// scanner holds the state of one Scan. It is pooled; every slice it owns is
// copied out before it is returned to the pool.
type scanner struct {
	d     Dialect
	opts  lexOpts
	src   string
	toks  []token
	match []int32 // for a '(' the index of its ')'
	stack []int32

	reads  []string
	writes []string
	calls  []string
	callAt []int32 // the token of each call; -1 once dropped
	// callNext and dropped: see dropDefinitionCalls.
	callNext int
	dropped  bool
	hints    []string
	cte      []string // CTE names in scope, innermost last
	// qual: the name qualified last returned had a schema, or is a
	// PostgreSQL name whose case was kept, so it names no CTE in scope.
	qual  bool
	kinds []Kind

	volatile  string
	savepoint string
	vars      []SessionVar // session-scope SET assignments (MySQL, Generic)
	catalog   string       // the first system catalog read (information_schema.tables, pg_class, ...)
	temp      bool         // creates a temporary table (SELECT INTO TEMP, pg_temp.t): session state

	readsAll, writesAll, locking bool
	opaque, setsSession          bool
	procedural                   bool // opaque, and may change autocommit (Statement.Procedural)
	implicitCommit               bool
	chain, noChain               bool // COMMIT or ROLLBACK AND [NO] CHAIN
	analyzed                     bool // EXPLAIN ANALYZE or MariaDB ANALYZE ran a statement
	bad                          bool // unterminated literal or comment, unbalanced parentheses
	deep                         bool // nested deeper than maxDepth: valid SQL, not read
	ambiguous                    bool // contains a form Generic reads two ways
	// dquote: a "..." in a MySQL text, a string, or under sql_mode
	// ANSI_QUOTES an identifier.
	dquote        bool
	versioned     bool   // holds a MySQL comment whose content runs only on some servers
	maria         bool   // one of them is MariaDB's /*M!, a plain comment to MySQL
	versionTag    string // the first versioned comment's /*!NNNNN or /*M!NNNNNN
	mixedVersions bool   // another versioned comment has another tag
	nested        bool   // a nested statement or SELECT INTO writes
	depth         int    // nesting of statement and walk calls
}

// maxDepth bounds the nesting of subqueries the scanner follows; deeper text
// is Unknown. It keeps the recursion's stack small on hostile input.
const maxDepth = 200

func (s *scanner) reset(d Dialect, o lexOpts, src string) {
	s.d, s.opts, s.src = d, o, src
	s.toks = s.toks[:0]
	s.match = s.match[:0]
	s.stack = s.stack[:0]
	s.reads = s.reads[:0]
	s.writes = s.writes[:0]
	s.calls = s.calls[:0]
	s.callAt = s.callAt[:0]
	s.callNext, s.dropped = 0, false
	s.hints = s.hints[:0]
	s.cte = s.cte[:0]
	s.kinds = s.kinds[:0]
	s.vars = s.vars[:0]
	s.chain, s.noChain = false, false
	s.volatile, s.savepoint = "", ""
	s.catalog, s.temp = "", false
	s.readsAll, s.writesAll, s.locking = false, false, false
	s.opaque, s.setsSession, s.implicitCommit, s.analyzed = false, false, false, false
	s.procedural = false
	s.bad, s.deep, s.ambiguous, s.nested = false, false, false, false
	s.dquote = false
	s.versioned, s.maria = false, false
	s.versionTag, s.mixedVersions = "", false
	s.depth = 0
}

// matchParens fills s.match and reports whether the parentheses balance.
func (s *scanner) matchParens() bool {
	n := len(s.toks)
	if cap(s.match) < n {
		s.match = make([]int32, n)
	}
	s.match = s.match[:n]
	for i := range s.toks {
		t := &s.toks[i]
		s.match[i] = 0
		if t.kind != tPunct {
			continue
		}
		switch t.text[0] {
		case '(':
			s.stack = append(s.stack, int32(i))
		case ')':
			if len(s.stack) == 0 {
				return false
			}
			open := s.stack[len(s.stack)-1]
			s.stack = s.stack[:len(s.stack)-1]
			s.match[open] = int32(i)
		}
	}
	return len(s.stack) == 0
}

// statementBeforeError reports, of a text that is not valid SQL, a
// statement that ends (a ';' outside parentheses) before a parenthesis
// closes that was not opened: one that a server running the text one
// statement at a time has run before it meets the error. A ';' inside a
// parenthesis that never closes ends nothing: the server's parser fails
// on that statement first.
func (s *scanner) statementBeforeError() bool {
	depth, content := 0, false
	for i := range s.toks {
		t := &s.toks[i]
		if t.kind != tPunct {
			content = true
			continue
		}
		switch t.text[0] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return false
			}
			depth--
		case ';':
			if depth == 0 && content {
				return true
			}
			if depth == 0 {
				continue
			}
		}
		content = true
	}
	return false
}

// ---- token helpers ----

func (s *scanner) kwAt(i int) kw {
	if i < 0 || i >= len(s.toks) || s.toks[i].kind != tWord {
		return kNone
	}
	return s.toks[i].kw
}

func (s *scanner) isPunct(i int, c byte) bool {
	return i >= 0 && i < len(s.toks) && s.toks[i].kind == tPunct && s.toks[i].text[0] == c
}

func (s *scanner) isOp(i int, op string) bool {
	return i >= 0 && i < len(s.toks) && s.toks[i].kind == tOp && s.toks[i].text == op
}

// isName reports whether token i can be a name: a bare word or a non-empty
// quoted identifier (an empty one is an error in every dialect).
func (s *scanner) isName(i int) bool {
	if i < 0 || i >= len(s.toks) {
		return false
	}
	t := &s.toks[i]
	return t.kind == tWord || t.kind == tIdent && t.text != ""
}

// wordIs reports whether token i is the bare word w (lower case).
func (s *scanner) wordIs(i int, w string) bool {
	return i >= 0 && i < len(s.toks) && s.toks[i].kind == tWord && strings.EqualFold(s.toks[i].text, w)
}

// closeOf returns the index of the ')' matching the '(' at i.
func (s *scanner) closeOf(i int) int { return int(s.match[i]) }

// norm returns the normalised name of token i: content of a quoted
// identifier with doubled quotes undone, lower-cased.
func (s *scanner) norm(i int) string { return TableName(s.d, s.unquote(i)) }

// TableName is the name the scanner files a table (or other name) under in
// dialect d: lower case, and in PostgreSQL the first 63 bytes of it, as the
// server keeps (folding only ASCII letters, which keeps the length): the name
// an application declared and the one the catalog shows are one table.
// Invalidate and Dependencies take names through it too.
func TableName(d Dialect, name string) string {
	if d == Postgres && len(name) > maxPostgresName {
		// Cut before lower-casing, which may change a letter's length (İ).
		// At most a rune's length back: text that is not UTF-8 is cut at 63.
		k := maxPostgresName
		for k > maxPostgresName-utf8.UTFMax+1 && !utf8.RuneStart(name[k]) {
			k--
		}
		if !utf8.RuneStart(name[k]) {
			k = maxPostgresName
		}
		name = name[:k]
	}
	return strings.ToLower(name)
}

// maxPostgresName is NAMEDATALEN-1, the bytes of a name PostgreSQL keeps.
const maxPostgresName = 63

// unquote returns the content of token i with doubled quotes undone.
func (s *scanner) unquote(i int) string {
	t := &s.toks[i]
	if t.kind == tIdent && t.esc != 0 {
		q := string([]byte{t.esc})
		return strings.ReplaceAll(t.text, q+q, q)
	}
	return t.text
}

// caseKept reports a PostgreSQL quoted name with capitals: it matches no
// name folded to lower case, so norm's lower-casing must not merge it with
// a CTE's. Generic text may be PostgreSQL's (a driver behind a wrapper of
// another name); reading such a name as a table only adds a read. SQLite
// and PostgreSQL fold only ASCII letters (Ä is not ä), so outside MySQL a
// name with a capital beyond ASCII keeps its case too.
func (s *scanner) caseKept(i int) bool {
	t := &s.toks[i]
	if s.d == MySQL {
		return false
	}
	if (s.d == Postgres || s.d == Generic) && t.kind == tIdent && t.text != strings.ToLower(t.text) {
		return true
	}
	return foldsBeyondASCII(t.text)
}

// foldsBeyondASCII reports a name that lower-casing changes beyond its
// ASCII letters.
func foldsBeyondASCII(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			var buf [maxWordLen]byte
			b, ok := lowerInto(buf[:], name)
			return !ok || string(b) != strings.ToLower(name)
		}
	}
	return false
}

// cteName is the name pushed on s.cte for the CTE named at i: a name that
// matches nothing when its case was kept.
func (s *scanner) cteName(i int) string {
	if s.caseKept(i) {
		return "\x00" + s.norm(i)
	}
	return s.norm(i)
}

// qualified reads a possibly qualified name at i (a.b.c, "a"."b", t.*) and
// returns its last component and the index after it.
func (s *scanner) qualified(i int) (string, int) {
	last := i
	j := i + 1
	for s.isPunct(j, '.') {
		if s.isName(j + 1) {
			last = j + 1
			j += 2
			continue
		}
		if s.isOp(j+1, "*") {
			j += 2
		}
		break
	}
	name := s.norm(last)
	s.qual = last > i || s.caseKept(last)
	if s.catalog == "" {
		schema := ""
		if last > i {
			schema = s.norm(last - 2)
		}
		// A catalog table is one whatever schema names it (main.sqlite_master,
		// temp.sqlite_master, main.pragma_table_info).
		if systemSchemas[schema] || isSystemTable(name) {
			if schema != "" {
				s.catalog = schema + "." + name
			} else {
				s.catalog = name
			}
		}
	}
	return name, j
}

// schemaOf returns the schema qualifying the name at i ("" if none).
func (s *scanner) schemaOf(i int) string {
	if s.isName(i) && s.isPunct(i+1, '.') && s.isName(i+2) {
		return s.norm(i)
	}
	return ""
}

// systemSchemas hold the catalogs: what they return changes with DDL that
// names no table of theirs, so reads of them are never cached.
var systemSchemas = map[string]bool{
	"information_schema": true, "pg_catalog": true, "mysql": true,
	"performance_schema": true, "sys": true,
}

func isSystemTable(name string) bool {
	switch name {
	case "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "sqlite_sequence", "sqlite_stat1":
		return true
	}
	return strings.HasPrefix(name, "pg_") || strings.HasPrefix(name, "pragma_")
}

// isTempSchema reports a schema that holds a session's temporary tables:
// PostgreSQL's pg_temp (pg_temp_N), SQLite's temp (or temporary).
func isTempSchema(schema string) bool {
	return strings.HasPrefix(schema, "pg_temp") || schema == "temp" || schema == "temporary"
}

// addRead records a read of the table name, unless name is a CTE in scope.
// Only an unqualified name can be one (main.t is the table t), and in
// PostgreSQL not a quoted name that keeps capitals ("T" is not t).
func (s *scanner) addRead(name string) {
	if !s.qual {
		for _, c := range s.cte {
			if c == name {
				return
			}
		}
	}
	s.reads = append(s.reads, name)
}

func (s *scanner) add(dest *[]string, name string) {
	if dest == &s.reads {
		s.addRead(name)
		return
	}
	*dest = append(*dest, name)
}

// unsure records that a table list could not be read.
func (s *scanner) unsure(dest *[]string) {
	if dest == &s.writes {
		s.writesAll = true
	} else {
		s.readsAll = true
	}
}

// topLevel finds the first token in [i,hi) outside parentheses for which f is true.
func (s *scanner) topLevel(i, hi int, f func(int) bool) int {
	for i < hi {
		if s.isPunct(i, '(') {
			i = s.closeOf(i) + 1
			continue
		}
		if f(i) {
			return i
		}
		i++
	}
	return -1
}

// ---- statements ----

// statement classifies the statement in [lo,hi). Writes found in nested
// statements (data-modifying CTEs) or SELECT INTO turn a Read into a Write.
// commitsImplicitly reports a statement at lo that MySQL runs only after
// committing the open transaction (see Statement.ImplicitCommit).
func (s *scanner) commitsImplicitly(lo int) bool {
	switch {
	case s.kwAt(lo) == kCreate || s.kwAt(lo) == kDrop:
		// CREATE [OR REPLACE] TEMPORARY TABLE, DROP TEMPORARY TABLE: only
		// right before TABLE is it the keyword (MySQL has no TEMP, and lets
		// temporary name a table or an index).
		for i := lo + 1; i < lo+4; i++ {
			if (s.kwAt(i) == kTemporary || (s.d == Generic && s.kwAt(i) == kTemp)) && s.kwAt(i+1) == kTable {
				return false
			}
		}
		return true
	case s.kwAt(lo) == kAlter, s.kwAt(lo) == kRename, s.kwAt(lo) == kTruncate, s.kwAt(lo) == kLock,
		s.kwAt(lo) == kUnlock, s.kwAt(lo) == kGrant, s.kwAt(lo) == kRevoke, s.wordIs(lo, "flush"):
		return true
	case s.kwAt(lo) == kReset:
		return !s.wordIs(lo+1, "persist") // RESET MASTER, QUERY CACHE, ...: all but MySQL's RESET PERSIST
	case s.kwAt(lo) == kAnalyze, s.kwAt(lo) == kOptimize, s.wordIs(lo, "repair"), s.wordIs(lo, "check"):
		// ... [LOCAL | NO_WRITE_TO_BINLOG] TABLE
		return s.kwAt(lo+1) == kTable || s.kwAt(lo+2) == kTable
	}
	return false
}

func (s *scanner) statement(lo, hi int) Kind {
	saved := s.nested
	s.nested = false
	k := Unknown
	s.depth++
	if s.depth > maxDepth {
		s.deep = true
	} else if lo < hi {
		k = s.dispatch(lo, hi)
	}
	s.depth--
	if s.nested && k == Read {
		k = Write
	}
	s.nested = saved || s.nested || k == Write
	return k
}

func (s *scanner) dispatch(lo, hi int) Kind {
	if s.isPunct(lo, '(') {
		// (SELECT ...) UNION (SELECT ...)
		s.walk(lo, hi, modeExpr, &s.reads, &s.reads)
		return Read
	}
	switch s.kwAt(lo) {
	case kSelect, kValues:
		s.walk(lo, hi, modeQuery, &s.reads, &s.reads)
		return Read
	case kTable:
		if !s.isName(lo + 1) {
			return Unknown
		}
		name, next := s.qualified(lo + 1)
		s.addRead(name)
		s.walk(next, hi, modeQuery, &s.reads, &s.reads)
		return Read
	case kWith:
		if !s.isCTE(lo) {
			return Unknown
		}
		mark := len(s.cte)
		i := s.with(lo, hi)
		k := Unknown
		if i < hi {
			k = s.dispatch(i, hi)
		}
		s.cte = s.cte[:mark]
		return k
	case kInsert, kUpsert:
		return s.insert(lo, hi)
	case kReplace:
		if s.isPunct(lo+1, '(') {
			return Unknown
		}
		return s.insert(lo, hi)
	case kUpdate:
		return s.update(lo, hi)
	case kDelete:
		return s.delete(lo, hi)
	case kMerge:
		return s.merge(lo, hi)
	case kTruncate:
		return s.truncate(lo, hi)
	case kCopy:
		return s.copy(lo, hi)
	case kCreate:
		return s.create(lo, hi)
	case kAlter:
		return s.alter(lo, hi)
	case kDrop:
		return s.drop(lo, hi)
	case kRename:
		return s.rename(lo, hi)
	case kRefresh:
		i := lo + 1
		for s.kwAt(i) == kMaterialized || s.kwAt(i) == kView || s.kwAt(i) == kConcurrently {
			i++
		}
		if !s.isName(i) {
			s.writesAll = true
			return Write
		}
		name, _ := s.qualified(i)
		s.writes = append(s.writes, name)
		return Write
	case kCall, kExec, kExecute, kDo:
		s.writesAll, s.opaque = true, true
		// MySQL's DO evaluates expressions; PostgreSQL's runs a block,
		// which may COMMIT.
		s.procedural = s.procedural || s.kwAt(lo) != kDo || s.d != MySQL
		return Write
	case kGrant, kRevoke, kComment:
		s.writesAll = true
		return Write
	case kLoad:
		return s.load(lo, hi)
	case kAnalyze:
		if s.d != Postgres && s.d != SQLite && s.kwAt(lo+1) != kTable && (s.startsStatement(lo+1) || s.wordIs(lo+1, "format")) {
			// MariaDB's ANALYZE [FORMAT=JSON] statement runs the statement,
			// as EXPLAIN ANALYZE does: explain reads from the token after
			// lo-1, this ANALYZE, as it would after EXPLAIN.
			return s.explain(lo-1, hi)
		}
		return Other
	case kVacuum:
		if (s.d == SQLite || s.d == Generic) && s.topLevel(lo+1, hi, func(j int) bool { return s.kwAt(j) == kInto }) < 0 {
			// SQLite's VACUUM may renumber the rowids of a table without
			// an INTEGER PRIMARY KEY, any table's (VACUUM INTO writes a
			// copy and leaves them).
			s.writesAll = true
			return Write
		}
		return Other
	case kLock, kUnlock, kCheckpoint, kReindex, kCluster, kOptimize,
		kListen, kNotify, kUnlisten, kDeclare, kFetch, kMove, kClose:
		return Other
	case kExplain:
		return s.explain(lo, hi)
	case kDesc, kDescribe:
		if s.startsStatement(lo+1) || s.kwAt(lo+1) == kAnalyze || s.isPunct(lo+1, '(') {
			return s.explain(lo, hi)
		}
		s.readsAll = true
		return Read
	case kShow:
		s.readsAll = true
		return Read
	case kPragma:
		if harmlessPragmas[strings.ToLower(s.toks[min(lo+1, hi-1)].text)] {
			return Other
		}
		return Session
	case kSet:
		if (s.d == MySQL || s.d == Generic) && s.wordIs(lo+1, "statement") {
			// MariaDB's SET STATEMENT var = value, ... FOR statement: the
			// settings last for that statement alone, which is what runs. A
			// read under them may differ from the same read without them.
			at := s.topLevel(lo+2, hi, func(j int) bool { return s.kwAt(j) == kFor })
			if at < 0 || at+1 >= hi {
				return Unknown
			}
			k := s.statement(at+1, hi)
			if k == Read {
				s.readsAll = true
			}
			if (k == Commit || k == Rollback) && !s.chain && !s.noChain && s.kwAt(at+1) != kXa {
				// An explicit AND [NO] CHAIN wins over completion_type, and
				// XA COMMIT takes none.
				s.statementChain(lo+1, at)
			}
			return k
		}
		if s.d == MySQL || s.d == Generic {
			s.setVars(lo, hi)
		}
		return Session
	case kReset, kUse, kDiscard, kDeallocate, kAttach, kDetach:
		return Session
	case kPrepare:
		if s.kwAt(lo+1) == kTransaction {
			// PostgreSQL hands the transaction to a later COMMIT PREPARED
			// (a Write of every table): this connection's transaction ends
			// here, with nothing it wrote visible yet.
			return Rollback
		}
		return Session
	case kXa:
		return s.xa(lo)
	case kBegin:
		if s.compoundAt(lo) {
			// MariaDB's compound statement runs code the scanner cannot see.
			s.writesAll, s.opaque, s.procedural = true, true, true
			return Write
		}
		return s.begin(lo, hi)
	case kStart:
		if s.kwAt(lo+1) == kTransaction {
			return Begin
		}
		return Unknown
	case kCommit, kEnd:
		if s.kwAt(lo+1) == kPrepared {
			s.writesAll = true
			return Write
		}
		s.chainAt(lo+1, hi)
		return Commit
	case kRollback, kAbort:
		return s.rollback(lo, hi)
	case kSavepoint:
		if !s.isName(lo + 1) {
			return Unknown
		}
		s.savepoint = s.savepointName(lo + 1)
		return Savepoint
	case kRelease:
		i := lo + 1
		if s.kwAt(i) == kSavepoint {
			i++
		}
		if !s.isName(i) {
			return Unknown
		}
		s.savepoint = s.savepointName(i)
		return Release
	}
	return Unknown
}

// startsStatement reports whether token i begins a statement EXPLAIN can take.
func (s *scanner) startsStatement(i int) bool {
	switch s.kwAt(i) {
	case kSelect, kInsert, kUpdate, kDelete, kWith, kValues, kTable, kReplace, kMerge, kUpsert,
		kCreate, kExecute, kDeclare:
		return true
	}
	return false
}

func (s *scanner) savepointName(i int) string {
	t := &s.toks[i]
	if t.kind == tIdent && (s.d == Postgres || s.d == Generic) {
		return s.unquote(i)
	}
	return s.norm(i)
}

func (s *scanner) begin(lo, hi int) Kind {
	i := lo + 1
	if i >= hi {
		return Begin
	}
	switch s.kwAt(i) {
	case kWork, kTransaction, kTran, kNot, kRead:
		return Begin
	}
	for _, w := range [...]string{"deferred", "immediate", "exclusive", "isolation", "deferrable"} {
		if s.wordIs(i, w) {
			return Begin
		}
	}
	return Unknown
}

func (s *scanner) rollback(lo, hi int) Kind {
	i := lo + 1
	for s.kwAt(i) == kWork || s.kwAt(i) == kTransaction || s.kwAt(i) == kTran {
		i++
	}
	switch s.kwAt(i) {
	case kPrepared:
		return Other
	case kTo:
		i++
		if s.kwAt(i) == kSavepoint {
			i++
		}
		if i >= hi || !s.isName(i) {
			return Unknown
		}
		s.savepoint = s.savepointName(i)
		return RollbackTo
	}
	s.chainAt(i, hi)
	return Rollback
}

// compoundAt reports MariaDB's compound statement at lo: BEGIN NOT ATOMIC
// (a label before it is not supported outside stored programs).
func (s *scanner) compoundAt(lo int) bool {
	return (s.d == MySQL || s.d == Generic) && s.kwAt(lo) == kBegin && s.kwAt(lo+1) == kNot && s.wordIs(lo+2, "atomic")
}

// statementChain reads, for MariaDB's SET STATEMENT ... FOR COMMIT (or
// ROLLBACK), a completion_type among the settings [lo,hi): CHAIN (1) makes
// it chain as AND CHAIN does, and any other value stops a session's CHAIN.
// A value or name it cannot read makes the text opaque: the transaction
// state after it is uncertain.
func (s *scanner) statementChain(lo, hi int) {
	n := len(s.vars)
	s.setVars(lo, hi)
	for _, v := range s.vars[n:] {
		switch {
		case v.Name == "completion_type" && (v.Value == "1" || v.Value == "chain"):
			s.chain = true
		case v.Name == "completion_type" && (v.Value == "0" || v.Value == "no_chain" || v.Value == "2" || v.Value == "release"):
			s.noChain = true
		case v.Name == "completion_type" || v.Name == "":
			s.chain, s.opaque, s.procedural = true, true, true
		}
	}
	s.vars = s.vars[:n] // they last for the statement alone
}

// chainAt reads COMMIT's or ROLLBACK's AND [NO] CHAIN from token i.
func (s *scanner) chainAt(i, hi int) {
	for ; i < hi; i++ {
		if s.kwAt(i) != kAnd {
			continue
		}
		switch {
		case s.kwAt(i+1) == kChain:
			s.chain = true
		case s.kwAt(i+1) == kNo && s.kwAt(i+2) == kChain:
			s.noChain = true
		}
		return
	}
}

// xa classifies MySQL's XA statements. XA COMMIT may commit a transaction
// another connection prepared, whose tables cannot be known: it writes all.
func (s *scanner) xa(lo int) Kind {
	if s.d != MySQL && s.d != Generic {
		return Unknown
	}
	switch s.kwAt(lo + 1) {
	case kStart, kBegin:
		return Begin
	case kEnd, kPrepare:
		return Other // the transaction stays open until XA COMMIT or ROLLBACK
	case kCommit:
		s.writesAll = true
		return Commit
	case kRollback:
		return Rollback
	}
	if s.wordIs(lo+1, "recover") {
		return Other
	}
	return Unknown
}

// setVars records the session-scope assignments of MySQL's SET: SET
// [GLOBAL|SESSION|LOCAL|PERSIST|PERSIST_ONLY] name = value, ..., where a
// scope applies to the assignments after it that name none, and
// @@[global.|session.|local.]name is the same. An assignment whose value is
// not one literal has Value "".
func (s *scanner) setVars(lo, hi int) {
	global := false
	for i := lo + 1; i < hi; {
		switch {
		case s.kwAt(i) == kGlobal || s.wordIs(i, "persist") || s.wordIs(i, "persist_only"):
			global = true
			i++
			continue
		case s.wordIs(i, "session") || s.kwAt(i) == kLocal:
			global = false
			i++
			continue
		}
		name, ok, g := "", false, global
		switch t := &s.toks[i]; {
		case t.kind == tWord || t.kind == tIdent:
			// MySQL takes a quoted name too: SET `autocommit` = 0.
			name, ok = strings.ToLower(t.text), true
		case t.kind == tVar && strings.HasPrefix(t.text, "@@"):
			// @@name is the session's own, whatever scope came before it.
			name, ok, g = strings.ToLower(t.text[2:]), true, false
			if scope, rest, dotted := strings.Cut(name, "."); dotted {
				name = rest
				g = scope == "global" || scope == "persist" || scope == "persist_only"
				if rest == "" && i+1 < hi && (s.toks[i+1].kind == tIdent || s.toks[i+1].kind == tString) {
					// @@session.`autocommit`, @@session.'autocommit'
					i++
					name = strings.ToLower(s.toks[i].text)
				}
			}
		case t.kind == tVar && strings.HasPrefix(t.text, "@"):
			// A user variable: no session setting.
		case s.d == MySQL || s.d == Generic:
			// A name the scanner cannot read (@@`autocommit` lexes as @ and
			// @`autocommit`): an unnamed setting, which the connection
			// takes for one it must ask the server about.
			name, ok = "", true
			if s.isOp(i, "@") && i+1 < hi && s.toks[i+1].kind == tVar {
				i++
			}
		}
		end := s.topLevel(i, hi, func(j int) bool { return s.isPunct(j, ',') })
		if end < 0 {
			end = hi
		}
		val := -1 // the first token of the value
		switch {
		case s.isOp(i+1, "="):
			val = i + 2
		case s.isOp(i+1, ":") && s.isOp(i+2, "="):
			val = i + 3
		case ok && name != "password" && (s.d == MySQL || s.d == Generic):
			// (SET PASSWORD FOR user = ... sets no session setting.)
			// A name the scanner read only in part (@@session . autocommit,
			// spaces and comments around the dot): an unnamed setting.
			for j := i + 1; j < end; j++ {
				if s.isOp(j, "=") || s.isOp(j, ":") && s.isOp(j+1, "=") {
					name, val = "", end
					break
				}
			}
		}
		if ok && !g && val > 0 && val <= end {
			v := SessionVar{Name: name}
			if val+1 == end {
				switch t := &s.toks[val]; t.kind {
				case tWord, tNumber, tString:
					v.Value = strings.ToLower(t.text)
				}
			}
			s.vars = append(s.vars, v)
		}
		i = end + 1
	}
}

func (s *scanner) explain(lo, hi int) Kind {
	i := lo + 1
	analyze := false
	for i < hi {
		switch {
		case s.kwAt(i) == kAnalyze:
			analyze = true
			i++
		case s.isPunct(i, '('):
			end := s.closeOf(i)
			for j := i + 1; j < end; j++ {
				if s.kwAt(j) == kAnalyze && !s.wordIs(j+1, "off") && !s.wordIs(j+1, "false") &&
					!(j+1 < len(s.toks) && s.toks[j+1].kind == tNumber && s.toks[j+1].text == "0") {
					analyze = true
				}
			}
			i = end + 1
		case s.toks[i].kind == tWord && !s.startsStatement(i):
			i++ // VERBOSE, QUERY PLAN, FORMAT=JSON, EXTENDED, ...
		case s.toks[i].kind == tOp || s.toks[i].kind == tString:
			i++
		default:
			goto inner
		}
	}
inner:
	if i >= hi {
		return Other
	}
	s.analyzed = s.analyzed || analyze
	wmark, wall := len(s.writes), s.writesAll
	saved := s.nested
	k := s.statement(i, hi)
	if analyze && (k == Write || k == Unknown || k == Session) {
		if k == Unknown {
			s.writesAll = true
		}
		if k == Session {
			// EXPLAIN ANALYZE CREATE TEMP TABLE ... AS runs it: the
			// connection then has a table that others do not.
			return Session
		}
		return Write
	}
	s.writes, s.writesAll, s.nested = s.writes[:wmark], wall, saved
	return Other
}

func (s *scanner) insert(lo, hi int) Kind {
	i := lo + 1
	for {
		switch s.kwAt(i) {
		case kLowPriority, kDelayed, kHighPriority, kIgnore:
			i++
			continue
		case kOr: // SQLite INSERT OR REPLACE
			i += 2
			continue
		}
		break
	}
	if s.kwAt(i) == kInto {
		i++
	}
	if s.kwAt(i) == kTable {
		i++
	}
	if i >= hi || !s.isName(i) || s.kwAt(i) == kSelect || s.kwAt(i) == kValues || s.kwAt(i) == kDefault {
		s.writesAll = true
		s.walk(i, hi, modeExpr, &s.reads, &s.reads)
		return Write
	}
	name, next := s.qualified(i)
	s.writes = append(s.writes, name)
	s.walk(next, hi, modeExpr, &s.reads, &s.reads)
	return Write
}

func (s *scanner) update(lo, hi int) Kind {
	i := lo + 1
	for {
		switch s.kwAt(i) {
		case kLowPriority, kIgnore:
			i++
			continue
		case kOr:
			i += 2
			continue
		}
		break
	}
	set := s.topLevel(i, hi, func(j int) bool { return s.kwAt(j) == kSet })
	if set <= i {
		s.writesAll = true
		s.walk(i, hi, modeQuery, &s.reads, &s.reads)
		return Write
	}
	s.walk(i, set, modeFromList, &s.writes, &s.writes)
	s.walk(set, hi, modeQuery, &s.reads, &s.reads)
	return Write
}

func (s *scanner) delete(lo, hi int) Kind {
	i := lo + 1
	for s.kwAt(i) == kLowPriority || s.kwAt(i) == kQuick || s.kwAt(i) == kIgnore {
		i++
	}
	if s.wordIs(i, "top") { // SQL Server DELETE TOP (n)
		i++
		if s.isPunct(i, '(') {
			i = s.closeOf(i) + 1
		} else {
			i++
		}
	}
	if s.kwAt(i) == kFrom {
		// DELETE FROM t [USING ...]: in MySQL the USING list holds the
		// targets' real names when they are aliases, so count it as written.
		using := &s.reads
		if s.d == MySQL || s.d == Generic {
			using = &s.writes
		}
		s.walk(i+1, hi, modeFromList, &s.writes, using)
		return Write
	}
	// DELETE t1, t2 FROM t1 JOIN t2 ... (MySQL) or DELETE t WHERE ... (SQL Server).
	// Targets may be aliases, so every table of the FROM list counts as written.
	for s.isName(i) && s.kwAt(i) != kWhere {
		name, next := s.qualified(i)
		s.writes = append(s.writes, name)
		i = next
		if !s.isPunct(i, ',') {
			break
		}
		i++
	}
	switch {
	case s.kwAt(i) == kFrom:
		s.walk(i+1, hi, modeFromList, &s.writes, &s.writes)
	case s.kwAt(i) == kUsing:
		s.walk(i, hi, modeQuery, &s.writes, &s.writes)
	case i >= hi || s.kwAt(i) == kWhere || s.kwAt(i) == kReturning:
		if len(s.writes) == 0 {
			s.writesAll = true
		}
		s.walk(i, hi, modeQuery, &s.reads, &s.reads)
	default:
		s.writesAll = true
		s.walk(i, hi, modeQuery, &s.reads, &s.reads)
	}
	return Write
}

func (s *scanner) merge(lo, hi int) Kind {
	i := lo + 1
	if s.kwAt(i) == kInto {
		i++
	}
	if s.kwAt(i) == kOnly { // PostgreSQL: MERGE INTO ONLY t
		i++
	}
	if !s.isName(i) {
		s.writesAll = true
		return Write
	}
	name, next := s.qualified(i)
	if s.isOp(next, "*") {
		next++
	}
	s.writes = append(s.writes, name)
	s.walk(next, hi, modeQuery, &s.reads, &s.reads)
	return Write
}

func (s *scanner) truncate(lo, hi int) Kind {
	i := lo + 1
	if s.kwAt(i) == kTable {
		i++
	}
	n := 0
	for i < hi {
		if s.kwAt(i) == kOnly {
			i++
		}
		if !s.isName(i) || s.kwAt(i) == kCascade {
			break
		}
		name, next := s.qualified(i)
		s.writes = append(s.writes, name)
		n++
		i = next
		if s.isOp(i, "*") {
			i++
		}
		if !s.isPunct(i, ',') {
			break
		}
		i++
	}
	// CASCADE empties every table that references these: unknown here.
	if n == 0 || s.topLevel(i, hi, func(j int) bool { return s.kwAt(j) == kCascade }) >= 0 {
		s.writesAll = true
	}
	return Write
}

func (s *scanner) copy(lo, hi int) Kind {
	i := lo + 1
	if s.isPunct(i, '(') {
		end := s.closeOf(i)
		s.statement(i+1, end)
		return Other
	}
	if !s.isName(i) {
		return Unknown
	}
	name, next := s.qualified(i)
	if s.isPunct(next, '(') {
		next = s.closeOf(next) + 1
	}
	if s.kwAt(next) == kFrom {
		s.writes = append(s.writes, name)
		return Write
	}
	s.addRead(name)
	return Other
}

func (s *scanner) load(lo, hi int) Kind {
	if !s.wordIs(lo+1, "data") && !s.wordIs(lo+1, "xml") {
		return Session // Postgres LOAD 'library'
	}
	into := s.topLevel(lo+2, hi, func(j int) bool { return s.kwAt(j) == kInto })
	if into < 0 || s.kwAt(into+1) != kTable || !s.isName(into+2) {
		s.writesAll = true
		return Write
	}
	name, _ := s.qualified(into + 2)
	s.writes = append(s.writes, name)
	return Write
}

// skipIfExists skips IF [NOT] EXISTS at i.
func (s *scanner) skipIfExists(i int) int {
	if s.kwAt(i) == kIf {
		i++
		if s.kwAt(i) == kNot {
			i++
		}
		if s.kwAt(i) == kExists {
			i++
		}
	}
	return i
}

func (s *scanner) create(lo, hi int) Kind {
	i := lo + 1
	temp := false
modifiers:
	for i < hi {
		switch s.kwAt(i) {
		case kOr: // OR REPLACE
			i += 2
		case kTemp, kTemporary:
			temp = true
			i++
		case kUnlogged, kGlobal, kLocal, kUnique, kFulltext, kSpatial, kVirtual, kMaterialized,
			kRecursive:
			i++
		case kAlgorithm, kDefiner, kSql:
			// MySQL view options: ALGORITHM=x DEFINER=user@host SQL SECURITY x
			i++
			for i < hi && s.kwAt(i) != kView && s.kwAt(i) != kSql && s.kwAt(i) != kDefiner &&
				s.kwAt(i) != kAlgorithm && s.kwAt(i) != kTrigger && s.kwAt(i) != kProcedure &&
				s.kwAt(i) != kFunction {
				i++
			}
		default:
			break modifiers
		}
	}
	kind := Write
	if temp {
		kind = Session
	}
	switch s.kwAt(i) {
	case kTable, kView:
		i = s.skipIfExists(i + 1)
		if !s.isName(i) {
			// A name the scanner cannot read may be a temporary table's
			// (SQLite takes CREATE TABLE 'temp'.t), which only this
			// connection sees.
			s.writesAll = true
			return Session
		}
		if isTempSchema(s.schemaOf(i)) {
			kind = Session // CREATE TABLE pg_temp.t is a temporary table
		}
		name, next := s.qualified(i)
		s.writes = append(s.writes, name)
		// CREATE TABLE t AS SELECT / CREATE VIEW v AS SELECT / MySQL CREATE TABLE t (...) SELECT
		q := s.topLevel(next, hi, func(j int) bool {
			k := s.kwAt(j)
			return k == kSelect || k == kWith || k == kValues || k == kTable ||
				(k == kAs && (s.startsStatement(j+1) || s.isPunct(j+1, '(')))
		})
		if q >= 0 {
			if s.kwAt(q) == kAs {
				q++
			}
			s.statement(q, hi)
		}
		return kind
	case kIndex:
		on := s.topLevel(i+1, hi, func(j int) bool { return s.kwAt(j) == kOn })
		if on < 0 {
			s.writesAll = true
			return Write
		}
		j := on + 1
		if s.kwAt(j) == kOnly {
			j++
		}
		if !s.isName(j) {
			s.writesAll = true
			return Write
		}
		name, _ := s.qualified(j)
		s.writes = append(s.writes, name)
		return Write
	}
	s.writesAll = true
	// Any relation in a temporary schema (CREATE SEQUENCE pg_temp.t) hides
	// a table of the same name from this connection alone.
	if j := s.skipIfExists(i + 1); s.isName(j) && isTempSchema(s.schemaOf(j)) {
		return Session
	}
	return kind
}

func (s *scanner) alter(lo, hi int) Kind {
	i := lo + 1
	if s.kwAt(i) == kMaterialized {
		i++
	}
	if s.wordIs(i, "session") {
		return Session
	}
	if s.kwAt(i) != kTable && s.kwAt(i) != kView {
		s.writesAll = true
		return Write
	}
	i = s.skipIfExists(i + 1)
	if s.kwAt(i) == kOnly {
		i++
	}
	if !s.isName(i) {
		s.writesAll = true
		return Write
	}
	name, next := s.qualified(i)
	s.writes = append(s.writes, name)
	for j := next; j < hi; j++ {
		if s.isPunct(j, '(') {
			j = s.closeOf(j)
			continue
		}
		if s.kwAt(j) == kTable || s.wordIs(j, "partition") || s.wordIs(j, "inherit") {
			// Rows that move between tables: MariaDB's EXCHANGE PARTITION p
			// WITH TABLE q, CONVERT TABLE q TO PARTITION and CONVERT
			// PARTITION p TO TABLE q; PostgreSQL's ATTACH or DETACH
			// PARTITION q and [NO] INHERIT q. (A partition's own name
			// written as a table costs an invalidation, nothing more.)
			if k := s.skipIfExists(j + 1); s.isName(k) && s.kwAt(k) == kNone {
				name, _ := s.qualified(k)
				s.writes = append(s.writes, name)
			}
			continue
		}
		if s.kwAt(j) != kRename {
			continue
		}
		k := j + 1
		switch s.kwAt(k) {
		case kTo, kAs:
			k++
		case kColumn, kIndex, kKey, kConstraint:
			continue
		default:
			if s.kwAt(k+1) == kTo { // RENAME col TO col2
				continue
			}
		}
		if s.isName(k) {
			newName, _ := s.qualified(k)
			s.writes = append(s.writes, newName)
		}
	}
	return Write
}

func (s *scanner) drop(lo, hi int) Kind {
	i := lo + 1
	for s.kwAt(i) == kTemporary || s.kwAt(i) == kTemp || s.kwAt(i) == kMaterialized {
		i++
	}
	switch s.kwAt(i) {
	case kTable, kView:
		i = s.skipIfExists(i + 1)
		n := 0
		for s.isName(i) {
			name, next := s.qualified(i)
			s.writes = append(s.writes, name)
			n++
			i = next
			if !s.isPunct(i, ',') {
				break
			}
			i++
		}
		if n == 0 || s.topLevel(i, hi, func(j int) bool { return s.kwAt(j) == kCascade }) >= 0 {
			s.writesAll = true // CASCADE drops dependent views
		}
		return Write
	case kIndex:
		i++
		if s.kwAt(i) == kConcurrently {
			i++
		}
		i = s.skipIfExists(i)
		if s.isName(i) {
			_, next := s.qualified(i)
			if s.kwAt(next) == kOn && s.isName(next+1) {
				name, _ := s.qualified(next + 1)
				s.writes = append(s.writes, name)
				return Write
			}
		}
	}
	s.writesAll = true
	return Write
}

func (s *scanner) rename(lo, hi int) Kind {
	if s.kwAt(lo+1) != kTable {
		s.writesAll = true
		return Write
	}
	n := 0
	for i := lo + 2; i < hi; i++ {
		if s.isName(i) && s.kwAt(i) != kTo {
			name, next := s.qualified(i)
			s.writes = append(s.writes, name)
			n++
			i = next - 1
		}
	}
	if n == 0 {
		s.writesAll = true
	}
	return Write
}

// ---- CTEs ----

// isCTE reports whether the WITH at i starts a common table expression list:
// WITH [RECURSIVE] name [(cols)] AS [NOT MATERIALIZED] (.
func (s *scanner) isCTE(i int) bool {
	i++
	if s.kwAt(i) == kRecursive {
		i++
	}
	if !s.isName(i) || s.wordIs(i, "ordinality") {
		return false
	}
	i++
	if s.isPunct(i, '(') {
		i = s.closeOf(i) + 1
	}
	if s.kwAt(i) != kAs {
		return false
	}
	i++
	return s.isPunct(i, '(') || s.kwAt(i) == kNot || s.kwAt(i) == kMaterialized
}

// with reads the CTE list at i (the WITH) and returns the index of the
// statement that follows it. CTE names are pushed onto s.cte; the caller
// pops them when its scope ends.
func (s *scanner) with(i, hi int) int {
	i++
	rec := s.kwAt(i) == kRecursive
	if rec {
		i++
		// Every name is visible in every body.
		for j := i; j < hi && s.isName(j); {
			s.cte = append(s.cte, s.cteName(j))
			j = s.skipCTE(j, hi)
			if !s.isPunct(j, ',') {
				break
			}
			j++
		}
	}
	for i < hi {
		if !s.isName(i) {
			s.readsAll = true
			return i
		}
		name := s.cteName(i)
		i++
		if s.isPunct(i, '(') {
			i = s.closeOf(i) + 1
		}
		if s.kwAt(i) != kAs {
			s.readsAll = true
			return i
		}
		i++
		if s.kwAt(i) == kNot {
			i++
		}
		if s.kwAt(i) == kMaterialized {
			i++
		}
		if !s.isPunct(i, '(') {
			s.readsAll = true
			return i
		}
		end := s.closeOf(i)
		s.statement(i+1, end)
		i = end + 1
		if !rec {
			s.cte = append(s.cte, name)
		}
		i = s.skipSearchCycle(i, hi)
		if !s.isPunct(i, ',') {
			return i
		}
		i++
	}
	return i
}

// skipCTE skips one "name [(cols)] AS [NOT] [MATERIALIZED] (body) [SEARCH|CYCLE ...]".
func (s *scanner) skipCTE(j, hi int) int {
	j++
	if s.isPunct(j, '(') {
		j = s.closeOf(j) + 1
	}
	if s.kwAt(j) == kAs {
		j++
	}
	if s.kwAt(j) == kNot {
		j++
	}
	if s.kwAt(j) == kMaterialized {
		j++
	}
	if s.isPunct(j, '(') {
		j = s.closeOf(j) + 1
	}
	return s.skipSearchCycle(j, hi)
}

// skipSearchCycle skips Postgres SEARCH ... SET col and CYCLE ... USING col.
func (s *scanner) skipSearchCycle(i, hi int) int {
	for s.kwAt(i) == kSearch || s.kwAt(i) == kCycle {
		end := kSet
		if s.kwAt(i) == kCycle {
			end = kUsing
		}
		for i < hi && s.kwAt(i) != end {
			i++
		}
		i += 2
	}
	return i
}

// ---- queries ----

type walkMode uint8

const (
	modeQuery    walkMode = iota // a query: FROM starts a table list
	modeExpr                     // an expression: FROM is a keyword argument until a SELECT
	modeFromList                 // starts with a table list (a join in parentheses, UPDATE targets)
)

// walk scans [lo,hi) for table references. Tables of table lists at this
// level go to dest (USING lists to using); nested queries always read.
func (s *scanner) walk(lo, hi int, mode walkMode, dest, using *[]string) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxDepth {
		s.deep = true
		return
	}
	mark := len(s.cte)
	fromOK := mode != modeExpr
	inFrom := false
	cases := 0 // CASE expressions open: their WHEN ends no FROM list
	i := lo
	if mode == modeFromList {
		i = s.tableList(i, hi, dest)
		inFrom = true
	}
	for i < hi {
		t := &s.toks[i]
		switch t.kind {
		case tPunct:
			switch t.text[0] {
			case '(':
				end := s.closeOf(i)
				s.paren(i, end)
				i = end + 1
				continue
			case ',':
				if inFrom {
					i = s.tableList(i+1, hi, dest)
					continue
				}
			}
		case tWord:
			if t.kw != kNone && (s.isPunct(i-1, '.') || s.isPunct(i+1, '.')) {
				i++ // a name beside a dot: a.order, qualify.x
				continue
			}
			switch t.kw {
			case kCase:
				cases++
			case kEnd:
				if cases > 0 {
					cases--
				}
			case kFrom:
				if fromOK && !s.distinctFrom(i) {
					i = s.tableList(i+1, hi, dest)
					inFrom = true
					continue
				}
			case kJoin, kStraightJoin, kApply:
				if fromOK && s.kwAt(i-1) != kFor { // not USE INDEX FOR JOIN (i)
					i = s.tableList(i+1, hi, dest)
					inFrom = true
					continue
				}
			case kUsing:
				if fromOK && !s.isPunct(i+1, '(') {
					i = s.tableList(i+1, hi, using)
					inFrom = true
					continue
				}
			case kSelect:
				fromOK = true
				inFrom = false
			case kWhere, kGroup, kHaving, kOrder, kLimit, kOffset, kFetch, kWindow, kUnion,
				kIntersect, kExcept, kMinus, kReturning, kSet, kQualify, kValues:
				inFrom = false
			case kWhen:
				if cases == 0 {
					inFrom = false
				}
			case kOn:
				if s.kwAt(i+1) == kDuplicate || s.kwAt(i+1) == kConflict {
					inFrom = false
				}
			case kWith:
				if s.isCTE(i) {
					i = s.with(i, hi)
					continue
				}
			case kFor:
				switch s.kwAt(i + 1) {
				case kUpdate, kShare, kNo, kKey:
					s.locking = true
				}
				if s.wordIs(i+1, "system_time") {
					// t FOR SYSTEM_TIME ALL | AS OF x | BETWEEN x AND y |
					// FROM x TO y (MariaDB, SQL Server): a table reference
					// goes on, and its FROM starts no table list.
					i += 2
					if s.kwAt(i) == kFrom {
						i++
					}
					continue
				}
				if k := s.kwAt(i - 1); k != kIndex && k != kKey { // not USE INDEX FOR JOIN
					inFrom = false
				} else if k := s.kwAt(i + 1); k == kOrder || k == kGroup {
					i += 2 // USE INDEX FOR ORDER BY (...): the table list goes on
					continue
				}
			case kLock:
				if s.kwAt(i+1) == kIn {
					s.locking = true
				}
			case kInto:
				i = s.selectInto(i, hi)
				inFrom = false
				continue
			case kTable:
				switch s.kwAt(i - 1) {
				case kUnion, kIntersect, kExcept, kAll, kDistinct:
					if s.isName(i + 1) {
						name, next := s.qualified(i + 1)
						s.addRead(name)
						i = next
						continue
					}
				}
			}
		}
		i++
	}
	s.cte = s.cte[:mark]
}

// distinctFrom reports whether the FROM at i is part of IS [NOT] DISTINCT FROM.
func (s *scanner) distinctFrom(i int) bool {
	if s.kwAt(i-1) != kDistinct {
		return false
	}
	k := s.kwAt(i - 2)
	return k == kIs || k == kNot
}

// paren handles a parenthesised part of an expression.
func (s *scanner) paren(open, end int) {
	first := open + 1
	if first >= end {
		return
	}
	if s.nestedStatement(first) {
		s.statement(first, end)
		return
	}
	s.walk(first, end, modeExpr, &s.reads, &s.reads)
}

func (s *scanner) nestedStatement(i int) bool {
	switch s.kwAt(i) {
	case kSelect, kValues, kInsert, kUpdate, kDelete, kMerge, kUpsert:
		return true
	case kTable:
		return s.isName(i + 1)
	case kWith:
		return s.isCTE(i)
	case kReplace:
		return !s.isPunct(i+1, '(')
	}
	return false
}

// tableList reads table references separated by commas and joins, and
// returns the index of the first token that is neither (ON, WHERE, ...).
func (s *scanner) tableList(i, hi int, dest *[]string) int {
	for {
		i = s.tableRef(i, hi, dest)
		more := false // a comma or JOIN asks for another table reference
	joins:
		for i < hi {
			if s.isPunct(i, ',') {
				i++
				more = true
				break joins
			}
			switch s.kwAt(i) {
			case kInner, kLeft, kRight, kFull, kOuter, kCross, kNatural:
				i++
			case kJoin, kStraightJoin, kApply:
				i++
				more = true
				break joins
			default:
				if s.wordIs(i, "semi") || s.wordIs(i, "anti") || s.wordIs(i, "asof") {
					i++
					continue
				}
				return i
			}
		}
		if !more {
			return i
		}
	}
}

// tableRef reads one table reference with its alias.
func (s *scanner) tableRef(i, hi int, dest *[]string) int {
	for s.kwAt(i) == kLateral || s.kwAt(i) == kOnly {
		i++
	}
	if i >= hi {
		s.unsure(dest)
		return i
	}
	t := &s.toks[i]
	switch {
	case t.kind == tPunct && t.text[0] == '(':
		end := s.closeOf(i)
		s.parenTable(i, end, dest)
		i = end + 1
	case t.kind == tWord && (t.text == "U" || t.text == "u") && s.isOp(i+1, "&"):
		// Postgres U&"\0061" escaped identifier: the name is not readable here.
		s.unsure(dest)
		return i
	case (t.kind == tIdent && t.text != "") || (t.kind == tWord && !notTable(t.kw)):
		name, next := s.qualified(i)
		if s.isPunct(next, '(') {
			// Table function: its arguments may hold subqueries.
			end := s.closeOf(next)
			s.walk(next+1, end, modeExpr, &s.reads, &s.reads)
			i = end + 1
		} else {
			if !(t.kind == tWord && t.kw == kDual && next == i+1) {
				s.add(dest, name)
			}
			i = next
			if s.isOp(i, "*") { // Postgres: t * includes descendants
				i++
			}
		}
	default:
		s.unsure(dest)
		return i
	}
	return s.skipAlias(i, hi)
}

// notTable reports keywords that cannot begin a table reference.
func notTable(k kw) bool {
	switch k {
	case kSelect, kWhere, kFrom, kJoin, kOn, kUsing, kSet, kGroup, kOrder, kHaving, kLimit,
		kUnion, kIntersect, kExcept, kValues, kInto, kReturning, kWindow, kFor, kInner, kLeft,
		kRight, kFull, kCross, kNatural, kOuter, kStraightJoin, kAs, kDefault, kWith:
		return true
	}
	return false
}

// parenTable handles a parenthesised table reference: a derived table or a
// parenthesised join.
func (s *scanner) parenTable(open, end int, dest *[]string) {
	first := open + 1
	if first >= end {
		s.unsure(dest)
		return
	}
	if s.nestedStatement(first) {
		s.statement(first, end)
		return
	}
	s.walk(first, end, modeFromList, dest, dest)
}

// skipAlias skips [AS] alias [(columns)] after a table reference.
func (s *scanner) skipAlias(i, hi int) int {
	if i >= hi {
		return i
	}
	aliased := false
	if s.kwAt(i) == kAs {
		i++
		if s.isName(i) {
			i++
			aliased = true
		}
	} else if t := &s.toks[i]; t.kind == tIdent || (t.kind == tWord && (canAlias(t.kw) || s.isPunct(i+1, ','))) {
		// No clause begins with a word and a comma: before one, the word
		// is an alias that the dialect does not reserve (FROM a minus, b
		// in PostgreSQL, FROM a window, b in SQLite), and the table list
		// goes on.
		i++
		aliased = true
	}
	if aliased && s.isPunct(i, '(') {
		i = s.closeOf(i) + 1
	}
	return i
}

// canAlias reports whether a word can be a table alias (is not a clause
// keyword that may follow a table reference).
func canAlias(k kw) bool {
	switch k {
	case kOn, kUsing, kWhere, kJoin, kInner, kLeft, kRight, kFull, kCross, kNatural, kOuter,
		kStraightJoin, kGroup, kOrder, kHaving, kLimit, kOffset, kFetch, kFor, kUnion,
		kIntersect, kExcept, kMinus, kWindow, kSet, kReturning, kWhen, kLock, kInto, kUse,
		kForce, kIgnore, kPartition, kTablesample, kWith, kValues, kSelect, kDefault, kQualify,
		kApply, kLateral, kAs, kFrom, kIndexed, kNot, kAnd, kOr, kDo, kThen, kElse, kEnd,
		kValue, kSearch, kCycle:
		return false
	}
	return true
}

// selectInto handles SELECT ... INTO at i: a Postgres or SQL Server SELECT
// INTO creates a table; MySQL INTO @var or OUTFILE writes no table.
func (s *scanner) selectInto(i, hi int) int {
	s.nested = true
	j := i + 1
	for {
		switch k := s.kwAt(j); {
		case k == kTemp || k == kTemporary:
			s.temp = true
		case k == kUnlogged || k == kTable:
		case (k == kLocal || k == kGlobal) && (s.kwAt(j+1) == kTemp || s.kwAt(j+1) == kTemporary):
			// INTO LOCAL TEMP t, INTO GLOBAL TEMPORARY t (PostgreSQL)
		default:
			goto name
		}
		j++
	}
name:
	if isTempSchema(s.schemaOf(j)) {
		s.temp = true
	}
	if j >= hi {
		s.writesAll = true
		return j
	}
	t := &s.toks[j]
	switch {
	case t.kind == tVar || t.kind == tParam || t.kw == kOutfile || t.kw == kDumpfile:
		return j + 1
	case t.kind == tWord || t.kind == tIdent:
		name, next := s.qualified(j)
		s.writes = append(s.writes, name)
		return next
	}
	s.writesAll = true
	return j
}

// harmlessPragmas change how SQLite works, never what a read returns, so they
// do not make a connection's results its own (ORM migrators send them).
var harmlessPragmas = map[string]bool{
	"foreign_keys": true, "busy_timeout": true, "journal_mode": true, "synchronous": true,
	"cache_size": true, "foreign_key_check": true, "optimize": true, "wal_checkpoint": true,
	"temp_store": true, "mmap_size": true, "defer_foreign_keys": true,
}
