package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// PostgreSQL reads 'now' as the time of the query inside arrays and ranges,
// and with surrounding blanks; clockArg recognises only the bare word of at
// most 16 bytes, so these reads are cached and replay a stale clock.
func TestReviewClockArgForms(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	for i, tc := range []struct{ q, arg string }{
		{"SELECT $1::timestamptz[] AS v", "{now}"},
		{"SELECT upper($1::tstzrange) AS v", "[-infinity,now]"},
		{"SELECT $1::timestamptz AS v", strings.Repeat(" ", 14) + "now"},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			cached := openCached(t, "pgx", pgURL(), fmt.Sprintf("namespace=%s_clock%d", runID, i))
			var first, second string
			if err := cached.QueryRowContext(ctx, tc.q, tc.arg).Scan(&first); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			if err := cached.QueryRowContext(ctx, tc.q, tc.arg).Scan(&second); err != nil {
				t.Fatal(err)
			}
			if first == second {
				s := stats(t, cached)
				t.Errorf("%q: 20ms later the read returned the same clock %s (fills %d, L1 hits %d)", tc.arg, second, s.Fills, s.L1Hits)
			}
		})
	}
}

func readStream(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}, err error) string {
	if err != nil {
		return "query error: " + err.Error()
	}
	var out []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			out = append(out, "scan error: "+err.Error())
			break
		}
		out = append(out, fmt.Sprint(v))
	}
	out = append(out, fmt.Sprintf("err=%v", rows.Err()), fmt.Sprintf("close=%v", rows.Close()))
	return strings.Join(out, " | ")
}

// A query whose third row fails: the driver hands out two rows and then the
// error. Through cachedsql the capture's error was returned by QueryContext
// itself, with no rows; now the rows come first, then the error, as from
// the driver. QueryRow reads one row and closes: lib/pq's Close reads on and
// reports the error, SQLite's does not and its QueryRow succeeds; cachedsql,
// which has met the error already, reports it from Close but with SQLite.
// Where the driver would have succeeded and cachedsql reports that same
// error, the test logs it rather than fail (it errs on the safe side).
func TestReviewMidStreamError(t *testing.T) {
	ctx := context.Background()
	type srv struct{ name, drv, dsn, q string }
	srvs := []srv{{"sqlite", "sqlite3", "file:" + t.TempDir() + "/m.db",
		"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<5) SELECT CASE WHEN x=3 THEN json('bad') ELSE x END FROM s"}}
	if ping("pgx", pgURL()) == nil {
		srvs = append(srvs,
			srv{"pgx", "pgx", pgURL(), "SELECT 10/(3-x) FROM generate_series(1,5) x"},
			srv{"pq", "postgres", pgURL(), "SELECT 10/(3-x) FROM generate_series(1,5) x"})
	}
	for i, s := range srvs {
		t.Run(s.name, func(t *testing.T) {
			direct := openDirect(t, s.drv, s.dsn)
			cached := openCached(t, s.drv, s.dsn, fmt.Sprintf("namespace=%s_err%d", runID, i))
			r, err := direct.QueryContext(ctx, s.q)
			want := readStream(r, err)
			r, err = cached.QueryContext(ctx, s.q)
			if got := readStream(r, err); want != got {
				t.Errorf("Query:\n  direct: %s\n  cached: %s", want, got)
			}
			var dv, cv any
			de := direct.QueryRowContext(ctx, s.q).Scan(&dv)
			ce := cached.QueryRowContext(ctx, s.q).Scan(&cv)
			switch {
			case fmt.Sprint(dv, de) == fmt.Sprint(cv, ce):
			case de == nil && ce != nil && strings.Contains(want, "err="+ce.Error()):
				t.Logf("QueryRow: direct (%v, %v), cached (%v, %v): the error the rows met", dv, de, cv, ce)
			default:
				t.Errorf("QueryRow: direct (%v, %v), cached (%v, %v)", dv, de, cv, ce)
			}
		})
	}
}
