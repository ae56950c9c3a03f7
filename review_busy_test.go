package cachedsql

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// A statement closed while a shared query that outlived its caller still
// runs on the connection is closed (deferred) when that query ends; but
// clearBusy used to wake the next user of the connection before it ran the deferred
// close, so the inner connection is used by two goroutines at once.
func TestBusyDeferredCloseRacesNextUser(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold, d.linger = q, "SELECT w FROM u"
	db := openCached(t, d.register(), "")
	db.SetMaxOpenConns(1)

	s, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return s.QueryContext(ctx) }) // the shared query runs on the only connection
	// The connection is back in the pool, still running the shared query;
	// the statement's close waits for it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	next := make(chan error, 1)
	go func() {
		rows, err := db.Query("SELECT w FROM u")
		if err == nil {
			for rows.Next() {
			}
			err = rows.Close()
		}
		next <- err
	}()
	close(d.gate) // the shared query ends
	select {
	case err := <-next:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("next user stuck")
	}
	if n := d.overlaps.Load(); n != 0 {
		t.Fatalf("the inner connection was used by two goroutines at once (%d overlaps): the deferred statement Close ran while the next user prepared", n)
	}
}

// database/sql asks a connection it gets back whether it is still valid
// (driver.Validator) at once; conn.IsValid forwards that to the inner
// connection while the shared query that outlived its caller still ran
// there (it did not wait as every other method does).
func TestBusyIsValidRacesSharedQuery(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold, d.validator = q, true
	db := openCached(t, d.register(), "")
	db.SetMaxOpenConns(1)

	s, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return s.QueryContext(ctx) })
	n := d.overlaps.Load()
	close(d.gate)
	if n != 0 {
		t.Fatalf("inner IsValid ran while the shared query ran on the same connection (%d overlaps)", n)
	}
}

// The same without the program closing anything: over a driver whose
// connections have no Queryer, database/sql prepares a statement for
// db.QueryContext and closes it itself when the query fails (here with the
// leader's context.Canceled): that close is deferred and then races the
// connection's next user.
func TestBusyDeferredCloseRacesNextUserNoQueryer(t *testing.T) {
	d := newProbeDriver()
	const q = "SELECT v FROM t"
	d.hold, d.linger = q, "SELECT w FROM u"
	db := openCached(t, d.register(), "")
	db.SetMaxOpenConns(1)

	leaveHeldQuery(t, d.entered, func(ctx context.Context) (*sql.Rows, error) { return db.QueryContext(ctx, q) })
	next := make(chan error, 1)
	go func() {
		rows, err := db.Query("SELECT w FROM u")
		if err == nil {
			for rows.Next() {
			}
			err = rows.Close()
		}
		next <- err
	}()
	close(d.gate)
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	if n := d.overlaps.Load(); n != 0 {
		t.Fatalf("the inner connection was used by two goroutines at once (%d overlaps)", n)
	}
}
