package rowset

import (
	"database/sql/driver"
	"reflect"
	"time"
	"unsafe"
)

// Decode must not allocate once per value, yet every non-pointer value in a
// driver.Value lives behind a pointer. So Decode allocates one slab of box and
// points each interface's data word into it, writing the eface words directly.
//
// A box has the layout of time.Time: two scalar words then a pointer word. Seen
// as a run of words, a []box repeats scalar, scalar, pointer; so a time.Time fits
// one box exactly, an integer or float fits one scalar word, and anything of the
// shape pointer, scalar(, scalar) -- a string, a slice header, a Set, a Result --
// fits starting at a box's pointer word and running into the next box's scalar
// words. The garbage collector reads the slab by its type, so every pointer we
// store sits in a word it scans, and every scalar in one it does not.
type box struct {
	a, b uint64
	p    unsafe.Pointer
}

// triple is the address of the pointer word of slab[i], where a pointer,
// scalar, scalar shape starts.
func triple(slab []box, i int) unsafe.Pointer { return unsafe.Pointer(&slab[i].p) }

// eface is the layout of an empty interface (driver.Value is any).
type eface struct {
	typ, data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// setValue makes *dst an interface of the dynamic type typ whose value is at data.
func setValue(dst *driver.Value, typ, data unsafe.Pointer) {
	*(*eface)(unsafe.Pointer(dst)) = eface{typ, data}
}

var (
	typeInt64   = typeWord(int64(0))
	typeFloat64 = typeWord(float64(0))
	typeFloat32 = typeWord(float32(0))
	typeString  = typeWord("")
	typeBytes   = typeWord([]byte(nil))
	typeTime    = typeWord(time.Time{})
	typeInt     = typeWord(int(0))
	typeInt8    = typeWord(int8(0))
	typeInt16   = typeWord(int16(0))
	typeInt32   = typeWord(int32(0))
	typeUint    = typeWord(uint(0))
	typeUint8   = typeWord(uint8(0))
	typeUint16  = typeWord(uint16(0))
	typeUint32  = typeWord(uint32(0))
	typeUint64  = typeWord(uint64(0))

	// emptyBytes is shared by every decoded empty []byte: its header cannot be
	// changed through the interface, and appending to it (cap 0) reallocates.
	emptyBytes driver.Value = []byte{}
)

// timeFitsBox guards the one layout assumption the language does not promise.
// Were it false, times would be boxed the ordinary way (one allocation each).
var timeFitsBox = func() bool {
	t := reflect.TypeFor[time.Time]()
	return t.Size() == unsafe.Sizeof(box{}) && t.NumField() == 3 &&
		t.Field(0).Type.Kind() == reflect.Uint64 && t.Field(1).Type.Kind() == reflect.Int64 &&
		t.Field(2).Type.Kind() == reflect.Pointer && t.Field(2).Offset == unsafe.Offsetof(box{}.p)
}()

// The shapes placed at a triple must be pointer, scalar[, scalar] and fit in three words.
var _ = [1]struct{}{}[unsafe.Sizeof(Result{})-24]
var _ = [1]struct{}{}[unsafe.Sizeof(Set{})-48]
var _ = [1]struct{}{}[unsafe.Sizeof("")-16]
var _ = [1]struct{}{}[unsafe.Sizeof([]byte(nil))-24]

// BytesValue returns an interface holding the []byte at *p, made without
// copying the slice header: its data word points at p, so *p must not change
// afterwards. It lets a caller hand out many []byte values from one slab
// instead of allocating a header for each.
func BytesValue(p *[]byte) driver.Value {
	var v driver.Value
	setValue(&v, typeBytes, unsafe.Pointer(p))
	return v
}
