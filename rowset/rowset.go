// Package rowset is the codec of cached results.
//
// A Result is every result set a query returned: its columns with their metadata
// and its rows of driver.Value. Append writes it as msgpack; Decode reads it back
// so that every value has the same Go type and value as the driver returned and
// every column answers the same metadata, "not supported" included. Decode never
// panics, rejects malformed input with an error wrapping ErrCorrupt, and never
// allocates more than the length of its input justifies.
//
// Exactness: nil, int64, float64 (bit for bit: NaN payloads, -0, ±Inf), bool,
// []byte (nil and empty stay distinct), string (byte for byte, valid UTF-8 or not)
// and time.Time (instant to the nanosecond, offset and location name) come back
// with the same Go type and value, as do int, int8..int32, uint, uint8..uint64 and
// float32, which some drivers return. A monotonic clock reading is not kept. A
// column's ScanType is written by name (see RegisterScanType). Anything else is
// refused with ErrUnsupported so the caller can pass the result through uncached.
//
// Time zones: time.UTC and time.Local decode to those locations (Local only while
// the decoding process's Local has the same offset at that instant, otherwise a
// fixed zone named "Local"); a named zone decodes to time.LoadLocation(name) when
// that gives the same offset at that instant, otherwise to a fixed zone with that
// name and offset; an unnamed fixed zone decodes to time.FixedZone("", offset).
//
// The decoded Result aliases the encoded bytes (strings and []byte values point
// into them), and allocates a small constant number of times however many values
// it holds: this is the cache-hit path. A ColumnCache per query lets its
// entries share their columns, which saves parsing them on every decode.
package rowset

import (
	"database/sql/driver"
	"errors"
	"reflect"
	"time"
)

// ErrUnsupported reports a value or column type the codec cannot reproduce exactly.
var ErrUnsupported = errors.New("rowset: type cannot be cached exactly")

// ErrCorrupt reports encoded bytes that are not a valid Result.
var ErrCorrupt = errors.New("rowset: corrupt encoding")

// Column is one column's name and the metadata a driver reported for it.
// Each Has* flag is false when the driver's rows did not support that question.
type Column struct {
	Name string

	DatabaseTypeName    string
	HasDatabaseTypeName bool

	Length    int64
	HasLength bool

	Nullable    bool
	HasNullable bool

	Precision, Scale  int64
	HasPrecisionScale bool

	// ScanType is nil when the driver's rows do not report one.
	ScanType reflect.Type
}

// Set is one result set.
type Set struct {
	Columns []Column
	Rows    [][]driver.Value
}

// Result is every result set of one query, in order.
type Result struct {
	Sets []Set
}

// Describe reads the column metadata of rows, using each optional
// driver.RowsColumnType* interface only when rows implements it. The Has* flags
// and values are what the driver answered, so replaying them answers database/sql's
// ColumnType methods exactly as the driver did.
func Describe(rows driver.Rows) []Column {
	names := rows.Columns()
	cols := make([]Column, len(names))
	typeName, hasTypeName := rows.(driver.RowsColumnTypeDatabaseTypeName)
	length, hasLength := rows.(driver.RowsColumnTypeLength)
	nullable, hasNullable := rows.(driver.RowsColumnTypeNullable)
	precision, hasPrecision := rows.(driver.RowsColumnTypePrecisionScale)
	scanType, hasScanType := rows.(driver.RowsColumnTypeScanType)
	for i, n := range names {
		c := &cols[i]
		c.Name = n
		if hasTypeName {
			c.DatabaseTypeName = typeName.ColumnTypeDatabaseTypeName(i)
			c.HasDatabaseTypeName = true
		}
		if hasLength {
			c.Length, c.HasLength = length.ColumnTypeLength(i)
		}
		if hasNullable {
			c.Nullable, c.HasNullable = nullable.ColumnTypeNullable(i)
		}
		if hasPrecision {
			c.Precision, c.Scale, c.HasPrecisionScale = precision.ColumnTypePrecisionScale(i)
		}
		if hasScanType {
			c.ScanType = scanType.ColumnTypeScanType(i)
		}
	}
	return cols
}

// Supported reports whether v can be encoded exactly. Values are checked by Append too.
func Supported(v driver.Value) bool {
	switch v := v.(type) {
	case nil, int64, float64, bool, []byte, string,
		int, int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32:
		return true
	case time.Time:
		_, off := v.Zone()
		return off == int(int32(off))
	}
	return false
}
