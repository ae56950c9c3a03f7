// Package sqlscan classifies an SQL statement for caching: whether it is a
// read, which tables it reads and writes, and what makes it unsafe to cache.
//
// It is a scanner, not a parser: it tokenises the text (quotes, comments and
// each dialect's string forms) and recognises the clauses that name tables.
// Whatever it cannot classify it reports as such, so that the caller can fall
// back to the safe answer (do not cache; invalidate everything). Table names
// are normalised to the lower-cased last component of a qualified name, which
// can only merge distinct tables (more invalidation), never split one.
//
// Where a choice had to be made it errs towards more invalidation and less
// caching:
//   - A table list it cannot read sets ReadsAll (or WritesAll); a write whose
//     targets may be aliases (MySQL multi-table DELETE, DELETE ... USING in
//     MySQL and Generic) counts every table of its table list as written.
//   - TRUNCATE ... CASCADE and DROP ... CASCADE set WritesAll; so does DDL on
//     anything that is not a table, view or index with a named table
//     (functions, triggers, types, schemas, GRANT, COMMENT, DROP INDEX
//     without ON), and CALL, EXEC, EXECUTE and DO.
//   - A statement that calls a function the scanner does not know
//     (user-defined, or from an extension it does not list, or a built-in
//     of another dialect only) sets ReadsAll and names it in Calls: such a
//     function may read and write any table. Only the routines and index
//     expressions DDL defines, and EXPLAIN without ANALYZE, do not count.
//   - In the Generic dialect, a text that Postgres and MySQL would tokenise
//     differently (a backslash in a string, a comment opener in a comment) is
//     scanned both ways and the union taken; if the two readings disagree on
//     the kind it is Unknown.
//   - A MySQL comment that runs only on some servers (/*!80000 ... */,
//     MariaDB's /*M! ... */) is read both as code and as a comment, and the
//     union taken in the same way.
//
// It cannot see what the database does on its own: foreign-key cascades,
// triggers, rules, and tables read or written inside functions. Those need
// the caller's own configuration.
package sqlscan

import (
	"slices"
	"strings"
	"sync"
)

// Dialect selects quoting and comment rules.
type Dialect int

const (
	Generic Dialect = iota
	Postgres
	MySQL
	SQLite
)

// Kind is what a statement does.
type Kind int

const (
	// Unknown could not be classified: not cacheable, and if executed it
	// invalidates everything (ReadsAll and WritesAll are set).
	Unknown Kind = iota
	// Read is SELECT, VALUES, TABLE t, WITH ... SELECT, (SELECT ...), and
	// also SHOW and DESCRIBE t, which are reported with ReadsAll so that they
	// are not cached. A Read has no Writes.
	Read
	// Write is INSERT, UPDATE, DELETE, REPLACE, MERGE, TRUNCATE, UPSERT, DDL,
	// COPY FROM, LOAD DATA, CALL, EXPLAIN ANALYZE of a write, SELECT INTO,
	// a data-modifying CTE, and any RETURNING form.
	Write
	Begin // BEGIN, START TRANSACTION, XA START (SQLite BEGIN IMMEDIATE and the like too)
	// Commit is COMMIT, END and XA COMMIT (see Chain for COMMIT AND CHAIN).
	// XA COMMIT sets WritesAll: it may commit a transaction that another
	// connection prepared.
	Commit
	// Rollback is ROLLBACK, ABORT and XA ROLLBACK of the whole transaction,
	// and PostgreSQL's PREPARE TRANSACTION, which ends the connection's
	// transaction with nothing it wrote visible until COMMIT PREPARED.
	Rollback
	Savepoint  // SAVEPOINT name
	RollbackTo // ROLLBACK TO [SAVEPOINT] name
	Release    // RELEASE [SAVEPOINT] name
	// Session changes session state that can change later results: SET (of
	// anything, including MySQL SET autocommit and SET TRANSACTION), RESET,
	// USE, PRAGMA, DISCARD, DEALLOCATE, PREPARE, ATTACH, CREATE TEMP TABLE.
	// A Session statement may also write: CREATE TEMP TABLE t reports t in
	// Writes, and a text mixing SET with writes carries their Writes; the
	// caller must invalidate those as for a Write.
	Session
	// Other neither reads cached tables nor writes them nor changes results:
	// EXPLAIN (without ANALYZE of a write; its Reads are informative only),
	// COPY ... TO, LOCK, VACUUM, ANALYZE, LISTEN/NOTIFY, cursors, empty text.
	Other
)

// Statement is the classification of one SQL text (possibly several statements).
type Statement struct {
	Kind Kind
	// Reads are the tables read, normalised, sorted, without duplicates.
	Reads []string
	// ReadsAll is true when the tables read could not all be determined.
	ReadsAll bool
	// Writes are the tables written, normalised, sorted, without duplicates.
	Writes []string
	// WritesAll is true when the statement writes and its write set could not be
	// determined: the caller must invalidate every table.
	WritesAll bool
	// Locking is true for SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE.
	Locking bool
	// Volatile names the first non-deterministic function or session variable
	// the statement uses (NOW, RANDOM, nextval, @@var, ...), "" if none.
	Volatile string
	// Savepoint is the savepoint named by Savepoint, RollbackTo and Release:
	// lower-cased unless quoted in Postgres or Generic (where quoting keeps case).
	Savepoint string
	// Calls are the functions a statement of any kind calls that the
	// scanner does not know (user-defined or from an extension),
	// lower-cased, sorted. Such a function may read any table, so their
	// presence sets ReadsAll; it may also write any table and change
	// session state, which is for the caller to weigh. Not named: calls
	// in DDL outside a query it runs (CREATE TABLE ... AS SELECT), in
	// CALL, EXEC, EXECUTE and DO (which set WritesAll), and under EXPLAIN
	// without ANALYZE.
	Calls []string
	// Opaque is true for CALL, DO, EXEC and EXECUTE: they run code the
	// scanner cannot see, which may change session state (WritesAll is set
	// for the tables).
	Opaque bool
	// Procedural is true for the opaque statements that may change
	// autocommit or end a transaction: CALL, EXEC, EXECUTE, PostgreSQL's
	// DO and MariaDB's compound statements, not MySQL's DO (its functions
	// can do neither).
	Procedural bool
	// SetsSession is true when the text calls set_config, wherever (Volatile
	// names only the first volatile call).
	SetsSession bool
	// ImplicitCommit is true, in the MySQL and Generic dialects, for a
	// statement MySQL runs only after committing the open transaction: DDL
	// (but on temporary tables), RENAME, TRUNCATE, LOCK and UNLOCK TABLES,
	// GRANT, REVOKE, and ANALYZE, OPTIMIZE and REPAIR TABLE. A ROLLBACK after
	// it undoes nothing that came before it.
	ImplicitCommit bool
	// Hints are the bodies of comments that begin with "cachedsql:", without
	// that prefix and trimmed (for example "ttl=30s", "nocache").
	Hints []string
	// Chain is true for COMMIT and ROLLBACK ... AND CHAIN, which begin a new
	// transaction at once; NoChain for ... AND NO CHAIN, which does not even
	// where MySQL's completion_type says chain.
	Chain, NoChain bool
	// SessionVars are the session-scope system variables a SET assigns, in
	// the MySQL and Generic dialects, in order (not GLOBAL or PERSIST ones,
	// nor @user variables).
	SessionVars []SessionVar
	// TxControl is true when a text of several statements includes
	// transaction control (BEGIN; UPDATE t; ...): whether it leaves a
	// transaction open cannot be told from the combined Kind.
	TxControl bool
}

// SessionVar is one assignment of SET: Name lower-cased, without @@, a
// scope or quotes, or "" for a name of MySQL's the scanner cannot read;
// Value the lower-cased literal assigned (a number, a word such as ON or
// DEFAULT, or a string's content), or "" for anything else (an expression,
// a variable, a parameter).
type SessionVar struct {
	Name, Value string
}

// Scan classifies sql in dialect d. It never panics and returns the same
// answer for the same input.
//
// Several statements in one text are classified together: Read only if all
// are reads; a text that mixes transaction control with other statements
// ("BEGIN; UPDATE t ...; COMMIT") is a Write with the union of the write
// sets; a Session statement among others makes the text Session, still with
// the union of the write sets. Empty text, or only comments, is Other.
func Scan(d Dialect, sql string) Statement {
	st := scanVersions(d, optsFor(d), sql)
	if d == MySQL {
		// The connection's character set, which the text does not show,
		// decides where some of its strings and names end.
		for _, cs := range charsetReadings(sql) {
			o := optsFor(d)
			o.lexSrc = cs
			st = either(st, scanVersions(d, o, sql), false)
		}
	}
	return st.Statement
}

// scanVersions scans sql with the rules o, and reads its versioned comments
// both as code and as comments.
func scanVersions(d Dialect, o lexOpts, sql string) result {
	st := scanBackslashes(d, o, sql)
	if st.mixedVersions {
		// Versioned comments of different versions (or /*M! beside /*!) may
		// each run or not, on one server: more readings than are worth
		// making.
		return result{Statement: Statement{Kind: Unknown, ReadsAll: true, WritesAll: true, Hints: st.Hints}, mixedVersions: true}
	}
	if st.versioned {
		// /*!80000 ... */ and /*M!100500 ... */ run only on a server of at
		// least that version (and /*M! only on MariaDB); on others they
		// are comments, which can change what the text around them is:
		// take the union of both readings.
		o.skipVersioned = true
		st = either(st, scanBackslashes(d, o, sql), true)
		if st.maria {
			// A server that skips /*M! ... */ skips it as MariaDB skips a
			// later version's comment, letting one comment nest in it; MySQL
			// skips it as a plain comment, which does not nest.
			o.plainMaria = true
			st = either(st, scanBackslashes(d, o, sql), true)
		}
	}
	return st
}

// scanBackslashes scans sql with the rules o, and if the text reads
// differently under rules the text does not show, the other way too: a
// MySQL text with "..." in it also as under sql_mode ANSI_QUOTES, where
// "..." is an identifier (db."t" is the table t), and a Generic one with a
// backslash inside "..." also as MySQL's string, which the backslash may
// make longer. (Read as a string, a Generic "name" without one would only
// make every quoted name of PostgreSQL's read all tables.)
func scanBackslashes(d Dialect, o lexOpts, sql string) result {
	st := scanEscapes(d, o, sql)
	if st.dquote && (o.dqString || d == Generic) {
		o.dqString = !o.dqString
		st = either(st, scanEscapes(d, o, sql), false)
	}
	return st
}

// scanEscapes scans sql with the rules o, and if a backslash in it reads
// differently under rules the text does not show, the other way too.
func scanEscapes(d Dialect, o lexOpts, sql string) result {
	st := scanWith(d, o, sql)
	if st.ambiguous && d != SQLite {
		// A backslash in a string or a comment opener inside a comment reads
		// differently in MySQL and in Postgres, and a backslash in a string
		// differently under server settings the text does not show (MySQL's
		// sql_mode NO_BACKSLASH_ESCAPES, PostgreSQL's
		// standard_conforming_strings=off): take the union of both readings.
		switch d {
		case Generic:
			// The servers it may be: SQLite (and MySQL without backslash
			// escapes), read above; MySQL; PostgreSQL, with standard strings
			// or without. Each reading flips the rules together as its server
			// does.
			for _, alt := range [...]struct{ backslash, pg bool }{{true, false}, {false, true}, {true, true}} {
				o.backslashSingle, o.nestedComments, o.crEndsDash = alt.backslash, alt.pg, alt.pg
				st = either(st, scanWith(d, o, sql), false)
			}
			return st
		case MySQL:
			o.backslashSingle = false
		case Postgres:
			o.backslashSingle = true
		}
		st = either(st, scanWith(d, o, sql), false)
	}
	return st
}

// either combines two readings of one text, either of which the server
// may make. Readings of different kinds make it Unknown, except with
// plainKinds (the readings of a versioned comment as code and as comment),
// where a Read, Write, Session or Other beside another of them takes the
// kind the two would have as one text: a dump's /*!40101 SET NAMES utf8 */;
// before an INSERT is the Session it is as code, with the INSERT's writes,
// not a text that invalidates everything.
func either(st, alt result, plainKinds bool) result {
	// What either reading saw of versioned comments counts, whichever is
	// kept: the server may read the text the other way.
	versioned, maria, mixed := st.versioned || alt.versioned, st.maria || alt.maria, st.mixedVersions || alt.mixedVersions
	dquote := st.dquote || alt.dquote
	switch {
	case st.deep || alt.deep || st.ranBefore || alt.ranBefore:
		// One reading is too deep to follow, or is invalid after
		// statements that a server reading it that way has run by the time
		// it meets the error: Unknown, whatever the other says.
		if !st.deep && !st.ranBefore {
			st = alt
		}
	case (alt.bad || alt.empty) && !st.bad:
		// The other reading is not valid SQL (or only comments, which
		// does nothing): the database reads it this way.
	case (st.bad || st.empty) && !alt.bad:
		st = alt
	default:
		if plainKinds && st.Kind != alt.Kind && plain(st.Kind) && plain(alt.Kind) {
			k := combine([]Kind{st.Kind, alt.Kind})
			st.Kind, alt.Kind = k, k
		}
		st.Statement = union(st.Statement, alt.Statement)
	}
	st.versioned, st.maria, st.mixedVersions = versioned, maria, mixed
	st.dquote = dquote
	return st
}

// plain reports a kind that opens, ends or names no transaction, and is
// classified: one whose tables the union of two readings covers.
func plain(k Kind) bool { return k == Read || k == Write || k == Session || k == Other }

type result struct {
	Statement
	ambiguous bool
	dquote    bool // holds a "..." that MySQL reads two ways
	versioned bool // holds a MySQL version-gated comment
	maria     bool // one of them is MariaDB's /*M!
	// mixedVersions: versioned comments of more than one version
	mixedVersions bool
	empty         bool // no statement, only comments
	bad           bool // unterminated literal or comment, unbalanced parentheses
	// ranBefore: bad, after whole statements that a server running a text
	// one statement at a time (MySQL, MariaDB, SQLite) runs before it
	// meets the error. PostgreSQL parses the whole text first and runs
	// none of it.
	ranBefore bool
	deep      bool // nested deeper than the scanner follows: Unknown
}

// maxPooledTokens keeps a scanner that served a huge text out of the pool, so
// that one large statement does not pin its buffers for the process's life.
const maxPooledTokens = 4096

var scanners = sync.Pool{New: func() any { return new(scanner) }}

func scanWith(d Dialect, o lexOpts, sql string) result {
	s := scanners.Get().(*scanner)
	defer func() {
		if cap(s.toks) <= maxPooledTokens {
			scanners.Put(s)
		}
	}()
	if o.lexSrc == "" {
		s.reset(d, o, sql)
		s.lex()
	} else {
		s.reset(d, o, o.lexSrc)
		s.lex()
		s.textsOf(sql)
	}
	r := result{ambiguous: s.ambiguous, dquote: s.dquote, versioned: s.versioned, maria: s.maria, mixedVersions: s.mixedVersions}
	if len(s.hints) > 0 {
		r.Hints = append([]string(nil), s.hints...)
	}
	if s.bad || !s.matchParens() {
		r.bad = true
		r.ranBefore = d != Postgres && s.statementBeforeError()
		r.Kind, r.ReadsAll, r.WritesAll = Unknown, true, true
		return r
	}
	s.volatileAndCalls()
	// Split at top-level semicolons.
	lo := 0
	plans := 0 // statements that begin with EXPLAIN, DESCRIBE or DESC
	for i := 0; i <= len(s.toks); i++ {
		if i < len(s.toks) {
			if s.isPunct(i, '(') {
				i = s.closeOf(i)
				continue
			}
			if !s.isPunct(i, ';') {
				continue
			}
			if s.compoundAt(lo) {
				i = len(s.toks) // its body's semicolons are its own
			}
		}
		if i > lo {
			if k := s.kwAt(lo); k == kExplain || k == kDesc || k == kDescribe {
				plans++
			}
			s.dropDefinitionCalls(lo, i)
			if s.d == MySQL || s.d == Generic {
				s.implicitCommit = s.implicitCommit || s.commitsImplicitly(lo)
			}
			s.kinds = append(s.kinds, s.statement(lo, i))
		}
		lo = i + 1
	}
	s.compactCalls()
	if s.bad || s.deep {
		r.bad, r.deep = s.bad, s.deep
		r.ranBefore = s.bad && d != Postgres && s.statementBeforeError()
		r.Kind, r.ReadsAll, r.WritesAll = Unknown, true, true
		return r
	}
	r.Kind = combine(s.kinds)
	r.empty = len(s.kinds) == 0
	if len(s.kinds) > 1 {
		for _, k := range s.kinds {
			if k == Begin || k == Commit || k == Rollback || k == Savepoint || k == RollbackTo || k == Release {
				r.TxControl = true
			}
		}
	}
	if s.temp && r.Kind == Write {
		r.Kind = Session // it also writes the table, which callers see in Writes
	}
	r.Locking = s.locking
	if len(s.vars) > 0 {
		r.SessionVars = append([]SessionVar(nil), s.vars...)
	}
	r.Opaque, r.SetsSession, r.ImplicitCommit = s.opaque, s.setsSession, s.implicitCommit
	r.Procedural = s.procedural
	r.Volatile = s.volatile
	if r.Volatile == "" && s.catalog != "" {
		// A catalog changes with DDL on tables it does not name: never cached.
		r.Volatile = s.catalog
	}
	switch r.Kind {
	case Unknown:
		r.ReadsAll, r.WritesAll = true, true
		return r
	case Begin, Commit, Rollback:
		r.Chain, r.NoChain = s.chain, s.noChain
		r.WritesAll = s.writesAll // XA COMMIT: a transaction another connection may have prepared
		return r
	case Savepoint, RollbackTo, Release:
		r.Savepoint = s.savepoint
		return r
	}
	r.Reads = sortedSet(s.reads)
	r.ReadsAll = s.readsAll
	r.Writes = sortedSet(s.writes)
	r.WritesAll = s.writesAll
	if (r.Kind == Read || r.Kind == Other) && (len(r.Writes) > 0 || r.WritesAll) {
		r.Kind = Write
	}
	if len(s.calls) > 0 && (r.Kind != Other || s.analyzed || plans < len(s.kinds)) {
		// A function the scanner does not know may read any table, and
		// write any, whatever the statement that calls it (INSERT ...
		// VALUES (f()), SET @x = f(), COPY (SELECT f()) TO): only EXPLAIN
		// without ANALYZE does not run it.
		r.Calls = sortedSet(s.calls)
		r.ReadsAll = true
	}
	return r
}

// combine gives the kind of a text from the kinds of its statements.
func combine(kinds []Kind) Kind {
	if len(kinds) == 0 {
		return Other
	}
	if len(kinds) == 1 {
		return kinds[0]
	}
	var reads, writes, sessions, tx, others int
	for _, k := range kinds {
		switch k {
		case Unknown:
			return Unknown
		case Read:
			reads++
		case Write:
			writes++
		case Session:
			sessions++
		case Other:
			others++
		default:
			tx++
		}
	}
	switch {
	case sessions > 0:
		return Session
	case writes == 0 && tx == 0 && reads > 0 && others == 0:
		return Read
	case writes == 0 && tx == 0:
		// Reads beside FETCH, MOVE, NOTIFY, LOCK...: a hit would skip what
		// those do, so the text is not cached.
		return Other
	case tx == 0 || writes > 0 || reads > 0:
		return Write
	}
	return Write // only transaction control: several of them
}

// sortedSet sorts names in place and returns a new slice without duplicates,
// or nil when names is empty.
func sortedSet(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	n := 1
	for i := 1; i < len(names); i++ {
		if names[i] != names[i-1] {
			n++
		}
	}
	out := make([]string, 0, n)
	for i, name := range names {
		if i == 0 || name != names[i-1] {
			out = append(out, name)
		}
	}
	return out
}

// union merges two classifications of one text made under different
// lexical rules. Disagreeing kinds or savepoints make it Unknown.
func union(a, b Statement) Statement {
	if a.Kind != b.Kind || a.Savepoint != b.Savepoint {
		return Statement{Kind: Unknown, ReadsAll: true, WritesAll: true, Hints: a.Hints,
			Volatile: a.Volatile, Locking: a.Locking || b.Locking, TxControl: a.TxControl || b.TxControl,
			Opaque: a.Opaque || b.Opaque, Procedural: a.Procedural || b.Procedural, SetsSession: a.SetsSession || b.SetsSession,
			ImplicitCommit: a.ImplicitCommit || b.ImplicitCommit,
			SessionVars:    append(a.SessionVars, b.SessionVars...)}
	}
	a.Reads = sortedSet(append(append([]string(nil), a.Reads...), b.Reads...))
	a.Writes = sortedSet(append(append([]string(nil), a.Writes...), b.Writes...))
	a.Calls = sortedSet(append(append([]string(nil), a.Calls...), b.Calls...))
	a.ReadsAll = a.ReadsAll || b.ReadsAll
	a.WritesAll = a.WritesAll || b.WritesAll
	a.Locking = a.Locking || b.Locking
	a.TxControl = a.TxControl || b.TxControl
	a.Opaque = a.Opaque || b.Opaque
	a.Procedural = a.Procedural || b.Procedural
	a.SetsSession = a.SetsSession || b.SetsSession
	a.ImplicitCommit = a.ImplicitCommit || b.ImplicitCommit
	a.Chain = a.Chain || b.Chain
	a.NoChain = a.NoChain || b.NoChain
	if len(a.SessionVars) != len(b.SessionVars) {
		a.SessionVars = append(a.SessionVars, b.SessionVars...) // read both ways: what either sets
	}
	if a.Volatile == "" {
		a.Volatile = b.Volatile
	}
	if a.Hints == nil {
		a.Hints = b.Hints
	}
	return a
}

// DialectOf guesses the dialect from the name an inner driver is registered under.
func DialectOf(driverName string) Dialect {
	switch strings.ToLower(driverName) {
	case "postgres", "postgresql", "pgx", "pgx/v4", "pgx/v5", "pq", "cloudsqlpostgres", "nrpostgres":
		return Postgres
	case "mysql", "mariadb", "nrmysql":
		return MySQL
	case "sqlite3", "sqlite", "libsql", "nrsqlite3":
		return SQLite
	}
	return Generic
}
