package generation

import (
	"strings"
	"testing"
)

var decodeCases = []struct {
	name    string
	values  map[string]any
	wantErr string // "" for success
	all     uint64
	gens    map[string]uint64
}{
	{name: "tables", values: map[string]any{"o": "A", "i": "x", "e": "7", "s": "3", "ms": "1700000000000", "t:users": "4", "t:a:b": "1"},
		gens: map[string]uint64{"users": 4, "a:b": 1}},
	{name: "whole namespace", values: map[string]any{"o": "A", "e": "7", "s": "3", "a": "2"}, all: 2, gens: map[string]uint64{}},
	{name: "unknown field ignored", values: map[string]any{"e": "7", "s": "1", "t:x": "1", "future": "?"}, gens: map[string]uint64{"x": 1}},
	{name: "no epoch", values: map[string]any{"s": "3", "t:x": "1"}, wantErr: "no epoch"},
	{name: "no sequence", values: map[string]any{"e": "3", "t:x": "1"}, wantErr: "no epoch or sequence"},
	{name: "sequence 0", values: map[string]any{"e": "3", "s": "0", "t:x": "1"}, wantErr: "sequence 0"},
	{name: "changes nothing", values: map[string]any{"e": "3", "s": "1"}, wantErr: "changes nothing"},
	{name: "bad generation", values: map[string]any{"e": "3", "s": "1", "t:x": "-1"}, wantErr: `field "t:x"`},
	{name: "generation 0", values: map[string]any{"e": "3", "s": "1", "t:x": "0"}, wantErr: "generation 0"},
	{name: "epoch too large", values: map[string]any{"e": "9223372036854775808", "s": "1", "t:x": "1"}, wantErr: `field "e"`},
	{name: "namespace counter 0", values: map[string]any{"e": "3", "s": "1", "a": "0"}, wantErr: "namespace counter 0"},
	{name: "not a string", values: map[string]any{"e": 3, "s": "1", "t:x": "1"}, wantErr: "is a int"},
	{name: "empty table name", values: map[string]any{"e": "3", "s": "1", "t:": "1"}, wantErr: "changes nothing"},
	{name: "bad time", values: map[string]any{"e": "3", "s": "1", "t:x": "1", "ms": "soon"}, wantErr: `field "ms"`},
}

func TestDecodeEvent(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := decodeEvent("1-1", tc.values)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.all != tc.all || len(e.gens) != len(tc.gens) {
				t.Fatalf("decoded all=%d gens=%v, want %d %v", e.all, e.gens, tc.all, tc.gens)
			}
			for k, v := range tc.gens {
				if e.gens[k] != v {
					t.Fatalf("gens %v, want %v", e.gens, tc.gens)
				}
			}
			pub := e.public()
			if (tc.all > 0) != (pub.Tables == nil) || pub.ID != "1-1" {
				t.Fatalf("public event %+v for all=%d", pub, tc.all)
			}
		})
	}
}

func TestDecodeSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fields  map[string]string
		wantErr string
		want    snapshot
	}{
		{name: "full", fields: map[string]string{"!epoch": "9", "!seq": "4", "!all": "1", "t:x": "3", "t:!epoch": "2"},
			want: snapshot{epoch: 9, seq: 4, all: 1, gens: map[string]uint64{"x": 3, "!epoch": 2}}},
		{name: "new hash", fields: map[string]string{"!epoch": "9"}, want: snapshot{epoch: 9, gens: map[string]uint64{}}},
		{name: "no epoch", fields: map[string]string{"!seq": "4"}, wantErr: "no !epoch"},
		{name: "bad epoch", fields: map[string]string{"!epoch": "x"}, wantErr: "!epoch"},
		{name: "bad seq", fields: map[string]string{"!epoch": "1", "!seq": "1.5"}, wantErr: `"!seq"`},
		{name: "bad table", fields: map[string]string{"!epoch": "1", "t:x": ""}, wantErr: `"t:x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := decodeSnapshot(tc.fields)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.epoch != tc.want.epoch || s.seq != tc.want.seq || s.all != tc.want.all || len(s.gens) != len(tc.want.gens) {
				t.Fatalf("got %+v, want %+v", *s, tc.want)
			}
			for k, v := range tc.want.gens {
				if s.gens[k] != v {
					t.Fatalf("got %+v, want %+v", *s, tc.want)
				}
			}
		})
	}
}

// FuzzDecodeEvent: arbitrary stream entries never panic, and an accepted one
// has what the reader relies on.
func FuzzDecodeEvent(f *testing.F) {
	for _, tc := range decodeCases {
		var k, v []string
		for key, val := range tc.values {
			if s, ok := val.(string); ok {
				k, v = append(k, key), append(v, s)
			}
		}
		f.Add(strings.Join(k, "\n"), strings.Join(v, "\n"))
	}
	f.Fuzz(func(t *testing.T, keys, vals string) {
		ks, vs := strings.Split(keys, "\n"), strings.Split(vals, "\n")
		m := map[string]any{}
		for i := range min(len(ks), len(vs)) {
			m[ks[i]] = vs[i]
		}
		e, err := decodeEvent("0-1", m)
		if err != nil {
			return
		}
		if e.seq == 0 || e.epoch >= localBit || (e.all == 0 && len(e.gens) == 0) {
			t.Fatalf("accepted an entry without what the reader needs: %+v", e)
		}
		for _, g := range e.gens {
			if g == 0 || g >= localBit {
				t.Fatalf("accepted generation %d", g)
			}
		}
	})
}

func TestKeys(t *testing.T) {
	tagOf := func(k string) string {
		i := strings.IndexByte(k, '{')
		j := strings.IndexByte(k[i+1:], '}')
		return k[i+1 : i+1+j]
	}
	seen := map[string]string{}
	for _, ns := range []string{"app", "sqlite:/tmp/a.db", "}", "{", "a{b}c", "x:7d", "x:", "{}", "x:x:7d"} {
		h, s := Keys(ns)
		th, ts := tagOf(h), tagOf(s)
		if th == "" || th != ts {
			t.Errorf("namespace %q: hash tag %q and stream tag %q must be equal and non-empty", ns, th, ts)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("namespaces %q and %q share the key %s", ns, other, h)
		}
		seen[h] = ns
	}
}
