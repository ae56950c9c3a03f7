package tier

import (
	"context"
	"testing"
	"time"

	"github.com/allegro/bigcache/v3"
)

// The baselines use bigcache the plain way (string key, default hasher,
// no deadline header) with the same shard count as a 64 MiB L1.
func newBaselineBigcache(b *testing.B) *bigcache.BigCache {
	bc, err := bigcache.New(context.Background(), bigcache.Config{
		Shards: 16, LifeWindow: time.Hour, CleanWindow: time.Minute,
		MaxEntriesInWindow: 16 * 16, MaxEntrySize: 4096, HardMaxCacheSize: 64,
		Logger: nopLogger{},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bc.Close() })
	return bc
}

func BenchmarkL1Get(b *testing.B) {
	l, err := NewL1(L1Config{CapacityMiB: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	k := testKey(1)
	l.Set(ctx, k, make([]byte, 1024), time.Hour)
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		if _, _, ok, _ := l.Get(ctx, k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkBigcacheGetBaseline(b *testing.B) {
	bc := newBaselineBigcache(b)
	k := testKey(1)
	sk := string(k[:])
	bc.Set(sk, make([]byte, 1024))
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := bc.Get(sk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkL1GetParallel(b *testing.B) {
	l, err := NewL1(L1Config{CapacityMiB: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	for i := range 64 {
		l.Set(ctx, testKey(uint64(i)), make([]byte, 1024), time.Hour)
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.RunParallel(func(pb *testing.PB) {
		i := uint64(0)
		for pb.Next() {
			i++
			if _, _, ok, _ := l.Get(ctx, testKey(i%64)); !ok {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkL1Set(b *testing.B) {
	l, err := NewL1(L1Config{CapacityMiB: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	v := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(1024)
	i := uint64(0)
	for b.Loop() {
		i++
		if err := l.Set(ctx, testKey(i%4096), v, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBigcacheSetBaseline(b *testing.B) {
	bc := newBaselineBigcache(b)
	keys := make([]string, 4096)
	for i := range keys {
		k := testKey(uint64(i))
		keys[i] = string(k[:])
	}
	v := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(1024)
	i := 0
	for b.Loop() {
		i++
		if err := bc.Set(keys[i%4096], v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkL1Interleaved runs plain bigcache and L1 side by side, in turn
// (see interleave), for a 1 KiB hit and a 1 KiB set.
func BenchmarkL1Interleaved(b *testing.B) {
	l, err := NewL1(L1Config{CapacityMiB: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bc := newBaselineBigcache(b)
	ctx := context.Background()
	k := testKey(1)
	sk := string(k[:])
	v := make([]byte, 1024)
	l.Set(ctx, k, v, time.Hour)
	bc.Set(sk, v)
	b.Run("get", func(b *testing.B) {
		interleave(b, []namedCall{
			{"bigcache", func() error { _, err := bc.Get(sk); return err }},
			{"L1", func() error { return expectHit(l.Get(ctx, k))(1024) }},
		})
	})
	b.Run("set", func(b *testing.B) {
		interleave(b, []namedCall{
			{"bigcache", func() error { return bc.Set(sk, v) }},
			{"L1", func() error { return l.Set(ctx, k, v, time.Hour) }},
		})
	})
}

// BenchmarkL1SetFull stores 8 KiB values (a 100-row result's entry) under
// fresh keys into a full 64 MiB L1 and a full plain bigcache, in turn, so
// that every set evicts: the steady state of a process past its first
// l1_mib of fills, where a miss's store costs most (bigcache copies the
// value twice, into its shard's buffer and then into the ring, whose memory
// is cold by then). The ratio says what L1 adds to bigcache's own set.
func BenchmarkL1SetFull(b *testing.B) {
	const size = 8 << 10
	l, err := NewL1(L1Config{CapacityMiB: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bc := newBaselineBigcache(b)
	ctx := context.Background()
	room := make([]byte, L1Room+size) // SetWithRoom writes its header in place
	v := room[L1Room:]
	n := uint64(0)
	for range 2 * (64 << 20) / size {
		n++
		k := testKey(n)
		if err := l.SetWithRoom(ctx, k, room, time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := bc.Set(string(k[:]), v); err != nil {
			b.Fatal(err)
		}
	}
	if s := l.Stats(); s.Bytes < s.Capacity*9/10 {
		b.Fatalf("L1 holds %d of %d bytes after the fill: not full", s.Bytes, s.Capacity)
	}
	interleave(b, []namedCall{
		{"bigcache", func() error { n++; k := testKey(n); return bc.Set(string(k[:]), v) }},
		{"L1", func() error { n++; return l.SetWithRoom(ctx, testKey(n), room, time.Hour) }},
	})
}
