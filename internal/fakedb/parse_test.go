package fakedb

import (
	"database/sql/driver"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{"", "want SELECT, INSERT, UPDATE or DELETE at end"},
		{"SELECT", "want a name at end"},
		{"SELECT * users", "want FROM"},
		{"SELECT * FROM t WHERE a", "want ="},
		{"SELECT * FROM t WHERE a = ", "want a value"},
		{"SELECT * FROM t WHERE a = b", "want a value"},
		{"SELECT * FROM t extra", "want end of statement"},
		{"SELECT * FROM t; SELECT 1", "want end of statement"},
		{"SELECT * FROM t WHERE a = 'open", "unterminated string"},
		{"SELECT /* open", "unterminated comment"},
		{"SELECT \"open FROM t", "unterminated quoted identifier"},
		{"SELECT * FROM t WHERE a = $0", "bad placeholder"},
		{"SELECT * FROM t WHERE a = $", "bad placeholder"},
		{"SELECT * FROM t WHERE a = :", "bad named placeholder"},
		{"SELECT * FROM t WHERE a = 1.2.3", "bad number"},
		{"SELECT * FROM t WHERE a > 1", "unexpected character '>'"},
		{"INSERT t VALUES (1)", "want INTO"},
		{"INSERT INTO t (a VALUES (1)", "want )"},
		{"INSERT INTO t (a) (1)", "want VALUES"},
		{"INSERT INTO t VALUES 1", "want ("},
		{"INSERT INTO t VALUES (1", "want )"},
		{"INSERT INTO t (a, b) VALUES (1)", "1 values for 2 columns"},
		{"UPDATE t a = 1", "want SET"},
		{"UPDATE t SET a = 1 RETURNING", "want a name"},
		{"DELETE t", "want FROM"},
		{"DROP TABLE t", "want SELECT, INSERT, UPDATE or DELETE"},
	} {
		_, err := parse(tc.q)
		if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v, want ErrUnsupported containing %q", tc.q, err, tc.want)
		}
	}
}

func TestNumInput(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"SELECT * FROM t", 0},
		{"SELECT * FROM t WHERE a = ?", 1},
		{"UPDATE t SET a = ?, b = ? WHERE c = ?", 3},
		{"UPDATE t SET a = $2 WHERE c = $1", 2},
		{"DELETE FROM t WHERE a = :x", -1},
		{"INSERT INTO t VALUES (?, 'x', @y)", -1},
	} {
		p, err := parse(tc.q)
		if err != nil || p.numInput != tc.want {
			t.Errorf("parse(%q): numInput %v, %v; want %d", tc.q, p, err, tc.want)
		}
	}
}

func TestEqual(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	type pair struct{ a, b driver.Value }
	type odd struct{ s []int }
	for _, tc := range []struct {
		a, b driver.Value
		want bool
	}{
		{int64(1), int64(1), true},
		{int64(1), int64(2), false},
		{int64(1), 1.0, true},
		{1.5, int64(1), false},
		{1.5, 1.5, true},
		{math.NaN(), math.NaN(), false},
		{"a", "a", true},
		{"a", []byte("a"), true},
		{[]byte("a"), "a", true},
		{[]byte("a"), []byte("b"), false},
		{"1", int64(1), false},
		{nil, nil, false},
		{int64(0), nil, false},
		{at, at.In(time.FixedZone("X", 3600)), true},
		{true, true, true},
		{true, int64(1), false},
		{uint64(3), uint64(3), true},
		{uint64(3), int64(3), false},
		{pair{odd{}, 1}, pair{odd{}, 1}, false}, // incomparable inside: not equal, no panic
	} {
		if got := equal(tc.a, tc.b); got != tc.want {
			t.Errorf("equal(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
