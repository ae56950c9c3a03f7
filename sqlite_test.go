package cachedsql

import (
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// scanAll returns every row of a query as []any with the column metadata.
func scanAll(t *testing.T, db *sql.DB, q string) ([][]any, []string) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var meta []string
	for _, ct := range cts {
		l, lok := ct.Length()
		n, nok := ct.Nullable()
		p, s, pok := ct.DecimalSize()
		meta = append(meta, fmt.Sprintf("%s db=%q len=%d/%v null=%v/%v dec=%d,%d/%v scan=%v",
			ct.Name(), ct.DatabaseTypeName(), l, lok, n, nok, p, s, pok, ct.ScanType()))
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, meta
}

// sameValue is exact equality: the same Go type, the same bits for floats,
// nil and empty []byte apart, and times with the same instant, offset and zone name.
func sameValue(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch x := a.(type) {
	case float64:
		return math.Float64bits(x) == math.Float64bits(b.(float64))
	case []byte:
		y := b.([]byte)
		return (x == nil) == (y == nil) && string(x) == string(y)
	case time.Time:
		y := b.(time.Time)
		xn, xo := x.Zone()
		yn, yo := y.Zone()
		return x.Equal(y) && xo == yo && xn == yn && x.Location().String() == y.Location().String()
	}
	return reflect.DeepEqual(a, b)
}

func TestSQLiteDirectMissHitIdentical(t *testing.T) {
	path := filepath.Join(t.TempDir(), "types.db")
	direct, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	_, err = direct.Exec(`CREATE TABLE v (
		i INTEGER, bi BIGINT, r REAL, d DOUBLE, n NUMERIC, t TEXT, vc VARCHAR(10), b BLOB,
		bo BOOLEAN, ts TIMESTAMP, dt DATETIME, da DATE, untyped)`)
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	rows := [][]any{
		{int64(1), int64(math.MaxInt64), 1.5, math.Copysign(0, -1), 12.5, "héllo", "x", []byte{0, 1, 2}, true,
			time.Date(2024, 3, 10, 1, 2, 3, 456789000, time.UTC), time.Date(2024, 3, 10, 7, 0, 0, 0, ny), time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), "free"},
		{int64(math.MinInt64), int64(-1), math.Inf(1), math.Inf(-1), int64(7), "", "", []byte{}, false,
			time.Date(1970, 1, 1, 0, 0, 0, 1, time.FixedZone("", -5*3600)), time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), []byte("blob")},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(0), int64(255), 1e-300, math.MaxFloat64, "1e3", "\xff\xfe not utf-8", "tab\tnl\n", []byte("\x00"), int64(1),
			"2024-01-01 00:00:00", "not a date", "2024-13-45", 3.25},
	}
	for _, r := range rows {
		if _, err := direct.Exec(`INSERT INTO v VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, r...); err != nil {
			t.Fatal(err)
		}
	}
	cached, err := sql.Open("cachedsql", "driver=sqlite3 dsn='"+path+"' namespace="+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close()

	const q = "SELECT * FROM v ORDER BY rowid"
	want, wantMeta := scanAll(t, direct, q)
	miss, missMeta := scanAll(t, cached, q)
	hit, hitMeta := scanAll(t, cached, q)
	if s := stats(t, cached); s.Fills != 1 || s.L1Hits != 1 {
		t.Fatalf("expected one fill then one L1 hit, got %+v", s)
	}
	for _, c := range []struct {
		name string
		got  [][]any
		meta []string
	}{{"miss", miss, missMeta}, {"hit", hit, hitMeta}} {
		if !reflect.DeepEqual(c.meta, wantMeta) {
			t.Errorf("%s: column types differ:\n got %v\nwant %v", c.name, c.meta, wantMeta)
		}
		if len(c.got) != len(want) {
			t.Fatalf("%s: %d rows; want %d", c.name, len(c.got), len(want))
		}
		for i := range want {
			for j := range want[i] {
				if !sameValue(c.got[i][j], want[i][j]) {
					t.Errorf("%s: row %d col %s: got %T(%#v); want %T(%#v)", c.name, i, wantMeta[j], c.got[i][j], c.got[i][j], want[i][j], want[i][j])
				}
			}
		}
	}
}
