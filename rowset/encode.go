package rowset

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// The encoding is msgpack:
//
//	[1 (format version),
//	 [sets, columns, rows, values, times, pointers, words] (totals over all sets),
//	 [set, ...]]
//	set    = [[column, ...], [[value, ...], ...]]   every row has one value per column
//	column = [name, flags, databaseTypeName, length, precision, scale, scanTypeName | nil]
//
// The totals let Decode allocate every slab once, exactly, after checking them
// against the bytes that follow. A value is a msgpack nil, bool, int (int64),
// float 64 (float64), float 32 (float32), str (string), bin ([]byte) or one of
// the ext types below (time.Time, a nil []byte and the other integer types).
//
// The format codes are copied from msgpcode as constants so that switches on
// them compile to jump tables; a test holds them equal.
const (
	cPosFixMax   = 0x7f
	cFixMapLow   = 0x80
	cFixArrLow   = 0x90
	cFixArrHigh  = 0x9f
	cFixStrLow   = 0xa0
	cFixStrHigh  = 0xbf
	cNil         = 0xc0
	cFalse       = 0xc2
	cTrue        = 0xc3
	cBin8        = 0xc4
	cBin16       = 0xc5
	cBin32       = 0xc6
	cExt8        = 0xc7
	cExt16       = 0xc8
	cExt32       = 0xc9
	cFloat       = 0xca
	cDouble      = 0xcb
	cUint8       = 0xcc
	cUint16      = 0xcd
	cUint32      = 0xce
	cUint64      = 0xcf
	cInt8        = 0xd0
	cInt16       = 0xd1
	cInt32       = 0xd2
	cInt64       = 0xd3
	cFixExt1     = 0xd4
	cFixExt2     = 0xd5
	cFixExt4     = 0xd6
	cFixExt8     = 0xd7
	cFixExt16    = 0xd8
	cStr8        = 0xd9
	cStr16       = 0xda
	cStr32       = 0xdb
	cArray16     = 0xdc
	cArray32     = 0xdd
	cNegFixMin   = 0xe0
	formatV1     = 1
	headerFields = 7
)

// Application ext type codes (msgpack reserves the negative ones).
const (
	extTime     = 1  // kind, seconds, nanoseconds [, offset [, name]]
	extNilBytes = 2  // empty payload: a []byte(nil), distinct from an untyped nil
	extInt      = 3  // 8 bytes big-endian
	extInt8     = 4  // 1 byte
	extInt16    = 5  // 2 bytes
	extInt32    = 6  // 4 bytes
	extUint     = 7  // 8 bytes
	extUint8    = 8  // 1 byte
	extUint16   = 9  // 2 bytes
	extUint32   = 10 // 4 bytes
	extUint64   = 11 // 8 bytes
)

// Time location kinds in the extTime payload.
const (
	zoneUTC   = 0 // payload: kind, sec, nsec
	zoneLocal = 1 // payload: kind, sec, nsec, offset
	zoneNamed = 2 // payload: kind, sec, nsec, offset, name (non-empty)
	zoneFixed = 3 // payload: kind, sec, nsec, offset (unnamed fixed zone)
)

// Column flags.
const (
	flagHasTypeName = 1 << iota
	flagHasLength
	flagHasNullable
	flagNullable
	flagHasPrecisionScale
	flagMask = 1<<iota - 1
)

// totals are the header counts; Decode sizes its allocations from them.
type totals struct {
	sets, cols, rows, values int
	times                    int // time.Time values
	pointers                 int // non-empty strings and []byte values
	words                    int // integer and float values
}

// Append appends the encoding of r to dst. It fails with an error wrapping
// ErrUnsupported when a value or scan type cannot be reproduced exactly, or when
// a row does not have one value per column; dst is then returned at its original
// length.
func Append(dst []byte, r *Result) ([]byte, error) {
	if r == nil {
		return dst, fmt.Errorf("%w: nil Result", ErrUnsupported)
	}
	start := len(dst)
	dst = append(dst, cFixArrLow|3, formatV1, cFixArrLow|headerFields)
	header := len(dst)
	for range headerFields {
		dst = append(dst, cUint32, 0, 0, 0, 0)
	}
	var n totals
	var err error
	dst = appendArrayLen(dst, len(r.Sets))
	for si := range r.Sets {
		s := &r.Sets[si]
		dst = append(dst, cFixArrLow|2)
		dst = appendArrayLen(dst, len(s.Columns))
		for ci := range s.Columns {
			if dst, err = appendColumn(dst, &s.Columns[ci]); err != nil {
				return dst[:start], fmt.Errorf("set %d column %d: %w", si, ci, err)
			}
		}
		dst = appendArrayLen(dst, len(s.Rows))
		for ri, row := range s.Rows {
			if len(row) != len(s.Columns) {
				return dst[:start], fmt.Errorf("%w: set %d row %d has %d values for %d columns",
					ErrUnsupported, si, ri, len(row), len(s.Columns))
			}
			dst = appendArrayLen(dst, len(row))
			for vi, v := range row {
				if dst, err = n.appendValue(dst, v); err != nil {
					return dst[:start], fmt.Errorf("set %d row %d column %d: %w", si, ri, vi, err)
				}
			}
		}
		n.cols += len(s.Columns)
		n.rows += len(s.Rows)
		n.values += len(s.Rows) * len(s.Columns)
	}
	n.sets = len(r.Sets)
	for i, c := range [headerFields]int{n.sets, n.cols, n.rows, n.values, n.times, n.pointers, n.words} {
		if uint64(c) > math.MaxUint32 {
			return dst[:start], fmt.Errorf("%w: result too large (%d in header field %d)", ErrUnsupported, c, i)
		}
		binary.BigEndian.PutUint32(dst[header+5*i+1:], uint32(c))
	}
	return dst, nil
}

func (n *totals) appendValue(dst []byte, v driver.Value) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, cNil), nil
	case int64:
		n.words++
		return appendInt(dst, v), nil
	case string:
		if uint64(len(v)) > math.MaxUint32 {
			return dst, fmt.Errorf("%w: string of %d bytes", ErrUnsupported, len(v))
		}
		if len(v) > 0 {
			n.pointers++
		}
		return appendStr(dst, v), nil
	case float64:
		n.words++
		return binary.BigEndian.AppendUint64(append(dst, cDouble), math.Float64bits(v)), nil
	case time.Time:
		n.times++
		return appendTime(dst, v)
	case bool:
		if v {
			return append(dst, cTrue), nil
		}
		return append(dst, cFalse), nil
	case []byte:
		if v == nil {
			return append(dst, cExt8, 0, extNilBytes), nil
		}
		if uint64(len(v)) > math.MaxUint32 {
			return dst, fmt.Errorf("%w: []byte of %d bytes", ErrUnsupported, len(v))
		}
		if len(v) > 0 {
			n.pointers++
		}
		return append(appendLen(dst, len(v), cBin8, cBin16, cBin32), v...), nil
	case float32:
		n.words++
		return binary.BigEndian.AppendUint32(append(dst, cFloat), math.Float32bits(v)), nil
	case int:
		n.words++
		return binary.BigEndian.AppendUint64(append(dst, cFixExt8, extInt), uint64(v)), nil
	case int8:
		n.words++
		return append(dst, cFixExt1, extInt8, byte(v)), nil
	case int16:
		n.words++
		return binary.BigEndian.AppendUint16(append(dst, cFixExt2, extInt16), uint16(v)), nil
	case int32:
		n.words++
		return binary.BigEndian.AppendUint32(append(dst, cFixExt4, extInt32), uint32(v)), nil
	case uint:
		n.words++
		return binary.BigEndian.AppendUint64(append(dst, cFixExt8, extUint), uint64(v)), nil
	case uint8:
		n.words++
		return append(dst, cFixExt1, extUint8, v), nil
	case uint16:
		n.words++
		return binary.BigEndian.AppendUint16(append(dst, cFixExt2, extUint16), v), nil
	case uint32:
		n.words++
		return binary.BigEndian.AppendUint32(append(dst, cFixExt4, extUint32), v), nil
	case uint64:
		n.words++
		return binary.BigEndian.AppendUint64(append(dst, cFixExt8, extUint64), v), nil
	}
	return dst, fmt.Errorf("%w: value of type %T", ErrUnsupported, v)
}

func appendTime(dst []byte, t time.Time) ([]byte, error) {
	loc := t.Location()
	kind := byte(zoneNamed)
	name := ""
	switch {
	case loc == time.UTC:
		kind = zoneUTC
	case loc == time.Local:
		kind = zoneLocal
	default:
		name = loc.String()
		if name == "" {
			kind = zoneFixed
		}
	}
	_, off := t.Zone()
	if off != int(int32(off)) {
		return dst, fmt.Errorf("%w: time.Time with zone offset %d s", ErrUnsupported, off)
	}
	size := 13
	if kind != zoneUTC {
		size += 4 + len(name)
	}
	dst = appendExtHeader(dst, size, extTime)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
	if kind != zoneUTC {
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(off)))
		dst = append(dst, name...)
	}
	return dst, nil
}

func appendColumn(dst []byte, c *Column) ([]byte, error) {
	var flags byte
	if c.HasDatabaseTypeName {
		flags |= flagHasTypeName
	}
	if c.HasLength {
		flags |= flagHasLength
	}
	if c.HasNullable {
		flags |= flagHasNullable
	}
	if c.Nullable {
		flags |= flagNullable
	}
	if c.HasPrecisionScale {
		flags |= flagHasPrecisionScale
	}
	if uint64(len(c.Name)) > math.MaxUint32 || uint64(len(c.DatabaseTypeName)) > math.MaxUint32 {
		return dst, fmt.Errorf("%w: column name or type name too long", ErrUnsupported)
	}
	dst = append(dst, cFixArrLow|7)
	dst = appendStr(dst, c.Name)
	dst = append(dst, flags)
	dst = appendStr(dst, c.DatabaseTypeName)
	dst = appendInt(dst, c.Length)
	dst = appendInt(dst, c.Precision)
	dst = appendInt(dst, c.Scale)
	if c.ScanType == nil {
		return append(dst, cNil), nil
	}
	name, err := scanTypeName(c.ScanType)
	if err != nil {
		return dst, err
	}
	return appendStr(dst, name), nil
}

func appendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= cPosFixMax:
		return append(dst, byte(v))
	case v < 0 && v >= -32:
		return append(dst, byte(v))
	case v == int64(int8(v)):
		return append(dst, cInt8, byte(v))
	case v == int64(int16(v)):
		return binary.BigEndian.AppendUint16(append(dst, cInt16), uint16(v))
	case v == int64(int32(v)):
		return binary.BigEndian.AppendUint32(append(dst, cInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, cInt64), uint64(v))
}

func appendStr(dst []byte, s string) []byte {
	if len(s) < 32 {
		dst = append(dst, cFixStrLow|byte(len(s)))
	} else {
		dst = appendLen(dst, len(s), cStr8, cStr16, cStr32)
	}
	return append(dst, s...)
}

func appendArrayLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, cFixArrLow|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, cArray16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, cArray32), uint32(n))
}

// appendLen writes a str or bin length with the smallest of its three codes.
func appendLen(dst []byte, n int, c8, c16, c32 byte) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, c8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, c16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, c32), uint32(n))
}

func appendExtHeader(dst []byte, n int, typ byte) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, cExt8, byte(n), typ)
	case n <= math.MaxUint16:
		return append(binary.BigEndian.AppendUint16(append(dst, cExt16), uint16(n)), typ)
	}
	return append(binary.BigEndian.AppendUint32(append(dst, cExt32), uint32(n)), typ)
}
