package integration_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fidelity.md from this run (also: CACHEDSQL_UPDATE_FIDELITY=1)")

// fidCase is one column type: its label in the table, its DDL, and the SQL
// literals of the rows it holds. Every table also gets a row of NULL.
type fidCase struct {
	typ  string
	ddl  string
	vals []string
}

// flavor is one way to read a server: a driver and DSN.
type flavor struct {
	name   string
	driver string
	dsn    string
	// only, when set, limits the flavor to the types it changes (time zones).
	only []string
}

type fidServer struct {
	name        string
	require     func(testing.TB)
	adminDriver string
	adminDSN    func(t testing.TB) string
	placeholder func(int) string
	setup       []string // run before the tables are made; %[1]s is the run prefix
	teardown    []string
	cases       []fidCase
	flavors     func(t testing.TB, adminDSN string) []flavor
}

func qmark(int) string      { return "?" }
func dollar(n int) string   { return fmt.Sprintf("$%d", n) }
func enumName() string      { return runID + "_mood" }
func fidTable(i int) string { return fmt.Sprintf("%s_fid%02d", runID, i) }

var pgTimeTypes = []string{"date", "time", "timetz", "timestamp", "timestamptz"}

var pgServer = fidServer{
	name:        "PostgreSQL",
	require:     requirePG,
	adminDriver: "pgx",
	adminDSN:    func(testing.TB) string { return pgURL() },
	placeholder: dollar,
	setup:       []string{`CREATE TYPE %[1]s_mood AS ENUM ('sad', 'ok', 'happy')`},
	teardown:    []string{`DROP TYPE IF EXISTS %[1]s_mood`},
	cases: []fidCase{
		{"smallint", "smallint", []string{"0", "-32768", "32767"}},
		{"integer", "integer", []string{"-2147483648", "2147483647"}},
		{"bigint", "bigint", []string{"-9223372036854775808", "9223372036854775807"}},
		{"numeric(20,5)", "numeric(20,5)", []string{"123.45", "-0.00001", "999999999999999.99999"}},
		{"numeric", "numeric", []string{"3.14159265358979323846264338327950288", "1e-30", "'NaN'"}},
		{"real", "real", []string{"1.5", "'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "3.4e38"}},
		{"double precision", "double precision", []string{"0.1", "'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "1e308", "5e-324"}},
		{"text", "text", []string{"''", "'héllo wörld ✓'", `E'tab\tnew\nline ''q'''`}},
		{"varchar(10)", "varchar(10)", []string{"'abc'", "''"}},
		{"char(5)", "char(5)", []string{"'ab'", "'abcde'"}},
		{"bytea", "bytea", []string{`'\x'`, `'\xdeadbeef00'`}},
		{"boolean", "boolean", []string{"true", "false"}},
		{"date", "date", []string{"'2024-02-29'", "'0001-01-01'", "'infinity'", "'-infinity'"}},
		{"time", "time(6)", []string{"'13:45:56.123456'", "'00:00:00'", "'24:00:00'"}},
		{"timetz", "timetz", []string{"'13:45:56+05:30'", "'00:00:00-07'"}},
		{"timestamp", "timestamp(6)", []string{"'2024-02-29 13:45:56.123456'", "'1970-01-01 00:00:00'", "'infinity'", "'-infinity'"}},
		{"timestamptz", "timestamptz", []string{"'2024-02-29 13:45:56.123456+00'", "'2024-07-01 12:00:00-07'", "'1900-01-01 00:00:00+00'", "'infinity'"}},
		{"interval", "interval", []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-1 day'", "'0'"}},
		{"json", "json", []string{`'{"b": [1, 2], "a": null}'`, "'null'", `'"é"'`}},
		{"jsonb", "jsonb", []string{`'{"b": [1, 2], "a": null}'`, "'null'", `'"é"'`}},
		{"uuid", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
		{"integer[]", "integer[]", []string{"'{1,2,3}'", "'{}'", "'{NULL,1}'"}},
		{"text[]", "text[]", []string{`'{"a","b c",NULL}'`}},
		{"enum", runID + "_mood", []string{"'happy'", "'sad'"}},
		{"inet", "inet", []string{"'192.168.0.1/24'", "'::1'"}},
		{"money", "money", []string{"12.34", "-0.01"}},
		{"xml", "xml", []string{"'<a>1</a>'"}},
		{"oid", "oid", []string{"4294967295", "0"}},
	},
	flavors: func(_ testing.TB, dsn string) []flavor {
		return []flavor{
			{name: "pgx", driver: "pgx", dsn: dsn},
			{name: "lib/pq", driver: "postgres", dsn: dsn},
			{name: "pgx timezone=Asia/Kolkata", driver: "pgx", dsn: withParams(dsn, "timezone=Asia/Kolkata"), only: pgTimeTypes},
			{name: "pgx timezone=America/New_York", driver: "pgx", dsn: withParams(dsn, "timezone=America/New_York"), only: pgTimeTypes},
			{name: "lib/pq timezone=Asia/Kolkata", driver: "postgres", dsn: withParams(dsn, "timezone=Asia/Kolkata"), only: pgTimeTypes},
			{name: "lib/pq timezone=America/New_York", driver: "postgres", dsn: withParams(dsn, "timezone=America/New_York"), only: pgTimeTypes},
		}
	},
}

var myTimeTypes = []string{"date", "time(6)", "datetime(6)", "timestamp(6)", "year"}

var mysqlServer = fidServer{
	name:        "MariaDB",
	require:     requireMySQL,
	adminDriver: "mysql",
	adminDSN:    func(testing.TB) string { return mysqlDSN() },
	placeholder: qmark,
	cases: []fidCase{
		{"tinyint", "tinyint", []string{"-128", "127"}},
		{"tinyint unsigned", "tinyint unsigned", []string{"255"}},
		{"smallint", "smallint", []string{"-32768", "32767"}},
		{"mediumint", "mediumint", []string{"-8388608", "8388607"}},
		{"int", "int", []string{"-2147483648", "2147483647"}},
		{"int unsigned", "int unsigned", []string{"4294967295"}},
		{"bigint", "bigint", []string{"-9223372036854775808", "9223372036854775807"}},
		{"bigint unsigned", "bigint unsigned", []string{"18446744073709551615", "0"}},
		{"decimal(20,5)", "decimal(20,5)", []string{"123.45", "-0.00001", "999999999999999.99999"}},
		{"float", "float", []string{"1.5", "-0", "3.4e38"}},
		{"double", "double", []string{"0.1", "1e308", "-0", "5e-324"}},
		{"bit(8)", "bit(8)", []string{"b'10100101'", "0"}},
		{"boolean", "boolean", []string{"true", "false"}},
		{"char(5)", "char(5)", []string{"'ab'", "''"}},
		{"varchar(20)", "varchar(20)", []string{"''", "'héllo wörld ✓'"}},
		{"text", "text", []string{"''", "'tab\\tnew\\nline'"}},
		{"binary(4)", "binary(4)", []string{"x'DEAD'"}},
		{"varbinary(8)", "varbinary(8)", []string{"x''", "x'00FF'"}},
		{"blob", "blob", []string{"x'DEADBEEF00'", "''"}},
		{"date", "date", []string{"'2024-02-29'", "'1000-01-01'", "'0000-00-00'"}},
		{"time(6)", "time(6)", []string{"'13:45:56.123456'", "'-838:59:59'", "'838:59:59'"}},
		{"datetime(6)", "datetime(6)", []string{"'2024-02-29 13:45:56.123456'", "'1000-01-01 00:00:00'", "'0000-00-00 00:00:00'"}},
		{"timestamp(6)", "timestamp(6) NULL", []string{"'2024-02-29 13:45:56.123456'", "'1970-01-01 00:00:01'"}},
		{"year", "year", []string{"2024", "1901"}},
		{"json", "json", []string{`'{"b": [1, 2], "a": null}'`, "'null'"}},
		{"enum", "enum('sad','ok','happy')", []string{"'happy'", "'sad'"}},
		{"set", "set('a','b','c')", []string{"'a,c'", "''"}},
		{"uuid", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
	},
	flavors: func(_ testing.TB, dsn string) []flavor {
		return []flavor{
			{name: "mysql", driver: "mysql", dsn: dsn},
			{name: "mysql parseTime", driver: "mysql", dsn: withParams(dsn, "parseTime=true")},
			{name: "mysql time_zone=+05:30", driver: "mysql", dsn: withParams(dsn, "time_zone=%27%2B05%3A30%27"), only: myTimeTypes},
			{name: "mysql parseTime loc=Asia/Kolkata time_zone=+05:30", driver: "mysql",
				dsn: withParams(dsn, "parseTime=true", "loc=Asia%2FKolkata", "time_zone=%27%2B05%3A30%27"), only: myTimeTypes},
			{name: "mysql parseTime loc=America/New_York time_zone=-05:00", driver: "mysql",
				dsn: withParams(dsn, "parseTime=true", "loc=America%2FNew_York", "time_zone=%27-05%3A00%27"), only: myTimeTypes},
		}
	},
}

var sqliteTimeTypes = []string{"DATE", "DATETIME", "TIMESTAMP"}

var sqliteServer = fidServer{
	name:        "SQLite",
	require:     func(testing.TB) {},
	adminDriver: "sqlite3",
	adminDSN: func(t testing.TB) string {
		return "file:" + filepath.Join(sqliteDir(t), "fidelity.db") + "?_busy_timeout=5000"
	},
	placeholder: qmark,
	cases: []fidCase{
		{"INTEGER", "INTEGER", []string{"0", "-9223372036854775808", "9223372036854775807"}},
		{"REAL", "REAL", []string{"1.5", "-0.0", "1e308", "9e999", "-9e999"}},
		{"TEXT", "TEXT", []string{"''", "'héllo wörld ✓'", "CAST(x'FF80' AS TEXT)"}},
		{"BLOB", "BLOB", []string{"x''", "x'DEADBEEF00'"}},
		{"NUMERIC", "NUMERIC", []string{"'123.45'", "42", "'abc'"}},
		{"DECIMAL(10,2)", "DECIMAL(10,2)", []string{"123.45", "7"}},
		{"BOOLEAN", "BOOLEAN", []string{"1", "0"}},
		{"VARCHAR(10)", "VARCHAR(10)", []string{"'abc'"}},
		{"JSON", "JSON", []string{`'{"b":[1,2],"a":null}'`}},
		{"DATE", "DATE", []string{"'2024-02-29'"}},
		{"DATETIME", "DATETIME", []string{"'2024-02-29 13:45:56.123456'", "'2024-02-29T13:45:56+05:30'"}},
		{"TIMESTAMP", "TIMESTAMP", []string{"'2024-02-29 13:45:56.123+05:30'", "1709214356", "'not a time'"}},
		{"no declared type", "", []string{"1", "'x'", "1.5", "x'00'"}},
	},
	flavors: func(_ testing.TB, dsn string) []flavor {
		return []flavor{
			{name: "sqlite3", driver: "sqlite3", dsn: dsn},
			{name: "sqlite3 _loc=auto", driver: "sqlite3", dsn: dsn + "&_loc=auto", only: sqliteTimeTypes},
			{name: "sqlite3 _loc=Asia/Kolkata", driver: "sqlite3", dsn: dsn + "&_loc=Asia%2FKolkata", only: sqliteTimeTypes},
		}
	},
}

var (
	sqliteDirOnce sync.Once
	sqliteDirPath string
)

// sqliteDir is a directory for SQLite files that lives as long as the test binary.
func sqliteDir(t testing.TB) string {
	sqliteDirOnce.Do(func() {
		d, err := os.MkdirTemp("", "cachedsql-integration-")
		if err != nil {
			t.Fatal(err)
		}
		sqliteDirPath = d
	})
	return sqliteDirPath
}

// fidelityResults collects, per server, flavor and type, what the run found.
type fidelityResults struct {
	mu      sync.Mutex
	status  map[string]map[string]map[string]string // server → flavor → type → cell
	flavors map[string][]string
	skipped map[string]string
}

var results = &fidelityResults{
	status:  map[string]map[string]map[string]string{},
	flavors: map[string][]string{},
	skipped: map[string]string{},
}

func (r *fidelityResults) set(server, flavor, typ, cell string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status[server] == nil {
		r.status[server] = map[string]map[string]string{}
	}
	if r.status[server][flavor] == nil {
		r.status[server][flavor] = map[string]string{}
		r.flavors[server] = append(r.flavors[server], flavor)
	}
	r.status[server][flavor][typ] = cell
}

func TestFidelity(t *testing.T) {
	servers := []fidServer{pgServer, mysqlServer, sqliteServer}
	t.Cleanup(func() {
		if *update || os.Getenv("CACHEDSQL_UPDATE_FIDELITY") != "" {
			writeFidelity(t, servers)
		}
	})
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			defer func() {
				if t.Skipped() {
					results.mu.Lock()
					results.skipped[srv.name] = "skipped: server not reachable"
					results.mu.Unlock()
				}
			}()
			srv.require(t)
			testFidelityServer(t, srv)
		})
	}
}

func testFidelityServer(t *testing.T, srv fidServer) {
	ctx := context.Background()
	dsn := srv.adminDSN(t)
	admin := openDirect(t, srv.adminDriver, dsn)
	for _, q := range srv.setup {
		mustExec(t, admin, fmt.Sprintf(q, runID))
	}
	t.Cleanup(func() {
		for i := range srv.cases {
			admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+fidTable(i))
		}
		for _, q := range srv.teardown {
			admin.ExecContext(ctx, fmt.Sprintf(q, runID))
		}
	})
	for i, c := range srv.cases {
		mustExec(t, admin, fmt.Sprintf("CREATE TABLE %s (id integer PRIMARY KEY, v %s)", fidTable(i), c.ddl))
		for r, v := range append(slices.Clone(c.vals), "NULL") {
			mustExec(t, admin, fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, %s)", fidTable(i), r, v))
		}
	}
	for _, fl := range srv.flavors(t, dsn) {
		t.Run(fl.name, func(t *testing.T) {
			direct := openDirect(t, fl.driver, fl.dsn)
			cached := openCached(t, fl.driver, fl.dsn)
			for i, c := range srv.cases {
				if fl.only != nil && !slices.Contains(fl.only, c.typ) {
					continue
				}
				t.Run(c.typ, func(t *testing.T) {
					cell := checkType(t, ctx, direct, cached, fidTable(i), srv.placeholder)
					results.set(srv.name, fl.name, c.typ, cell)
				})
			}
		})
	}
}

// checkType reads the table directly, through a cachedsql miss and through a
// hit, in every query mode, and returns the table cell for the README.
func checkType(t *testing.T, ctx context.Context, direct, cached *sql.DB, table string, ph func(int) string) string {
	var problems, notCached []string
	for _, mode := range queryModes {
		query, args := selectFor(mode, table, ph)
		want, werr := read(ctx, direct, mode, query, args)

		before := stats(t, cached)
		miss, merr := read(ctx, cached, mode, query, args)
		mid := stats(t, cached)
		hit, herr := read(ctx, cached, mode, query, args)
		after := stats(t, cached)

		if werr != nil {
			// The driver itself cannot read this type: the cache must fail the same way.
			if merr == nil || herr == nil || merr.Error() != werr.Error() || herr.Error() != werr.Error() {
				problems = append(problems, fmt.Sprintf("%s: direct error %q, through cachedsql %v / %v", mode, werr, merr, herr))
			} else {
				t.Logf("%s: the driver cannot read it: %v (same error through cachedsql)", mode, werr)
			}
			continue
		}
		if merr != nil || herr != nil {
			problems = append(problems, fmt.Sprintf("%s: direct read works, through cachedsql: miss error %v, hit error %v", mode, merr, herr))
			continue
		}
		switch {
		case mid.Fills == before.Fills && mid.Uncacheable > before.Uncacheable:
			notCached = append(notCached, string(mode))
		case mid.Fills != before.Fills+1 || mid.L1Hits != before.L1Hits:
			problems = append(problems, fmt.Sprintf("%s: first read was not a miss that filled the cache (fills %d→%d, hits %d→%d)", mode, before.Fills, mid.Fills, before.L1Hits, mid.L1Hits))
		case after.L1Hits != mid.L1Hits+1:
			problems = append(problems, fmt.Sprintf("%s: second read was not an L1 hit (hits %d→%d, bypass %v)", mode, mid.L1Hits, after.L1Hits, after.Bypass))
		}
		if d := diff(want, miss); len(d) > 0 {
			problems = append(problems, fmt.Sprintf("%s miss: %s", mode, joinDiffs(d)))
		}
		if d := diff(want, hit); len(d) > 0 {
			problems = append(problems, fmt.Sprintf("%s hit: %s", mode, joinDiffs(d)))
		}
	}
	switch {
	case len(problems) > 0:
		for _, p := range problems {
			t.Errorf("not identical: %s", p)
		}
		return "**no**"
	case len(notCached) > 0:
		t.Logf("passed through uncached in modes %v (identical)", notCached)
		return "yes (not cached: " + strings.Join(notCached, ", ") + ")"
	}
	return "yes"
}

func writeFidelity(t *testing.T, servers []fidServer) {
	var b strings.Builder
	b.WriteString("<!-- Generated by `go test -run TestFidelity -update .` in integration/; do not edit. -->\n\n")
	b.WriteString("Each cell says whether a value read through cachedsql (a miss and an L1 hit, each\n")
	b.WriteString("in three query modes: no arguments, with an argument, prepared) is identical to the value read\n")
	b.WriteString("from the driver directly: Go type and value (times by instant, offset, zone and location name;\n")
	b.WriteString("floats bit for bit) and every `ColumnType` answer, a NULL row included.\n")
	b.WriteString("\"—\" means the flavor only varies time zones and does not apply to the type.\n")
	results.mu.Lock()
	defer results.mu.Unlock()
	for _, srv := range servers {
		fmt.Fprintf(&b, "\n### %s\n\n", srv.name)
		if why, ok := results.skipped[srv.name]; ok {
			fmt.Fprintf(&b, "%s\n", why)
			continue
		}
		flavors := results.flavors[srv.name]
		b.WriteString("| type |")
		for _, f := range flavors {
			fmt.Fprintf(&b, " %s |", f)
		}
		b.WriteString("\n|---|")
		for range flavors {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, c := range srv.cases {
			fmt.Fprintf(&b, "| %s |", c.typ)
			for _, f := range flavors {
				cell, ok := results.status[srv.name][f][c.typ]
				if !ok {
					cell = "—"
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
			b.WriteString("\n")
		}
	}
	if err := os.WriteFile(filepath.Join("testdata", "fidelity.md"), []byte(b.String()), 0o644); err != nil {
		t.Errorf("writing testdata/fidelity.md: %v", err)
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sqliteDirPath != "" {
		os.RemoveAll(sqliteDirPath)
	}
	os.Exit(code)
}
