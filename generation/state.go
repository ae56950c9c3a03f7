package generation

import (
	"math/rand/v2"
	"sync/atomic"
)

const (
	// localBit marks a generation chosen by this process while it could not
	// publish: Redis only ever assigns values below 1<<63 (HINCRBY is int64), so
	// a key built with a local value never equals one built with a shared value.
	localBit = uint64(1) << 63
	mask63   = localBit - 1
)

// counter is one generation: a table's, or the namespace-wide one.
type counter struct {
	gen atomic.Uint64 // what Read returns; written under Clock.mu

	// Guarded by Clock.mu.
	shared uint64 // largest value Redis assigned in this epoch (Clock.mu)
}

// state is one epoch's generations. Read sees either a whole old state or a
// whole new one: a resync swaps the pointer, so a key never mixes the epoch of
// one state with the table generations of another (such a mix could equal a key
// a later reader builds legitimately and serve it data older than a write).
type state struct {
	epoch  uint64 // random, below 1<<63; immutable
	all    counter
	tables atomic.Pointer[map[string]*counter] // copied on insert, under Clock.mu
}

func newState(epoch uint64) *state {
	s := &state{epoch: epoch & mask63}
	m := map[string]*counter{}
	s.tables.Store(&m)
	return s
}

// namespaceWord is the first generation of every key: it changes when the
// epoch changes or when the whole namespace is invalidated.
func (s *state) namespaceWord() uint64 {
	a := s.all.gen.Load()
	if a&localBit != 0 {
		return a
	}
	return (s.epoch + a) & mask63
}

// counterLocked returns the counter of table, adding it. Clock.mu must be held.
func (s *state) counterLocked(table string) *counter {
	old := *s.tables.Load()
	if c := old[table]; c != nil {
		return c
	}
	m := make(map[string]*counter, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	c := &counter{}
	m[table] = c
	s.tables.Store(&m)
	return c
}

// applyShared records a value Redis assigned. Under max semantics an older
// value arriving late changes nothing. While a local change is unpublished
// (pending) the effective value stays local, but moves to a fresh local value:
// another process's write must still make this process's old keys
// unreachable, and the shared value cannot be used, since other processes fill
// under it without knowing the unpublished write. Clock.mu must be held. It
// reports whether the effective value changed.
func (c *counter) applyShared(g uint64, pending bool) bool {
	if g <= c.shared {
		return false
	}
	c.shared = g
	if pending {
		c.gen.Store(randomLocal())
	} else {
		c.gen.Store(g)
	}
	return true
}

// advanceLocal gives the counter a value no other process can hold, to be
// replaced by a shared one once published. Clock.mu must be held.
func (c *counter) advanceLocal() { c.gen.Store(randomLocal()) }

// random63 is a random value below 1<<63. math/rand/v2's global source is
// ChaCha8 seeded from the OS: good enough to make collisions between epochs
// and local values a 2^-63 event, and cheap.
func random63() uint64 { return rand.Uint64() & mask63 }

func randomLocal() uint64 { return rand.Uint64() | localBit }
