package keying

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// This file holds what the tests use to prove the encoding injective: a
// description of a key's inputs (part), its normal form built from the Go
// values alone (normalize), and a parser of the documented grammar (decode).
// If decode(encode(parts)) equals normalize(parts) for every input, two
// inputs with different normal forms cannot share an encoding.

// part is one input to a Builder. For kind partNamespace and partQuery, s is
// the text; for partArg, arg is the argument; for partGeneration, gen; for
// partTTL, gen holds the nanoseconds.
type part struct {
	kind byte
	s    string
	arg  driver.NamedValue
	gen  uint64
}

func nsPart(s string) part    { return part{kind: partNamespace, s: s} }
func queryPart(s string) part { return part{kind: partQuery, s: s} }
func genPart(g uint64) part   { return part{kind: partGeneration, gen: g} }
func ttlPart(d time.Duration) part {
	return part{kind: partTTL, gen: uint64(d)}
}
func argPart(ordinal int, name string, v any) part {
	return part{kind: partArg, arg: driver.NamedValue{Ordinal: ordinal, Name: name, Value: v}}
}

// build feeds parts to b. A namespace part is a Reset, so a sequence is
// expected to open with one.
func build(b *Builder, parts []part) error {
	for _, p := range parts {
		switch p.kind {
		case partNamespace:
			b.Reset(p.s)
		case partQuery:
			b.Query(p.s)
		case partArg:
			if err := b.Arg(p.arg); err != nil {
				return err
			}
		case partGeneration:
			b.Generation(p.gen)
		case partTTL:
			b.TTL(time.Duration(p.gen))
		default:
			return fmt.Errorf("bad part kind %q", p.kind)
		}
	}
	return nil
}

// norm is the comparable normal form of one part: what makes two inputs the
// same input. It is built from Go values by normalize and from bytes by decode.
type norm struct {
	kind    byte
	s       string // namespace, query text, or argument name
	ordinal int64
	gen     uint64
	typ     string // the argument's Go type, "[]uint8(nil)" for a nil slice
	bits    uint64 // integers, float bits, bools
	data    string // string and []byte contents; a time's location name
	sec     int64  // time: Unix seconds
	nsec    int64  // time: nanoseconds within the second
	offset  int64  // time: zone offset in seconds
	abbrev  string // time: zone abbreviation
}

func normalize(parts []part) ([]norm, error) {
	out := make([]norm, 0, len(parts))
	for _, p := range parts {
		n := norm{kind: p.kind}
		switch p.kind {
		case partNamespace, partQuery:
			n.s = p.s
		case partGeneration, partTTL:
			n.gen = p.gen
		case partArg:
			n.s = p.arg.Name
			n.ordinal = int64(p.arg.Ordinal)
			n.typ = fmt.Sprintf("%T", p.arg.Value)
			switch v := p.arg.Value.(type) {
			case nil:
			case bool:
				if v {
					n.bits = 1
				}
			case int:
				n.bits = uint64(v)
			case int8:
				n.bits = uint64(v)
			case int16:
				n.bits = uint64(v)
			case int32:
				n.bits = uint64(v)
			case int64:
				n.bits = uint64(v)
			case uint:
				n.bits = uint64(v)
			case uint8:
				n.bits = uint64(v)
			case uint16:
				n.bits = uint64(v)
			case uint32:
				n.bits = uint64(v)
			case uint64:
				n.bits = v
			case float32:
				n.bits = uint64(math.Float32bits(v))
			case float64:
				n.bits = math.Float64bits(v)
			case string:
				n.data = v
			case []byte:
				if v == nil {
					n.typ = "[]uint8(nil)"
				}
				n.data = string(v)
			case time.Time:
				n.sec, n.nsec = v.Unix(), int64(v.Nanosecond())
				abbrev, offset := v.Zone()
				n.abbrev, n.offset = abbrev, int64(offset)
				n.data = v.Location().String()
			default:
				return nil, fmt.Errorf("unsupported %T", v)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

var errTruncated = errors.New("truncated encoding")

type decoder struct{ b []byte }

func (d *decoder) byte() (byte, error) {
	if len(d.b) < 1 {
		return 0, errTruncated
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c, nil
}

func (d *decoder) fixed(n int) ([]byte, error) {
	if len(d.b) < n {
		return nil, errTruncated
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, nil
}

func (d *decoder) u64() (uint64, error) {
	s, err := d.fixed(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(s), nil
}

func (d *decoder) str() (string, error) {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		return "", errors.New("bad length")
	}
	d.b = d.b[k:]
	if uint64(len(d.b)) < n {
		return "", errTruncated
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s, nil
}

var typeNames = map[byte]string{
	typeInt64: "int64", typeFloat64: "float64", typeBool: "bool", typeString: "string",
	typeInt: "int", typeInt8: "int8", typeInt16: "int16", typeInt32: "int32",
	typeUint: "uint", typeUint8: "uint8", typeUint16: "uint16", typeUint32: "uint32",
	typeUint64: "uint64", typeFloat32: "float32",
}

// decode parses an encoding back into its parts' normal forms, failing on
// anything the grammar does not allow, trailing bytes included.
func decode(enc []byte) ([]norm, error) {
	d := &decoder{b: enc}
	v, err := d.byte()
	if err != nil || v != encodingVersion {
		return nil, fmt.Errorf("bad version %d (%v)", v, err)
	}
	if tag, err := d.byte(); err != nil || tag != partNamespace {
		return nil, fmt.Errorf("encoding must open with a namespace, got %q (%v)", tag, err)
	}
	ns, err := d.str()
	if err != nil {
		return nil, err
	}
	out := []norm{{kind: partNamespace, s: ns}}
	for len(d.b) > 0 {
		tag, _ := d.byte()
		n := norm{kind: tag}
		switch tag {
		case partQuery:
			if n.s, err = d.str(); err != nil {
				return nil, err
			}
		case partGeneration, partTTL:
			if n.gen, err = d.u64(); err != nil {
				return nil, err
			}
		case partArg:
			if err := decodeArg(d, &n); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("bad part tag %#x", tag)
		}
		out = append(out, n)
	}
	return out, nil
}

func decodeArg(d *decoder, n *norm) error {
	ord, k := binary.Varint(d.b)
	if k <= 0 {
		return errors.New("bad ordinal")
	}
	d.b = d.b[k:]
	n.ordinal = ord
	var err error
	if n.s, err = d.str(); err != nil {
		return err
	}
	typ, err := d.byte()
	if err != nil {
		return err
	}
	switch typ {
	case typeNil:
		n.typ = "<nil>"
	case typeBytesNil:
		n.typ = "[]uint8(nil)"
	case typeBytes:
		n.typ = "[]uint8"
		n.data, err = d.str()
	case typeString:
		n.typ = "string"
		n.data, err = d.str()
	case typeBool:
		n.typ = "bool"
		var c byte
		c, err = d.byte()
		if err == nil && c > 1 {
			err = fmt.Errorf("bad bool %d", c)
		}
		n.bits = uint64(c)
	case typeFloat32:
		n.typ = "float32"
		var s []byte
		s, err = d.fixed(4)
		if err == nil {
			n.bits = uint64(binary.BigEndian.Uint32(s))
		}
	case typeTime:
		n.typ = "time.Time"
		var sec, nsec, off uint64
		var s []byte
		if sec, err = d.u64(); err != nil {
			return err
		}
		if s, err = d.fixed(4); err != nil {
			return err
		}
		nsec = uint64(binary.BigEndian.Uint32(s))
		if off, err = d.u64(); err != nil {
			return err
		}
		n.sec, n.nsec, n.offset = int64(sec), int64(nsec), int64(off)
		if n.data, err = d.str(); err != nil {
			return err
		}
		n.abbrev, err = d.str()
	default:
		name, ok := typeNames[typ]
		if !ok {
			return fmt.Errorf("bad type tag %#x", typ)
		}
		n.typ = name
		n.bits, err = d.u64()
	}
	return err
}
