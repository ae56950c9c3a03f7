package rowset

import (
	"database/sql"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// A column's ScanType is encoded by a stable name and decoded through this
// registry. Types seen by Append are registered automatically, so a process
// always decodes what it encoded; another process decodes a name only if it
// registered the type too (RegisterScanType), and otherwise Decode fails, which
// a cache treats as a miss.

type scanRegistry struct {
	byType map[reflect.Type]string
	byName map[string]reflect.Type
}

var (
	scanTypesMu sync.Mutex // serialises writers; readers load scanTypes without locking
	scanTypes   atomic.Pointer[scanRegistry]
)

func init() {
	scanTypes.Store(&scanRegistry{byType: map[reflect.Type]string{}, byName: map[string]reflect.Type{}})
	for _, t := range []reflect.Type{
		typeOfInt64, typeOfFloat64, typeOfBool,
		typeOfString, typeOfBytes, typeOfTime,
		typeOfAny, reflect.TypeFor[*any](),
		reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](),
		reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](),
		reflect.TypeFor[uint64](), reflect.TypeFor[float32](),
		reflect.TypeFor[sql.RawBytes](),
		reflect.TypeFor[sql.NullInt64](), reflect.TypeFor[sql.NullInt32](), reflect.TypeFor[sql.NullInt16](),
		reflect.TypeFor[sql.NullByte](), reflect.TypeFor[sql.NullFloat64](), reflect.TypeFor[sql.NullBool](),
		reflect.TypeFor[sql.NullString](), reflect.TypeFor[sql.NullTime](),
	} {
		if err := RegisterScanType(t); err != nil {
			panic(err) // the built-in list is fixed: a conflict is a bug in this package
		}
	}
}

// stableName is the name under which t is encoded: PkgPath + "." + Name for a
// named type of a package, Name for a predeclared type, String otherwise.
func stableName(t reflect.Type) string {
	if t.Name() == "" {
		return t.String()
	}
	if t.PkgPath() == "" {
		return t.Name()
	}
	return t.PkgPath() + "." + t.Name()
}

// RegisterScanType lets Decode reproduce t as a column's ScanType. Append registers
// every type it encodes, so this is needed only to decode in a process entries that
// another process wrote before this one met the type. It fails when another type
// already has t's name; such a type cannot be encoded (Append reports ErrUnsupported).
// Registering a type twice is harmless.
func RegisterScanType(t reflect.Type) error {
	if t == nil {
		return fmt.Errorf("%w: nil scan type", ErrUnsupported)
	}
	_, err := registerScanType(t)
	return err
}

func registerScanType(t reflect.Type) (string, error) {
	scanTypesMu.Lock()
	defer scanTypesMu.Unlock()
	old := scanTypes.Load()
	if name, ok := old.byType[t]; ok {
		return name, nil
	}
	name := stableName(t)
	if other, ok := old.byName[name]; ok {
		return "", fmt.Errorf("%w: scan type %v has the name %q of another registered type %v",
			ErrUnsupported, t, name, other)
	}
	next := &scanRegistry{
		byType: make(map[reflect.Type]string, len(old.byType)+1),
		byName: make(map[string]reflect.Type, len(old.byName)+1),
	}
	for k, v := range old.byType {
		next.byType[k] = v
	}
	for k, v := range old.byName {
		next.byName[k] = v
	}
	next.byType[t] = name
	next.byName[name] = t
	scanTypes.Store(next)
	return name, nil
}

// scanTypeName returns t's registered name, registering t on first sight.
func scanTypeName(t reflect.Type) (string, error) {
	if name, ok := scanTypes.Load().byType[t]; ok {
		return name, nil
	}
	return registerScanType(t)
}

// lookupScanType is the type registered under name. Decode asks once per
// column of every entry, so the names most drivers report are matched by a
// switch, without hashing; init registers each under exactly that name, and
// a registered name never changes its type, so the two always agree
// (TestScanTypeFastPath).
func lookupScanType(name string) (reflect.Type, bool) {
	switch name {
	case "int64":
		return typeOfInt64, true
	case "string":
		return typeOfString, true
	case "float64":
		return typeOfFloat64, true
	case "bool":
		return typeOfBool, true
	case "[]uint8":
		return typeOfBytes, true
	case "time.Time":
		return typeOfTime, true
	case "interface {}":
		return typeOfAny, true
	}
	t, ok := scanTypes.Load().byName[name]
	return t, ok
}

var (
	typeOfInt64   = reflect.TypeFor[int64]()
	typeOfString  = reflect.TypeFor[string]()
	typeOfFloat64 = reflect.TypeFor[float64]()
	typeOfBool    = reflect.TypeFor[bool]()
	typeOfBytes   = reflect.TypeFor[[]byte]()
	typeOfTime    = reflect.TypeFor[time.Time]()
	typeOfAny     = reflect.TypeFor[any]()
)
