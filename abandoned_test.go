package cachedsql

import (
	"database/sql/driver"
	"testing"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// readLook and finishedSince decide when a watched server process has finished
// a statement: each idle look that follows a busy one, or that shows a
// command ran since the last idle look, invalidates.
func TestProcessLook(t *testing.T) {
	pg, my := sqlscan.Postgres, sqlscan.MySQL
	look := func(d sqlscan.Dialect, v ...driver.Value) processLook { return readLook(d, v) }
	cases := []struct {
		name      string
		d         sqlscan.Dialect
		last, now processLook
		idle      bool
		ran       bool
	}{
		{"pg active", pg, processLook{}, look(pg, "active", "2026-11-22 07:00:00+00"), false, false},
		{"pg hidden state is busy", pg, processLook{}, look(pg, nil, nil), false, false},
		{"pg idle in transaction", pg, processLook{}, look(pg, "idle in transaction", "x"), true, true},
		{"pg still idle", pg, look(pg, "idle", "t1"), look(pg, "idle", "t1"), true, false},
		{"pg idle again after a command", pg, look(pg, "idle", "t1"), look(pg, "idle", "t2"), true, true},
		{"mysql query", my, processLook{}, look(my, []byte("Query"), []byte("3")), false, false},
		{"mysql sleep", my, processLook{}, look(my, []byte("Sleep"), []byte("0")), true, true},
		{"mysql still asleep", my, look(my, []byte("Sleep"), []byte("4")), look(my, []byte("Sleep"), []byte("5")), true, false},
		{"mysql asleep again after a command", my, look(my, []byte("Sleep"), []byte("4")), look(my, "Sleep", int64(1)), true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.now.idle != c.idle {
				t.Fatalf("look %+v: idle %v, want %v", c.now, c.now.idle, c.idle)
			}
			if ran := c.now.idle && c.now.finishedSince(c.d, c.last); ran != c.ran {
				t.Errorf("after %+v, %+v: invalidates %v, want %v", c.last, c.now, ran, c.ran)
			}
		})
	}
}
