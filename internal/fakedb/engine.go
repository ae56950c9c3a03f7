package fakedb

import (
	"bytes"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Column is a column's name and the metadata the rows' ColumnType methods
// report (only those present in Options.Ifaces). A false Has* field is the
// driver's "not supported" answer (ok == false).
type Column struct {
	Name string
	// DatabaseTypeName is reported as is; "" is the "not supported" answer.
	DatabaseTypeName string
	// ScanType is reported as is; nil reports reflect.TypeFor[any]().
	ScanType reflect.Type

	Length    int64
	HasLength bool

	Nullable    bool
	HasNullable bool

	Precision, Scale  int64
	HasPrecisionScale bool
}

// Cols returns plain columns with these names and no metadata.
func Cols(names ...string) []Column {
	out := make([]Column, len(names))
	for i, n := range names {
		out[i] = Column{Name: n}
	}
	return out
}

// ResultSet is one result set of a canned answer. Rows may hold values of
// any Go type; they are returned as they are, except that []byte values are
// copied (or written into the reused buffers, see Options.ReuseBuffers).
// Do not modify a ResultSet after passing it to Canned.
type ResultSet struct {
	Columns []Column
	Rows    [][]driver.Value
}

type table struct {
	name  string // as created
	cols  []Column
	index map[string]int // lower-case column name -> position
	rows  [][]driver.Value
	seq   int64 // last insert id
}

// clone is shallow: a row slice is never modified after it is stored (UPDATE
// stores a new slice), so clones may share rows.
func (t *table) clone() *table {
	c := *t
	c.rows = slices.Clone(t.rows)
	return &c
}

func (t *table) col(name string) (int, error) {
	i, ok := t.index[lower(name)]
	if !ok {
		return 0, fmt.Errorf("fakedb: table %s has no column %q", t.name, name)
	}
	return i, nil
}

// CreateTable creates (or replaces) the table name with these columns and
// initial rows. Table and column names are case-insensitive. Each row must
// have one value per column; values may be of any Go type.
func (d *Driver) CreateTable(name string, cols []Column, rows ...[]driver.Value) error {
	if name == "" || len(cols) == 0 {
		return fmt.Errorf("fakedb: CreateTable %q: need a name and at least one column", name)
	}
	t := &table{name: name, cols: slices.Clone(cols), index: make(map[string]int, len(cols))}
	for i, c := range cols {
		k := lower(c.Name)
		if _, dup := t.index[k]; dup || c.Name == "" {
			return fmt.Errorf("fakedb: CreateTable %q: empty or duplicate column name %q", name, c.Name)
		}
		t.index[k] = i
	}
	for n, r := range rows {
		if len(r) != len(cols) {
			return fmt.Errorf("fakedb: CreateTable %q: row %d has %d values for %d columns", name, n, len(r), len(cols))
		}
		t.rows = append(t.rows, copyRow(r))
		t.seq++
	}
	d.mu.Lock()
	d.tables[lower(name)] = t
	d.mu.Unlock()
	return nil
}

// Rows returns a copy of the committed rows of a table, in order, or nil if
// it does not exist.
func (d *Driver) Rows(tableName string) [][]driver.Value {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tables[lower(tableName)]
	if t == nil {
		return nil
	}
	out := make([][]driver.Value, len(t.rows))
	for i, r := range t.rows {
		out[i] = copyRow(r)
	}
	return out
}

// Canned makes every query (and exec) of exactly this text answer with these
// result sets, whatever the arguments. Without RowsNextResultSet in
// Options.Ifaces only the first set is visible. An exec of the text affects 0
// rows. A later call replaces an earlier one for the same text.
func (d *Driver) Canned(query string, sets ...ResultSet) {
	d.mu.Lock()
	d.canned[query] = sets
	d.mu.Unlock()
}

func copyRow(r []driver.Value) []driver.Value {
	out := make([]driver.Value, len(r))
	for i, v := range r {
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b)
		}
		out[i] = v
	}
	return out
}

// planFor returns the cached plan of query, parsing it on first use.
// Callers hold d.mu.
func (d *Driver) planFor(query string) (*plan, error) {
	if p := d.plans[query]; p != nil {
		return p, nil
	}
	p, err := parse(query)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", err, query)
	}
	if len(d.plans) < 4096 {
		d.plans[query] = p
	}
	return p, nil
}

// check reports whether query is canned or parses, for Prepare.
func (d *Driver) check(query string) (numInput int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.canned[query]; ok {
		return -1, nil
	}
	p, err := d.planFor(query)
	if err != nil {
		return 0, err
	}
	return p.numInput, nil
}

// outcome is what running a statement produced: result sets for a query,
// counts for an exec.
type outcome struct {
	sets         []ResultSet
	lastInsertID int64
	affected     int64
}

// execute runs query against the committed tables or, inside a transaction,
// against tx's view. wantRows asks for RETURNING rows (Query).
func (d *Driver) execute(tx *tx, query string, args []driver.NamedValue, wantRows bool) (*outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sets, ok := d.canned[query]; ok {
		return &outcome{sets: sets}, nil
	}
	p, err := d.planFor(query)
	if err != nil {
		return nil, err
	}
	key := lower(p.table)
	t := d.tables[key]
	if tx != nil && tx.tables[key] != nil {
		t = tx.tables[key]
	}
	if t == nil {
		return nil, fmt.Errorf("fakedb: no table %q", p.table)
	}
	if p.kind != planSelect {
		if tx != nil {
			if tx.readOnly {
				return nil, fmt.Errorf("fakedb: %q: write in a read-only transaction", query)
			}
			if tx.tables[key] == nil {
				t = t.clone()
				tx.tables[key] = t
			}
		}
	}
	var where func(row []driver.Value) bool
	if p.where != nil {
		ci, err := t.col(p.where.col)
		if err != nil {
			return nil, err
		}
		want, err := p.where.val.bind(args)
		if err != nil {
			return nil, err
		}
		where = func(row []driver.Value) bool { return equal(row[ci], want) }
	}
	out := &outcome{}
	var touched [][]driver.Value
	switch p.kind {
	case planSelect:
		for _, r := range t.rows {
			if where == nil || where(r) {
				touched = append(touched, r)
			}
		}
		rs, err := project(t, p.cols, touched)
		if err != nil {
			return nil, err
		}
		out.sets = []ResultSet{rs}
		return out, nil
	case planInsert:
		pos := make([]int, len(t.cols))
		for i := range pos {
			pos[i] = i
		}
		if p.cols != nil {
			pos = pos[:len(p.cols)]
			for i, c := range p.cols {
				if pos[i], err = t.col(c); err != nil {
					return nil, err
				}
			}
		}
		for _, tuple := range p.tuples {
			if len(tuple) != len(pos) {
				return nil, fmt.Errorf("fakedb: %d values for %d columns of %s", len(tuple), len(pos), t.name)
			}
			row := make([]driver.Value, len(t.cols))
			for i, o := range tuple {
				v, err := o.bind(args)
				if err != nil {
					return nil, err
				}
				row[pos[i]] = v
			}
			touched = append(touched, copyRow(row))
		}
		t.rows = append(t.rows, touched...)
		t.seq += int64(len(touched))
		out.lastInsertID = t.seq
	case planUpdate:
		type set struct {
			i int
			v driver.Value
		}
		sets := make([]set, len(p.sets))
		for n, a := range p.sets {
			if sets[n].i, err = t.col(a.col); err != nil {
				return nil, err
			}
			if sets[n].v, err = a.val.bind(args); err != nil {
				return nil, err
			}
		}
		for ri, r := range t.rows {
			if where != nil && !where(r) {
				continue
			}
			nr := slices.Clone(r)
			for _, s := range sets {
				nr[s.i] = s.v
			}
			nr = copyRow(nr)
			t.rows[ri] = nr
			touched = append(touched, nr)
		}
	case planDelete:
		kept := make([][]driver.Value, 0, len(t.rows))
		for _, r := range t.rows {
			if where == nil || where(r) {
				touched = append(touched, r)
			} else {
				kept = append(kept, r)
			}
		}
		t.rows = kept
	}
	out.affected = int64(len(touched))
	if wantRows && p.hasReturning {
		rs, err := project(t, p.returning, touched)
		if err != nil {
			return nil, err
		}
		out.sets = []ResultSet{rs}
	} else if wantRows {
		out.sets = []ResultSet{{}}
	}
	return out, nil
}

// project returns the named columns (nil: all) of rows as a new result set;
// the row slices are new, the values shared (rows copies []byte on Next).
func project(t *table, cols []string, rows [][]driver.Value) (ResultSet, error) {
	pos := make([]int, 0, len(t.cols))
	rs := ResultSet{}
	if cols == nil {
		for i := range t.cols {
			pos = append(pos, i)
		}
	} else {
		for _, c := range cols {
			i, err := t.col(c)
			if err != nil {
				return rs, err
			}
			pos = append(pos, i)
		}
	}
	rs.Columns = make([]Column, len(pos))
	for i, p := range pos {
		rs.Columns[i] = t.cols[p]
	}
	rs.Rows = make([][]driver.Value, len(rows))
	for n, r := range rows {
		nr := make([]driver.Value, len(pos))
		for i, p := range pos {
			nr[i] = r[p]
		}
		rs.Rows[n] = nr
	}
	return rs, nil
}

// equal is WHERE's "=": NULL equals nothing, integers and floats compare as
// numbers, strings and []byte as bytes, times by instant.
func equal(a, b driver.Value) bool {
	if a == nil || b == nil {
		return false
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case []byte:
			return x == string(y)
		}
	case []byte:
		switch y := b.(type) {
		case string:
			return string(x) == y
		case []byte:
			return bytes.Equal(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Equal(y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	}
	return sameComparable(a, b)
}

// sameComparable compares values of other types with ==, treating a panic
// (an incomparable value inside an interface field) as "not equal".
func sameComparable(a, b driver.Value) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}
