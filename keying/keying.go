// Package keying turns a query into a cache key.
//
// A key is the 128-bit xxh3 hash of a canonical, self-delimiting encoding of
// the namespace, the query text (byte for byte), every argument (its type, value, name
// and ordinal) and the generations of the tables the query reads. Two inputs
// that differ in any of these produce different encodings, so distinct queries
// collide only if the hash does (2^-128). Arguments of types the encoder does not
// know are rejected with ErrUnsupportedArg, never hashed by reflection.
package keying

import (
	"database/sql/driver"
	"errors"
)

// Key identifies one cached result. Its zero value is not a valid key.
type Key [16]byte

// ErrUnsupportedArg reports an argument whose type has no canonical encoding.
var ErrUnsupportedArg = errors.New("keying: argument type has no canonical encoding")

// Builder accumulates the parts of a key. The zero value is ready to use;
// Reset makes it reusable. A Builder is not safe for concurrent use.
type Builder struct {
	buf []byte
}

// Reset starts a new key in the given namespace.
func (b *Builder) Reset(namespace string) { b.buf = b.buf[:0]; _ = namespace }

// Query adds the query text.
func (b *Builder) Query(q string) {}

// Arg adds one argument. It returns an error wrapping ErrUnsupportedArg
// when the value's type has no canonical encoding.
func (b *Builder) Arg(nv driver.NamedValue) error { return nil }

// Generation adds the generation of one dependency (a table, or the namespace epoch).
func (b *Builder) Generation(g uint64) {}

// Sum returns the key of everything added since Reset.
func (b *Builder) Sum() Key { return Key{} }

// String returns the key in lower-case hex (32 characters).
func (k Key) String() string { return "" }
