package rowset

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("zone database: %v", err)
	}
	return loc
}

type valueCase struct {
	name string
	v    driver.Value
}

// valueCases is every supported value type with its edge cases.
func valueCases(t testing.TB) []valueCase {
	ny := mustLoad(t, "America/New_York")
	return []valueCase{
		{"nil", nil},
		{"int64 zero", int64(0)},
		{"int64 fixint max", int64(127)},
		{"int64 128", int64(128)},
		{"int64 -1", int64(-1)},
		{"int64 -33", int64(-33)},
		{"int64 min", int64(math.MinInt64)},
		{"int64 max", int64(math.MaxInt64)},
		{"int64 int32 max+1", int64(math.MaxInt32) + 1},
		{"float64 zero", float64(0)},
		{"float64 negative zero", math.Copysign(0, -1)},
		{"float64 +Inf", math.Inf(1)},
		{"float64 -Inf", math.Inf(-1)},
		{"float64 NaN", math.NaN()},
		{"float64 NaN payload", math.Float64frombits(0x7ff0_0000_dead_beef)},
		{"float64 negative NaN", math.Float64frombits(0xfff8_0000_0000_0001)},
		{"float64 smallest subnormal", math.SmallestNonzeroFloat64},
		{"float64 pi", math.Pi},
		{"bool true", true},
		{"bool false", false},
		{"bytes nil", []byte(nil)},
		{"bytes empty", []byte{}},
		{"bytes", []byte{0, 1, 2, 0xff}},
		{"bytes 300", bytes.Repeat([]byte{7}, 300)},
		{"bytes 70000", bytes.Repeat([]byte{9}, 70000)},
		{"string empty", ""},
		{"string", "héllo"},
		{"string invalid utf8", "\xff\xfe\x00a\xc3"},
		{"string 31", string(bytes.Repeat([]byte{'a'}, 31))},
		{"string 32", string(bytes.Repeat([]byte{'b'}, 32))},
		{"string 300", string(bytes.Repeat([]byte{'c'}, 300))},
		{"string 70000", string(bytes.Repeat([]byte{'d'}, 70000))},
		{"time zero", time.Time{}},
		{"time UTC", time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC)},
		{"time Local", time.Date(2024, 7, 1, 8, 0, 0, 1, time.Local)},
		{"time New York winter", time.Date(2024, 1, 15, 9, 30, 0, 999999999, ny)},
		{"time New York summer", time.Date(2024, 7, 15, 9, 30, 0, 5, ny)},
		{"time named fixed zone", time.Date(2020, 5, 5, 5, 5, 5, 5, time.FixedZone("XYZ", 5*3600+30*60))},
		{"time fake named zone", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("America/New_York", 3600))},
		{"time unnamed fixed zone", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", -7*3600))},
		{"time fixed zone named UTC", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("UTC", 3600))},
		{"time fixed zone named Local", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("Local", 12345))},
		{"time year 1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"time year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"time before 1970", time.Date(1900, 3, 4, 5, 6, 7, 8, ny)},
		{"time far future", time.Unix(1<<60, 7).UTC()},
		{"time far past", time.Unix(-1<<60, 7).In(time.FixedZone("", 60))},
		{"int", int(-1 << 40)},
		{"int8", int8(-128)},
		{"int16", int16(-32768)},
		{"int32", int32(math.MinInt32)},
		{"uint", uint(math.MaxUint)},
		{"uint8", uint8(255)},
		{"uint16", uint16(65535)},
		{"uint32", uint32(math.MaxUint32)},
		{"uint64", uint64(math.MaxUint64)},
		{"float32", float32(1.5)},
		{"float32 negative zero", float32(math.Copysign(0, -1))},
		{"float32 NaN payload", math.Float32frombits(0x7f80_0001)},
		{"float32 -Inf", float32(math.Inf(-1))},
	}
}

// sameValue reports how got differs from want: Go type, exact bits for floats,
// instant, offset and location for times, nil versus empty for []byte.
func sameValue(want, got driver.Value) error {
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		return fmt.Errorf("type %T, want %T", got, want)
	}
	switch w := want.(type) {
	case float64:
		if math.Float64bits(w) != math.Float64bits(got.(float64)) {
			return fmt.Errorf("bits %#x, want %#x", math.Float64bits(got.(float64)), math.Float64bits(w))
		}
	case float32:
		if math.Float32bits(w) != math.Float32bits(got.(float32)) {
			return fmt.Errorf("bits %#x, want %#x", math.Float32bits(got.(float32)), math.Float32bits(w))
		}
	case []byte:
		g := got.([]byte)
		if (w == nil) != (g == nil) || !bytes.Equal(w, g) {
			return fmt.Errorf("%#v, want %#v", g, w)
		}
	case time.Time:
		g := got.(time.Time)
		_, wo := w.Zone()
		_, gotOff := g.Zone()
		switch {
		case !g.Equal(w):
			return fmt.Errorf("instant %v, want %v", g, w)
		case gotOff != wo:
			return fmt.Errorf("offset %d, want %d", gotOff, wo)
		case g.Location().String() != w.Location().String():
			return fmt.Errorf("location %q, want %q", g.Location(), w.Location())
		case w.Location() == time.UTC && g.Location() != time.UTC:
			return fmt.Errorf("location is not time.UTC")
		case w.Location() == time.Local && g.Location() != time.Local:
			return fmt.Errorf("location is not time.Local")
		}
	default:
		if want != got {
			return fmt.Errorf("%#v, want %#v", got, want)
		}
	}
	return nil
}

func sameResult(want, got *Result) error {
	if len(got.Sets) != len(want.Sets) {
		return fmt.Errorf("%d sets, want %d", len(got.Sets), len(want.Sets))
	}
	for si := range want.Sets {
		ws, gs := &want.Sets[si], &got.Sets[si]
		if len(gs.Columns) != len(ws.Columns) {
			return fmt.Errorf("set %d: %d columns, want %d", si, len(gs.Columns), len(ws.Columns))
		}
		for ci := range ws.Columns {
			if gs.Columns[ci] != ws.Columns[ci] {
				return fmt.Errorf("set %d column %d: %+v, want %+v", si, ci, gs.Columns[ci], ws.Columns[ci])
			}
		}
		if len(gs.Rows) != len(ws.Rows) {
			return fmt.Errorf("set %d: %d rows, want %d", si, len(gs.Rows), len(ws.Rows))
		}
		for ri := range ws.Rows {
			if len(gs.Rows[ri]) != len(ws.Rows[ri]) {
				return fmt.Errorf("set %d row %d: %d values, want %d", si, ri, len(gs.Rows[ri]), len(ws.Rows[ri]))
			}
			for vi := range ws.Rows[ri] {
				if err := sameValue(ws.Rows[ri][vi], gs.Rows[ri][vi]); err != nil {
					return fmt.Errorf("set %d row %d value %d: %w", si, ri, vi, err)
				}
			}
		}
	}
	return nil
}

func roundTrip(t *testing.T, r *Result) []byte {
	t.Helper()
	b, err := Append(nil, r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err := Decode(bytes.Clone(b))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if err := sameResult(r, got); err != nil {
		t.Fatal(err)
	}
	return b
}

func oneValue(v driver.Value) *Result {
	return &Result{Sets: []Set{{Columns: []Column{{Name: "v"}}, Rows: [][]driver.Value{{v}}}}}
}

func TestRoundTripValues(t *testing.T) {
	for _, c := range valueCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if !Supported(c.v) {
				t.Fatalf("Supported(%T) = false", c.v)
			}
			roundTrip(t, oneValue(c.v))
		})
	}
}

// TestRoundTripAllInOneRow puts every case in one row, repeated over rows, so
// that the slab layout mixes every kind of value.
func TestRoundTripAllInOneRow(t *testing.T) {
	cases := valueCases(t)
	r := &Result{Sets: []Set{{}}}
	for _, c := range cases {
		r.Sets[0].Columns = append(r.Sets[0].Columns, Column{Name: c.name})
	}
	for range 3 {
		row := make([]driver.Value, len(cases))
		for i, c := range cases {
			row[i] = c.v
		}
		r.Sets[0].Rows = append(r.Sets[0].Rows, row)
	}
	roundTrip(t, r)
}

func TestRoundTripColumns(t *testing.T) {
	cols := []Column{
		{Name: "nothing supported"},
		{Name: "everything", DatabaseTypeName: "NUMERIC", HasDatabaseTypeName: true, Length: 7, HasLength: true,
			Nullable: true, HasNullable: true, Precision: 10, Scale: 2, HasPrecisionScale: true,
			ScanType: reflect.TypeFor[sql.NullFloat64]()},
		{Name: "supported but empty type name", HasDatabaseTypeName: true, HasNullable: true, ScanType: reflect.TypeFor[any]()},
		{Name: "ok=false with values", Length: math.MaxInt64, Precision: -1, Scale: math.MinInt64, Nullable: true},
		{Name: "", DatabaseTypeName: "\xff", HasLength: true, ScanType: reflect.TypeFor[*any]()},
		{Name: "raw", ScanType: reflect.TypeFor[sql.RawBytes]()},
		{Name: "time", ScanType: reflect.TypeFor[time.Time]()},
		{Name: "null time", ScanType: reflect.TypeFor[sql.NullTime]()},
		{Name: "auto-registered", ScanType: reflect.TypeFor[map[string][]int]()},
		{Name: "auto-registered named", ScanType: reflect.TypeFor[sql.Null[int64]]()},
	}
	for _, c := range cols {
		t.Run(c.Name, func(t *testing.T) {
			roundTrip(t, &Result{Sets: []Set{{Columns: []Column{c}}}})
		})
	}
	t.Run("all, with a row", func(t *testing.T) {
		row := make([]driver.Value, len(cols))
		roundTrip(t, &Result{Sets: []Set{{Columns: cols, Rows: [][]driver.Value{row}}}})
	})
}

func TestRoundTripSets(t *testing.T) {
	cols2 := []Column{{Name: "a"}, {Name: "b"}}
	tests := []struct {
		name string
		r    *Result
	}{
		{"no sets", &Result{}},
		{"one empty set without columns", &Result{Sets: []Set{{}}}},
		{"one empty set with columns", &Result{Sets: []Set{{Columns: cols2}}}},
		{"rows without columns", &Result{Sets: []Set{{Rows: [][]driver.Value{{}, {}, {}}}}}},
		{"three sets", &Result{Sets: []Set{
			{Columns: cols2, Rows: [][]driver.Value{{int64(1), "x"}, {int64(2), nil}}},
			{Columns: []Column{{Name: "only"}}},
			{Columns: []Column{{Name: "c", ScanType: reflect.TypeFor[string]()}}, Rows: [][]driver.Value{{"y"}, {[]byte("z")}, {time.Unix(5, 0).UTC()}}},
		}}},
		{"empty sets between", &Result{Sets: []Set{{}, {Columns: cols2, Rows: [][]driver.Value{{true, false}}}, {}}}},
		{"many rows", func() *Result {
			s := Set{Columns: cols2}
			for i := range 70000 {
				s.Rows = append(s.Rows, []driver.Value{int64(i), fmt.Sprint(i)})
			}
			return &Result{Sets: []Set{s}}
		}()},
		{"many sets", func() *Result {
			r := &Result{}
			for i := range 20 {
				r.Sets = append(r.Sets, Set{Columns: cols2[:i%3], Rows: [][]driver.Value{make([]driver.Value, i%3)}})
			}
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { roundTrip(t, tt.r) })
	}
}

func TestAppendUnsupported(t *testing.T) {
	x := 1
	tests := []struct {
		name string
		v    driver.Value
	}{
		{"struct", struct{}{}},
		{"pointer", &x},
		{"int slice", []int{1}},
		{"complex", complex(1, 2)},
		{"named string", sql.RawBytes("x")},
		{"uintptr", uintptr(1)},
		{"time with huge offset", time.Unix(0, 0).In(time.FixedZone("", 1<<40))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Supported(tt.v) {
				t.Errorf("Supported(%T) = true", tt.v)
			}
			prefix := []byte("keep")
			r := &Result{Sets: []Set{{Columns: []Column{{Name: "a"}, {Name: "b"}}, Rows: [][]driver.Value{{int64(1), "s"}, {"ok", tt.v}}}}}
			out, err := Append(prefix, r)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Append error %v, want ErrUnsupported", err)
			}
			if want := fmt.Sprintf("%T", tt.v); !bytes.Contains([]byte(err.Error()), []byte(want)) && tt.name != "time with huge offset" {
				t.Errorf("error %q does not name the type %s", err, want)
			}
			if string(out) != "keep" {
				t.Errorf("Append returned %q, want the original dst", out)
			}
		})
	}
}

func TestAppendRowLengthMismatch(t *testing.T) {
	r := &Result{Sets: []Set{{Columns: []Column{{Name: "a"}}, Rows: [][]driver.Value{{int64(1), int64(2)}}}}}
	if _, err := Append(nil, r); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Append error %v, want ErrUnsupported", err)
	}
	if _, err := Append(nil, nil); err == nil {
		t.Fatal("Append(nil Result) succeeded")
	}
}

func TestScanTypeConflict(t *testing.T) {
	type T int
	first := reflect.TypeFor[T]()
	second := func() reflect.Type { type T string; return reflect.TypeFor[T]() }()
	if stableName(first) != stableName(second) || first == second {
		t.Fatalf("test needs two types with one name, got %q and %q", stableName(first), stableName(second))
	}
	if err := RegisterScanType(first); err != nil {
		t.Fatal(err)
	}
	if err := RegisterScanType(first); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	if err := RegisterScanType(second); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("RegisterScanType of a clashing name: %v, want ErrUnsupported", err)
	}
	r := &Result{Sets: []Set{{Columns: []Column{{Name: "c", ScanType: second}}}}}
	if _, err := Append(nil, r); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Append with a clashing scan type: %v, want ErrUnsupported", err)
	}
	if err := RegisterScanType(nil); err == nil {
		t.Fatal("RegisterScanType(nil) succeeded")
	}
}

type scanProbeA struct{}

func TestDecodeUnknownScanType(t *testing.T) {
	b, err := Append(nil, &Result{Sets: []Set{{Columns: []Column{{Name: "c", ScanType: reflect.TypeFor[scanProbeA]()}}}}})
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("scanProbeA"), []byte("scanProbeZ"), 1)
	if _, err := Decode(b); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Decode with an unregistered scan type: %v, want ErrUnsupported", err)
	}
}

// seedEncodings are valid encodings covering every value and column case.
func seedEncodings(t testing.TB) [][]byte {
	var out [][]byte
	add := func(r *Result) {
		b, err := Append(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	cases := valueCases(t)
	row := make([]driver.Value, 0, len(cases))
	cols := make([]Column, 0, len(cases))
	for _, c := range cases {
		if b, ok := c.v.([]byte); ok && len(b) > 1000 {
			continue
		}
		if s, ok := c.v.(string); ok && len(s) > 1000 {
			continue
		}
		add(oneValue(c.v))
		row = append(row, c.v)
		cols = append(cols, Column{Name: c.name})
	}
	add(&Result{Sets: []Set{{Columns: cols, Rows: [][]driver.Value{row, row}}}})
	add(&Result{})
	add(&Result{Sets: []Set{{}, {Columns: []Column{{Name: "a", DatabaseTypeName: "INT", HasDatabaseTypeName: true,
		Length: 3, HasLength: true, Nullable: true, HasNullable: true, Precision: 4, Scale: 5, HasPrecisionScale: true,
		ScanType: reflect.TypeFor[int64]()}}, Rows: [][]driver.Value{{int64(1)}, {nil}}}}})
	add(&Result{Sets: []Set{{Rows: [][]driver.Value{{}, {}}}}})
	return out
}

func TestDecodeRejectsEveryPrefix(t *testing.T) {
	for i, b := range seedEncodings(t) {
		for n := range len(b) {
			if r, err := Decode(bytes.Clone(b[:n])); !errors.Is(err, ErrCorrupt) || r != nil {
				t.Fatalf("seed %d: Decode of %d of %d bytes: %v, %v; want ErrCorrupt", i, n, len(b), r, err)
			}
		}
		if _, err := Decode(append(bytes.Clone(b), 0xc0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("seed %d: Decode with a trailing byte: %v, want ErrCorrupt", i, err)
		}
	}
}

// TestDecodeRejectsCorruption flips each byte of each seed in several ways: every
// outcome must be a clean error or a Result that round-trips.
func TestDecodeRejectsCorruption(t *testing.T) {
	for i, b := range seedEncodings(t) {
		for at := range b {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				c := bytes.Clone(b)
				c[at] ^= x
				r, err := Decode(c)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
						t.Fatalf("seed %d byte %d ^%#x: error %v wraps neither sentinel", i, at, x, err)
					}
					continue
				}
				checkReencodes(t, r)
			}
		}
	}
}

func TestDecodeCorruptCases(t *testing.T) {
	hdr := func(counts ...uint32) []byte {
		b := []byte{0x93, 1, 0x97}
		for _, c := range counts {
			b = append(b, 0xce, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"msgpack nil", []byte{0xc0}},
		{"other version", []byte{0x93, 2, 0x97}},
		{"huge counts", append(hdr(1<<31, 1<<31, 1<<31, 1<<31, 1<<31, 1<<31, 1<<31), 0x91, 0x92, 0x90, 0x90)},
		{"counts over values", append(hdr(1, 0, 1, 1, 1, 1, 0), bytes.Repeat([]byte{0}, 64)...)},
		{"set count mismatch", append(hdr(1, 0, 0, 0, 0, 0, 0), 0x90)},
		{"header says more values", append(hdr(1, 1, 1, 2, 0, 0, 2), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 1)},
		{"header says fewer words", append(hdr(1, 1, 1, 1, 0, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 1)},
		{"row shorter than columns", append(hdr(1, 1, 1, 0, 0, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x90)},
		{"bad column flags", append(hdr(1, 1, 0, 0, 0, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0x40, 0xa0, 0, 0, 0, 0xc0, 0x90)},
		{"map as value", append(hdr(1, 1, 1, 1, 0, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 0x80)},
		{"uint64 over int64", append(hdr(1, 1, 1, 1, 0, 0, 1), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"unknown ext", append(hdr(1, 1, 1, 1, 0, 0, 1), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 0xd4, 99, 0)},
		{"int8 ext with 2 bytes", append(hdr(1, 1, 1, 1, 0, 0, 1), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 0xd5, extInt8, 0, 0)},
		{"nil bytes with payload", append(hdr(1, 1, 1, 1, 0, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91, 0xd4, extNilBytes, 0)},
		{"time nanoseconds 1e9", append(hdr(1, 1, 1, 1, 1, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91,
			0xc7, 13, extTime, zoneUTC, 0, 0, 0, 0, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00)},
		{"time bad kind", append(hdr(1, 1, 1, 1, 1, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91,
			0xc7, 13, extTime, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"named time without name", append(hdr(1, 1, 1, 1, 1, 0, 0), 0x91, 0x92, 0x91, 0x97, 0xa0, 0, 0xa0, 0, 0, 0, 0xc0, 0x91, 0x91,
			0xc7, 17, extTime, zoneNamed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode(tt.b)
			if !errors.Is(err, ErrCorrupt) || r != nil {
				t.Fatalf("Decode: %v, %v; want ErrCorrupt", r, err)
			}
		})
	}
}

// TestDecodeAllocationBound decodes inputs whose header claims as much as the
// input could justify, and checks the bytes allocated stay proportional to the input.
func TestDecodeAllocationBound(t *testing.T) {
	for _, size := range []int{64, 4096, 1 << 16} {
		body := bytes.Repeat([]byte{0}, size)
		rem := uint32(size)
		for _, counts := range [][7]uint32{
			{rem / 3, 0, 0, 0, 0, 0, 0},
			{0, rem / 8, 0, 0, 0, 0, 0},
			{0, 0, rem, 0, 0, 0, 0},
			{0, 0, 0, rem, 0, 0, rem},
			{0, 0, 0, rem / 2, 0, rem / 2, 0},
			{0, 0, 0, rem / 16, rem / 16, 0, 0},
			{rem / 12, rem / 32, rem / 8, rem / 8, rem / 64, rem / 64, rem / 64},
		} {
			b := []byte{0x93, 1, 0x97}
			for _, c := range counts {
				b = append(b, 0xce, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
			}
			b = append(b, body...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(b)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("counts %v: %v, want ErrCorrupt", counts, err)
			}
			if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(b)+4096); got > limit {
				t.Errorf("counts %v in %d bytes: allocated %d bytes, limit %d", counts, len(b), got, limit)
			}
		}
	}
}

func checkReencodes(t testing.TB, r *Result) {
	t.Helper()
	b, err := Append(nil, r)
	if err != nil {
		t.Fatalf("re-encoding a decoded Result: %v", err)
	}
	r2, err := Decode(b)
	if err != nil {
		t.Fatalf("decoding a re-encoded Result: %v", err)
	}
	if err := sameResult(r, r2); err != nil {
		t.Fatalf("re-encoded Result differs: %v", err)
	}
}

func TestEncodingIsValidMsgpack(t *testing.T) {
	for i, b := range seedEncodings(t) {
		r := bytes.NewReader(b)
		if err := msgpack.NewDecoder(r).Skip(); err != nil {
			t.Fatalf("seed %d: msgpack cannot skip it: %v", i, err)
		}
		if r.Len() != 0 {
			t.Fatalf("seed %d: %d bytes after one msgpack value", i, r.Len())
		}
	}
}

func TestFormatCodesMatchMsgpcode(t *testing.T) {
	pairs := []struct {
		name      string
		ours, lib byte
	}{
		{"PosFixedNumHigh", cPosFixMax, msgpcode.PosFixedNumHigh}, {"NegFixedNumLow", cNegFixMin, msgpcode.NegFixedNumLow},
		{"FixedMapLow", cFixMapLow, msgpcode.FixedMapLow},
		{"FixedArrayLow", cFixArrLow, msgpcode.FixedArrayLow}, {"FixedArrayHigh", cFixArrHigh, msgpcode.FixedArrayHigh},
		{"FixedStrLow", cFixStrLow, msgpcode.FixedStrLow}, {"FixedStrHigh", cFixStrHigh, msgpcode.FixedStrHigh},
		{"Nil", cNil, msgpcode.Nil}, {"False", cFalse, msgpcode.False}, {"True", cTrue, msgpcode.True},
		{"Bin8", cBin8, msgpcode.Bin8}, {"Bin16", cBin16, msgpcode.Bin16}, {"Bin32", cBin32, msgpcode.Bin32},
		{"Ext8", cExt8, msgpcode.Ext8}, {"Ext16", cExt16, msgpcode.Ext16}, {"Ext32", cExt32, msgpcode.Ext32},
		{"Float", cFloat, msgpcode.Float}, {"Double", cDouble, msgpcode.Double},
		{"Uint8", cUint8, msgpcode.Uint8}, {"Uint16", cUint16, msgpcode.Uint16}, {"Uint32", cUint32, msgpcode.Uint32}, {"Uint64", cUint64, msgpcode.Uint64},
		{"Int8", cInt8, msgpcode.Int8}, {"Int16", cInt16, msgpcode.Int16}, {"Int32", cInt32, msgpcode.Int32}, {"Int64", cInt64, msgpcode.Int64},
		{"FixExt1", cFixExt1, msgpcode.FixExt1}, {"FixExt2", cFixExt2, msgpcode.FixExt2}, {"FixExt4", cFixExt4, msgpcode.FixExt4},
		{"FixExt8", cFixExt8, msgpcode.FixExt8}, {"FixExt16", cFixExt16, msgpcode.FixExt16},
		{"Str8", cStr8, msgpcode.Str8}, {"Str16", cStr16, msgpcode.Str16}, {"Str32", cStr32, msgpcode.Str32},
		{"Array16", cArray16, msgpcode.Array16}, {"Array32", cArray32, msgpcode.Array32},
	}
	for _, p := range pairs {
		if p.ours != p.lib {
			t.Errorf("%s: 0x%02x, msgpcode has 0x%02x", p.name, p.ours, p.lib)
		}
	}
	if !timeFitsBox {
		t.Error("time.Time no longer has the layout of box: times are boxed one allocation each")
	}
}

func TestDecodedBytesDoNotWriteIntoInput(t *testing.T) {
	b, err := Append(nil, &Result{Sets: []Set{{Columns: []Column{{Name: "a"}, {Name: "b"}},
		Rows: [][]driver.Value{{[]byte("ab"), "cd"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(b)
	r, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Sets[0].Rows[0][0].([]byte)
	if cap(v) != len(v) {
		t.Fatalf("decoded []byte has cap %d > len %d", cap(v), len(v))
	}
	_ = append(v, 'X')
	_ = append(r.Sets[0].Rows[0], "more")
	_ = append(r.Sets[0].Rows, nil)
	if !bytes.Equal(b, orig) {
		t.Fatal("appending to decoded values changed the input")
	}
	if r.Sets[0].Rows[0][1] != "cd" {
		t.Fatalf("row changed: %v", r.Sets[0].Rows[0])
	}
}

// TestDecodedResultSurvivesGC holds only decoded Results (whose values live in
// the slab) across collections and checks every value afterwards: a pointer in
// a word the collector does not scan would be freed and reused.
func TestDecodedResultSurvivesGC(t *testing.T) {
	want := benchResult(200)
	var got []*Result
	for range 50 {
		b, err := Append(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
		_ = make([]byte, 1<<16) // churn the heap
	}
	runtime.GC()
	for range 1000 {
		_ = fmt.Sprint(make([]string, 8)) // reuse freed memory
	}
	runtime.GC()
	for i, r := range got {
		if err := sameResult(want, r); err != nil {
			t.Fatalf("result %d after GC: %v", i, err)
		}
	}
}

// TestDecodeAllocationsDoNotGrowWithValues: the number of allocations is the
// same for 1 row and for 1,000 rows.
func TestDecodeAllocationsDoNotGrowWithValues(t *testing.T) {
	counts := map[int]float64{}
	for _, n := range []int{1, 1000} {
		b, err := Append(nil, benchResult(n))
		if err != nil {
			t.Fatal(err)
		}
		counts[n] = testing.AllocsPerRun(20, func() {
			if _, err := Decode(b); err != nil {
				t.Fatal(err)
			}
		})
	}
	if counts[1] != counts[1000] {
		t.Fatalf("allocations per Decode: %v for 1 row, %v for 1000 rows", counts[1], counts[1000])
	}
}

// Fakes for Describe: baseRows implements no optional interface, fullRows all of them.
type baseRows struct{ cols []string }

func (r *baseRows) Columns() []string              { return r.cols }
func (r *baseRows) Close() error                   { return nil }
func (r *baseRows) Next(dest []driver.Value) error { return io.EOF }

type fullRows struct{ baseRows }

func (r *fullRows) ColumnTypeDatabaseTypeName(i int) string { return [...]string{"INT", ""}[i] }
func (r *fullRows) ColumnTypeLength(i int) (int64, bool)    { return [...]int64{8, 0}[i], i == 0 }
func (r *fullRows) ColumnTypeNullable(i int) (bool, bool)   { return i == 0, i == 0 }
func (r *fullRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return [...]int64{10, 0}[i], [...]int64{2, 0}[i], i == 0
}
func (r *fullRows) ColumnTypeScanType(i int) reflect.Type {
	return [...]reflect.Type{reflect.TypeFor[int64](), reflect.TypeFor[any]()}[i]
}

type lengthOnlyRows struct{ baseRows }

func (r *lengthOnlyRows) ColumnTypeLength(i int) (int64, bool) { return 3, true }

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		rows driver.Rows
		want []Column
	}{
		{"no optional interfaces", &baseRows{cols: []string{"a", "b"}}, []Column{{Name: "a"}, {Name: "b"}}},
		{"every interface", &fullRows{baseRows{cols: []string{"a", "b"}}}, []Column{
			{Name: "a", DatabaseTypeName: "INT", HasDatabaseTypeName: true, Length: 8, HasLength: true,
				Nullable: true, HasNullable: true, Precision: 10, Scale: 2, HasPrecisionScale: true, ScanType: reflect.TypeFor[int64]()},
			{Name: "b", HasDatabaseTypeName: true, ScanType: reflect.TypeFor[any]()},
		}},
		{"length only", &lengthOnlyRows{baseRows{cols: []string{"x"}}}, []Column{{Name: "x", Length: 3, HasLength: true}}},
		{"no columns", &baseRows{}, []Column{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.rows)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Describe = %+v, want %+v", got, tt.want)
			}
			roundTrip(t, &Result{Sets: []Set{{Columns: got}}})
		})
	}
}

// TestRoundTripZoneRules: a zone from the zone database decodes to that zone, so
// its offset six months later is right too; a fixed zone stays fixed even when
// it carries the name of a real zone.
func TestRoundTripZoneRules(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		name string
		t    time.Time
	}{
		{"real zone", time.Date(2024, 1, 15, 9, 30, 0, 0, ny)},
		{"fixed zone named like a real one", time.Date(2024, 1, 15, 9, 30, 0, 0, time.FixedZone("America/New_York", 3600))},
		{"Local", time.Date(2024, 1, 15, 9, 30, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Append(nil, oneValue(tt.t))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Sets[0].Rows[0][0].(time.Time)
			later, gotLater := tt.t.AddDate(0, 6, 0), got.AddDate(0, 6, 0)
			wn, wo := later.Zone()
			gn, gotOff := gotLater.Zone()
			if wn != gn || wo != gotOff {
				t.Fatalf("six months later: zone %s%+d, want %s%+d", gn, gotOff, wn, wo)
			}
		})
	}
}

func TestBytesValue(t *testing.T) {
	slab := make([][]byte, 2)
	slab[0], slab[1] = []byte("ab"), []byte{}
	a, b := BytesValue(&slab[0]), BytesValue(&slab[1])
	if x, ok := a.([]byte); !ok || string(x) != "ab" {
		t.Fatalf("got %T %v", a, a)
	}
	if x, ok := b.([]byte); !ok || x == nil || len(x) != 0 {
		t.Fatalf("empty: got %T %#v", b, b)
	}
	runtime.GC()
	if string(a.([]byte)) != "ab" {
		t.Fatal("value lost across GC")
	}
}

// TestScanTypeFastPath: every name lookupScanType answers without the
// registry is the name the registry has for that very type, so the fast
// path can never decode a scan type the registry would not.
func TestScanTypeFastPath(t *testing.T) {
	for _, typ := range []reflect.Type{typeOfInt64, typeOfString, typeOfFloat64, typeOfBool, typeOfBytes, typeOfTime, typeOfAny} {
		// Read the registry without registering: each must be there from init.
		name, ok := scanTypes.Load().byType[typ]
		if !ok {
			t.Fatalf("%v is not registered by init", typ)
		}
		if name != stableName(typ) {
			t.Errorf("%v is registered as %q, its stable name is %q", typ, name, stableName(typ))
		}
		got, ok := lookupScanType(name)
		if !ok || got != typ {
			t.Errorf("lookupScanType(%q) = %v, %v; want %v", name, got, ok, typ)
		}
	}
	for name, typ := range scanTypes.Load().byName {
		if got, ok := lookupScanType(name); !ok || got != typ {
			t.Errorf("lookupScanType(%q) = %v, %v; the registry has %v", name, got, ok, typ)
		}
	}
}
