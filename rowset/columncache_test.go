package rowset

import (
	"bytes"
	"database/sql/driver"
	"errors"
	"testing"
)

// TestColumnCache: a ColumnCache shares the first set's columns between the
// entries that have them, from its own copy, and decodes every entry to
// exactly what Decode gives.
func TestColumnCache(t *testing.T) {
	x := []Column{{Name: "id", DatabaseTypeName: "INT8", HasDatabaseTypeName: true, ScanType: typeOfInt64}, {Name: "name"}}
	y := []Column{{Name: "id", DatabaseTypeName: "INT8", HasDatabaseTypeName: true, ScanType: typeOfInt64}, {Name: "email"}}
	enc := func(cols []Column, rows ...[]driver.Value) []byte {
		b, err := Append(nil, &Result{Sets: []Set{{Columns: cols, Rows: rows}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var cc ColumnCache
	var shared *Column // the columns the cache hands out, once it has them
	for _, step := range []struct {
		name  string
		b     []byte
		share bool // the result's columns are the cache's
	}{
		{"first entry: parsed, then remembered", enc(x, []driver.Value{int64(1), "a"}), false},
		{"same columns, other row", enc(x, []driver.Value{int64(2), "b"}), true},
		{"same columns, no rows", enc(x), true},
		{"same columns, two rows", enc(x, []driver.Value{int64(3), "c"}, []driver.Value{int64(4), "d"}), true},
		{"other columns with the same first column", enc(y, []driver.Value{int64(1), "a@x"}), false},
		{"those columns again", enc(y, []driver.Value{int64(2), "b@x"}), true},
		{"the first columns again", enc(x, []driver.Value{int64(5), "e"}), false},
	} {
		want, err := Decode(bytes.Clone(step.b))
		if err != nil {
			t.Fatalf("%s: Decode: %v", step.name, err)
		}
		b := bytes.Clone(step.b)
		got, err := cc.Decode(b)
		if err != nil {
			t.Fatalf("%s: ColumnCache.Decode: %v", step.name, err)
		}
		if err := sameResult(got, want); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		cols := got.Sets[0].Columns
		if step.share {
			if shared == nil || &cols[0] != shared {
				t.Fatalf("%s: the columns were parsed again, not shared", step.name)
			}
			// The shared names are the cache's copy, not the entry's bytes.
			clear(b)
			if cols[1].Name != want.Sets[0].Columns[1].Name {
				t.Fatalf("%s: a shared column name changed with the entry's bytes: %q", step.name, cols[1].Name)
			}
		} else if &cols[0] == shared {
			t.Fatalf("%s: shared columns from a different entry", step.name)
		}
		if sc := cc.p.Load(); sc != nil {
			shared = &sc.cols[0]
		}
	}
}

// TestColumnCacheHeaderCount: an entry that starts with a remembered column
// array but whose header counts fewer columns is corrupt, as Decode says.
func TestColumnCacheHeaderCount(t *testing.T) {
	b, err := Append(nil, &Result{Sets: []Set{{Columns: []Column{{Name: "a"}, {Name: "b"}}, Rows: [][]driver.Value{{int64(1), int64(2)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var cc ColumnCache
	if _, err := cc.Decode(b); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(b)
	// The header: fixarray 3, format, fixarray 7, then its counts as uint32s
	// (code and four bytes each): sets, columns, ...
	if bad[8] != cUint32 || bad[12] != 2 {
		t.Fatalf("header bytes %x: no column count of 2 at bytes 8-12", bad[:13])
	}
	bad[12] = 1
	for name, dec := range map[string]func([]byte) (*Result, error){"Decode": Decode, "ColumnCache.Decode": cc.Decode} {
		if r, err := dec(bad); !errors.Is(err, ErrCorrupt) || r != nil {
			t.Errorf("%s of an entry whose header counts 1 column of 2: %v, %v; want ErrCorrupt", name, r, err)
		}
	}
}

// TestColumnCacheAllocs: sharing the columns saves their allocation.
func TestColumnCacheAllocs(t *testing.T) {
	b, err := Append(nil, benchResult(1))
	if err != nil {
		t.Fatal(err)
	}
	var cc ColumnCache
	if _, err := cc.Decode(b); err != nil {
		t.Fatal(err)
	}
	plain := testing.AllocsPerRun(100, func() { Decode(b) })
	shared := testing.AllocsPerRun(100, func() { cc.Decode(b) })
	if shared != plain-1 {
		t.Fatalf("a decode sharing its columns allocates %v times, a plain one %v; want one fewer", shared, plain)
	}
}

// FuzzColumnCache: whatever a ColumnCache remembered from a, it decodes b to
// exactly what Decode does, or fails as Decode does.
func FuzzColumnCache(f *testing.F) {
	seeds := seedEncodings(f)
	for i, a := range seeds {
		f.Add(a, a)
		f.Add(a, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var cc ColumnCache
		cc.Decode(bytes.Clone(a))
		want, werr := Decode(bytes.Clone(b))
		got, err := cc.Decode(bytes.Clone(b))
		if (err == nil) != (werr == nil) {
			t.Fatalf("ColumnCache.Decode: %v; Decode: %v", err, werr)
		}
		if err != nil {
			if r := got; r != nil {
				t.Fatal("ColumnCache.Decode returned a Result with an error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if err := sameResult(got, want); err != nil {
			t.Fatal(err)
		}
	})
}
