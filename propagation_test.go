package cachedsql

// Invalidation across OS processes sharing Redis and one SQLite file.
//
// The test binary is its own child: with CACHEDSQL_CHILD4 set, an init
// function runs child4Loop instead of the tests (a separate variable from the
// CACHEDSQL_CHILD harness of procs_test.go, so the two never meet). The child
// reads one command per line on stdin and answers "ok ..." or "err ...":
//
//	open <cachedsql DSN>         open and wait until the stream is in step
//	read <table> <id>            SELECT val → ok <val> <source: l1|l2|fill|bypass>
//	write <table> <id> <val> <auto|tx>
//	                             UPDATE ... SET ver = ver + 1, val = <val>
//	                             (autocommit, or in a committed transaction)
//	                             → ok <UnixNano when the call returned>
//	await <table> <id> <val>     read once (→ ok ready <val> <source>), then
//	                             read in a tight loop until the value is <val>
//	                             → ok <UnixNano when seen> <polls> <source>
//	diff <ms> <goroutines> <seed> <proc> <logfile>
//	                             the differential workload (differential_test.go)
//	                             → ok <summary JSON>
//	stats                        → ok <Stats JSON>
//	quit
//
// Both tables are (id INTEGER PRIMARY KEY, ver INTEGER, val TEXT); a version
// column makes staleness measurable.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/redistest"
)

const child4Env = "CACHEDSQL_CHILD4"

func init() {
	if os.Getenv(child4Env) != "" {
		os.Exit(child4Loop(os.Stdin, os.Stdout))
	}
}

// verTables are the tables of the cross-process tests.
var verTables = []string{"t1", "t2"}

// newVerDB creates the SQLite file with rows 1..rows in each table at
// version 0, value "init", and returns its inner DSN.
func newVerDB(t testing.TB, rows int) string {
	t.Helper()
	dsn := sqliteDSN(filepath.Join(t.TempDir(), "ver.db"))
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tb := range verTables {
		if _, err := db.Exec("CREATE TABLE " + tb + " (id INTEGER PRIMARY KEY, ver INTEGER NOT NULL, val TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= rows; id++ {
			if _, err := db.Exec("INSERT INTO "+tb+" VALUES (?, 0, 'init')", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dsn
}

// verDSN is the cachedsql DSN every process opens.
func verDSN(innerDSN, redisURL, ns, extra string) string {
	return FormatDSN(&Config{DriverName: "sqlite3", DSN: innerDSN, RedisURL: redisURL, Namespace: ns}) + " " + extra
}

func verTable(name string) (string, error) {
	if !slices.Contains(verTables, name) {
		return "", fmt.Errorf("no table %q", name)
	}
	return name, nil
}

func child4Loop(in io.Reader, out io.Writer) int {
	w := bufio.NewWriter(out)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format, args...)
		w.WriteByte('\n')
		w.Flush()
	}
	var (
		db *sql.DB
		c  *Connector
	)
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	ctx := context.Background()
	readVal := func(table string, id int64) (string, string, error) {
		before := c.Stats()
		var v string
		err := db.QueryRowContext(ctx, "SELECT val FROM "+table+" WHERE id = ?", id).Scan(&v)
		return v, readSource(before, c.Stats()), err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		cmd, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		f := strings.Fields(rest)
		if db == nil && cmd != "open" && cmd != "quit" {
			reply("err %s before open", cmd)
			continue
		}
		var id int64
		var table string
		if cmd == "read" || cmd == "write" || cmd == "await" {
			var err error
			if len(f) < 2 {
				reply("err %s: too few arguments", cmd)
				continue
			}
			if table, err = verTable(f[0]); err == nil {
				id, err = strconv.ParseInt(f[1], 10, 64)
			}
			if err != nil {
				reply("err %s: %v", cmd, err)
				continue
			}
		}
		switch cmd {
		case "open":
			cfg, err := ParseDSN(rest)
			if err == nil {
				c, err = NewConnector(*cfg)
			}
			if err == nil {
				db = sql.OpenDB(c)
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = c.sh.clock.WaitSync(wctx)
				cancel()
			}
			if err != nil {
				reply("err open: %s", oneLine(err))
				continue
			}
			reply("ok %s", c.Namespace())
		case "read":
			v, src, err := readVal(table, id)
			if err != nil {
				reply("err read: %s", oneLine(err))
				continue
			}
			reply("ok %s %s", v, src)
		case "write":
			if len(f) != 4 {
				reply("err usage: write <table> <id> <val> <auto|tx>")
				continue
			}
			err := verWrite(ctx, db, table, id, f[2], f[3])
			done := time.Now().UnixNano()
			if err != nil {
				reply("err write: %s", oneLine(err))
				continue
			}
			reply("ok %d", done)
		case "await":
			if len(f) != 3 {
				reply("err usage: await <table> <id> <val>")
				continue
			}
			v, src, err := readVal(table, id)
			if err != nil {
				reply("err await: %s", oneLine(err))
				continue
			}
			reply("ok ready %s %s", v, src)
			deadline := time.Now().Add(10 * time.Second)
			polls := 1
			for v != f[2] && err == nil && time.Now().Before(deadline) {
				v, src, err = readVal(table, id)
				polls++
				runtime.Gosched() // leave the stream reader its turn on a small machine
			}
			seen := time.Now().UnixNano()
			switch {
			case err != nil:
				reply("err await: %s", oneLine(err))
			case v != f[2]:
				reply("err await: still %q after 10s and %d polls", v, polls)
			default:
				reply("ok %d %d %s", seen, polls, src)
			}
		case "diff":
			sum, err := runDiffChild(ctx, db, c, f)
			if err != nil {
				reply("err diff: %s", oneLine(err))
				continue
			}
			reply("ok %s", sum)
		case "stats":
			b, _ := json.Marshal(c.Stats())
			reply("ok %s", b)
		case "quit":
			reply("ok")
			return 0
		default:
			reply("err unknown command %q", cmd)
		}
	}
	return 0
}

func verWrite(ctx context.Context, db *sql.DB, table string, id int64, val, mode string) error {
	q := "UPDATE " + table + " SET ver = ver + 1, val = ? WHERE id = ?"
	switch mode {
	case "auto":
		_, err := db.ExecContext(ctx, q, val, id)
		return err
	case "tx":
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, val, id); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	return fmt.Errorf("mode %q is not auto or tx", mode)
}

// proc4 is a child process started by startProc4.
type proc4 struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *bytes.Buffer
	mu     sync.Mutex // one command at a time
}

func startProc4(t testing.TB, dsn string) *proc4 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), child4Env+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc4{t: t, cmd: cmd, in: in, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	p.out = bufio.NewScanner(outPipe)
	p.out.Buffer(make([]byte, 64<<10), 16<<20)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	p.do("open " + dsn)
	return p
}

func (p *proc4) close() {
	fmt.Fprintln(p.in, "quit")
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// send writes one command; line reads one answer line (without "ok ").
// Both fail the test on an "err" answer or a dead child. They may be called
// from goroutines other than the test's: failures use Errorf and return "".
func (p *proc4) send(cmd string) {
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		p.t.Errorf("child: sending %q: %v", cmd, err)
	}
}

func (p *proc4) line(cmd string) (string, bool) {
	if !p.out.Scan() {
		p.t.Errorf("child died during %q: %v\nstderr: %s", cmd, p.out.Err(), p.stderr)
		return "", false
	}
	ans := p.out.Text()
	rest, ok := strings.CutPrefix(ans, "ok")
	if !ok {
		p.t.Errorf("child: %q → %s", cmd, ans)
		return "", false
	}
	return strings.TrimSpace(rest), true
}

func (p *proc4) do(cmd string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.send(cmd)
	ans, ok := p.line(cmd)
	if !ok {
		p.t.FailNow()
	}
	return ans
}

// propagation is one write in B and the moment A served it.
type propagation struct {
	latency time.Duration // from B's write returning to A serving the value; may be < 0
	polls   int
	source  string // where A's first read of the new value came from
	before  string // where A's read before the write came from
}

// propagate has A poll row id of t1 for val while B writes it with mode.
func propagate(t testing.TB, a, b *proc4, id int, val, mode string) propagation {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	cmd := fmt.Sprintf("await t1 %d %s", id, val)
	a.send(cmd)
	ready, ok := a.line(cmd)
	if !ok {
		t.FailNow()
	}
	rf := strings.Fields(ready) // ready <val> <source>
	wrote := b.do(fmt.Sprintf("write t1 %d %s %s", id, val, mode))
	seen, ok := a.line(cmd)
	if !ok {
		t.FailNow()
	}
	tb, err1 := strconv.ParseInt(wrote, 10, 64)
	sf := strings.Fields(seen)
	if len(sf) != 3 || len(rf) != 3 || err1 != nil {
		t.Fatalf("bad answers: %q %q %q", ready, wrote, seen)
	}
	ta, err2 := strconv.ParseInt(sf[0], 10, 64)
	polls, err3 := strconv.Atoi(sf[1])
	if err2 != nil || err3 != nil {
		t.Fatalf("bad answer %q", seen)
	}
	return propagation{latency: time.Duration(ta - tb), polls: polls, source: sf[2], before: rf[2]}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// twoProcs starts A and B on one Redis, one SQLite file and one namespace.
func twoProcs(t testing.TB, extra string) (a, b *proc4) {
	s := redistest.Start(t)
	dsn := verDSN(newVerDB(t, 4), s.URL(), fmt.Sprintf("prop%d", invSeq.Add(1)), extra)
	return startProc4(t, dsn), startProc4(t, dsn)
}

// TestPropagationAcrossProcesses: A caches a read; B updates the row through
// cachedsql, in autocommit and in a committed transaction; A then serves the
// new value, and that read was a miss (A's clock applied B's event), never
// B's value found under A's old key.
func TestPropagationAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and redis-server")
	}
	a, b := twoProcs(t, "")
	n := 20
	for _, mode := range []string{"auto", "tx"} {
		t.Run(mode, func(t *testing.T) {
			var lat []time.Duration
			for i := range n {
				val := fmt.Sprintf("%s-%d", mode, i)
				// Warm A: the first read fills, the second must be an L1 hit.
				a.do("read t1 1")
				if got := a.do("read t1 1"); !strings.HasSuffix(got, " l1") {
					t.Fatalf("A's repeated read was %q, want an L1 hit", got)
				}
				p := propagate(t, a, b, 1, val, mode)
				if p.before != "l1" {
					t.Errorf("A's read before the write came from %s, want l1", p.before)
				}
				if p.source != "fill" {
					t.Errorf("A first served %q from %s, want a fill from the database", val, p.source)
				}
				lat = append(lat, p.latency)
			}
			slices.Sort(lat)
			t.Logf("%s: %d writes, propagation p50 %.3f ms, p99 %.3f ms, max %.3f ms",
				mode, n, ms(percentile(lat, .5)), ms(percentile(lat, .99)), ms(lat[len(lat)-1]))
		})
	}
	// B's own reads see its writes at once (read-your-writes), and both
	// processes agree at the end.
	b.do("write t1 2 mine auto")
	if got := b.do("read t1 2"); !strings.HasPrefix(got, "mine ") {
		t.Errorf("B read %q after its own write", got)
	}
}

// BenchmarkPropagation: each iteration is one write in B and A's tight poll
// until it serves the new value. Reported: p50-ms, p99-ms, max-ms of the time
// from B's write returning to A serving the value (use -benchtime=200x or
// more), and polls/op (how many cached reads A made meanwhile).
func BenchmarkPropagation(b *testing.B) {
	for _, mode := range []string{"auto", "tx"} {
		b.Run(mode, func(b *testing.B) {
			pa, pb := twoProcs(b, "")
			var lat []time.Duration
			polls, i := 0, 0
			for b.Loop() {
				i++
				p := propagate(b, pa, pb, 1+i%4, fmt.Sprintf("b%d", i), mode)
				if p.source != "fill" {
					b.Fatalf("A served the new value from %s", p.source)
				}
				lat = append(lat, p.latency)
				polls += p.polls
			}
			slices.Sort(lat)
			b.ReportMetric(ms(percentile(lat, .5)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, .99)), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(float64(polls)/float64(len(lat)), "polls/op")
			b.ReportMetric(float64(len(lat)), "writes")
		})
	}
}
