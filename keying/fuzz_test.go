package keying

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"time"
)

// program turns fuzz bytes into a part sequence, so the fuzzer explores
// sequences of namespaces, queries, typed arguments and generations.
type program struct {
	b    []byte
	locs []*time.Location
}

func (p *program) next() byte {
	if len(p.b) == 0 {
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *program) u64() uint64 {
	var buf [8]byte
	n := copy(buf[:], p.b)
	p.b = p.b[n:]
	return binary.BigEndian.Uint64(buf[:])
}

// str reads a length byte (mod 32) and up to that many bytes.
func (p *program) str() string {
	n := min(int(p.next()%32), len(p.b))
	s := string(p.b[:n])
	p.b = p.b[n:]
	return s
}

func (p *program) value() any {
	switch p.next() % 18 {
	case 0:
		return nil
	case 1:
		return int64(p.u64())
	case 2:
		return math.Float64frombits(p.u64())
	case 3:
		return p.next()&1 == 1
	case 4:
		return []byte(p.str())
	case 5:
		return []byte(nil)
	case 6:
		return p.str()
	case 7:
		sec := int64(p.u64()) >> 24 // keep within time's representable range
		nsec := int64(p.u64() % 1e9)
		return time.Unix(sec, nsec).In(p.locs[int(p.next())%len(p.locs)])
	case 8:
		return int(p.u64())
	case 9:
		return int8(p.next())
	case 10:
		return int16(p.u64())
	case 11:
		return int32(p.u64())
	case 12:
		return uint(p.u64())
	case 13:
		return p.next()
	case 14:
		return uint16(p.u64())
	case 15:
		return uint32(p.u64())
	case 16:
		return p.u64()
	default:
		return math.Float32frombits(uint32(p.u64()))
	}
}

func (p *program) parts() []part {
	out := []part{nsPart(p.str())}
	for len(p.b) > 0 && len(out) < 64 {
		switch p.next() % 4 {
		case 0:
			out = append(out, queryPart(p.str()))
		case 1:
			ord := int(int8(p.next()))
			out = append(out, argPart(ord, p.str(), p.value()))
		case 2:
			out = append(out, ttlPart(time.Duration(p.u64())))
		default:
			out = append(out, genPart(p.u64()))
		}
	}
	return out
}

// resplit keeps p's kinds but moves the boundaries between its texts: the
// concatenation of every namespace, query and string argument is cut again
// at the positions cuts gives. Raw concatenation could not tell these apart.
func resplit(parts []part, cuts []byte) []part {
	var all []byte
	for _, p := range parts {
		switch {
		case p.kind == partNamespace || p.kind == partQuery:
			all = append(all, p.s...)
		case p.kind == partArg:
			if s, ok := p.arg.Value.(string); ok {
				all = append(all, s...)
			}
		}
	}
	out := make([]part, 0, len(parts))
	for _, p := range parts {
		take := 0
		if len(cuts) > 0 {
			take = min(int(cuts[0]), len(all))
			cuts = cuts[1:]
		}
		switch {
		case p.kind == partNamespace:
			p.s, all = string(all[:take]), all[take:]
		case p.kind == partQuery:
			p.s, all = string(all[:take]), all[take:]
		case p.kind == partArg:
			if _, ok := p.arg.Value.(string); ok {
				p.arg.Value, all = string(all[:take]), all[take:]
			}
		}
		out = append(out, p)
	}
	if len(all) > 0 && len(out) > 0 && out[len(out)-1].kind == partQuery {
		out[len(out)-1].s += string(all)
	}
	return out
}

func FuzzKeyInjective(f *testing.F) {
	locs := []*time.Location{
		time.UTC, time.FixedZone("X", 0), time.FixedZone("X", 3600), time.FixedZone("Y", 0),
		time.FixedZone("UTC", 0), mustLoad(f, "America/New_York"), mustLoad(f, "Europe/London"),
	}
	// Seeds: the boundary cases of the table tests, written as programs.
	// ns "ab"; query "c" | ns "a"; query "bc"
	f.Add([]byte{2, 'a', 'b', 0, 1, 'c'}, []byte{1, 'a', 0, 2, 'b', 'c'}, []byte{1, 2})
	// query "ab", string arg "c" | query "a", string arg "bc"
	f.Add([]byte{0, 0, 2, 'a', 'b', 1, 1, 0, 6, 1, 'c'}, []byte{0, 0, 1, 'a', 1, 1, 0, 6, 2, 'b', 'c'}, []byte{0, 1, 2})
	// generation 1 | int64 arg 1
	f.Add([]byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{})
	// int64(1) | uint64(1) | int(1)
	f.Add([]byte{0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0, 1, 1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{9})
	// nil | []byte(nil) | []byte{} | ""
	f.Add([]byte{0, 1, 1, 0, 0}, []byte{0, 1, 1, 0, 5}, []byte{})
	f.Add([]byte{0, 1, 1, 0, 4, 0}, []byte{0, 1, 1, 0, 6, 0}, []byte{})
	// one instant in two zones
	f.Add([]byte{0, 1, 1, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 1, 1, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, []byte{})
	// named vs positional
	f.Add([]byte{0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7}, []byte{0, 1, 1, 2, 'i', 'd', 1, 0, 0, 0, 0, 0, 0, 0, 7}, []byte{})

	f.Fuzz(func(t *testing.T, progA, progB, cuts []byte) {
		a := (&program{b: progA, locs: locs}).parts()
		b := (&program{b: progB, locs: locs}).parts()
		c := resplit(a, cuts)
		var reused Builder
		for _, other := range [][]part{b, c} {
			checkPair(t, &reused, a, other)
		}
	})
}

// checkPair asserts the encoding parses back to its inputs, that different
// inputs have different encodings and keys, and equal inputs equal keys.
func checkPair(t *testing.T, reused *Builder, a, b []part) {
	t.Helper()
	na, err := normalize(a)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := normalize(b)
	if err != nil {
		t.Fatal(err)
	}
	encA, encB := encodingOf(t, a...), encodingOf(t, b...)
	if got, err := decode(encA); err != nil || !reflect.DeepEqual(got, na) {
		t.Fatalf("encoding %x decodes to %+v (%v), want %+v", encA, got, err, na)
	}
	if err := build(reused, a); err != nil {
		t.Fatal(err)
	}
	keyA := reused.Sum()
	if fresh := keyOf(t, a...); fresh != keyA {
		t.Fatalf("reused builder key %s, fresh %s", keyA, fresh)
	}
	keyB := keyOf(t, b...)
	same := reflect.DeepEqual(na, nb)
	switch {
	case same && keyA != keyB:
		t.Fatalf("equal inputs, different keys:\n%+v", na)
	case !same && bytes.Equal(encA, encB):
		t.Fatalf("different inputs share encoding %x:\n%+v\n%+v", encA, na, nb)
	case !same && keyA == keyB:
		t.Fatalf("different inputs share key %s:\n%+v\n%+v", keyA, na, nb)
	}
}
