package rowset

import (
	"bytes"
	"database/sql/driver"
	"errors"
	"testing"
)

// TestColumnCache: a ColumnCache shares the first set's columns between the
// entries that have them, from its own copy, decodes every entry to exactly
// what Decode gives, and takes other columns at its 1st, 2nd, 4th... miss.
func TestColumnCache(t *testing.T) {
	x := []Column{{Name: "id", DatabaseTypeName: "INT8", HasDatabaseTypeName: true, ScanType: typeOfInt64}, {Name: "name"}}
	y := []Column{{Name: "id", DatabaseTypeName: "INT8", HasDatabaseTypeName: true, ScanType: typeOfInt64}, {Name: "email"}}
	var cc ColumnCache
	var shared *Column // the columns the cache hands out, once it has them
	for _, step := range []struct {
		name  string
		b     []byte
		share bool   // the result's columns are the cache's
		holds string // the second column's name in the cache after the step
	}{
		{"first entry: parsed, then taken", encode(t, x, []driver.Value{int64(1), "a"}), false, "name"},
		{"same columns, other row", encode(t, x, []driver.Value{int64(2), "b"}), true, "name"},
		{"same columns, no rows", encode(t, x), true, "name"},
		{"same columns, two rows", encode(t, x, []driver.Value{int64(3), "c"}, []driver.Value{int64(4), "d"}), true, "name"},
		{"other columns, first miss: taken", encode(t, y, []driver.Value{int64(1), "a@x"}), false, "email"},
		{"those columns again", encode(t, y, []driver.Value{int64(2), "b@x"}), true, "email"},
		{"the first columns, second miss: taken", encode(t, x, []driver.Value{int64(5), "e"}), false, "name"},
		{"third miss: refused", encode(t, y, []driver.Value{int64(3), "c@x"}), false, "name"},
		{"the cache's columns", encode(t, x, []driver.Value{int64(6), "f"}), true, "name"},
		{"fourth miss: taken", encode(t, y, []driver.Value{int64(4), "d@x"}), false, "email"},
		{"taken columns", encode(t, y, []driver.Value{int64(5), "e@x"}), true, "email"},
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
		if err := sameResult(want, got); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		cols := got.Sets[0].Columns
		if step.share {
			if shared == nil || &cols[0] != shared {
				t.Fatalf("%s: the columns were parsed again, not shared", step.name)
			}
		} else if &cols[0] == shared {
			t.Fatalf("%s: shared columns from a different entry", step.name)
		}
		// What the cache holds is its own copy: wiping the entry, the one
		// it may have just taken its columns from, changes none of it.
		clear(b)
		held := cc.Columns()
		if len(held) != 2 || held[0].Name != "id" || held[0].DatabaseTypeName != "INT8" || held[1].Name != step.holds {
			t.Fatalf("%s: the cache holds %+v, want id (INT8) and %q", step.name, held, step.holds)
		}
		if step.share && cols[1].Name != step.holds {
			t.Fatalf("%s: a shared column name changed with the entry's bytes: %q", step.name, cols[1].Name)
		}
		shared = &held[0]
	}
}

// TestColumnCacheOffersOnlyWholeEntries: an entry that fails to decode after
// its columns, up to the last check, leaves the cache as it was.
func TestColumnCacheOffersOnlyWholeEntries(t *testing.T) {
	b := encode(t, []Column{{Name: "a"}}, []driver.Value{"x"})
	for name, bad := range map[string][]byte{
		"short of one byte":  b[:len(b)-1],
		"short of two bytes": b[:len(b)-2],
		"one trailing byte":  append(bytes.Clone(b), 0xc0),
	} {
		var cc ColumnCache
		if r, err := cc.Decode(bad); !errors.Is(err, ErrCorrupt) || r != nil {
			t.Fatalf("an entry %s: %v, %v; want ErrCorrupt", name, r, err)
		}
		if cols := cc.Columns(); cols != nil {
			t.Fatalf("an entry %s left its columns in the cache: %+v", name, cols)
		}
	}
}

// TestColumnCacheLaterSets: the first set's columns come from the cache and
// the later sets' are parsed, as Decode parses them.
func TestColumnCacheLaterSets(t *testing.T) {
	b, err := Append(nil, multiSetResult())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var cc ColumnCache
	for i := range 2 { // parsed and taken, then shared
		got, err := cc.Decode(bytes.Clone(b))
		if err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		if err := sameResult(want, got); err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		if shared := &got.Sets[0].Columns[0] == &cc.Columns()[0]; shared != (i == 1) {
			t.Fatalf("decode %d: first set's columns shared %v", i, shared)
		}
	}
}

// multiSetResult has columns in its first set and in later ones, one of
// them empty.
func multiSetResult() *Result {
	return &Result{Sets: []Set{
		{Columns: []Column{{Name: "a"}, {Name: "b"}}, Rows: [][]driver.Value{{int64(1), "x"}}},
		{Columns: []Column{{Name: "c"}}, Rows: [][]driver.Value{{2.5}}},
		{},
		{Columns: []Column{{Name: "d"}, {Name: "e"}, {Name: "f"}}, Rows: [][]driver.Value{{nil, true, []byte("y")}}},
	}}
}

func encode(t testing.TB, cols []Column, rows ...[]driver.Value) []byte {
	t.Helper()
	b, err := Append(nil, &Result{Sets: []Set{{Columns: cols, Rows: rows}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
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
	multi, err := Append(nil, multiSetResult())
	if err != nil {
		f.Fatal(err)
	}
	seeds := append(seedEncodings(f), multi)
	for i, a := range seeds {
		f.Add(a, a)
		f.Add(a, seeds[(i+1)%len(seeds)])
		// The same columns, then something wrong after them.
		f.Add(a, a[:len(a)-1])
		flipped := bytes.Clone(a)
		flipped[len(flipped)-1] ^= 0x55
		f.Add(a, flipped)
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
		if err := sameResult(want, got); err != nil {
			t.Fatal(err)
		}
	})
}
