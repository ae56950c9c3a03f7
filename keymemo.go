package cachedsql

import (
	"database/sql/driver"
	"math"
	"slices"
	"time"

	"github.com/cachedsql/cachedsql/keying"
)

// keyMemo is a connection's last computed key, with everything it was
// computed from: the query text, the arguments and the generations read.
// Programs repeat the same read (a primary-key lookup in a loop, a hot row
// read by every request), and hashing the text and arguments is a fifth of a
// decoded hit's own cost. The memo answers only when every input is the same
// by a comparison at least as strict as the key encoding: arguments of the
// same type, floats bit for bit, times field for field (location pointer
// and monotonic reading included); arguments of any other type are not
// remembered. The namespace, the other input, is the connection's for life.
type keyMemo struct {
	query string
	args  []driver.NamedValue
	gens  []uint64
	ttl   time.Duration
	key   keying.Key
	valid bool
}

// maxMemoArgBytes bounds the string arguments a memo keeps.
const maxMemoArgBytes = 4096

// lookup returns the remembered key if query, args and gens are those it
// was computed from.
func (m *keyMemo) lookup(query string, args []driver.NamedValue, gens []uint64, ttl time.Duration) (keying.Key, bool) {
	if !m.valid || len(args) != len(m.args) || query != m.query || ttl != m.ttl || !slices.Equal(gens, m.gens) {
		return keying.Key{}, false
	}
	for i := range args {
		if !sameArg(&args[i], &m.args[i]) {
			return keying.Key{}, false
		}
	}
	return m.key, true
}

// store remembers key as computed from query, args and gens, unless an
// argument is of a type lookup does not compare.
func (m *keyMemo) store(query string, args []driver.NamedValue, gens []uint64, ttl time.Duration, key keying.Key) {
	m.valid = false
	size := 0
	for i := range args {
		if !sameArg(&args[i], &args[i]) {
			return
		}
		if s, ok := args[i].Value.(string); ok {
			size += len(s)
		}
	}
	if size > maxMemoArgBytes {
		return // an idle pooled connection would keep them alive
	}
	m.query, m.ttl, m.key = query, ttl, key
	m.args = append(m.args[:0], args...)
	m.gens = append(m.gens[:0], gens...)
	m.valid = true
}

// sameArg reports whether a and b are the same argument of a type the memo
// compares (a type of its own is never the same as anything, not even
// itself, so store can use it to test that).
func sameArg(a, b *driver.NamedValue) bool {
	if a.Ordinal != b.Ordinal || a.Name != b.Name {
		return false
	}
	switch x := a.Value.(type) {
	case nil:
		return b.Value == nil
	case int64:
		y, ok := b.Value.(int64)
		return ok && x == y
	case string:
		y, ok := b.Value.(string)
		return ok && x == y
	case bool:
		y, ok := b.Value.(bool)
		return ok && x == y
	case float64:
		y, ok := b.Value.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case time.Time:
		y, ok := b.Value.(time.Time)
		return ok && x == y
	}
	return false
}
