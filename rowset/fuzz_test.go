package rowset

import (
	"database/sql/driver"
	"errors"
	"math"
	"testing"
	"time"
)

func FuzzDecode(f *testing.F) {
	for _, b := range seedEncodings(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if r != nil {
				t.Fatal("Decode returned a Result with an error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		checkReencodes(t, r)
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(1), uint64(0), uint32(0), "s", []byte("b"), int64(0), uint32(0), int32(0), "", uint8(0), true)
	f.Add(int64(math.MinInt64), math.Float64bits(math.NaN()), uint32(0x7f800001), "\xff", []byte{}, int64(1)<<40, uint32(999999999), int32(-3600), "America/New_York", uint8(3), false)
	f.Add(int64(math.MaxInt64), uint64(1)<<63, uint32(1)<<31, "", []byte(nil), int64(-62135596800), uint32(1), int32(19800), "XYZ", uint8(2), true)
	f.Add(int64(-1), uint64(0x7ff0000000000001), uint32(0), "Local", []byte{0}, int64(1700000000), uint32(5), int32(0), "Local", uint8(4), false)
	f.Fuzz(func(t *testing.T, i int64, fbits uint64, f32bits uint32, s string, b []byte,
		sec int64, nsec uint32, off int32, zone string, zoneKind uint8, nilBytes bool) {
		var loc *time.Location
		switch zoneKind % 5 {
		case 0:
			loc = time.UTC
		case 1:
			loc = time.Local
		case 2:
			loc = time.FixedZone(zone, int(off))
		case 3:
			l, err := time.LoadLocation(zone)
			if err != nil {
				l = time.FixedZone(zone, int(off))
			}
			loc = l
		case 4:
			loc = time.FixedZone("", int(off))
		}
		tm := time.Unix(sec, int64(nsec%1e9)).In(loc)
		if nilBytes {
			b = nil
		} else if b == nil {
			b = []byte{}
		}
		row := []driver.Value{
			i, math.Float64frombits(fbits), math.Float32frombits(f32bits), s, b, tm, nil, i&1 == 0,
			int(i), int8(i), int16(i), int32(i), uint(i), uint8(i), uint16(i), uint32(i), uint64(i),
		}
		cols := make([]Column, len(row))
		for k := range cols {
			cols[k] = Column{Name: s, DatabaseTypeName: zone, HasDatabaseTypeName: nilBytes, Length: i, HasLength: k%2 == 0,
				Precision: sec, Scale: int64(off), HasPrecisionScale: k%3 == 0, Nullable: nilBytes, HasNullable: k%4 == 0}
		}
		r := &Result{Sets: []Set{{Columns: cols, Rows: [][]driver.Value{row, row}}, {Columns: cols[:1]}}}
		roundTrip(t, r)
	})
}
