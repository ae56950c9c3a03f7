package cachedsql

import (
	"database/sql/driver"
	"testing"

	"github.com/cachedsql/cachedsql/sqlscan"
)

// TestClockArg: an argument PostgreSQL or SQLite may read as the time of the
// query keeps the read out of the cache, wherever the word sits in it.
func TestClockArg(t *testing.T) {
	for _, c := range []struct {
		v    driver.Value
		want bool
	}{
		{"now", true},
		{"NOW", true},
		{"  now  ", true},
		{"               now", true},
		{"{now}", true},
		{"[-infinity,now]", true},
		{"today 10:00 UTC", true},
		{"Tomorrow", true},
		{[]byte("yesterday"), true},
		{"allegro 2024-01-01", false},
		{"nowhere", false},
		{"knows", false},
		{"todays", false},
		{"", false},
		{int64(1), false},
		{[]byte(nil), false},
	} {
		if got := clockArg(sqlscan.Postgres, c.v); got != c.want {
			t.Errorf("clockArg(Postgres, %q) = %v, want %v", c.v, got, c.want)
		}
		if clockArg(sqlscan.MySQL, c.v) {
			t.Errorf("clockArg(MySQL, %q) = true: MySQL reads no clock words", c.v)
		}
	}
}
