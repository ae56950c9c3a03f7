package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// column is everything database/sql's ColumnType answers, "not supported"
// flags included.
type column struct {
	Name             string
	DatabaseTypeName string
	Length           int64
	LengthOK         bool
	Nullable         bool
	NullableOK       bool
	Precision, Scale int64
	DecimalOK        bool
	ScanType         reflect.Type
}

// snapshot is what a caller of database/sql sees of one query: the column
// metadata and every value scanned into *any (the driver's value, with []byte
// copied by database/sql), over every result set.
type snapshot struct {
	sets []resultSet
}

type resultSet struct {
	cols []column
	rows [][]any
}

func describe(rows *sql.Rows) ([]column, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]column, len(cts))
	for i, ct := range cts {
		c := &cols[i]
		c.Name = ct.Name()
		c.DatabaseTypeName = ct.DatabaseTypeName()
		c.Length, c.LengthOK = ct.Length()
		c.Nullable, c.NullableOK = ct.Nullable()
		c.Precision, c.Scale, c.DecimalOK = ct.DecimalSize()
		c.ScanType = ct.ScanType()
	}
	return cols, nil
}

// capture reads rows to the end and closes them.
func capture(rows *sql.Rows) (snapshot, error) {
	defer rows.Close()
	var s snapshot
	for {
		cols, err := describe(rows)
		if err != nil {
			return s, err
		}
		set := resultSet{cols: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return s, err
			}
			set.rows = append(set.rows, vals)
		}
		if err := rows.Err(); err != nil {
			return s, err
		}
		s.sets = append(s.sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	return s, rows.Close()
}

// queryMode is how a query reaches the driver: without arguments (for MySQL
// the text protocol), with an argument (for MySQL a server-side prepared
// statement, binary protocol), or through db.Prepare and stmt.Query.
type queryMode string

const (
	modeText     queryMode = "text"
	modeArgs     queryMode = "args"
	modePrepared queryMode = "prepared"
)

var queryModes = []queryMode{modeText, modeArgs, modePrepared}

// selectFor returns the query text and arguments reading column v of table in
// mode; each mode's text differs so that no two modes share a cache key.
func selectFor(mode queryMode, table string, placeholder func(int) string) (string, []any) {
	switch mode {
	case modeArgs:
		return fmt.Sprintf("SELECT v FROM %s WHERE id >= %s ORDER BY id", table, placeholder(1)), []any{int64(0)}
	case modePrepared:
		return fmt.Sprintf("SELECT v FROM %s WHERE id > %s ORDER BY id", table, placeholder(1)), []any{int64(-1)}
	}
	return fmt.Sprintf("SELECT v FROM %s ORDER BY id", table), nil
}

func read(ctx context.Context, db *sql.DB, mode queryMode, query string, args []any) (snapshot, error) {
	if mode == modePrepared {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return snapshot{}, err
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return snapshot{}, err
		}
		return capture(rows)
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return snapshot{}, err
	}
	return capture(rows)
}

// diff lists every difference between want (read directly) and got (read
// through cachedsql), in words precise enough for a bug report.
func diff(want, got snapshot) []string {
	var out []string
	if len(want.sets) != len(got.sets) {
		return []string{fmt.Sprintf("%d result sets, want %d", len(got.sets), len(want.sets))}
	}
	for s := range want.sets {
		w, g := want.sets[s], got.sets[s]
		if len(w.cols) != len(g.cols) {
			out = append(out, fmt.Sprintf("set %d: %d columns, want %d", s, len(g.cols), len(w.cols)))
			continue
		}
		for i := range w.cols {
			if w.cols[i] != g.cols[i] {
				out = append(out, fmt.Sprintf("set %d column %d metadata: got %s, want %s", s, i, fmtCol(g.cols[i]), fmtCol(w.cols[i])))
			}
		}
		if len(w.rows) != len(g.rows) {
			out = append(out, fmt.Sprintf("set %d: %d rows, want %d", s, len(g.rows), len(w.rows)))
			continue
		}
		for r := range w.rows {
			for c := range w.rows[r] {
				if why := sameValue(w.rows[r][c], g.rows[r][c]); why != "" {
					out = append(out, fmt.Sprintf("set %d row %d column %d: %s", s, r, c, why))
				}
			}
		}
	}
	return out
}

func fmtCol(c column) string {
	return fmt.Sprintf("{name=%q type=%q length=%d/%v nullable=%v/%v decimal=%d,%d/%v scan=%v}",
		c.Name, c.DatabaseTypeName, c.Length, c.LengthOK, c.Nullable, c.NullableOK, c.Precision, c.Scale, c.DecimalOK, c.ScanType)
}

// sameValue returns "" when got is want in Go type and value, and otherwise
// what differs. Times must match in instant, offset, zone abbreviation and
// location name; floats bit for bit (NaN, -0).
func sameValue(want, got any) string {
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		return fmt.Sprintf("type %T (%s), want %T (%s)", got, show(got), want, show(want))
	}
	switch w := want.(type) {
	case time.Time:
		g := got.(time.Time)
		wn, wo := w.Zone()
		gn, gofs := g.Zone()
		switch {
		case !w.Equal(g):
			return fmt.Sprintf("time %s, want %s", g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano))
		case wo != gofs || wn != gn:
			return fmt.Sprintf("zone %q%+d, want %q%+d", gn, gofs, wn, wo)
		case w.Location().String() != g.Location().String():
			return fmt.Sprintf("location %q, want %q", g.Location(), w.Location())
		case (w.Location() == time.UTC) != (g.Location() == time.UTC), (w.Location() == time.Local) != (g.Location() == time.Local):
			return fmt.Sprintf("location %p, want %p (UTC/Local identity)", g.Location(), w.Location())
		}
		return ""
	case float64:
		if math.Float64bits(w) != math.Float64bits(got.(float64)) {
			return fmt.Sprintf("float64 %v, want %v", got, w)
		}
		return ""
	case float32:
		if math.Float32bits(w) != math.Float32bits(got.(float32)) {
			return fmt.Sprintf("float32 %v, want %v", got, w)
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("value %s, want %s", show(got), show(want))
	}
	return ""
}

func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case []byte:
		if v == nil {
			return "[]byte(nil)"
		}
		return fmt.Sprintf("[]byte(%q)", v)
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Format(time.RFC3339Nano) + " " + v.Location().String()
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func joinDiffs(d []string) string { return strings.Join(d, "; ") }
