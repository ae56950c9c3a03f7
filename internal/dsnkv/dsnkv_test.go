package dsnkv

import (
	"errors"
	"reflect"
	"testing"
)

var parseCases = []struct {
	in   string
	want []Pair
	err  bool
}{
	{"", nil, false},
	{"a=1", []Pair{{"a", "1"}}, false},
	{"  a = 1\tb=2\n", []Pair{{"a", "1"}, {"b", "2"}}, false},
	{`dsn='file:app.db?_journal_mode=WAL&x=1'`, []Pair{{"dsn", "file:app.db?_journal_mode=WAL&x=1"}}, false},
	{`a='it\'s a \\ test' b=''`, []Pair{{"a", `it's a \ test`}, {"b", ""}}, false},
	{`a='x=y; @z'`, []Pair{{"a", "x=y; @z"}}, false},
	{`a=x\ y`, []Pair{{"a", "x y"}}, false},
	{`a=`, []Pair{{"a", ""}}, false},
	{`a= b=2`, []Pair{{"a", "b=2"}}, false}, // as libpq: the value starts after the blanks
	{`a='unterminated`, nil, true},
	{`a='x'y`, nil, true},
	{`=1`, nil, true},
	{`a`, nil, true},
	{`a=1 a=2`, nil, true},
	{`a=1 b`, nil, true},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		got, err := Parse(c.in)
		if c.err {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q) = %v, %v; want an ErrSyntax", c.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, v := range []string{"", "plain", "with space", `q'uote`, `back\slash`, "'lead", "a=b", "tab\there", "ünï"} {
		got, err := Parse("k=" + Quote(v))
		if err != nil || len(got) != 1 || got[0].Value != v {
			t.Errorf("Quote(%q) = %s does not parse back: %v %v", v, Quote(v), got, err)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(Format(pairs))
		if err != nil {
			t.Fatalf("Format(%#v) = %q does not parse: %v", pairs, Format(pairs), err)
		}
		if len(pairs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(pairs, again) {
			t.Fatalf("round trip changed %#v into %#v", pairs, again)
		}
	})
}
