package cachedsql

import (
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redact"
)

var dsnCases = []struct {
	in   string
	want *Config
	err  string // substring of the error; "" means no error
}{
	{in: `driver=sqlite3 dsn='file:app.db?_journal_mode=WAL' redis=redis://127.0.0.1:6379/0 ttl=5m`,
		want: &Config{DriverName: "sqlite3", DSN: "file:app.db?_journal_mode=WAL", RedisURL: "redis://127.0.0.1:6379/0", TTL: Custom(5 * time.Minute)}},
	{in: `ttl=short dsn='host=db user=app password=s\'cret' driver=postgres`,
		want: &Config{DriverName: "postgres", DSN: "host=db user=app password=s'cret", TTL: ShortTerm}},
	{in: `driver=mysql dsn=root@tcp(127.0.0.1:3306)/test ttl=realtime namespace=shop l1_mib=128 l1_ttl=30s max_rows=500 max_bytes=65536 redis_timeout=150ms stale_bound=2s`,
		want: &Config{DriverName: "mysql", DSN: "root@tcp(127.0.0.1:3306)/test", TTL: RealTime, Namespace: "shop", L1MiB: 128, L1MaxTTL: 30 * time.Second, MaxRows: 500, MaxBytes: 65536, RedisTimeout: 150 * time.Millisecond, StaleBound: 2 * time.Second}},
	{in: `driver=x dsn='' l1_mib=0 max_rows=-1 ttl=nocache`,
		want: &Config{DriverName: "x", DSN: "", L1MiB: -1, MaxRows: -1, TTL: NoCache}},
	{in: `driver=x dsn='a b' ttl=90s`, want: &Config{DriverName: "x", DSN: "a b", TTL: Custom(90 * time.Second)}},
	{in: `driver=x dsn=y pure_functions='slug, price_with_tax'`, want: &Config{DriverName: "x", DSN: "y", PureFunctions: []string{"slug", "price_with_tax"}}},
	{in: `driver=x dsn=y pure_functions=a,,b`, err: "key pure_functions"},
	{in: `driver=x dsn=y pure_functions=`, err: "key pure_functions"},
	{in: `dsn=x`, err: "key driver is required"},
	{in: `driver=x`, err: "key dsn is required"},
	{in: `driver=x dsn=y bogus=1`, err: `unknown key "bogus"`},
	{in: `driver=x dsn='unterminated`, err: "no closing quote"},
	{in: `driver=x dsn=y ttl=soon`, err: "key ttl"},
	{in: `driver=x dsn=y ttl=-5s`, err: "key ttl"},
	{in: `driver=x dsn=y l1_mib=-2`, err: "key l1_mib"},
	{in: `driver=x dsn=y max_rows=0`, err: "key max_rows"},
	{in: `driver=x dsn=y redis=localhost:6379`, err: "key redis"},
	{in: `driver=x dsn=y namespace=`, err: "key namespace"},
	{in: `driver=x dsn=y driver=z`, err: "given twice"},
	{in: `driver='' dsn=y`, err: "key driver"},
	{in: `driver= dsn=y`, err: "key dsn is required"}, // libpq: the value of driver is "dsn=y"
}

func TestParseDSN(t *testing.T) {
	for _, c := range dsnCases {
		got, err := ParseDSN(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrDSN) {
				t.Errorf("ParseDSN(%q) error = %v; want an ErrDSN containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseDSN(%q) =\n %+v\nwant\n %+v", c.in, got, c.want)
		}
		again, err := ParseDSN(FormatDSN(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q through %q = %+v, %v", c.in, FormatDSN(got), again, err)
		}
	}
}

func FuzzDSNRoundTrip(f *testing.F) {
	for _, c := range dsnCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseDSN(s)
		if err != nil {
			if !errors.Is(err, ErrDSN) {
				t.Fatalf("error %v does not wrap ErrDSN", err)
			}
			return
		}
		out := FormatDSN(cfg)
		again, err := ParseDSN(out)
		if err != nil {
			t.Fatalf("FormatDSN gave %q, which does not parse: %v", out, err)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed the config:\n %+v\n %+v", cfg, again)
		}
		if FormatDSN(again) != out {
			t.Fatalf("FormatDSN is not stable: %q vs %q", out, FormatDSN(again))
		}
	})
}

func TestErrorsNeverShowPasswords(t *testing.T) {
	cases := []struct{ dsn, secret string }{
		{`driver=nosuchdriver dsn='postgres://app:hunter2x@db/x'`, "hunter2x"},
		{`driver=nosuchdriver dsn='host=db password=hunter2x user=a'`, "hunter2x"},
		{`driver=nosuchdriver dsn='app:hunter2x@tcp(db)/x'`, "hunter2x"},
		{`driver=sqlite3 dsn=x redis='redis://u:hunter2x@127.0.0.1:1/0?bogus_option=1'`, "hunter2x"},
	}
	for _, c := range cases {
		db, err := sql.Open("cachedsql", c.dsn)
		if err == nil {
			db.Close()
			continue
		}
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	_, err := sql.Open("cachedsql", `driver=nosuchdriver dsn='postgres://app:hunter2x@db/x'`)
	if err == nil || !strings.Contains(err.Error(), `"nosuchdriver" is registered`) {
		t.Errorf("unregistered inner driver: %v", err)
	}
}

func TestRedactedErrorMessages(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:p%40ss@db/x", "host=db password='two words' x=1", "user:pw@tcp(h)/d", "Server=x;Pwd=abc;",
	} {
		for _, s := range redact.Secrets(dsn) {
			msg := redact.Hide("failed: "+dsn+" and "+s, dsn)
			if strings.Contains(msg, s) {
				t.Errorf("redact(%q) left %q in %q", dsn, s, msg)
			}
		}
		if len(redact.Secrets(dsn)) == 0 {
			t.Errorf("no secret found in %q", dsn)
		}
	}
}

func TestCannotWrapItself(t *testing.T) {
	if _, err := sql.Open("cachedsql", "driver=cachedsql dsn=x"); err == nil || !strings.Contains(err.Error(), "itself") {
		t.Fatalf("got %v", err)
	}
}
