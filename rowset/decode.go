package rowset

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// Decode decodes b, which must hold exactly one encoding made by Append.
//
// The result aliases b: strings, []byte values and column names point into it.
// The caller must pass a buffer that nothing else writes to and must not modify
// b afterwards (a cache hands Decode its own copy of an entry). []byte values
// have their capacity limited to their length, so appending to one never writes
// into b.
//
// Decode checks the whole input before returning: malformed, truncated or
// trailing bytes give an error wrapping ErrCorrupt and no Result; a column scan
// type whose name this process has not registered gives an error wrapping
// ErrUnsupported. It never panics, and every allocation is sized from counts
// first checked against the number of bytes that could encode them.
func Decode(b []byte) (*Result, error) { return (*ColumnCache)(nil).Decode(b) }

// A ColumnCache remembers the columns of the first result set of the last
// result its Decode parsed, so that the next entry with the same columns
// (the next entry of the same query, almost always) shares them instead of
// parsing and allocating them again: about half of a one-row entry's decode.
// Keep one per query. The zero value is ready; it is safe for concurrent use.
type ColumnCache struct {
	p      atomic.Pointer[sharedColumns]
	misses atomic.Uint32 // offers refused or taken while holding other columns
}

// sharedColumns is a column array's exact encoding, in a copy of its own,
// and the columns decoded from it (their strings alias enc). Neither changes.
type sharedColumns struct {
	enc  []byte
	cols []Column
}

// maxSharedColumns bounds what a ColumnCache holds, the encoding's copy and
// the columns together (about 120 bytes a column): a result wider than about
// 70 columns is parsed every time. With cachedsql's 16,384 plans at most, that
// is 128 MiB at the very worst, and a few hundred bytes a query in practice.
const maxSharedColumns = 8 << 10

// Decode is Decode, sharing the first set's columns with the other results
// decoded by c when they are the same: the Result's Columns then alias c's
// copy rather than b, and, like everything a Result holds, must not be
// modified. A nil c shares nothing.
//
// It is exact because a column array is self-delimiting: when the bytes where
// the columns start begin with a complete column array c parsed before, the
// parse would read those bytes and no more, and return the same columns.
func (c *ColumnCache) Decode(b []byte) (*Result, error) {
	if len(b) < 3 || b[0] != cFixArrLow|3 || b[1] != formatV1 || b[2] != cFixArrLow|headerFields {
		return nil, corruptf("not a rowset encoding of format %d", formatV1)
	}
	d := decoder{b: b, i: 3, cc: c}
	r, err := d.decode()
	if err != nil {
		// The hot helpers return bare sentinels; say where here, once.
		return nil, fmt.Errorf("at byte %d of %d: %w", d.i, len(b), err)
	}
	return r, nil
}

func (d *decoder) decode() (*Result, error) {
	b := d.b
	var h [headerFields]uint64
	for k := range h {
		v, err := d.uint()
		if err != nil {
			return nil, err
		}
		h[k] = v
	}
	sets, cols, rows, values, times, pointers, words := h[0], h[1], h[2], h[3], h[4], h[5], h[6]
	// Every count is checked against the smallest encoding of what it counts: a
	// set takes at least 3 bytes, a column 8, a row 1, a value 1, a time value 16
	// and a string or []byte counted in pointers 2.
	rem := uint64(len(b) - d.i)
	if sets > rem/3 || cols > rem/8 || rows > rem || values > rem || times > rem/16 ||
		pointers > rem/2 || words > rem ||
		3*sets+8*cols+rows+values+15*times+pointers > rem ||
		times+pointers+words > values {
		return nil, corruptf("header counts %v do not fit in %d bytes", h, rem)
	}

	var slabTimes uint64
	if timeFitsBox {
		slabTimes = times
	}
	// Triples: the Result, two per Set, one per row, one per pointer value.
	triples := 1 + 2*sets + rows + pointers
	d.slab = make([]box, slabTimes+triples+1+(words+1)/2)
	d.tBase = 0
	d.pBase = int(slabTimes)
	d.pNext = int(1 + 2*sets + rows)
	d.pEnd = int(triples)
	d.wBase = int(slabTimes + triples + 1)
	d.wEnd = int(words)
	d.tEnd = int(times)
	if values > 0 {
		d.vals = make([]driver.Value, values)
	}

	res := (*Result)(triple(d.slab, d.pBase))
	if sets > 0 {
		res.Sets = unsafe.Slice((*Set)(triple(d.slab, d.pBase+1)), sets)
	}
	var allRows [][]driver.Value
	if rows > 0 {
		allRows = unsafe.Slice((*[]driver.Value)(triple(d.slab, d.pBase+1+2*int(sets))), rows)
	}

	n, err := d.arrayLen()
	if err != nil {
		return nil, err
	}
	if uint64(n) != sets {
		return nil, corruptf("%d sets, header says %d", n, sets)
	}
	var colNext, rowNext, valNext int
	for si := range res.Sets {
		s := &res.Sets[si]
		if err := d.expect(cFixArrLow|2, "set"); err != nil {
			return nil, err
		}
		ncols, err := d.columns(si, colNext, int(cols), s)
		if err != nil {
			return nil, err
		}
		colNext += ncols
		nrows, err := d.arrayLen()
		if err != nil {
			return nil, err
		}
		if nrows > len(allRows)-rowNext {
			return nil, corruptf("set %d has more rows than the header counts", si)
		}
		if nrows == 0 {
			continue
		}
		s.Rows = allRows[rowNext : rowNext+nrows : rowNext+nrows]
		for ri := range s.Rows {
			n, err := d.arrayLen()
			if err != nil {
				return nil, err
			}
			if n != ncols {
				return nil, corruptf("set %d row %d has %d values for %d columns", si, ri, n, ncols)
			}
			if ncols > len(d.vals)-valNext {
				return nil, corruptf("more values than the header counts")
			}
			row := d.vals[valNext : valNext+ncols : valNext+ncols]
			for vi := range row {
				if err := d.value(&row[vi]); err != nil {
					return nil, err
				}
			}
			s.Rows[ri] = row
			valNext += ncols
		}
		rowNext += nrows
	}
	if d.i != len(b) {
		return nil, corruptf("%d trailing bytes", len(b)-d.i)
	}
	if uint64(colNext) != cols || rowNext != len(allRows) || valNext != len(d.vals) ||
		d.tNext != d.tEnd || d.pNext != d.pEnd || d.wNext != d.wEnd {
		return nil, corruptf("header counts %v do not match the content", h)
	}
	if d.freshN > 0 {
		// Only an entry that decoded whole may offer its columns.
		d.cc.remember(d.freshEnc, d.freshN)
	}
	return res, nil
}

type decoder struct {
	b []byte
	i int // next byte of b

	slab    []box
	cols    []Column // made when a set's columns are parsed: the header's count less colBase
	colBase int      // columns read before d.cols was made
	vals    []driver.Value

	cc       *ColumnCache
	freshEnc []byte // the first set's column array, parsed (not shared), for cc
	freshN   int    // how many columns it holds

	tBase, tNext, tEnd int // time values: slab[tBase+tNext]
	pBase, pNext, pEnd int // triples, numbered from slab[pBase].p
	wBase, wNext, wEnd int // scalar words, two per box from slab[wBase]
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

var (
	errTruncated = fmt.Errorf("%w: truncated", ErrCorrupt)
	errOverCount = fmt.Errorf("%w: more values of a kind than the header counts", ErrCorrupt)
)

// take returns the offset of the next n bytes and skips them.
func (d *decoder) take(n int) (int, error) {
	if n < 0 || n > len(d.b)-d.i {
		return 0, errTruncated
	}
	at := d.i
	d.i += n
	return at, nil
}

func (d *decoder) code() (byte, error) {
	if d.i >= len(d.b) {
		return 0, errTruncated
	}
	c := d.b[d.i]
	d.i++
	return c, nil
}

func (d *decoder) expect(c byte, what string) error {
	got, err := d.code()
	if err != nil {
		return err
	}
	if got != c {
		return corruptf("%s: code 0x%02x at byte %d, want 0x%02x", what, got, d.i-1, c)
	}
	return nil
}

func (d *decoder) be(n int) (uint64, error) {
	at, err := d.take(n)
	if err != nil {
		return 0, err
	}
	p := d.b[at : at+n]
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	}
	return binary.BigEndian.Uint64(p), nil
}

// uint reads a non-negative msgpack integer.
func (d *decoder) uint() (uint64, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= cPosFixMax:
		return uint64(c), nil
	case c >= cUint8 && c <= cUint64:
		return d.be(1 << (c - cUint8))
	}
	return 0, corruptf("code 0x%02x at byte %d, want an unsigned integer", c, d.i-1)
}

// intAfter reads the rest of a msgpack integer whose code c was read.
func (d *decoder) intAfter(c byte) (int64, error) {
	switch {
	case c <= cPosFixMax:
		return int64(c), nil
	case c >= cNegFixMin:
		return int64(int8(c)), nil
	case c >= cUint8 && c <= cUint64:
		v, err := d.be(1 << (c - cUint8))
		if err != nil {
			return 0, err
		}
		if v > math.MaxInt64 {
			return 0, corruptf("integer %d at byte %d overflows int64", v, d.i)
		}
		return int64(v), nil
	case c >= cInt8 && c <= cInt64:
		n := 1 << (c - cInt8)
		v, err := d.be(n)
		if err != nil {
			return 0, err
		}
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, nil
	}
	return 0, corruptf("code 0x%02x at byte %d, want an integer", c, d.i-1)
}

func (d *decoder) int() (int64, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	return d.intAfter(c)
}

func (d *decoder) arrayLen() (int, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= cFixArrLow && c <= cFixArrHigh:
		return int(c - cFixArrLow), nil
	case c == cArray16:
		n, err = d.be(2)
	case c == cArray32:
		n, err = d.be(4)
	default:
		return 0, corruptf("code 0x%02x at byte %d, want an array", c, d.i-1)
	}
	return int(n), err
}

// strAfter reads the rest of a msgpack str whose code c was read and returns
// the offset and length of its bytes.
func (d *decoder) strAfter(c byte) (int, int, error) {
	var n uint64
	var err error
	switch {
	case c >= cFixStrLow && c <= cFixStrHigh:
		n = uint64(c - cFixStrLow)
	case c == cStr8:
		n, err = d.be(1)
	case c == cStr16:
		n, err = d.be(2)
	case c == cStr32:
		n, err = d.be(4)
	default:
		return 0, 0, corruptf("code 0x%02x at byte %d, want a string", c, d.i-1)
	}
	if err != nil {
		return 0, 0, err
	}
	at, err := d.take(int(n))
	return at, int(n), err
}

// str reads a msgpack str as a string aliasing d.b.
func (d *decoder) str() (string, error) {
	c, err := d.code()
	if err != nil {
		return "", err
	}
	at, n, err := d.strAfter(c)
	if err != nil || n == 0 {
		return "", err
	}
	return unsafe.String(&d.b[at], n), nil
}

// columns reads set si's column array into s.Columns, from d.cc when it holds
// the same array, and returns how many columns it holds. colNext columns of
// the header's total were read before it.
func (d *decoder) columns(si, colNext, total int, s *Set) (int, error) {
	start := d.i
	if si == 0 && d.cc != nil {
		if sc := d.cc.p.Load(); sc != nil && bytes.HasPrefix(d.b[start:], sc.enc) {
			if len(sc.cols) > total-colNext {
				return 0, corruptf("set %d has more columns than the header counts", si)
			}
			d.i += len(sc.enc)
			s.Columns = sc.cols
			return len(sc.cols), nil
		}
	}
	ncols, err := d.arrayLen()
	if err != nil {
		return 0, err
	}
	if ncols > total-colNext {
		return 0, corruptf("set %d has more columns than the header counts", si)
	}
	if ncols == 0 {
		return 0, nil
	}
	if d.cols == nil {
		// The sets before this one took none of them.
		d.cols, d.colBase = make([]Column, total-colNext), colNext
	}
	at := colNext - d.colBase
	s.Columns = d.cols[at : at+ncols : at+ncols]
	for ci := range s.Columns {
		if err := d.column(&s.Columns[ci]); err != nil {
			return 0, err
		}
	}
	if si == 0 && d.cc != nil {
		d.freshEnc, d.freshN = d.b[start:d.i], ncols
	}
	return ncols, nil
}

// Columns returns the columns c would share, or nil while it has none. They
// must not be modified.
func (c *ColumnCache) Columns() []Column {
	if sc := c.p.Load(); sc != nil {
		return sc.cols
	}
	return nil
}

// remember offers c the column array enc, of n columns, of an entry that
// decoded whole. An empty c takes it. A c that holds other columns takes it
// at its 1st, 2nd, 4th, 8th... such offer: a query whose entries keep alternating between two
// column arrays (a driver reporting a length that follows the arguments,
// say) pays for a copy only that often, and one whose columns changed for
// good (ALTER TABLE under SELECT *) is shared again after at most as many
// misses as it had before.
func (c *ColumnCache) remember(enc []byte, n int) {
	if len(enc)+n*int(unsafe.Sizeof(Column{})) > maxSharedColumns {
		return
	}
	if c.p.Load() != nil {
		if n := c.misses.Add(1); n&(n-1) != 0 {
			return
		}
	}
	// Parsed again from the copy, so that the names point into it: remember
	// runs on a cache's few takes, not on every decode.
	sc := &sharedColumns{enc: bytes.Clone(enc), cols: make([]Column, n)}
	d := decoder{b: sc.enc}
	if _, err := d.arrayLen(); err != nil {
		return
	}
	for i := range sc.cols {
		if d.column(&sc.cols[i]) != nil {
			return
		}
	}
	// make gave the columns no spare capacity: an append to one Result's
	// Columns never writes into what the others share.
	c.p.Store(sc)
}

func (d *decoder) column(col *Column) error {
	if err := d.expect(cFixArrLow|7, "column"); err != nil {
		return err
	}
	var err error
	if col.Name, err = d.str(); err != nil {
		return err
	}
	flags, err := d.uint()
	if err != nil {
		return err
	}
	if flags&^flagMask != 0 {
		return corruptf("column flags 0x%x", flags)
	}
	col.HasDatabaseTypeName = flags&flagHasTypeName != 0
	col.HasLength = flags&flagHasLength != 0
	col.HasNullable = flags&flagHasNullable != 0
	col.Nullable = flags&flagNullable != 0
	col.HasPrecisionScale = flags&flagHasPrecisionScale != 0
	if col.DatabaseTypeName, err = d.str(); err != nil {
		return err
	}
	if col.Length, err = d.int(); err != nil {
		return err
	}
	if col.Precision, err = d.int(); err != nil {
		return err
	}
	if col.Scale, err = d.int(); err != nil {
		return err
	}
	c, err := d.code()
	if err != nil {
		return err
	}
	if c == cNil {
		return nil
	}
	at, n, err := d.strAfter(c)
	if err != nil {
		return err
	}
	t, ok := lookupScanType(unsafe.String(unsafe.SliceData(d.b[at:]), n))
	if !ok {
		return fmt.Errorf("%w: scan type %q is not registered in this process", ErrUnsupported, d.b[at:at+n])
	}
	col.ScanType = t
	return nil
}

// word returns the next free scalar word of the slab.
func (d *decoder) word() (unsafe.Pointer, error) {
	if d.wNext >= d.wEnd {
		return nil, errOverCount
	}
	bx := &d.slab[d.wBase+d.wNext>>1]
	p := unsafe.Pointer(&bx.a)
	if d.wNext&1 != 0 {
		p = unsafe.Pointer(&bx.b)
	}
	d.wNext++
	return p, nil
}

// pointer returns the next free triple for a string or []byte header.
func (d *decoder) pointer() (unsafe.Pointer, error) {
	if d.pNext >= d.pEnd {
		return nil, errOverCount
	}
	p := triple(d.slab, d.pBase+d.pNext)
	d.pNext++
	return p, nil
}

func (d *decoder) setWord(dst *driver.Value, typ unsafe.Pointer, bits uint64) error {
	w := d.wNext
	if w >= d.wEnd {
		return errOverCount
	}
	d.wNext = w + 1
	p := unsafe.Add(unsafe.Pointer(&d.slab[d.wBase+w>>1]), (w&1)*8) // box.a or box.b
	*(*uint64)(p) = bits
	setValue(dst, typ, p)
	return nil
}

func (d *decoder) value(dst *driver.Value) error {
	c, err := d.code()
	if err != nil {
		return err
	}
	switch {
	case c <= cPosFixMax:
		return d.setWord(dst, typeInt64, uint64(c))
	case c >= cNegFixMin:
		return d.setWord(dst, typeInt64, uint64(int64(int8(c))))
	case c >= cFixStrLow && c <= cFixStrHigh:
		return d.stringValue(dst, c)
	}
	switch c {
	case cNil:
		// *dst is a fresh, nil slot of d.vals.
	case cFalse:
		*dst = false
	case cTrue:
		*dst = true
	case cDouble:
		bits, err := d.be(8)
		if err != nil {
			return err
		}
		return d.setWord(dst, typeFloat64, bits)
	case cFloat:
		bits, err := d.be(4)
		if err != nil {
			return err
		}
		p, err := d.word()
		if err != nil {
			return err
		}
		*(*uint32)(p) = uint32(bits)
		setValue(dst, typeFloat32, p)
	case cUint8, cUint16, cUint32, cUint64, cInt8, cInt16, cInt32, cInt64:
		v, err := d.intAfter(c)
		if err != nil {
			return err
		}
		return d.setWord(dst, typeInt64, uint64(v))
	case cStr8, cStr16, cStr32:
		return d.stringValue(dst, c)
	case cBin8, cBin16, cBin32:
		n, err := d.be(1 << (c - cBin8))
		if err != nil {
			return err
		}
		at, err := d.take(int(n))
		if err != nil {
			return err
		}
		if n == 0 {
			*dst = emptyBytes
			return nil
		}
		p, err := d.pointer()
		if err != nil {
			return err
		}
		*(*[]byte)(p) = d.b[at : at+int(n) : at+int(n)]
		setValue(dst, typeBytes, p)
	case cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
		return d.ext(dst, 1<<(c-cFixExt1))
	case cExt8, cExt16, cExt32:
		n, err := d.be(1 << (c - cExt8))
		if err != nil {
			return err
		}
		if n > math.MaxInt32 {
			return errTruncated
		}
		return d.ext(dst, int(n))
	default:
		return corruptf("code 0x%02x at byte %d is not a value", c, d.i-1)
	}
	return nil
}

func (d *decoder) stringValue(dst *driver.Value, c byte) error {
	at, n, err := d.strAfter(c)
	if err != nil {
		return err
	}
	if n == 0 {
		*dst = ""
		return nil
	}
	p, err := d.pointer()
	if err != nil {
		return err
	}
	*(*string)(p) = unsafe.String(&d.b[at], n)
	setValue(dst, typeString, p)
	return nil
}

// ext decodes the ext type byte and n payload bytes that follow.
func (d *decoder) ext(dst *driver.Value, n int) error {
	typ, err := d.code()
	if err != nil {
		return err
	}
	at, err := d.take(n)
	if err != nil {
		return err
	}
	p := d.b[at : at+n]
	var size int // the payload size of an integer type
	var vt unsafe.Pointer
	switch typ {
	case extTime:
		return d.timeValue(dst, p)
	case extNilBytes:
		if n != 0 {
			return corruptf("nil []byte with a %d-byte payload", n)
		}
		*dst = []byte(nil)
		return nil
	case extInt:
		size, vt = 8, typeInt
	case extInt8:
		size, vt = 1, typeInt8
	case extInt16:
		size, vt = 2, typeInt16
	case extInt32:
		size, vt = 4, typeInt32
	case extUint:
		size, vt = 8, typeUint
	case extUint8:
		size, vt = 1, typeUint8
	case extUint16:
		size, vt = 2, typeUint16
	case extUint32:
		size, vt = 4, typeUint32
	case extUint64:
		size, vt = 8, typeUint64
	default:
		return corruptf("unknown ext type %d at byte %d", typ, at)
	}
	if n != size {
		return corruptf("ext type %d with a %d-byte payload, want %d", typ, n, size)
	}
	w, err := d.word()
	if err != nil {
		return err
	}
	// Each store uses the value's own Go type so that reading the interface
	// back, with that same type at the same address, is right on any byte order.
	switch typ {
	case extInt:
		v := int64(binary.BigEndian.Uint64(p))
		if strconv.IntSize == 32 && v != int64(int32(v)) {
			return fmt.Errorf("%w: int %d does not fit this platform's int", ErrUnsupported, v)
		}
		*(*int)(w) = int(v)
	case extUint:
		v := binary.BigEndian.Uint64(p)
		if strconv.IntSize == 32 && v > math.MaxUint32 {
			return fmt.Errorf("%w: uint %d does not fit this platform's uint", ErrUnsupported, v)
		}
		*(*uint)(w) = uint(v)
	case extInt8:
		*(*int8)(w) = int8(p[0])
	case extUint8:
		*(*uint8)(w) = p[0]
	case extInt16:
		*(*int16)(w) = int16(binary.BigEndian.Uint16(p))
	case extUint16:
		*(*uint16)(w) = binary.BigEndian.Uint16(p)
	case extInt32:
		*(*int32)(w) = int32(binary.BigEndian.Uint32(p))
	case extUint32:
		*(*uint32)(w) = binary.BigEndian.Uint32(p)
	case extUint64:
		*(*uint64)(w) = binary.BigEndian.Uint64(p)
	}
	setValue(dst, vt, w)
	return nil
}

func (d *decoder) timeValue(dst *driver.Value, p []byte) error {
	if len(p) < 13 {
		return corruptf("time payload of %d bytes", len(p))
	}
	kind := p[0]
	sec := int64(binary.BigEndian.Uint64(p[1:]))
	nsec := binary.BigEndian.Uint32(p[9:])
	if nsec >= 1e9 {
		return corruptf("time with %d nanoseconds", nsec)
	}
	var off int32
	var name string
	switch kind {
	case zoneUTC:
		if len(p) != 13 {
			return corruptf("UTC time payload of %d bytes", len(p))
		}
	case zoneLocal, zoneFixed, zoneNamed:
		if len(p) < 17 || (kind != zoneNamed) != (len(p) == 17) {
			return corruptf("time payload of %d bytes for zone kind %d", len(p), kind)
		}
		off = int32(binary.BigEndian.Uint32(p[13:]))
		if kind == zoneNamed {
			name = unsafe.String(&p[17], len(p)-17)
		}
	default:
		return corruptf("time zone kind %d", kind)
	}
	t := time.Unix(sec, int64(nsec)).In(location(kind, name, off, sec))
	if d.tNext >= d.tEnd {
		return errOverCount
	}
	if timeFitsBox {
		slot := unsafe.Pointer(&d.slab[d.tBase+d.tNext])
		*(*time.Time)(slot) = t
		setValue(dst, typeTime, slot)
	} else {
		*dst = t
	}
	d.tNext++
	return nil
}
