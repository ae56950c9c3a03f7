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
		name       string
		d          sqlscan.Dialect
		last, now  processLook
		gone, idle bool
		ran        bool
	}{
		{"pg gone", pg, processLook{}, look(pg, int64(0), "", ""), true, false, false},
		{"pg active", pg, processLook{}, look(pg, int64(1), "active", "2026-11-22 07:00:00+00"), false, false, false},
		{"pg hidden state is busy", pg, processLook{}, look(pg, int64(1), "", ""), false, false, false},
		{"pg idle in transaction", pg, processLook{}, look(pg, int64(1), "idle in transaction", "x"), false, true, true},
		{"pg still idle", pg, look(pg, int64(1), "idle", "t1"), look(pg, int64(1), "idle", "t1"), false, true, false},
		{"pg idle again after a command", pg, look(pg, int64(1), "idle", "t1"), look(pg, int64(1), "idle", "t2"), false, true, true},
		{"mysql gone", my, processLook{}, look(my, []byte("0"), []byte(""), []byte("0")), true, false, false},
		{"mysql query", my, processLook{}, look(my, []byte("1"), []byte("Query"), []byte("3")), false, false, false},
		{"mysql sleep", my, processLook{}, look(my, []byte("1"), []byte("Sleep"), []byte("0")), false, true, true},
		{"mysql still asleep", my, look(my, []byte("1"), []byte("Sleep"), []byte("4")), look(my, []byte("1"), []byte("Sleep"), []byte("5")), false, true, false},
		{"mysql asleep again after a command", my, look(my, []byte("1"), []byte("Sleep"), []byte("4")), look(my, int64(1), "Sleep", int64(1)), false, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.now.gone != c.gone || c.now.idle != c.idle {
				t.Fatalf("look %+v: gone %v idle %v, want %v %v", c.now, c.now.gone, c.now.idle, c.gone, c.idle)
			}
			if ran := c.now.idle && c.now.finishedSince(c.d, c.last); ran != c.ran {
				t.Errorf("after %+v, %+v: invalidates %v, want %v", c.last, c.now, ran, c.ran)
			}
		})
	}
}
