// Package keying turns a query into a cache key.
//
// A key is the 128-bit xxh3 hash of a canonical, self-delimiting encoding of
// the namespace, the query text (byte for byte), every argument (its type, value, name
// and ordinal), the generations of the tables the query reads and the life
// the reader asks of an entry (its TTL). Two inputs
// that differ in any of these produce different encodings, so distinct queries
// collide only if the hash does (2^-128). Arguments of types the encoder does not
// know are rejected with ErrUnsupportedArg, never hashed by reflection.
//
// # Encoding
//
// The encoding is a format version byte followed by parts. Every part starts
// with a tag byte saying what it is, and every variable-length field carries
// its length in front of it, so the byte stream can be parsed back into
// exactly one sequence of parts: a query "ab" with argument "c" cannot be
// confused with a query "a" with argument "bc", nor a generation with an
// argument, nor the end of a namespace with the start of a query.
//
//	stream     = version namespace { query | arg | generation | ttl }
//	namespace  = 'N' uvarint(len) bytes
//	query      = 'Q' uvarint(len) bytes
//	arg        = 'A' varint(ordinal) uvarint(len(name)) name typetag value
//	generation = 'G' uint64 (8 bytes, big-endian)
//	ttl        = 'T' int64 nanoseconds (8 bytes, big-endian)
//
// Each argument type has its own type tag, so int64(1), int32(1), uint64(1),
// float64(1), "1", []byte("1") and true all differ. Values are encoded as:
//
//   - nil: nothing after the tag.
//   - bool: one byte, 0 or 1.
//   - int, int8..int64: the value as a big-endian int64 (8 bytes).
//   - uint, uint8..uint64: the value as a big-endian uint64 (8 bytes).
//   - float64: its IEEE-754 bits (8 bytes), so -0 differs from 0 and NaN payloads stay distinct.
//   - float32: its IEEE-754 bits (4 bytes).
//   - string: uvarint(len) bytes.
//   - []byte: a nil slice has its own tag and no value; a non-nil one (empty
//     included) is uvarint(len) bytes. Drivers treat nil as NULL and an empty
//     slice as an empty value, so they must not share a key.
//   - time.Time: Unix seconds (8 bytes), nanoseconds (4 bytes), zone offset
//     in seconds (8 bytes), then the location name and the zone abbreviation,
//     each uvarint(len) bytes. Two times at the same instant in different
//     zones differ, because a driver may render them differently. The
//     monotonic clock reading is ignored.
//
// Changing any of this changes every key: bump encodingVersion when doing so,
// so that processes running different versions never share an L2 entry.
package keying

import (
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/zeebo/xxh3"
)

// Key identifies one cached result. Its zero value is not a valid key.
type Key [16]byte

// ErrUnsupportedArg reports an argument whose type has no canonical encoding.
var ErrUnsupportedArg = errors.New("keying: argument type has no canonical encoding")

// encodingVersion opens every encoding. It is not a valid part tag, so a
// stream's first byte tells the version apart from any part.
const encodingVersion byte = 0x02 // 0x01 had no ttl part

// Part tags.
const (
	partNamespace  byte = 'N'
	partQuery      byte = 'Q'
	partArg        byte = 'A'
	partGeneration byte = 'G'
	partTTL        byte = 'T'
)

// Argument type tags. Their values are part of the encoding: never reuse or
// renumber one.
const (
	typeNil      byte = 0x00
	typeInt64    byte = 0x01
	typeFloat64  byte = 0x02
	typeBool     byte = 0x03
	typeBytes    byte = 0x04
	typeBytesNil byte = 0x05
	typeString   byte = 0x06
	typeTime     byte = 0x07
	typeInt      byte = 0x08
	typeInt8     byte = 0x09
	typeInt16    byte = 0x0a
	typeInt32    byte = 0x0b
	typeUint     byte = 0x0c
	typeUint8    byte = 0x0d
	typeUint16   byte = 0x0e
	typeUint32   byte = 0x0f
	typeUint64   byte = 0x10
	typeFloat32  byte = 0x11
)

// Builder accumulates the parts of a key. The zero value is ready to use and
// behaves as if Reset("") had been called; Reset makes it reusable. A Builder
// is not safe for concurrent use.
//
// A reused Builder keeps its buffer, so building a key does not allocate once
// the buffer has grown to the size of the largest key built with it.
type Builder struct {
	buf []byte
}

// Reset starts a new key in the given namespace.
func (b *Builder) Reset(namespace string) {
	b.buf = append(b.buf[:0], encodingVersion, partNamespace)
	b.buf = appendString(b.buf, namespace)
}

// start gives a zero-value Builder the header Reset("") would have written.
func (b *Builder) start() {
	if len(b.buf) == 0 {
		b.Reset("")
	}
}

// Query adds the query text.
func (b *Builder) Query(q string) {
	b.start()
	b.buf = append(b.buf, partQuery)
	b.buf = appendString(b.buf, q)
}

// Arg adds one argument. It returns an error wrapping ErrUnsupportedArg
// when the value's type has no canonical encoding; the Builder is then left
// as it was before the call.
func (b *Builder) Arg(nv driver.NamedValue) error {
	b.start()
	buf := binary.AppendVarint(append(b.buf, partArg), int64(nv.Ordinal))
	buf, ok := appendValue(appendString(buf, nv.Name), nv.Value)
	if !ok {
		// b.buf still ends where it did before the call: drop what was appended.
		return fmt.Errorf("%w: argument %d %q has type %T", ErrUnsupportedArg, nv.Ordinal, nv.Name, nv.Value)
	}
	b.buf = buf
	return nil
}

// Generation adds the generation of one dependency (a table, or the namespace epoch).
func (b *Builder) Generation(g uint64) {
	b.start()
	b.buf = append(b.buf, partGeneration)
	b.buf = binary.BigEndian.AppendUint64(b.buf, g)
}

// TTL adds the life the reader would give an entry it stored. Readers that
// ask for different lives must not share entries: one that allows 10
// seconds of staleness must not be served an entry stored for an hour.
func (b *Builder) TTL(d time.Duration) {
	b.start()
	b.buf = append(b.buf, partTTL)
	b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(d))
}

// Sum returns the key of everything added since Reset.
func (b *Builder) Sum() Key {
	b.start()
	return Key(xxh3.Hash128(b.buf).Bytes())
}

// AppendEncoding appends the canonical encoding of everything added since
// Reset to dst and returns the extended slice. Sum is the hash of exactly
// these bytes; the encoding is exposed for tests and debugging.
func (b *Builder) AppendEncoding(dst []byte) []byte {
	b.start()
	return append(dst, b.buf...)
}

// String returns the key in lower-case hex (32 characters).
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// AppendHex appends the key in lower-case hex (32 characters) to dst and
// returns the extended slice. Unlike String it does not allocate when dst has
// room.
func (k Key) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, k[:]) }

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendInt(buf []byte, tag byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, tag), uint64(v))
}

func appendUint(buf []byte, tag byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, tag), v)
}

// appendValue appends the type tag and value of v. It reports false for a
// type with no canonical encoding, leaving what it appended for the caller to
// discard.
func appendValue(buf []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(buf, typeNil), true
	case int64:
		return appendInt(buf, typeInt64, v), true
	case float64:
		return appendUint(buf, typeFloat64, math.Float64bits(v)), true
	case bool:
		if v {
			return append(buf, typeBool, 1), true
		}
		return append(buf, typeBool, 0), true
	case []byte:
		if v == nil {
			return append(buf, typeBytesNil), true
		}
		buf = binary.AppendUvarint(append(buf, typeBytes), uint64(len(v)))
		return append(buf, v...), true
	case string:
		return appendString(append(buf, typeString), v), true
	case time.Time:
		return appendTime(append(buf, typeTime), v), true
	case int:
		return appendInt(buf, typeInt, int64(v)), true
	case int8:
		return appendInt(buf, typeInt8, int64(v)), true
	case int16:
		return appendInt(buf, typeInt16, int64(v)), true
	case int32:
		return appendInt(buf, typeInt32, int64(v)), true
	case uint:
		return appendUint(buf, typeUint, uint64(v)), true
	case uint8:
		return appendUint(buf, typeUint8, uint64(v)), true
	case uint16:
		return appendUint(buf, typeUint16, uint64(v)), true
	case uint32:
		return appendUint(buf, typeUint32, uint64(v)), true
	case uint64:
		return appendUint(buf, typeUint64, v), true
	case float32:
		return binary.BigEndian.AppendUint32(append(buf, typeFloat32), math.Float32bits(v)), true
	default:
		return buf, false
	}
}

// appendTime encodes the instant as seconds and nanoseconds rather than
// UnixNano, which overflows outside the years 1678..2262.
func appendTime(buf []byte, t time.Time) []byte {
	abbrev, offset := t.Zone()
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.Unix()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(t.Nanosecond()))
	buf = binary.BigEndian.AppendUint64(buf, uint64(int64(offset)))
	buf = appendString(buf, t.Location().String())
	return appendString(buf, abbrev)
}
