package keying

import (
	"database/sql/driver"
	"encoding/binary"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// benchQuery is 60 bytes, the size the read path is tuned for.
const benchQuery = "SELECT id, name, email FROM users WHERE id = ? AND name = ? "

var sinkKey Key

func benchArgs(b *testing.B) []driver.NamedValue {
	if len(benchQuery) != 60 {
		b.Fatalf("benchQuery is %d bytes, want 60", len(benchQuery))
	}
	return []driver.NamedValue{
		{Ordinal: 1, Value: int64(123456)},
		{Ordinal: 2, Value: "alice@example.com"},
		{Ordinal: 3, Value: time.Date(2024, 1, 15, 12, 0, 0, 0, mustLoad(b, "America/New_York"))},
	}
}

// BenchmarkKey builds a key with a reused Builder: a 60-byte query, three
// arguments (int64, string, time.Time) and two generations. The baseline
// concatenates the same raw bytes without types or framing into a reused
// buffer and hashes them with xxh3.Hash128: the floor for any 128-bit key.
func BenchmarkKey(b *testing.B) {
	args := benchArgs(b)
	b.Run("builder", func(b *testing.B) {
		var kb Builder
		b.ReportAllocs()
		for b.Loop() {
			kb.Reset("db1")
			kb.Query(benchQuery)
			for _, a := range args {
				if err := kb.Arg(a); err != nil {
					b.Fatal(err)
				}
			}
			kb.Generation(41)
			kb.Generation(7)
			sinkKey = kb.Sum()
		}
	})
	b.Run("baseline-xxh3-raw", func(b *testing.B) {
		var buf []byte
		i := args[0].Value.(int64)
		s := args[1].Value.(string)
		tm := args[2].Value.(time.Time)
		b.ReportAllocs()
		for b.Loop() {
			buf = append(buf[:0], "db1"...)
			buf = append(buf, benchQuery...)
			buf = binary.BigEndian.AppendUint64(buf, uint64(i))
			buf = append(buf, s...)
			buf = binary.BigEndian.AppendUint64(buf, uint64(tm.UnixNano()))
			buf = binary.BigEndian.AppendUint64(buf, 41)
			buf = binary.BigEndian.AppendUint64(buf, 7)
			sinkKey = Key(xxh3.Hash128(buf).Bytes())
		}
	})
}

var sinkHex []byte

func BenchmarkAppendHex(b *testing.B) {
	k := Key{1, 2, 3}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		sinkHex = k.AppendHex(buf[:0])
	}
}
