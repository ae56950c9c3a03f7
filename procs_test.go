package cachedsql

// A harness that runs cachedsql in separate OS processes, so tests can show
// what one process's cache does for another (through Redis) without the
// process-wide sharing of one namespace getting in the way.
//
// The test binary is its own child: with CACHEDSQL_CHILD set, TestMain runs
// childLoop instead of the tests. The child reads one command per line on
// stdin and answers one line on stdout, "ok ..." or "err <message>":
//
//	open <cachedsql DSN>   open the DB (driver=sqlite3: the child counts what
//	                       reaches SQLite); with redis=, wait until the
//	                       invalidation stream is in step → ok <namespace>
//	read <id>              SELECT v FROM kv WHERE id = ?
//	                       → ok <v or <none>> <inner queries it caused> <source>
//	                       where source is l1, l2, fill or bypass (from Stats)
//	write <id> <value>     upsert through cachedsql → ok
//	tx-write <id> <value>  the same inside a transaction → ok
//	count                  → ok <inner queries so far>
//	stats                  → ok <Stats as JSON>
//	quit                   → ok, and the child exits
//
// The database is a SQLite file (WAL, busy_timeout) made by newSharedSQLite,
// so every process sees the same rows. On the parent side:
//
//	dbfile := newSharedSQLite(t, 10)               // table kv, rows 1..10 = "v<id>"
//	c := startChild(t, procDSN(dbfile, "redis="+s.URL()+" namespace=ns"))
//	v, n, src := c.read(1)                         // value, inner queries, source
//	c.write(1, "x"); c.txWrite(1, "y"); c.count(); c.stats()

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/cachedsql/cachedsql/internal/countdriver"
)

// childEnv, when set, makes the test binary run childLoop instead of tests.
const childEnv = "CACHEDSQL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childLoop(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// countingSQLite counts the statements that reach SQLite in this process:
// Config.Driver for every connector the child (or a test) opens with
// driver=sqlite3.
var countingSQLite = countdriver.New(&sqlite3.SQLiteDriver{})

// openCounting opens cachedsql from dsn with the counting SQLite driver in
// place of the one named (the name still picks the SQL dialect and the
// default namespace, so every process agrees on both).
func openCounting(dsn string) (*sql.DB, *Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DriverName != "sqlite3" {
		return nil, nil, fmt.Errorf("the harness counts only driver=sqlite3, not %q", cfg.DriverName)
	}
	cfg.Driver = countingSQLite
	c, err := NewConnector(*cfg)
	if err != nil {
		return nil, nil, err
	}
	return sql.OpenDB(c), c, nil
}

// waitStream waits until c's invalidation stream is connected (at once
// without Redis).
func waitStream(c *Connector, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !c.Stats().StreamConnected {
		if time.Now().After(deadline) {
			return fmt.Errorf("the invalidation stream did not connect within %v", within)
		}
		time.Sleep(5 * time.Millisecond) // the clock offers no signal outside its package
	}
	return nil
}

const (
	kvRead   = "SELECT v FROM kv WHERE id = ?"
	kvUpsert = "INSERT INTO kv (id, v) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET v = excluded.v"
)

// childLoop serves the commands described at the top of this file until quit
// or the end of stdin.
func childLoop(in io.Reader, out io.Writer) int {
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
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ctx := context.Background()
	for sc.Scan() {
		cmd, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		fields := strings.Fields(rest)
		if db == nil && cmd != "open" && cmd != "quit" && cmd != "count" {
			reply("err %s before open", cmd)
			continue
		}
		switch cmd {
		case "open":
			if db != nil {
				reply("err already open")
				continue
			}
			var err error
			if db, c, err = openCounting(rest); err != nil {
				reply("err open: %s", oneLine(err))
				continue
			}
			if err := waitStream(c, 10*time.Second); err != nil {
				reply("err open: %s", oneLine(err))
				continue
			}
			reply("ok %s", c.Namespace())
		case "read":
			if len(fields) != 1 {
				reply("err usage: read <id>")
				continue
			}
			id, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				reply("err read: %s", oneLine(err))
				continue
			}
			before, q0 := c.Stats(), countingSQLite.Queries()
			var v sql.NullString
			err = db.QueryRowContext(ctx, kvRead, id).Scan(&v)
			n := countingSQLite.Queries() - q0
			after := c.Stats()
			switch {
			case errors.Is(err, sql.ErrNoRows):
				v = sql.NullString{String: "<none>", Valid: true}
			case err != nil:
				reply("err read: %s", oneLine(err))
				continue
			case !v.Valid:
				v.String = "<null>"
			}
			reply("ok %s %d %s", v.String, n, readSource(before, after))
		case "write", "tx-write":
			if len(fields) != 2 {
				reply("err usage: %s <id> <value>", cmd)
				continue
			}
			id, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				reply("err %s: %s", cmd, oneLine(err))
				continue
			}
			if cmd == "write" {
				_, err = db.ExecContext(ctx, kvUpsert, id, fields[1])
			} else {
				err = upsertInTx(ctx, db, id, fields[1])
			}
			if err != nil {
				reply("err %s: %s", cmd, oneLine(err))
				continue
			}
			reply("ok")
		case "count":
			reply("ok %d", countingSQLite.Queries())
		case "stats":
			b, err := json.Marshal(c.Stats())
			if err != nil {
				reply("err stats: %s", oneLine(err))
				continue
			}
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

func upsertInTx(ctx context.Context, db *sql.DB, id int64, v string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, kvUpsert, id, v); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// readSource names where one read was answered, from the stats around it.
func readSource(before, after Stats) string {
	switch {
	case after.L1Hits > before.L1Hits:
		return "l1"
	case after.L2Hits > before.L2Hits:
		return "l2"
	case after.Fills > before.Fills || after.L1Misses > before.L1Misses:
		return "fill"
	}
	return "bypass"
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// child is a cachedsql process started by startChild.
type child struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *lockedBuffer
	mu     sync.Mutex // one command at a time
	closed bool
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// childTimeout bounds one command's round trip.
const childTimeout = 30 * time.Second

// startChild starts a child process and opens dsn in it. The child is told to
// quit (and killed if it does not) when the test ends.
func startChild(t testing.TB, dsn string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1), stderr: &lockedBuffer{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(c.close)
	c.do("open " + dsn)
	return c
}

// close asks the child to quit, and kills it if it has not within 10 s.
func (c *child) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	fmt.Fprintln(c.stdin, "quit")
	c.stdin.Close()
	done := make(chan struct{})
	go func() {
		for range c.lines { // drain until the child closes stdout
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	c.cmd.Wait()
}

// do sends one command and returns the answer after "ok"; an "err" answer,
// a dead child or a timeout fails the test.
func (c *child) do(line string) string {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintln(c.stdin, line); err != nil {
		c.t.Fatalf("child: sending %q: %v\nstderr:\n%s", line, err, c.stderr.String())
	}
	select {
	case ans, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("child: exited before answering %q\nstderr:\n%s", line, c.stderr.String())
		}
		if rest, ok := strings.CutPrefix(ans, "ok"); ok {
			return strings.TrimPrefix(rest, " ")
		}
		c.t.Fatalf("child: %q answered %q", line, ans)
	case <-time.After(childTimeout):
		c.t.Fatalf("child: no answer to %q within %v\nstderr:\n%s", line, childTimeout, c.stderr.String())
	}
	return ""
}

// read returns the value of row id, how many queries reached SQLite for it,
// and where it was answered (l1, l2, fill or bypass).
func (c *child) read(id int) (value string, queries int64, source string) {
	c.t.Helper()
	f := strings.Fields(c.do("read " + strconv.Itoa(id)))
	if len(f) != 3 {
		c.t.Fatalf("child: read answered %q", f)
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		c.t.Fatalf("child: read count %q: %v", f[1], err)
	}
	return f[0], n, f[2]
}

func (c *child) write(id int, value string) {
	c.t.Helper()
	c.do(fmt.Sprintf("write %d %s", id, value))
}

func (c *child) txWrite(id int, value string) {
	c.t.Helper()
	c.do(fmt.Sprintf("tx-write %d %s", id, value))
}

// count is the number of queries that reached SQLite in the child.
func (c *child) count() int64 {
	c.t.Helper()
	n, err := strconv.ParseInt(c.do("count"), 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *child) stats() Stats {
	c.t.Helper()
	var s Stats
	if err := json.Unmarshal([]byte(c.do("stats")), &s); err != nil {
		c.t.Fatalf("child: stats: %v", err)
	}
	return s
}

// newSharedSQLite creates a SQLite file (WAL) with table kv(id, v) holding
// rows 1..rows with v = "v<id>", and returns its path.
func newSharedSQLite(t testing.TB, rows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shared.db")
	db, err := sql.Open("sqlite3", sqliteInnerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= rows; i++ {
		if _, err := db.Exec("INSERT INTO kv VALUES (?, ?)", i, "v"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// sqliteInnerDSN is the SQLite DSN every process uses for the shared file.
func sqliteInnerDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000"
}

// procDSN is a cachedsql DSN over the shared file, plus extra keys.
func procDSN(path, extra string) string {
	return "driver=sqlite3 dsn='" + sqliteInnerDSN(path) + "' " + extra
}

// TestHarness checks the harness itself without Redis: a child reads,
// caches (L1), writes in and out of a transaction and reads its writes.
func TestHarness(t *testing.T) {
	db := newSharedSQLite(t, 3)
	c := startChild(t, procDSN(db, "namespace=harness"))
	steps := []struct {
		do      func()
		id      int
		want    string
		queries int64
		source  string
	}{
		{id: 1, want: "v1", queries: 1, source: "fill"},
		{id: 1, want: "v1", queries: 0, source: "l1"},
		{id: 9, want: "<none>", queries: 1, source: "fill"},
		{do: func() { c.write(1, "w1") }, id: 1, want: "w1", queries: 1, source: "fill"},
		{do: func() { c.txWrite(9, "t9") }, id: 9, want: "t9", queries: 1, source: "fill"},
		{id: 9, want: "t9", queries: 0, source: "l1"},
	}
	for i, s := range steps {
		if s.do != nil {
			s.do()
		}
		v, n, src := c.read(s.id)
		if v != s.want || n != s.queries || src != s.source {
			t.Fatalf("step %d: read %d = %q, %d queries, from %s; want %q, %d, %s", i, s.id, v, n, src, s.want, s.queries, s.source)
		}
	}
	if n := c.count(); n != 4 {
		t.Fatalf("count %d, want 4", n)
	}
	if st := c.stats(); st.Namespace != "harness" || st.L1Hits != 2 || st.Fills != 4 {
		t.Fatalf("stats %+v", st)
	}
}
