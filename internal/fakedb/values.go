package fakedb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
)

// Celsius is an argument type only fakedb's converters understand, so a test
// can tell which conversion path database/sql took:
//   - a NamedValueChecker (conn or stmt) turns it into float64(Degrees);
//   - the ColumnConverter turns it into the string "<Degrees>C";
//   - database/sql's default conversion rejects it (a struct).
type Celsius struct{ Degrees float64 }

// Bad is an argument type every fakedb converter rejects with an error
// wrapping ErrBadArg.
type Bad struct{}

// ErrBadArg is wrapped by the error a converter returns for a Bad argument.
var ErrBadArg = errors.New("fakedb: argument of type fakedb.Bad")

// checkNamedValue is the NamedValueChecker logic shared by conn and stmt.
func checkNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case Celsius:
		nv.Value = v.Degrees
		return nil
	case Bad:
		return fmt.Errorf("argument %d: %w", nv.Ordinal, ErrBadArg)
	}
	return driver.ErrSkip
}

// celsiusConverter is what the ColumnConverter hands out.
type celsiusConverter struct{ d *Driver }

func (c celsiusConverter) ConvertValue(v any) (driver.Value, error) {
	c.d.count(PathColumnConverter)
	switch x := v.(type) {
	case Celsius:
		return strconv.FormatFloat(x.Degrees, 'g', -1, 64) + "C", nil
	case Bad:
		return nil, ErrBadArg
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

func namedValues(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
