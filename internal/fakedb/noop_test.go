package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noopData() ([]string, [][]driver.Value) {
	cols := []string{"id", "name", "score", "blob", "at"}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var rows [][]driver.Value
	for i := range 10 {
		rows = append(rows, []driver.Value{int64(i), "name", float64(i) / 2, []byte("blob"), at})
	}
	return cols, rows
}

func TestNoop(t *testing.T) {
	cols, data := noopData()
	n := NewNoop(cols, data)
	db := sql.OpenDB(n)
	defer db.Close()
	for range 2 {
		gotCols, rows, err := queryAll(t, db, "SELECT whatever", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotCols, cols) {
			t.Errorf("columns %q", gotCols)
		}
		if len(rows) != len(data) {
			t.Fatalf("%d rows, want %d", len(rows), len(data))
		}
		for i := range rows {
			for j := range rows[i] {
				if !reflect.DeepEqual(rows[i][j], data[i][j]) {
					t.Errorf("row %d col %d = %#v, want %#v", i, j, rows[i][j], data[i][j])
				}
			}
		}
	}
	if n.Queries() != 2 {
		t.Errorf("Queries = %d, want 2", n.Queries())
	}
	r, err := db.Query("x")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := r.ColumnTypes()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"INTEGER", "TEXT", "REAL", "BLOB", "TIMESTAMP"}
	for i, ct := range cts {
		if ct.DatabaseTypeName() != wantTypes[i] || ct.ScanType() != reflect.TypeOf(data[0][i]) {
			t.Errorf("column %d: %s %v", i, ct.DatabaseTypeName(), ct.ScanType())
		}
	}
	if _, err := db.Exec("UPDATE x"); err != nil {
		t.Error(err)
	}
}

func TestNoopBadRows(t *testing.T) {
	db := sql.OpenDB(NewNoop([]string{"a", "b"}, [][]driver.Value{{int64(1), int64(2)}, {int64(1)}}))
	defer db.Close()
	if _, err := db.Query("x"); err == nil || !strings.Contains(err.Error(), "row 1 has 1 values for 2 columns") {
		t.Errorf("err = %v", err)
	}
}

// TestNoopAllocs holds the floor to what a driver must do: at most one rows
// value per query, nothing per row or value.
func TestNoopAllocs(t *testing.T) {
	cols, data := noopData()
	c, _ := NewNoop(cols, data).Open("")
	qc := c.(driver.QueryerContext)
	dest := make([]driver.Value, len(cols))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		r, err := qc.QueryContext(ctx, "q", nil)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next(dest) != io.EOF {
		}
		r.Close()
	})
	if allocs > 1 { // 0 when the compiler keeps the rows on the stack
		t.Errorf("%v allocs per query, want at most 1", allocs)
	}
}

// BenchmarkNoopFloor is the database/sql floor: 10 rows x 5 columns scanned
// into typed destinations.
func BenchmarkNoopFloor(b *testing.B) {
	cols, data := noopData()
	db := sql.OpenDB(NewNoop(cols, data))
	defer db.Close()
	ctx := context.Background()
	var (
		id    int64
		name  string
		score float64
		blob  []byte
		at    time.Time
	)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.QueryContext(ctx, "SELECT id, name, score, blob, at FROM t WHERE id = ?", 1)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&id, &name, &score, &blob, &at); err != nil {
				b.Fatal(err)
			}
		}
		rows.Close()
	}
}

// BenchmarkFakeSelect is a primary-key read through the full fake engine,
// for comparison with the floor.
func BenchmarkFakeSelect(b *testing.B) {
	d, db := openDB(b, Options{Ifaces: AllIfaces})
	usersTable(b, d)
	ctx := context.Background()
	var id int64
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, "SELECT id FROM users WHERE id = ?", 2).Scan(&id); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoopPreparedAndTx covers the paths database/sql takes for db.Prepare
// and transactions on the Noop driver.
func TestNoopPreparedAndTx(t *testing.T) {
	cols, data := noopData()
	n := NewNoop(cols, data)
	db := sql.OpenDB(n)
	defer db.Close()
	if n.Driver() != driver.Driver(n) {
		t.Error("Driver() is not the Noop itself")
	}
	s, err := db.Prepare("q")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Query()
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		got++
	}
	if err := rows.Close(); err != nil || got != len(data) {
		t.Errorf("prepared query: %d rows, %v", got, err)
	}
	if _, err := s.Exec(); err != nil {
		t.Error(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Error(err)
	}
}
