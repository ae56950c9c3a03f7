package integration_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestSameValueDetects holds the comparator of the fidelity tests to finding
// each kind of difference, so that their passing means something.
func TestSameValueDetects(t *testing.T) {
	at := time.Date(2024, 2, 29, 13, 45, 56, 123456789, time.UTC)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		want, got any
		same      bool
	}{
		{"equal ints", int64(1), int64(1), true},
		{"int widths", int64(1), int32(1), false},
		{"int vs string", int64(1), "1", false},
		{"string vs bytes", "1", []byte("1"), false},
		{"nil vs empty bytes", []byte(nil), []byte{}, false},
		{"nil vs nothing", nil, []byte(nil), false},
		{"bytes", []byte{1}, []byte{2}, false},
		{"NaN is NaN", math.NaN(), math.NaN(), true},
		{"-0 vs 0", math.Copysign(0, -1), 0.0, false},
		{"float32 -0 vs 0", float32(math.Copysign(0, -1)), float32(0), false},
		{"same time", at, at, true},
		{"same instant other zone", at, at.In(kolkata), false},
		{"same offset other name", at.In(time.FixedZone("IST", 19800)), at.In(time.FixedZone("", 19800)), false},
		{"UTC vs fixed zone UTC", at, at.In(time.FixedZone("UTC", 0)), false},
		{"UTC vs Local", at, at.In(time.Local), time.Local == time.UTC},
		{"nanosecond", at, at.Add(1), false},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := sameValue(tt.want, tt.got)
			if (why == "") != tt.same {
				t.Errorf("sameValue(%s, %s) = %q, want same=%v", show(tt.want), show(tt.got), why, tt.same)
			}
		})
	}
}

func TestDiffDetectsColumnMetadata(t *testing.T) {
	base := column{Name: "v", DatabaseTypeName: "INT4", ScanType: reflect.TypeFor[int64]()}
	mutations := map[string]func(c *column){
		"name":      func(c *column) { c.Name = "w" },
		"type name": func(c *column) { c.DatabaseTypeName = "INT8" },
		"length ok": func(c *column) { c.LengthOK = true },
		"nullable":  func(c *column) { c.Nullable, c.NullableOK = true, true },
		"decimal":   func(c *column) { c.Precision, c.Scale, c.DecimalOK = 10, 2, true },
		"scan type": func(c *column) { c.ScanType = reflect.TypeFor[any]() },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			other := base
			mutate(&other)
			want := snapshot{sets: []resultSet{{cols: []column{base}}}}
			got := snapshot{sets: []resultSet{{cols: []column{other}}}}
			if d := diff(want, got); len(d) != 1 {
				t.Errorf("diff found %q, want one difference", d)
			}
		})
	}
}

// TestZoneFlavorsTakeEffect proves that the DSN time-zone parameters of the
// fidelity flavors change what the drivers return; otherwise the zone rows of
// the table would test nothing new.
func TestZoneFlavorsTakeEffect(t *testing.T) {
	ctx := context.Background()
	t.Run("lib/pq", func(t *testing.T) {
		requirePG(t)
		db := openDirect(t, "postgres", withParams(pgURL(), "timezone=Asia/Kolkata"))
		var ts time.Time
		if err := db.QueryRowContext(ctx, "SELECT '2024-07-01 12:00:00-07'::timestamptz").Scan(&ts); err != nil {
			t.Fatal(err)
		}
		if _, off := ts.Zone(); off != 19800 {
			t.Errorf("offset %d, want 19800 (+05:30): the timezone DSN parameter did not reach the session", off)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		requireMySQL(t)
		db := openDirect(t, "mysql", withParams(mysqlDSN(), "time_zone=%27%2B05%3A30%27"))
		var tz string
		if err := db.QueryRowContext(ctx, "SELECT @@session.time_zone").Scan(&tz); err != nil {
			t.Fatal(err)
		}
		if tz != "+05:30" {
			t.Errorf("session time_zone %q, want +05:30", tz)
		}
	})
}

func TestRedactDSN(t *testing.T) {
	tests := map[string]string{
		"postgres://postgres@127.0.0.1:5432/test":         "postgres://postgres@127.0.0.1:5432/test",
		"postgres://app:s3cret@db:5432/test?x=1":          "postgres://app:xxx@db:5432/test?x=1",
		"root@tcp(127.0.0.1:3306)/test":                   "root@tcp(127.0.0.1:3306)/test",
		"root:pw@tcp(127.0.0.1:3306)/test?parseTime=true": "root:xxx@tcp(127.0.0.1:3306)/test?parseTime=true",
		"file:/tmp/x.db":                                  "file:/tmp/x.db",
	}
	for in, want := range tests {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
