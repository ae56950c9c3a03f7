package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/redistest"
	_ "github.com/mattn/go-sqlite3"
)

// binary is the command under test, built once by TestMain.
var (
	binary     string
	buildFlags []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cachedsql-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cachedsql")
	if out, err := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", binary, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cachedsql: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command to its end.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running cachedsql %v: %v", args, err)
	}
	return result{out.String(), errOut.String(), code}
}

// started is a command running in the background.
type started struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	lines  chan string // stdout lines as they come
	errs   chan string // stderr lines as they come
	done   chan error
}

func startCLI(t *testing.T, args ...string) *started {
	t.Helper()
	cmd := exec.Command(binary, args...)
	so, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	se, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &started{cmd: cmd, stdout: &bytes.Buffer{}, lines: make(chan string, 1000), errs: make(chan string, 1000), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{}, 2)
	pump := func(r io.Reader, ch chan string, keep *bytes.Buffer) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if keep != nil {
				keep.WriteString(sc.Text() + "\n")
			}
			ch <- sc.Text()
		}
		close(ch)
		copied <- struct{}{}
	}
	go pump(so, s.lines, s.stdout)
	go pump(se, s.errs, nil)
	go func() {
		<-copied
		<-copied
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// waitLine returns the first line from ch that contains want.
func waitLine(t *testing.T, ch chan string, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("output ended without a line containing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line containing %q within 30s", want)
		}
	}
}

// interrupt sends SIGINT and returns the exit code.
func (s *started) interrupt(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not stop within 30s of SIGINT")
		return -1
	}
}

func TestDemo(t *testing.T) {
	r := runCLI(t, "demo", "--rows", "1000", "--concurrent", "16")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"1. Latency of one read by path", "SQLite directly", "cachedsql miss", "cachedsql L1 hit",
		"2. Coalescing: 16 identical reads", "3. Invalidation", "4. Stats", "L1 hits / misses",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	reads := submatchInt(t, r.stdout, `\((\d+) reads each`)
	if got := submatchInt(t, r.stdout, `(\d+) results stored`); got != reads {
		t.Errorf("miss path: %d results stored, want %d", got, reads)
	}
	if got := submatchInt(t, r.stdout, `(\d+) L1 hits`); got != reads {
		t.Errorf("L1 path: %d L1 hits, want %d", got, reads)
	}
	if got := submatchInt(t, r.stdout, `database queries\s+(\d+)`); got != 1 {
		t.Errorf("coalescing: %d database queries for 16 identical reads, want 1:\n%s", got, r.stdout)
	}
	waited := submatchInt(t, r.stdout, `waited for that query\s+(\d+)`)
	fromL1 := submatchInt(t, r.stdout, `served from L1\s+(\d+)`)
	if waited+fromL1 != 15 {
		t.Errorf("coalescing: %d waited + %d from L1, want 15 in all", waited, fromL1)
	}
	inv := r.stdout[strings.Index(r.stdout, "3. Invalidation"):strings.Index(r.stdout, "4. Stats")]
	for _, want := range []string{"miss: from the database, stored", "L1 hit", "invalidates table customers", "moved."} {
		if !strings.Contains(inv, want) {
			t.Errorf("invalidation section lacks %q:\n%s", want, inv)
		}
	}
	if strings.Contains(r.stdout, "cachedsql L2 hit") {
		t.Errorf("L2 row shown without --redis:\n%s", r.stdout)
	}
}

func TestDemoRedis(t *testing.T) {
	s := redistest.Start(t)
	r := runCLI(t, "demo", "--rows", "1000", "--redis", s.URL())
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	reads := submatchInt(t, r.stdout, `\((\d+) reads each`)
	for _, expr := range []string{`(\d+) results stored`, `(\d+) L1 hits`} {
		if got := submatchInt(t, r.stdout, expr); got != reads {
			t.Errorf("%s: got %d, want %d:\n%s", expr, got, reads, r.stdout)
		}
	}
	if got := submatchInt(t, r.stdout, `(\d+) L2 hits \(L1 off\)`); got != reads {
		t.Errorf("L2 path: %d L2 hits, want %d:\n%s", got, reads, r.stdout)
	}
	if !strings.Contains(r.stdout, "stream sent / received") {
		t.Errorf("stats lack the stream line:\n%s", r.stdout)
	}
	n, err := s.Client().DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		keys, _ := s.Client().Keys(context.Background(), "*").Result()
		t.Errorf("the demo left %d keys in Redis: %v", n, keys)
	}
}

func submatchInt(t *testing.T, s, expr string) int {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", expr, s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// parseReport decodes bench --json output and checks what holds for every run.
func parseReport(t *testing.T, r result) benchReport {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
	}
	if rep.Ops <= 0 || rep.OpsPerSec <= 0 || rep.Seconds <= 0 {
		t.Errorf("ops %d, ops/s %v, seconds %v: want all > 0", rep.Ops, rep.OpsPerSec, rep.Seconds)
	}
	if rep.Errors != 0 {
		t.Errorf("%d errors: %v", rep.Errors, rep.ErrSamples)
	}
	if rep.ReadOps+rep.WriteOps != rep.Ops {
		t.Errorf("reads %d + writes %d != ops %d", rep.ReadOps, rep.WriteOps, rep.Ops)
	}
	var sum uint64
	for _, p := range rep.Paths {
		sum += p.Ops
		if !(0 < p.P50US && p.P50US <= p.P95US && p.P95US <= p.P99US && p.P99US <= p.MaxUS) {
			t.Errorf("path %s: percentiles not ordered: %+v", p.Path, p)
		}
	}
	if sum != uint64(rep.Ops) {
		t.Errorf("paths hold %d ops, want %d", sum, rep.Ops)
	}
	if rep.HitRatio <= 0 || rep.HitRatio > 1 {
		t.Errorf("hit ratio %v, want in (0, 1]", rep.HitRatio)
	}
	if rep.DBQueriesSaved != rep.ReadOps-int64(pathOps(rep, "database")) {
		t.Errorf("saved %d, want reads %d - database reads %d", rep.DBQueriesSaved, rep.ReadOps, pathOps(rep, "database"))
	}
	return rep
}

func pathOps(rep benchReport, path string) uint64 {
	for _, p := range rep.Paths {
		if p.Path == path {
			return p.Ops
		}
	}
	return 0
}

// TestBenchDuration runs the workload for about 2 s, as a user would.
func TestBenchDuration(t *testing.T) {
	s := redistest.Start(t)
	tests := []struct {
		name string
		args []string
		l2   bool
	}{
		{"sqlite", nil, false},
		{"redis", []string{"--redis", s.URL()}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "--duration", "2s", "--json", "--concurrency", "2", "--keys", "100", "--reads", "0.99"}, tc.args...)
			r := runCLI(t, args...)
			rep := parseReport(t, r)
			if rep.Seconds < 2 || rep.Seconds > 20 {
				t.Errorf("ran %.2fs for --duration 2s", rep.Seconds)
			}
			if rep.Config.L2 != tc.l2 || (tc.l2 && rep.Tiers.L2.Lookups == 0) {
				t.Errorf("l2 %v with %d L2 lookups, want l2 %v", rep.Config.L2, rep.Tiers.L2.Lookups, tc.l2)
			}
			if rep.Tiers.L1.Hits == 0 || pathOps(rep, "L1 hit") == 0 {
				t.Errorf("no L1 hits: %+v", rep.Tiers)
			}
			if !strings.Contains(r.stderr, "bench: ") {
				t.Errorf("no progress lines on stderr:\n%s", r.stderr)
			}
		})
	}
}

// TestBenchPathsMatchStats checks the per-read path classification against
// cachedsql's own counters: with --ops no read is cut short, so they agree
// exactly.
func TestBenchPathsMatchStats(t *testing.T) {
	s := redistest.Start(t)
	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, rep benchReport)
	}{
		{"L1 only", []string{"--concurrency", "4"}, func(t *testing.T, rep benchReport) {
			// Without L2 a coalesced wait counts as an L1 hit.
			if got, want := int64(pathOps(rep, "L1 hit")), rep.Tiers.L1.Hits+rep.Tiers.Coalesced; got != want {
				t.Errorf("L1 hit path %d, want L1 hits + coalesced waits = %d", got, want)
			}
		}},
		{"L2 only", []string{"--concurrency", "4", "--dsn", "driver=sqlite3 dsn='file:" + filepath.Join(dir, "l2.db") + "?_journal_mode=WAL&_busy_timeout=10000' l1_mib=0 redis=" + s.URL()},
			func(t *testing.T, rep benchReport) {
				if got := int64(pathOps(rep, "L2 hit")); got != rep.Tiers.L2.Hits || got == 0 {
					t.Errorf("L2 hit path %d, want L2 hits %d (> 0)", got, rep.Tiers.L2.Hits)
				}
				if got := int64(pathOps(rep, "coalesced")); got != rep.Tiers.Coalesced {
					t.Errorf("coalesced path %d, want coalesced waits %d", got, rep.Tiers.Coalesced)
				}
				if pathOps(rep, "L1 hit") != 0 {
					t.Errorf("L1 hits with L1 off: %+v", rep.Paths)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "--ops", "3000", "--json", "--keys", "200", "--reads", "0.98"}, tc.args...)
			rep := parseReport(t, runCLI(t, args...))
			if rep.Ops != 3000 {
				t.Errorf("%d ops, want 3000", rep.Ops)
			}
			if got := int64(pathOps(rep, "database")); got != rep.DBQueries {
				t.Errorf("database path %d reads, but the inner driver ran %d queries", got, rep.DBQueries)
			}
			tc.check(t, rep)
		})
	}
}

func TestBenchChart(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, magic string }{
		{"chart.png", "\x89PNG"},
		{"chart.svg", "<?xml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			r := runCLI(t, "bench", "--ops", "500", "--keys", "20", "--chart", path)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte(tc.magic)) || len(b) < 1000 {
				t.Errorf("%s: %d bytes starting %q, want a %s file", tc.file, len(b), b[:min(len(b), 8)], tc.magic)
			}
			if !strings.Contains(r.stdout, "chart       "+path) {
				t.Errorf("report does not name the chart:\n%s", r.stdout)
			}
		})
	}
}

// TestBenchInterrupt: Ctrl-C stops the run, prints what was measured and
// exits 0, in both output forms.
func TestBenchInterrupt(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			args := []string{"bench", "--duration", "10m", "--concurrency", "2"}
			if asJSON {
				args = append(args, "--json")
			}
			s := startCLI(t, args...)
			// The first progress line says operations have completed.
			waitLine(t, s.errs, "ops/s")
			if code := s.interrupt(t); code != 0 {
				t.Fatalf("exit %d after SIGINT, want 0\n%s", code, s.stdout)
			}
			out := s.stdout.String()
			if asJSON {
				var rep benchReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				if !rep.Interrupted || rep.Ops <= 0 || rep.Seconds >= 600 {
					t.Errorf("interrupted %v, ops %d, seconds %v", rep.Interrupted, rep.Ops, rep.Seconds)
				}
				return
			}
			for _, want := range []string{"INTERRUPTED after", "throughput", "PATH"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestWatchSeesInvalidate: a running watch prints the event that another
// process (invalidate) publishes.
func TestWatchSeesInvalidate(t *testing.T) {
	s := redistest.Start(t)
	for _, asJSON := range []bool{true, false} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			ns := fmt.Sprintf("watch-test-%v", asJSON)
			args := []string{"watch", "--redis", s.URL(), "--namespace", ns}
			if asJSON {
				args = append(args, "--json")
			}
			w := startCLI(t, args...)
			waitLine(t, w.errs, "watching namespace "+ns)
			r := runCLI(t, "invalidate", "--redis", s.URL(), "--namespace", ns, "orders", "order_items")
			if r.code != 0 || !strings.Contains(r.stdout, "invalidated tables orders, order_items in namespace "+ns) {
				t.Fatalf("invalidate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			line := waitLine(t, w.lines, "")
			if asJSON {
				var ev watchEvent
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not a JSON event: %v: %s", err, line)
				}
				slices.Sort(ev.Tables)
				if !slices.Equal(ev.Tables, []string{"order_items", "orders"}) || ev.All || ev.ID == "" ||
					!strings.HasPrefix(ev.Origin, "cachedsql-cli@") || time.Since(ev.Time) > time.Minute {
					t.Errorf("event %+v", ev)
				}
			} else if !strings.Contains(line, "cachedsql-cli@") || !strings.Contains(line, "order_items") || !strings.Contains(line, "orders") {
				t.Errorf("event line %q", line)
			}
			if code := w.interrupt(t); code != 0 {
				t.Errorf("watch exit %d after SIGINT, want 0", code)
			}
		})
	}
}

// TestWatchFrom replays events already in the stream.
func TestWatchFrom(t *testing.T) {
	s := redistest.Start(t)
	for _, tables := range [][]string{{"a"}, {"b"}} {
		r := runCLI(t, append([]string{"invalidate", "--redis", s.URL(), "--namespace", "from"}, tables...)...)
		if r.code != 0 {
			t.Fatalf("invalidate: exit %d: %s", r.code, r.stderr)
		}
	}
	r := runCLI(t, "invalidate", "--redis", s.URL(), "--namespace", "from", "--all")
	if r.code != 0 || !strings.Contains(r.stdout, "every table") {
		t.Fatalf("invalidate --all: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	w := startCLI(t, "watch", "--redis", s.URL(), "--namespace", "from", "--from", "0", "--json")
	var got []watchEvent
	for range 3 {
		var ev watchEvent
		if err := json.Unmarshal([]byte(waitLine(t, w.lines, "")), &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if !slices.Equal(got[0].Tables, []string{"a"}) || !slices.Equal(got[1].Tables, []string{"b"}) || !got[2].All {
		t.Errorf("events %+v, want a, b, then all", got)
	}
	// --from the first event's id skips it.
	w2 := startCLI(t, "watch", "--redis", s.URL(), "--namespace", "from", "--from", got[0].ID, "--json")
	var ev watchEvent
	if err := json.Unmarshal([]byte(waitLine(t, w2.lines, "")), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != got[1].ID {
		t.Errorf("--from %s starts at %s, want %s", got[0].ID, ev.ID, got[1].ID)
	}
}

// TestInvalidateSeenByReader: an application caching through Redis serves a
// stale row after a write that bypassed it, until invalidate announces the
// write; its next read then goes to the database.
func TestInvalidateSeenByReader(t *testing.T) {
	s := redistest.Start(t)
	dir := t.TempDir()
	tests := []struct {
		name  string
		dsn   func(path string) string
		args  func(dsn string) []string
		table string // as the command is given it
	}{
		{"namespace flag",
			func(path string) string {
				return "driver=sqlite3 dsn='file:" + path + "' namespace=app redis=" + s.URL()
			},
			func(string) []string { return []string{"--redis", s.URL(), "--namespace", "app"} }, "items"},
		{"dsn flag",
			func(path string) string { return "driver=sqlite3 dsn='file:" + path + "' redis=" + s.URL() },
			func(dsn string) []string { return []string{"--dsn", dsn} }, "items"},
		// Named as in SQL: filed as the reader files it (items).
		{"qualified and quoted",
			func(path string) string {
				return "driver=sqlite3 dsn='file:" + path + "' namespace=app2 redis=" + s.URL()
			},
			func(string) []string { return []string{"--redis", s.URL(), "--namespace", "app2"} }, `Main."Items"`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("app%d.db", i))
			raw, err := sql.Open("sqlite3", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER); INSERT INTO items VALUES (1, 100)`); err != nil {
				t.Fatal(err)
			}
			dsn := tc.dsn(path)
			cfg, err := cachedsql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := cachedsql.NewConnector(*cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(conn)
			defer db.Close()
			events := make(chan cachedsql.Event, 10)
			cancel := conn.Subscribe(func(e cachedsql.Event) { events <- e })
			defer cancel()

			price := func() int {
				t.Helper()
				var p int
				if err := db.QueryRow(`SELECT price FROM items WHERE id = ?`, 1).Scan(&p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			// Until its invalidation stream is connected a new connector
			// bypasses the cache (out_of_sync); the library offers no signal.
			for deadline := time.Now().Add(10 * time.Second); !conn.Stats().StreamConnected; {
				if time.Now().After(deadline) {
					t.Fatal("the reader's invalidation stream did not connect within 10s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			fills := conn.Stats().Fills
			price()
			if conn.Stats().Fills != fills+1 {
				t.Fatalf("the first read was not cached: %+v", conn.Stats())
			}
			if _, err := raw.Exec(`UPDATE items SET price = 200 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			before := conn.Stats()
			if got := price(); got != 100 {
				t.Fatalf("before invalidate: price %d, want the cached 100 (the write bypassed cachedsql)", got)
			}
			if after := conn.Stats(); after.L1Hits != before.L1Hits+1 {
				t.Fatalf("before invalidate: the read was not an L1 hit (%d -> %d)", before.L1Hits, after.L1Hits)
			}

			r := runCLI(t, append([]string{"invalidate"}, append(tc.args(dsn), tc.table)...)...)
			if r.code != 0 {
				t.Fatalf("invalidate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "namespace "+conn.Namespace()) {
				t.Errorf("invalidate used another namespace than the reader's %s: %s", conn.Namespace(), r.stdout)
			}
			select {
			case e := <-events:
				// A name given otherwise is published as given too.
				if !slices.Contains(e.Tables, "items") || (tc.table == "items" && len(e.Tables) != 1) {
					t.Errorf("event %+v, want tables [items] (and %s as given)", e, tc.table)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the reader did not receive the invalidation within 30s")
			}
			before = conn.Stats()
			if got := price(); got != 200 {
				t.Fatalf("after invalidate: price %d, want 200", got)
			}
			if after := conn.Stats(); after.Fills != before.Fills+1 || after.L1Hits != before.L1Hits {
				t.Errorf("after invalidate the read did not go to the database: fills %d -> %d, L1 hits %d -> %d",
					before.Fills, after.Fills, before.L1Hits, after.L1Hits)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"no command", nil, 2, "Commands:"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "Commands:"},
		{"help bench", []string{"help", "bench"}, 0, "--zipf"},
		{"help unknown", []string{"help", "nope"}, 2, `unknown command "nope"`},
		{"bench -h", []string{"bench", "-h"}, 0, "--concurrency"},
		{"demo --help", []string{"demo", "--help"}, 0, "--redis"},
		{"watch -h", []string{"watch", "-h"}, 0, "--from"},
		{"invalidate -h", []string{"invalidate", "-h"}, 0, "--namespace"},
		{"unknown flag", []string{"bench", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"bad flag value", []string{"bench", "--keys", "many"}, 2, `invalid value "many" for flag -keys`},
		{"reads out of range", []string{"bench", "--reads", "2"}, 2, "--reads 2"},
		{"zipf too small", []string{"bench", "--zipf", "0.5"}, 2, "greater than 1"},
		{"duration and ops", []string{"bench", "--duration", "1s", "--ops", "5"}, 2, "not both"},
		{"chart format", []string{"bench", "--chart", "x.gif"}, 2, ".png or .svg"},
		{"bench bad dsn", []string{"bench", "--dsn", "driver=sqlite3"}, 2, "dsn"},
		{"bench unknown driver", []string{"bench", "--dsn", "driver=pgx dsn=postgres://u:secret@h/db"}, 2, "not compiled into this binary"},
		{"demo rows", []string{"demo", "--rows", "1"}, 2, "--rows 1"},
		{"demo argument", []string{"demo", "extra"}, 2, `unexpected argument "extra"`},
		{"invalidate no redis", []string{"invalidate", "--namespace", "x", "t"}, 2, "give --redis URL"},
		{"invalidate no namespace", []string{"invalidate", "--redis", "redis://127.0.0.1:1/0", "t"}, 2, "give --namespace"},
		{"invalidate no tables", []string{"invalidate", "--redis", "redis://127.0.0.1:1/0", "--namespace", "x"}, 2, "name the tables"},
		{"invalidate tables and all", []string{"invalidate", "--redis", "redis://127.0.0.1:1/0", "--namespace", "x", "--all", "t"}, 2, "not both"},
		{"invalidate bad url", []string{"invalidate", "--redis", "http://x", "--namespace", "x", "t"}, 2, "--redis http://x"},
		{"invalidate redis down", []string{"invalidate", "--redis", "redis://:hunter2@127.0.0.1:1/0", "--namespace", "x", "t"}, 1, "cannot reach Redis at 127.0.0.1:1"},
		{"watch bad from", []string{"watch", "--redis", "redis://127.0.0.1:1/0", "--namespace", "x", "--from", "yesterday"}, 2, `--from "yesterday"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			all := r.stdout + r.stderr
			if r.code != tc.code || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d, want %d; output should contain %q:\n%s", r.code, tc.code, tc.want, all)
			}
			if strings.Contains(all, "hunter2") || strings.Contains(all, "secret") {
				t.Errorf("a password leaked:\n%s", all)
			}
			if tc.code == 2 && tc.args != nil && !strings.HasPrefix(tc.name, "help") && !strings.Contains(all, "Usage") && !strings.Contains(all, "-h' for usage") {
				t.Errorf("a usage error should point to the usage:\n%s", all)
			}
		})
	}
}

func TestNamespaceOfMatchesLibrary(t *testing.T) {
	for _, dsn := range []string{"file:app.db", "file:/tmp/x.db?_journal_mode=WAL"} {
		cfg := &cachedsql.Config{DriverName: "sqlite3", DSN: dsn}
		lib, err := namespaceOf(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultNamespace("sqlite3", dsn); got != lib {
			t.Errorf("dsn %q: local derivation %s, library %s", dsn, got, lib)
		}
	}
	// An in-memory database's namespace is its opener's alone.
	for _, dsn := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if ns, err := namespaceOf(&cachedsql.Config{DriverName: "sqlite3", DSN: dsn}); err == nil || !strings.Contains(err.Error(), "--namespace") {
			t.Errorf("dsn %q: namespace %q, error %v; want an error asking for --namespace", dsn, ns, err)
		}
	}
	if got, _ := namespaceOf(&cachedsql.Config{DriverName: "sqlite3", Namespace: "mine"}); got != "mine" {
		t.Errorf("namespace key ignored: %s", got)
	}
}
