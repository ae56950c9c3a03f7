package cachedsql

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedsql/cachedsql/internal/fakedb"
)

// countHandler counts the records a slog.Logger receives, by message.
type countHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// TestReviewFinalSetLogsEveryStatement: on a MySQL connection whose
// probe (txVarsQuery) fails (a MySQL-compatible server
// or proxy without completion_type, a user without the privilege, ...), one
// SET autocommit to a value cachedsql cannot read leaves autocommitUnknown
// set; from then on EVERY session statement (SET NAMES, SET @x, ...) re-runs
// the probe and logs a Warn: one warning (and one extra round trip) per
// statement on the request path, for the life of the connection.
func TestReviewFinalSetLogsEveryStatement(t *testing.T) {
	d := fakedb.New(fakedb.Options{Ifaces: fakedb.AllIfaces})
	const setUnknown = "SET autocommit = @saved"
	const setVar = "SET @request_id = 7"
	d.Canned(setUnknown)
	d.Canned(setVar)
	h := &countHandler{msgs: map[string]int{}}
	cn := fakeMySQLConn(t, d, Config{Namespace: "review-final-spam", Logger: slog.New(h)})
	ctx := context.Background()
	if _, err := cn.ExecContext(ctx, setUnknown); err != nil {
		t.Fatal(err)
	}
	const n = 100
	for range n {
		if _, err := cn.ExecContext(ctx, setVar); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	warns := 0
	for m, k := range h.msgs {
		t.Logf("%4d × %q", k, m)
		if strings.Contains(m, "after SET") {
			warns += k
		}
	}
	t.Logf("probe queries sent: %d", d.QueryCount(txVarsQuery))
	if warns > 2 {
		t.Errorf("%d warnings for %d SET statements on one connection: logged per statement, not once", warns, n+1)
	}
}

// TestReviewFinalSetProbeIgnoresDeadline: the probe after a SET autocommit
// cachedsql cannot read runs on context.WithoutCancel(ctx): a server (or
// network) that stalls on it holds the caller's ExecContext past its
// deadline, indefinitely.
func TestReviewFinalSetProbeIgnoresDeadline(t *testing.T) {
	d := fakedb.New(fakedb.Options{Ifaces: fakedb.AllIfaces})
	const setUnknown = "SET autocommit = @saved"
	d.Canned(setUnknown)
	cn := fakeMySQLConn(t, d, Config{Namespace: "review-final-deadline"})
	g := d.Block(txVarsQuery) // the server stalls on the probe
	defer g.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := cn.ExecContext(ctx, setUnknown); done <- err }()
	select {
	case err := <-done:
		t.Logf("returned after %v: %v", time.Since(start), err)
	case <-time.After(3 * time.Second):
		t.Errorf("ExecContext with a 200ms deadline still running after %v: the probe ignores the caller's context", time.Since(start))
		g.Release()
		<-done
	}
	cn.Close()
}
