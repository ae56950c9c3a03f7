package keying

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func keyOf(t testing.TB, parts ...part) Key {
	t.Helper()
	var b Builder
	if err := build(&b, parts); err != nil {
		t.Fatalf("build: %v", err)
	}
	return b.Sum()
}

func encodingOf(t testing.TB, parts ...part) []byte {
	t.Helper()
	var b Builder
	if err := build(&b, parts); err != nil {
		t.Fatalf("build: %v", err)
	}
	return b.AppendEncoding(nil)
}

// requireDistinct fails unless every case has its own encoding and its own key.
func requireDistinct(t *testing.T, names []string, seqs [][]part) {
	t.Helper()
	keys := map[Key]string{}
	encs := map[string]string{}
	for i, seq := range seqs {
		enc := string(encodingOf(t, seq...))
		if other, dup := encs[enc]; dup {
			t.Errorf("%s and %s share the encoding %x", names[i], other, enc)
		}
		encs[enc] = names[i]
		k := keyOf(t, seq...)
		if other, dup := keys[k]; dup {
			t.Errorf("%s and %s share the key %s", names[i], other, k)
		}
		keys[k] = names[i]
	}
}

func TestArgTypesAndValuesGiveDistinctKeys(t *testing.T) {
	nan1 := math.Float64frombits(0x7ff8000000000001)
	nan2 := math.Float64frombits(0x7ff8000000000002)
	cases := []struct {
		name string
		v    any
	}{
		{"int64(1)", int64(1)},
		{"float64(1)", float64(1)},
		{`"1"`, "1"},
		{`[]byte("1")`, []byte("1")},
		{"true", true},
		{"int32(1)", int32(1)},
		{"uint64(1)", uint64(1)},
		{"int(1)", 1},
		{"int8(1)", int8(1)},
		{"int16(1)", int16(1)},
		{"uint(1)", uint(1)},
		{"uint8(1)", uint8(1)},
		{"uint16(1)", uint16(1)},
		{"uint32(1)", uint32(1)},
		{"float32(1)", float32(1)},
		{"nil", nil},
		{"int64(0)", int64(0)},
		{`""`, ""},
		{"[]byte{}", []byte{}},
		{"[]byte(nil)", []byte(nil)},
		{"false", false},
		{"float64(0)", float64(0)},
		{"float64(-0)", math.Copysign(0, -1)},
		{"NaN payload 1", nan1},
		{"NaN payload 2", nan2},
		{"+Inf", math.Inf(1)},
		{"int64(-1)", int64(-1)},
		{"uint64(max)", uint64(math.MaxUint64)},
		{"int64(min)", int64(math.MinInt64)},
		{"float32(-0)", float32(math.Copysign(0, -1))},
		{`"\x00"`, "\x00"},
		{`[]byte{0}`, []byte{0}},
		{"time zero", time.Time{}},
	}
	var names []string
	var seqs [][]part
	for _, c := range cases {
		names = append(names, c.name)
		seqs = append(seqs, []part{nsPart("ns"), queryPart("SELECT ?"), argPart(1, "", c.v)})
	}
	requireDistinct(t, names, seqs)
}

func TestTimesAtOneInstantInDifferentZonesGiveDistinctKeys(t *testing.T) {
	instant := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		v    time.Time
	}{
		{"UTC", instant},
		{"FixedZone X+0", instant.In(time.FixedZone("X", 0))},
		{"FixedZone Y+0", instant.In(time.FixedZone("Y", 0))},
		{"FixedZone X+3600", instant.In(time.FixedZone("X", 3600))},
		{"America/New_York", instant.In(mustLoad(t, "America/New_York"))},
		// Offset 0 in January, like UTC, but another location.
		{"Europe/London", instant.In(mustLoad(t, "Europe/London"))},
		{"UTC +1ns", instant.Add(time.Nanosecond)},
		{"UTC +1s", instant.Add(time.Second)},
	}
	var names []string
	var seqs [][]part
	for _, c := range cases {
		names = append(names, c.name)
		seqs = append(seqs, []part{nsPart("ns"), queryPart("SELECT ?"), argPart(1, "", c.v)})
	}
	requireDistinct(t, names, seqs)
}

func TestNamesAndOrdinalsGiveDistinctKeys(t *testing.T) {
	cases := []struct {
		name string
		seq  []part
	}{
		{"positional 1", []part{nsPart("ns"), queryPart("q"), argPart(1, "", int64(7))}},
		{"named id 1", []part{nsPart("ns"), queryPart("q"), argPart(1, "id", int64(7))}},
		{"named ID 1", []part{nsPart("ns"), queryPart("q"), argPart(1, "ID", int64(7))}},
		{"positional 2", []part{nsPart("ns"), queryPart("q"), argPart(2, "", int64(7))}},
		{"positional 0", []part{nsPart("ns"), queryPart("q"), argPart(0, "", int64(7))}},
		{"positional -1", []part{nsPart("ns"), queryPart("q"), argPart(-1, "", int64(7))}},
		{"swapped order", []part{nsPart("ns"), queryPart("q"),
			argPart(2, "", int64(7)), argPart(1, "", int64(8))}},
		{"in order", []part{nsPart("ns"), queryPart("q"),
			argPart(1, "", int64(7)), argPart(2, "", int64(8))}},
		{"values swapped", []part{nsPart("ns"), queryPart("q"),
			argPart(1, "", int64(8)), argPart(2, "", int64(7))}},
		{"parts in the other order", []part{nsPart("ns"), queryPart("q"),
			argPart(2, "", int64(8)), argPart(1, "", int64(7))}},
	}
	var names []string
	var seqs [][]part
	for _, c := range cases {
		names = append(names, c.name)
		seqs = append(seqs, c.seq)
	}
	requireDistinct(t, names, seqs)
}

// Pairs whose raw bytes, concatenated without framing, would be the same.
func TestPartBoundariesAreNotAmbiguous(t *testing.T) {
	cases := []struct {
		name string
		a, b []part
	}{
		{"query/arg split",
			[]part{nsPart("ns"), queryPart("ab"), argPart(1, "", "c")},
			[]part{nsPart("ns"), queryPart("a"), argPart(1, "", "bc")}},
		{"namespace/query split",
			[]part{nsPart("ns1"), queryPart("x")},
			[]part{nsPart("ns"), queryPart("1x")}},
		{"two queries vs one",
			[]part{nsPart("ns"), queryPart("a"), queryPart("b")},
			[]part{nsPart("ns"), queryPart("ab")}},
		{"text holding a part tag",
			[]part{nsPart("ns"), queryPart("a"), queryPart("b")},
			[]part{nsPart("ns"), queryPart("a\x01Qb")}},
		{"text holding a part tag, no length",
			[]part{nsPart("ns"), queryPart("a"), queryPart("b")},
			[]part{nsPart("ns"), queryPart("aQb")}},
		{"empty query vs none",
			[]part{nsPart("ns"), queryPart("")},
			[]part{nsPart("ns")}},
		{"generation vs int64 arg",
			[]part{nsPart("ns"), queryPart("q"), genPart(1)},
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "", int64(1))}},
		{"generation vs uint64 arg",
			[]part{nsPart("ns"), queryPart("q"), genPart(1)},
			[]part{nsPart("ns"), queryPart("q"), argPart(0, "", uint64(1))}},
		{"arg then generation vs generation then arg",
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "", int64(5)), genPart(9)},
			[]part{nsPart("ns"), queryPart("q"), genPart(9), argPart(1, "", int64(5))}},
		{"generations in the other order",
			[]part{nsPart("ns"), queryPart("q"), genPart(1), genPart(2)},
			[]part{nsPart("ns"), queryPart("q"), genPart(2), genPart(1)}},
		{"one generation vs two",
			[]part{nsPart("ns"), queryPart("q"), genPart(0)},
			[]part{nsPart("ns"), queryPart("q"), genPart(0), genPart(0)}},
		{"generation vs ttl",
			[]part{nsPart("ns"), queryPart("q"), genPart(5)},
			[]part{nsPart("ns"), queryPart("q"), ttlPart(5)}},
		{"different ttls",
			[]part{nsPart("ns"), queryPart("q"), genPart(1), ttlPart(10 * time.Second)},
			[]part{nsPart("ns"), queryPart("q"), genPart(1), ttlPart(time.Hour)}},
		{"no ttl vs ttl 0",
			[]part{nsPart("ns"), queryPart("q")},
			[]part{nsPart("ns"), queryPart("q"), ttlPart(0)}},
		{"no generation vs generation 0",
			[]part{nsPart("ns"), queryPart("q")},
			[]part{nsPart("ns"), queryPart("q"), genPart(0)}},
		{"name/value split",
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "ab", "c")},
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "a", "bc")}},
		{"string arg vs query text",
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "", "x")},
			[]part{nsPart("ns"), queryPart("q"), queryPart("x")}},
		{"empty string arg vs none",
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "", "")},
			[]part{nsPart("ns"), queryPart("q")}},
		{"nil arg vs none",
			[]part{nsPart("ns"), queryPart("q"), argPart(1, "", nil)},
			[]part{nsPart("ns"), queryPart("q")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireDistinct(t, []string{"a", "b"}, [][]part{c.a, c.b})
		})
	}
}

func TestNamespacesAndQueryTextGiveDistinctKeys(t *testing.T) {
	queries := []string{
		"SELECT * FROM users WHERE id = ?",
		"SELECT * FROM users WHERE id = ? ",
		"SELECT * FROM users WHERE id =  ?",
		"SELECT * FROM users WHERE id = $1",
		"select * from users where id = ?",
		"SELECT * FROM users\tWHERE id = ?",
		"SELECT * FROM users\nWHERE id = ?",
		"SELECT * FROM user  WHERE id = ?",
		"",
	}
	var names []string
	var seqs [][]part
	for _, ns := range []string{"", "db1", "db2", "DB1"} {
		for _, q := range queries {
			names = append(names, ns+"|"+q)
			seqs = append(seqs, []part{nsPart(ns), queryPart(q), argPart(1, "", int64(1))})
		}
	}
	requireDistinct(t, names, seqs)
}

func TestEqualInputsGiveEqualKeys(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	now := time.Now() // carries a monotonic reading, which must not matter
	cases := []struct {
		name string
		a, b []part
	}{
		{"same parts", // fresh values, so no pointer identity is shared
			[]part{nsPart("ns"), queryPart("SELECT ?"), argPart(1, "", []byte("x")), genPart(3)},
			[]part{nsPart("ns"), queryPart("SELECT ?"), argPart(1, "", []byte("x")), genPart(3)}},
		{"monotonic reading stripped",
			[]part{nsPart("ns"), argPart(1, "", now)},
			[]part{nsPart("ns"), argPart(1, "", now.Round(0))}},
		{"one location loaded twice",
			[]part{nsPart("ns"), argPart(1, "", time.Unix(1e9, 5).In(ny))},
			[]part{nsPart("ns"), argPart(1, "", time.Unix(1e9, 5).In(mustLoad(t, "America/New_York")))}},
		{"time built two ways",
			[]part{nsPart("ns"), argPart(1, "", time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC))},
			[]part{nsPart("ns"), argPart(1, "", time.Unix(1705320000, 0).UTC())}},
		{"same NaN payload",
			[]part{nsPart("ns"), argPart(1, "", math.NaN())},
			[]part{nsPart("ns"), argPart(1, "", math.NaN())}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if ka, kb := keyOf(t, c.a...), keyOf(t, c.b...); ka != kb {
				t.Errorf("keys differ: %s vs %s", ka, kb)
			}
		})
	}
}

func TestReusedBuilderMatchesFreshBuilder(t *testing.T) {
	seqs := [][]part{
		{nsPart("a"), queryPart("SELECT 1")},
		{nsPart("a much longer namespace to grow the buffer"), queryPart(strings.Repeat("x", 500)),
			argPart(1, "", "some string"), argPart(2, "n", time.Unix(1, 2).UTC()), genPart(1), genPart(2)},
		{nsPart("b"), queryPart("q"), argPart(1, "", nil)},
		{nsPart(""), queryPart("")},
	}
	var reused Builder
	for round := range 2 {
		for i, seq := range seqs {
			if err := build(&reused, seq); err != nil {
				t.Fatal(err)
			}
			got, want := reused.Sum(), keyOf(t, seq...)
			if got != want {
				t.Errorf("round %d seq %d: reused builder gave %s, fresh %s", round, i, got, want)
			}
			if hashed := Key(xxh3.Hash128(reused.AppendEncoding(nil)).Bytes()); hashed != got {
				t.Errorf("round %d seq %d: Sum %s is not the xxh3-128 of the encoding (%s)", round, i, got, hashed)
			}
			if got2 := reused.Sum(); got2 != got {
				t.Errorf("round %d seq %d: Sum is not repeatable: %s then %s", round, i, got, got2)
			}
		}
	}
}

func TestZeroBuilderActsAsResetToEmptyNamespace(t *testing.T) {
	var zero Builder
	zero.Query("q")
	zero.Generation(4)
	if got, want := zero.Sum(), keyOf(t, nsPart(""), queryPart("q"), genPart(4)); got != want {
		t.Errorf("zero Builder gave %s, Reset(\"\") gave %s", got, want)
	}
	var empty Builder
	if got, want := empty.Sum(), keyOf(t, nsPart("")); got != want {
		t.Errorf("empty zero Builder gave %s, Reset(\"\") gave %s", got, want)
	}
}

type myInt int64

type valuer struct{}

func (valuer) Value() (driver.Value, error) { return int64(1), nil }

func TestUnsupportedArgIsRejectedAndLeavesBuilderUnchanged(t *testing.T) {
	one := int64(1)
	cases := []struct {
		v    any
		want string // the %T the error must name
	}{
		{myInt(1), "keying.myInt"},
		{&one, "*int64"},
		{valuer{}, "keying.valuer"},
		{struct{}{}, "struct {}"},
		{[]string{"a"}, "[]string"},
		{map[string]int{}, "map[string]int"},
		{complex(1, 2), "complex128"},
		{time.Second, "time.Duration"},
		{[]int64{1}, "[]int64"},
		{[16]byte{}, "[16]uint8"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			var b Builder
			b.Reset("ns")
			b.Query("q")
			before := b.AppendEncoding(nil)
			err := b.Arg(driver.NamedValue{Ordinal: 3, Name: "p", Value: c.v})
			if !errors.Is(err, ErrUnsupportedArg) {
				t.Fatalf("Arg(%T) = %v, want ErrUnsupportedArg", c.v, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the type %s", err, c.want)
			}
			if after := b.AppendEncoding(nil); !bytes.Equal(before, after) {
				t.Errorf("failed Arg changed the encoding: %x -> %x", before, after)
			}
		})
	}
}

func TestEncodingDecodesToItsInputs(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	seqs := [][]part{
		{nsPart("")},
		{nsPart("ns"), queryPart("SELECT a FROM t WHERE b = ? AND c = ?"),
			argPart(1, "", int64(-5)), argPart(2, "c", "x\x00y"), genPart(1), genPart(math.MaxUint64)},
		{nsPart("ns"), argPart(1, "", time.Date(1500, 3, 1, 0, 0, 0, 999, ny)),
			argPart(2, "", time.Date(3000, 3, 1, 0, 0, 0, 1, time.FixedZone("Z", -3600)))},
		{nsPart("ns"), argPart(1, "", []byte(nil)), argPart(2, "", []byte{}), argPart(3, "", nil),
			argPart(4, "", float32(-1.5)), argPart(5, "", int8(-1)), argPart(6, "", uint(7)), argPart(7, "", true)},
	}
	for i, seq := range seqs {
		want, err := normalize(seq)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(encodingOf(t, seq...))
		if err != nil {
			t.Fatalf("seq %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seq %d: decoded\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

func TestKeyHex(t *testing.T) {
	keys := []Key{{}, keyOf(t, nsPart("ns"), queryPart("q")), {0xff, 0x00, 0xab, 0x0c}}
	for _, k := range keys {
		s := k.String()
		if len(s) != 32 || s != strings.ToLower(s) {
			t.Errorf("String() = %q, want 32 lower-case hex characters", s)
		}
		if raw, err := hex.DecodeString(s); err != nil || !bytes.Equal(raw, k[:]) {
			t.Errorf("String() = %q does not decode to the key %x (%v)", s, k[:], err)
		}
		dst := []byte("prefix:")
		if got := k.AppendHex(dst); string(got) != "prefix:"+s {
			t.Errorf("AppendHex = %q, want %q", got, "prefix:"+s)
		}
	}
}

// The hot path: a reused Builder must not allocate for typical arguments.
// Counting allocations is deterministic, unlike timing, so it is asserted here;
// the cost is measured in BenchmarkKey.
func TestReusedBuilderDoesNotAllocate(t *testing.T) {
	args := []driver.NamedValue{
		{Ordinal: 1, Value: int64(123456)},
		{Ordinal: 2, Name: "email", Value: "alice@example.com"},
		{Ordinal: 3, Value: time.Date(2024, 1, 15, 12, 0, 0, 0, mustLoad(t, "America/New_York"))},
		{Ordinal: 4, Value: []byte("raw")},
		{Ordinal: 5, Value: nil},
		{Ordinal: 6, Value: 3.5},
		{Ordinal: 7, Value: true},
	}
	var b Builder
	var hexBuf [32]byte
	allocs := testing.AllocsPerRun(100, func() {
		b.Reset("db1")
		b.Query("SELECT id, name, email FROM users WHERE id = ? AND name = ? ")
		for _, a := range args {
			if err := b.Arg(a); err != nil {
				t.Fatal(err)
			}
		}
		b.Generation(41)
		b.Generation(7)
		_ = b.Sum().AppendHex(hexBuf[:0])
	})
	if allocs != 0 {
		t.Errorf("reused Builder allocated %v times per key, want 0", allocs)
	}
}
