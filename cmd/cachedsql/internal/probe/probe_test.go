package probe

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
	"github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"
)

var pairScript = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`)

// TestHook runs the lookups an L2 may make against a real Redis and checks
// what the Probe in the context records.
func TestHook(t *testing.T) {
	s := redistest.Start(t)
	client := s.Client()
	client.AddHook(Hook{})
	ctx := context.Background()
	if err := client.Set(ctx, "present", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	lookups := []struct {
		name   string
		lookup func(ctx context.Context, key string)
	}{
		{"GET", func(ctx context.Context, key string) { client.Get(ctx, key) }},
		{"GET+PTTL pipeline", func(ctx context.Context, key string) {
			pipe := client.Pipeline()
			pipe.Get(ctx, key)
			pipe.PTTL(ctx, key)
			pipe.Exec(ctx) //nolint:errcheck // the probe judges the replies
		}},
		{"script", func(ctx context.Context, key string) { pairScript.Run(ctx, client, []string{key}) }},
	}
	for _, l := range lookups {
		for _, tc := range []struct {
			key  string
			want string
		}{{"present", PathL2}, {"absent", PathCoalesced}} {
			t.Run(l.name+"/"+tc.key, func(t *testing.T) {
				p := &Probe{}
				l.lookup(With(ctx, p), tc.key)
				if got := Path(p, true); got != tc.want {
					t.Errorf("path %q, want %q (ok %d, miss %d)", got, tc.want, p.RedisOK.Load(), p.RedisMiss.Load())
				}
			})
		}
	}
	// Commands without a probe are not looked at, and no probe means no panic.
	client.Get(ctx, "present")
}

func TestDriverCounts(t *testing.T) {
	d := NewDriver(&sqlite3.SQLiteDriver{})
	db := sql.OpenDB(connector{d, "file:" + t.TempDir() + "/p.db"})
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func(ctx context.Context) error
		queries int64
		path    string
	}{
		{"query", func(ctx context.Context) error {
			rows, err := db.QueryContext(ctx, `SELECT x FROM t`)
			if err == nil {
				rows.Close()
			}
			return err
		}, 1, PathDatabase},
		{"prepared query", func(ctx context.Context) error {
			st, err := db.PrepareContext(ctx, `SELECT x FROM t WHERE x = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.QueryContext(ctx, 1)
			if err == nil {
				rows.Close()
			}
			return err
		}, 1, PathDatabase},
		{"exec", func(ctx context.Context) error {
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			return err
		}, 0, PathL1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Probe{}
			q0 := d.Queries()
			if err := tc.run(With(ctx, p)); err != nil {
				t.Fatal(err)
			}
			if got := d.Queries() - q0; got != tc.queries {
				t.Errorf("%d queries counted, want %d", got, tc.queries)
			}
			if got := Path(p, false); got != tc.path {
				t.Errorf("path %q, want %q", got, tc.path)
			}
		})
	}
}

type connector struct {
	d   *Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }
