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
	var e Encoder
	e.Begin(dst)
	for si := range r.Sets {
		s := &r.Sets[si]
		if err := e.Set(s.Columns); err != nil {
			return e.Abandon(), err
		}
		for _, row := range s.Rows {
			if err := e.Row(row); err != nil {
				return e.Abandon(), err
			}
		}
	}
	return e.Finish()
}

// Encoder writes an encoding as its rows arrive: Begin, then for each result
// set Set and its rows (each with Row, or with BeginRow, one Append call per
// value and EndRow), then Finish. A capture encodes each row just after the
// driver produced it, while its values are still in the CPU's cache, rather
// than walking the whole result a second time; Append is the same encoder
// over a Result already in memory, so the two write the same bytes.
//
// After an error the encoding is unusable: Finish returns the error, and
// Abandon returns the buffer at its length before Begin.
type Encoder struct {
	buf     []byte
	err     error // the first error; the encoding is unusable after one
	start   int   // len(buf) at Begin
	header  int   // offset of the first totals field
	setsAt  int   // offset of the sets count, written by Finish
	rowsAt  int   // offset of the current set's row count; 0 before the first set
	width   int   // the current set's columns
	setRows int   // rows in the current set so far
	n       totals
}

// Begin starts an encoding at the end of dst.
func (e *Encoder) Begin(dst []byte) {
	*e = Encoder{buf: dst, start: len(dst)}
	e.buf = append(e.buf, cFixArrLow|3, formatV1, cFixArrLow|headerFields)
	e.header = len(e.buf)
	for range headerFields {
		e.buf = append(e.buf, cUint32, 0, 0, 0, 0)
	}
	// Counts not known until Finish take their widest form, so that Finish
	// only overwrites them.
	e.setsAt = len(e.buf)
	e.buf = append(e.buf, cArray32, 0, 0, 0, 0)
}

// Set ends the current result set, if any, and starts one with these columns.
func (e *Encoder) Set(cols []Column) error {
	if e.err != nil {
		return e.err
	}
	e.endSet()
	e.buf = append(e.buf, cFixArrLow|2)
	e.buf = appendArrayLen(e.buf, len(cols))
	var err error
	for ci := range cols {
		if e.buf, err = appendColumn(e.buf, &cols[ci]); err != nil {
			e.err = fmt.Errorf("set %d column %d: %w", e.n.sets, ci, err)
			return e.err
		}
	}
	e.rowsAt = len(e.buf)
	e.buf = append(e.buf, cArray32, 0, 0, 0, 0)
	e.width = len(cols)
	e.n.sets++
	e.n.cols += len(cols)
	return nil
}

// endSet writes the current set's row count.
func (e *Encoder) endSet() {
	if e.rowsAt == 0 {
		return
	}
	binary.BigEndian.PutUint32(e.buf[e.rowsAt+1:], uint32(e.setRows))
	e.n.rows += e.setRows
	e.n.values += e.setRows * e.width
	e.rowsAt, e.setRows = 0, 0
}

// Row appends one row of the current set.
func (e *Encoder) Row(row []driver.Value) error {
	buf := e.BeginRow(len(row))
	for vi, v := range row {
		if buf = e.AppendValue(buf, v); e.err != nil {
			return fmt.Errorf("set %d row %d column %d: %w", e.n.sets-1, e.setRows-1, vi, e.err)
		}
	}
	e.EndRow(buf)
	return e.err
}

// BeginRow starts a row of the current set, of width values, and returns the
// buffer to append them to: exactly width calls of AppendValue (or of the
// typed Append methods beside it) must follow, each given what the last one
// returned, and then EndRow with what the last one returned. The buffer
// travels through the caller's variables rather than the Encoder's, so that
// appending a value stores no pointer into memory the garbage collector
// watches.
//
// These methods report no error: the first one sticks, and Err (or Finish)
// returns it, so that a caller checks once a row.
func (e *Encoder) BeginRow(width int) []byte {
	switch {
	case e.err != nil:
	case e.rowsAt == 0:
		e.err = fmt.Errorf("%w: a row before any result set", ErrUnsupported)
	case width != e.width:
		e.err = fmt.Errorf("%w: set %d row %d has %d values for %d columns",
			ErrUnsupported, e.n.sets-1, e.setRows, width, e.width)
	case e.setRows == math.MaxUint32:
		e.err = fmt.Errorf("%w: result too large (%d rows in set %d)", ErrUnsupported, e.setRows, e.n.sets-1)
	}
	e.setRows++
	return appendArrayLen(e.buf, width)
}

// EndRow ends the row BeginRow started; buf is what the last Append returned.
func (e *Encoder) EndRow(buf []byte) { e.buf = buf }

// Err is the first error of Set, a row or Finish, if any.
func (e *Encoder) Err() error { return e.err }

// AppendValue appends one value of the current row to buf. The typed methods
// below do the same for a value whose type the caller has switched on.
func (e *Encoder) AppendValue(buf []byte, v driver.Value) []byte {
	switch x := v.(type) {
	case int64:
		return e.AppendInt64(buf, x)
	case string:
		return e.AppendString(buf, x)
	case float64:
		return e.AppendFloat64(buf, x)
	case []byte:
		return e.AppendBytes(buf, x)
	case time.Time:
		return e.AppendTime(buf, x)
	}
	buf, err := e.n.appendValue(buf, v)
	if err != nil {
		e.fail(err)
	}
	return buf
}

// AppendInt64 is AppendValue for an int64.
func (e *Encoder) AppendInt64(buf []byte, v int64) []byte {
	e.n.words++
	return appendInt(buf, v)
}

// AppendFloat64 is AppendValue for a float64.
func (e *Encoder) AppendFloat64(buf []byte, v float64) []byte {
	e.n.words++
	return binary.BigEndian.AppendUint64(append(buf, cDouble), math.Float64bits(v))
}

// AppendString is AppendValue for a string.
func (e *Encoder) AppendString(buf []byte, v string) []byte {
	if uint64(len(v)) > math.MaxUint32 {
		e.fail(fmt.Errorf("%w: string of %d bytes", ErrUnsupported, len(v)))
		return buf
	}
	if len(v) > 0 {
		e.n.pointers++
	}
	return appendStr(buf, v)
}

// AppendTime is AppendValue for a time.Time.
func (e *Encoder) AppendTime(buf []byte, v time.Time) []byte {
	e.n.times++
	buf, err := appendTime(buf, v)
	if err != nil {
		e.fail(err)
	}
	return buf
}

// AppendBytes is AppendValue for a []byte.
func (e *Encoder) AppendBytes(buf []byte, v []byte) []byte {
	if v == nil {
		return append(buf, cExt8, 0, extNilBytes)
	}
	if uint64(len(v)) > math.MaxUint32 {
		e.fail(fmt.Errorf("%w: []byte of %d bytes", ErrUnsupported, len(v)))
		return buf
	}
	if len(v) > 0 {
		e.n.pointers++
	}
	return append(appendLen(buf, len(v), cBin8, cBin16, cBin32), v...)
}

// fail keeps err unless an earlier error is kept.
func (e *Encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Len is the length of the encoding so far.
func (e *Encoder) Len() int { return len(e.buf) - e.start }

// Finish ends the encoding and returns the buffer Begin was given, with the
// encoding appended.
func (e *Encoder) Finish() ([]byte, error) {
	if e.err != nil {
		return e.Abandon(), e.err
	}
	e.endSet()
	for i, c := range [headerFields]int{e.n.sets, e.n.cols, e.n.rows, e.n.values, e.n.times, e.n.pointers, e.n.words} {
		if uint64(c) > math.MaxUint32 {
			return e.Abandon(), fmt.Errorf("%w: result too large (%d in header field %d)", ErrUnsupported, c, i)
		}
		binary.BigEndian.PutUint32(e.buf[e.header+5*i+1:], uint32(c))
	}
	binary.BigEndian.PutUint32(e.buf[e.setsAt+1:], uint32(e.n.sets))
	return e.buf, nil
}

// Abandon returns the buffer Begin was given, at its length then.
func (e *Encoder) Abandon() []byte { return e.buf[:e.start] }

// appendValue appends a value of a type the Encoder's typed methods do not
// take.
func (n *totals) appendValue(dst []byte, v driver.Value) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, cNil), nil
	case bool:
		if v {
			return append(dst, cTrue), nil
		}
		return append(dst, cFalse), nil
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
		// The common cases are written from one array in one append.
		var b [3 + 13]byte
		b[0], b[1], b[2], b[3] = cExt8, 13, extTime, zoneUTC
		binary.BigEndian.PutUint64(b[4:], uint64(t.Unix()))
		binary.BigEndian.PutUint32(b[12:], uint32(t.Nanosecond()))
		return append(dst, b[:]...), nil
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
	if name == "" {
		var b [3 + 17]byte
		b[0], b[1], b[2], b[3] = cExt8, 17, extTime, kind
		binary.BigEndian.PutUint64(b[4:], uint64(t.Unix()))
		binary.BigEndian.PutUint32(b[12:], uint32(t.Nanosecond()))
		binary.BigEndian.PutUint32(b[16:], uint32(int32(off)))
		return append(dst, b[:]...), nil
	}
	dst = appendExtHeader(dst, 17+len(name), extTime)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(int32(off)))
	return append(dst, name...), nil
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
