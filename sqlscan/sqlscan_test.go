package sqlscan

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// corpusCase is one statement of testdata/corpus.txt with its expected classification.
type corpusCase struct {
	line    int
	dialect Dialect
	sql     string
	want    Statement
}

var kindNames = map[string]Kind{
	"unknown": Unknown, "read": Read, "write": Write, "begin": Begin, "commit": Commit,
	"rollback": Rollback, "savepoint": Savepoint, "rollbackto": RollbackTo, "release": Release,
	"session": Session, "other": Other,
}

var dialectNames = map[string]Dialect{
	"generic": Generic, "postgres": Postgres, "mysql": MySQL, "sqlite": SQLite,
}

// loadCorpus reads testdata/corpus.txt. Format:
//
//	# comment
//	@postgres                      dialect of the cases that follow
//	> SQL text (several "> " lines are joined with newlines)
//	= kind r=a,b w=c lock vol=now sp=name hint=ttl=30s calls=f
//
// In r= and w= a "*" element sets ReadsAll or WritesAll, and %20 is a space. Fields not given
// are expected empty or false.
func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open("testdata/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	d := Generic
	var sql []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@"):
			var ok bool
			if d, ok = dialectNames[strings.TrimSpace(line[1:])]; !ok {
				t.Fatalf("corpus line %d: unknown dialect %q", n, line)
			}
		case strings.HasPrefix(line, ">"):
			sql = append(sql, strings.TrimPrefix(strings.TrimPrefix(line, ">"), " "))
		case strings.HasPrefix(line, "="):
			if len(sql) == 0 {
				t.Fatalf("corpus line %d: expectation without SQL", n)
			}
			want, err := parseWant(strings.TrimSpace(line[1:]))
			if err != nil {
				t.Fatalf("corpus line %d: %v", n, err)
			}
			cases = append(cases, corpusCase{line: n, dialect: d, sql: strings.Join(sql, "\n"), want: want})
			sql = nil
		default:
			t.Fatalf("corpus line %d: cannot parse %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(sql) != 0 {
		t.Fatalf("corpus: SQL without expectation at the end")
	}
	return cases
}

func parseWant(spec string) (Statement, error) {
	fields := strings.Fields(spec)
	if len(fields) == 0 {
		return Statement{}, fmt.Errorf("empty expectation")
	}
	var w Statement
	k, ok := kindNames[fields[0]]
	if !ok {
		return w, fmt.Errorf("unknown kind %q", fields[0])
	}
	w.Kind = k
	list := func(v string, all *bool) []string {
		var out []string
		for _, e := range strings.Split(v, ",") {
			switch e {
			case "":
			case "*":
				*all = true
			default:
				out = append(out, strings.ReplaceAll(e, "%20", " "))
			}
		}
		return out
	}
	for _, f := range fields[1:] {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "r":
			w.Reads = list(val, &w.ReadsAll)
		case "w":
			w.Writes = list(val, &w.WritesAll)
		case "lock":
			w.Locking = true
		case "txcontrol":
			w.TxControl = true
		case "opaque":
			w.Opaque = true
		case "procedural":
			w.Procedural = true
		case "setssession":
			w.SetsSession = true
		case "implicitcommit":
			w.ImplicitCommit = true
		case "vol":
			w.Volatile = val
		case "sp":
			w.Savepoint = val
		case "hint":
			w.Hints = append(w.Hints, val)
		case "calls":
			var dummy bool
			w.Calls = list(val, &dummy)
		case "chain":
			w.Chain = true
		case "nochain":
			w.NoChain = true
		case "set": // set=name:value,name:value (value empty when not a literal)
			for _, e := range strings.Split(val, ",") {
				n, v, _ := strings.Cut(e, ":")
				w.SessionVars = append(w.SessionVars, SessionVar{Name: n, Value: strings.ReplaceAll(v, "%20", " ")})
			}
		default:
			return w, fmt.Errorf("unknown field %q", f)
		}
	}
	if w.Kind == Unknown {
		w.ReadsAll, w.WritesAll = true, true
	}
	return w, nil
}

func (k Kind) testString() string {
	for name, v := range kindNames {
		if v == k {
			return name
		}
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 300 {
		t.Errorf("corpus has %d statements, want at least 300", len(cases))
	}
	for _, c := range cases {
		got := Scan(c.dialect, c.sql)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("corpus line %d: Scan(%v, %q)\n got: %s\nwant: %s", c.line, c.dialect, c.sql, describe(got), describe(c.want))
		}
		checkInvariants(t, c.sql, got)
	}
}

func describe(s Statement) string {
	return fmt.Sprintf("%s r=%v all=%v w=%v all=%v lock=%v vol=%q sp=%q hints=%q calls=%v txcontrol=%v opaque=%v procedural=%v setssession=%v implicitcommit=%v chain=%v nochain=%v set=%v",
		s.Kind.testString(), s.Reads, s.ReadsAll, s.Writes, s.WritesAll, s.Locking, s.Volatile, s.Savepoint, s.Hints, s.Calls, s.TxControl, s.Opaque, s.Procedural, s.SetsSession, s.ImplicitCommit, s.Chain, s.NoChain, s.SessionVars)
}

// checkInvariants holds every result to the structural contract.
func checkInvariants(t *testing.T, sql string, s Statement) {
	t.Helper()
	for _, l := range [][]string{s.Reads, s.Writes, s.Calls} {
		if l != nil && len(l) == 0 {
			t.Errorf("%q: empty non-nil list in %s", sql, describe(s))
		}
		for i := 1; i < len(l); i++ {
			if l[i-1] >= l[i] {
				t.Errorf("%q: list not sorted and unique: %v", sql, l)
			}
		}
	}
	switch s.Kind {
	case Read:
		if len(s.Writes) > 0 || s.WritesAll {
			t.Errorf("%q: Read with writes: %s", sql, describe(s))
		}
	case Unknown:
		if !s.ReadsAll || !s.WritesAll {
			t.Errorf("%q: Unknown without ReadsAll and WritesAll", sql)
		}
	case Other:
		if len(s.Writes) > 0 || s.WritesAll {
			t.Errorf("%q: Other with writes: %s", sql, describe(s))
		}
	case Begin, Commit, Rollback, Savepoint, RollbackTo, Release:
		if len(s.Reads)+len(s.Writes) > 0 || s.ReadsAll || (s.WritesAll && s.Kind != Commit) {
			t.Errorf("%q: transaction control with tables: %s", sql, describe(s))
		}
	}
	if (s.Kind == Savepoint || s.Kind == RollbackTo || s.Kind == Release) != (s.Savepoint != "") {
		t.Errorf("%q: savepoint name %q with kind %s", sql, s.Savepoint, s.Kind.testString())
	}
	if len(s.Calls) > 0 && !s.ReadsAll {
		t.Errorf("%q: unknown calls without ReadsAll", sql)
	}
}

func TestDialectOf(t *testing.T) {
	for name, want := range map[string]Dialect{
		"postgres": Postgres, "pgx": Postgres, "pgx/v5": Postgres, "pq": Postgres,
		"cloudsqlpostgres": Postgres, "mysql": MySQL, "mariadb": MySQL, "sqlite3": SQLite,
		"sqlite": SQLite, "sqlserver": Generic, "": Generic, "cachedsql": Generic,
	} {
		if got := DialectOf(name); got != want {
			t.Errorf("DialectOf(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDeterministic scans every corpus statement twice, in every dialect.
func TestDeterministic(t *testing.T) {
	for _, c := range loadCorpus(t) {
		for _, d := range []Dialect{Generic, Postgres, MySQL, SQLite} {
			a, b := Scan(d, c.sql), Scan(d, c.sql)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("line %d dialect %v: two scans differ:\n%s\n%s", c.line, d, describe(a), describe(b))
			}
			checkInvariants(t, c.sql, a)
		}
	}
}

// TestResultsDoNotAlias checks that a result does not share memory with the
// pooled scanner: a later Scan must not change it.
func TestResultsDoNotAlias(t *testing.T) {
	a := Scan(Postgres, `SELECT * FROM b JOIN a ON a.id = b.id /* cachedsql:ttl=1s */`)
	want := Statement{Kind: Read, Reads: []string{"a", "b"}, Hints: []string{"ttl=1s"}}
	for i := 0; i < 10; i++ {
		Scan(Postgres, `SELECT * FROM z, y, x, w /* cachedsql:nocache */`)
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("result changed by later scans: %s", describe(a))
	}
}

// TestCommentsDoNotCount wraps every corpus statement in comments that hold
// write keywords and table names: the classification must not change.
func TestCommentsDoNotCount(t *testing.T) {
	for _, c := range loadCorpus(t) {
		wrapped := "/* DROP TABLE x; DELETE FROM y */ " + c.sql + "\n-- ; DELETE FROM z"
		got := Scan(c.dialect, wrapped)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("corpus line %d wrapped in comments:\n got: %s\nwant: %s", c.line, describe(got), describe(c.want))
		}
	}
}

// TestDeepNesting checks that hostile nesting is Unknown, not a deep recursion.
func TestDeepNesting(t *testing.T) {
	for _, sql := range []string{
		strings.Repeat("(", 100000) + strings.Repeat(")", 100000),
		"SELECT " + strings.Repeat("(SELECT ", 5000) + "1" + strings.Repeat(")", 5000),
		"SELECT * FROM t WHERE a IN " + strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000),
	} {
		got := Scan(Postgres, sql)
		if got.Kind != Unknown || !got.ReadsAll || !got.WritesAll {
			t.Errorf("%.40q...: got %s, want unknown", sql, describe(got))
		}
	}
	// Moderate nesting is still followed.
	sql := "SELECT " + strings.Repeat("(SELECT ", 50) + "x FROM inner_t" + strings.Repeat(")", 50) + " FROM outer_t"
	got := Scan(Postgres, sql)
	want := Statement{Kind: Read, Reads: []string{"inner_t", "outer_t"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("50 nested subqueries: got %s", describe(got))
	}
}

// TestManyStatements checks a long script: the union of its write sets.
func TestManyStatements(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "INSERT INTO t%03d (a) VALUES (%d);\n", i, i)
		want = append(want, fmt.Sprintf("t%03d", i))
	}
	got := Scan(MySQL, b.String())
	if got.Kind != Write || !reflect.DeepEqual(got.Writes, want) || got.WritesAll {
		t.Errorf("500 inserts: got kind %s, %d writes", got.Kind.testString(), len(got.Writes))
	}
}
