package cachedsql

import (
	"database/sql/driver"
	"math"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/keying"
)

// freshKey is the key computed from scratch, as the read path does on a
// memo miss; ok is false when an argument cannot be keyed.
func freshKey(ns, query string, args []driver.NamedValue, gens []uint64, ttl time.Duration) (keying.Key, bool) {
	var kb keying.Builder
	kb.Reset(ns)
	kb.Query(query)
	for i := range args {
		if kb.Arg(args[i]) != nil {
			return keying.Key{}, false
		}
	}
	for _, g := range gens {
		kb.Generation(g)
	}
	kb.TTL(ttl)
	return kb.Sum(), true
}

var (
	memoZoneA = time.FixedZone("A", 3600)
	memoZoneB = time.FixedZone("A", 3600) // same name and offset, another *Location
	memoT     = time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
)

// memoValue turns a byte into one of the argument values whose keys differ
// subtly: -0 and +0, two NaNs, int64 and int32 of the same number, a time in
// two locations alike in all but identity, a string and a []byte alike.
func memoValue(b byte) any {
	switch b % 16 {
	case 0:
		return nil
	case 1:
		return int64(1)
	case 2:
		return int64(2)
	case 3:
		return int32(1)
	case 4:
		return 0.0
	case 5:
		return math.Copysign(0, -1)
	case 6:
		return math.NaN()
	case 7:
		return math.Float64frombits(0x7ff8000000000001) // another NaN
	case 8:
		return "1"
	case 9:
		return []byte("1")
	case 10:
		return true
	case 11:
		return false
	case 12:
		return memoT
	case 13:
		return memoT.In(memoZoneA)
	case 14:
		return memoT.In(memoZoneB)
	default:
		return ""
	}
}

// FuzzKeyMemo: whatever sequence of reads a connection makes, the key the
// memo gives is the key computed from scratch.
func FuzzKeyMemo(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 1, 1})
	f.Add([]byte{0, 1, 4, 0, 1, 5})       // +0 then -0
	f.Add([]byte{0, 1, 6, 0, 1, 7})       // two NaNs
	f.Add([]byte{0, 1, 1, 0, 1, 3})       // int64 then int32
	f.Add([]byte{0, 1, 13, 0, 1, 14})     // two locations alike
	f.Add([]byte{0, 1, 12, 0, 1, 13})     // one instant in two zones
	f.Add([]byte{0, 1, 8, 0, 1, 9})       // string then []byte
	f.Add([]byte{0, 2, 1, 2, 0x12, 1, 2}) // generations move
	f.Add([]byte{1, 1, 1, 2, 1, 1})       // another query
	f.Add([]byte{0, 1, 1, 0x40, 1, 1})    // another strategy
	queries := []string{"SELECT a FROM t WHERE x = ?", "SELECT a FROM t WHERE x = ? ", "SELECT b FROM u WHERE y = ? AND z = ?"}
	f.Fuzz(func(t *testing.T, ops []byte) {
		var m keyMemo
		for len(ops) >= 3 {
			q := queries[int(ops[0])%len(queries)]
			ttl := time.Duration(1+ops[0]>>6) * time.Second // another strategy
			n := int(ops[1]) % 4
			gen := uint64(ops[1] >> 4)
			ops = ops[2:]
			if n > len(ops) {
				n = len(ops)
			}
			args := make([]driver.NamedValue, n)
			for i := range args {
				args[i] = driver.NamedValue{Ordinal: i + 1, Value: memoValue(ops[i])}
				if ops[i]&0x80 != 0 {
					args[i].Name = "p"
				}
			}
			ops = ops[n:]
			gens := []uint64{1, gen}
			want, ok := freshKey("ns", q, args, gens, ttl)
			got, hit := m.lookup(q, args, gens, ttl)
			if hit {
				if !ok || got != want {
					t.Fatalf("memo gave %x for %q %v %v; computed %x (keyable %v)", got, q, args, gens, want, ok)
				}
				continue
			}
			if ok {
				m.store(q, args, gens, ttl, want)
			}
		}
	})
}

// TestKeyMemoRemembers: the memo does answer a repeated read, and does not
// remember arguments it cannot compare.
func TestKeyMemoRemembers(t *testing.T) {
	var m keyMemo
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(7)}, {Ordinal: 2, Value: memoT}}
	gens := []uint64{1, 2}
	key, _ := freshKey("ns", "q", args, gens, time.Minute)
	m.store("q", args, gens, time.Minute, key)
	again := []driver.NamedValue{{Ordinal: 1, Value: int64(7)}, {Ordinal: 2, Value: memoT}}
	if got, hit := m.lookup("q", again, []uint64{1, 2}, time.Minute); !hit || got != key {
		t.Fatalf("a repeated read: hit %v", hit)
	}
	if _, hit := m.lookup("q", again, []uint64{1, 3}, time.Minute); hit {
		t.Fatal("answered after a generation moved")
	}
	if _, hit := m.lookup("q", again, []uint64{1, 2}, time.Second); hit {
		t.Fatal("answered a read under another strategy")
	}
	big := []driver.NamedValue{{Ordinal: 1, Value: string(make([]byte, maxMemoArgBytes+1))}}
	kbig, _ := freshKey("ns", "q", big, gens, time.Minute)
	m.store("q", big, gens, time.Minute, kbig)
	if _, hit := m.lookup("q", big, gens, time.Minute); hit {
		t.Fatal("remembered a string argument too large to keep")
	}
	b := []driver.NamedValue{{Ordinal: 1, Value: []byte("x")}}
	kb, _ := freshKey("ns", "q", b, gens, time.Minute)
	m.store("q", b, gens, time.Minute, kb)
	if _, hit := m.lookup("q", b, gens, time.Minute); hit {
		t.Fatal("remembered a []byte argument")
	}
}
