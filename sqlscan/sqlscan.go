// Package sqlscan classifies an SQL statement for caching: whether it is a
// read, which tables it reads and writes, and what makes it unsafe to cache.
//
// It is a scanner, not a parser: it tokenises the text (quotes, comments and
// each dialect's string forms) and recognises the clauses that name tables.
// Whatever it cannot classify it reports as such, so that the caller can fall
// back to the safe answer (do not cache; invalidate everything). Table names
// are normalised to the lower-cased last component of a qualified name, which
// can only merge distinct tables (more invalidation), never split one.
package sqlscan

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
	Unknown    Kind = iota // could not classify: not cacheable, invalidates everything if executed
	Read                   // SELECT, VALUES, WITH ... SELECT, TABLE t, SHOW ...
	Write                  // INSERT, UPDATE, DELETE, REPLACE, MERGE, TRUNCATE, UPSERT, DDL, COPY FROM
	Begin                  // BEGIN, START TRANSACTION
	Commit                 // COMMIT, END
	Rollback               // ROLLBACK (whole transaction)
	Savepoint              // SAVEPOINT name
	RollbackTo             // ROLLBACK TO [SAVEPOINT] name
	Release                // RELEASE [SAVEPOINT] name
	Session                // changes session state that can change results: SET, USE, CREATE TEMP TABLE, ...
	Other                  // neither reads tables nor writes them nor changes results (e.g. EXPLAIN without ANALYZE? LISTEN)
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
	// Savepoint is the savepoint named by Savepoint, RollbackTo and Release.
	Savepoint string
	// Hints are the bodies of comments that begin with "cachedsql:", without
	// that prefix and trimmed (for example "ttl=30s", "nocache").
	Hints []string
}

// Scan classifies sql in dialect d. It never panics and returns the same
// answer for the same input.
func Scan(d Dialect, sql string) Statement {
	return Statement{Kind: Unknown, ReadsAll: true, WritesAll: true}
}

// DialectOf guesses the dialect from the name an inner driver is registered under.
func DialectOf(driverName string) Dialect { return Generic }
