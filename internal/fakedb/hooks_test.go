package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestBlockRelease(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces})
	usersTable(t, d)
	const q = "SELECT id FROM users"
	g := d.Block(q)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, rows, err := queryAll(t, db, q)
			if err == nil && len(rows) != 2 {
				err = errors.New("wrong row count")
			}
			errs <- err
		}()
	}
	<-g.Arrived()
	// An unrelated statement is not held.
	if _, _, err := queryAll(t, db, "SELECT name FROM users"); err != nil {
		t.Fatal(err)
	}
	for g.Waiting() != n {
		select {
		case err := <-errs:
			t.Fatalf("a held query returned before Release: %v", err)
		default:
			time.Sleep(time.Millisecond) // polling a counter: there is no signal per arrival
		}
	}
	g.Release()
	g.Release() // idempotent
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if g.Arrivals() != n || d.QueryCount(q) != n {
		t.Errorf("arrivals %d, QueryCount %d, want %d", g.Arrivals(), d.QueryCount(q), n)
	}
	// After Release the gate is gone.
	if _, _, err := queryAll(t, db, q); err != nil {
		t.Fatal(err)
	}
}

func TestBlockCancel(t *testing.T) {
	for _, v := range []Variant{{"ctx", AllIfaces}, {"prepared", ConnPrepareContext | StmtQueryContext | StmtExecContext}} {
		t.Run(v.Name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: v.Ifaces})
			usersTable(t, d)
			const q = "SELECT id FROM users WHERE id = ?"
			g := d.Block("") // every statement
			defer g.Release()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := db.QueryContext(ctx, q, 1)
				done <- err
			}()
			<-g.Arrived()
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("held query returned %v, want context.Canceled", err)
				}
				if el := time.Since(start); el > time.Second {
					t.Errorf("returned %v after cancel", el)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("held query did not return after cancel")
			}
			if g.Canceled() != 1 {
				t.Errorf("Canceled = %d, want 1", g.Canceled())
			}
			// The exec path is held too.
			ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel2()
			if _, err := db.ExecContext(ctx2, "DELETE FROM users WHERE id = 1"); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("held exec: %v, want DeadlineExceeded", err)
			}
			if len(d.Rows("users")) != 2 {
				t.Error("a cancelled exec ran")
			}
		})
	}
}

func TestDelay(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces, Delay: time.Hour})
	usersTable(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := db.QueryContext(ctx, "SELECT * FROM users"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed query: %v, want DeadlineExceeded", err)
	}
	d2, db2 := openDB(t, Options{Ifaces: AllIfaces, Delay: 30 * time.Millisecond})
	usersTable(t, d2)
	start := time.Now()
	if _, _, err := queryAll(t, db2, "SELECT * FROM users"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("query took %v, want at least the 30ms delay", el)
	}
}

func TestCanned(t *testing.T) {
	type odd struct{ A int } // a type no codec knows
	sets := []ResultSet{
		{Columns: []Column{{Name: "a", DatabaseTypeName: "INT"}}, Rows: [][]driver.Value{{int64(1)}, {int64(2)}}},
		{Columns: Cols("b", "c"), Rows: [][]driver.Value{{uint64(1 << 63), odd{7}}}},
		{Columns: Cols("empty")},
	}
	const q = "CALL multi()"
	for _, tc := range []struct {
		name      string
		ifaces    Iface
		wantSets  int
		wantPaths int64
	}{
		{"with NextResultSet", AllIfaces, 3, 2},
		{"without NextResultSet", AllIfaces &^ RowsNextResultSet, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: tc.ifaces})
			d.Canned(q, sets...)
			rows, err := db.Query(q, "args are ignored")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []ResultSet
			for {
				cols, err := rows.Columns()
				if err != nil {
					t.Fatal(err)
				}
				rs := ResultSet{Columns: Cols(cols...)}
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					row := make([]driver.Value, len(vals))
					for i, v := range vals {
						row[i] = v
					}
					rs.Rows = append(rs.Rows, row)
				}
				got = append(got, rs)
				if !rows.NextResultSet() {
					break
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantSets {
				t.Fatalf("%d result sets, want %d", len(got), tc.wantSets)
			}
			for i, rs := range got {
				if !reflect.DeepEqual(rs.Rows, sets[i].Rows) {
					t.Errorf("set %d rows %#v, want %#v", i, rs.Rows, sets[i].Rows)
				}
				if len(rs.Columns) != len(sets[i].Columns) || rs.Columns[0].Name != sets[i].Columns[0].Name {
					t.Errorf("set %d columns %v", i, rs.Columns)
				}
			}
			if p := d.PathCount(PathNextResultSet); p != tc.wantPaths {
				t.Errorf("NextResultSet calls %d, want %d", p, tc.wantPaths)
			}
			if res, err := db.Exec(q); err != nil {
				t.Error(err)
			} else if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("canned exec affected %d", n)
			}
		})
	}
}

// TestReuseBuffers shows the driver overwriting one []byte backing array on
// every Next, which database/sql exposes through sql.RawBytes.
func TestReuseBuffers(t *testing.T) {
	for _, reuse := range []bool{true, false} {
		t.Run(map[bool]string{true: "reuse", false: "fresh"}[reuse], func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: AllIfaces, ReuseBuffers: reuse})
			d.Canned("blobs", ResultSet{Columns: Cols("b", "s"), Rows: [][]driver.Value{
				{[]byte("first"), "x"}, {[]byte("2nd"), "y"}, {[]byte{}, "z"}, {[]byte(nil), "w"},
			}})
			rows, err := db.Query("blobs")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var kept []sql.RawBytes
			var copies [][]byte
			for rows.Next() {
				var raw sql.RawBytes
				var s string
				if err := rows.Scan(&raw, &s); err != nil {
					t.Fatal(err)
				}
				kept = append(kept, raw)
				copies = append(copies, append([]byte(nil), raw...))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{"first", "2nd", "", ""}
			for i, c := range copies {
				if string(c) != want[i] {
					t.Errorf("row %d read %q, want %q", i, c, want[i])
				}
			}
			// The first row's RawBytes, read now: overwritten by "2nd" if reused.
			overwritten := string(kept[0]) == "2ndst"
			if overwritten != reuse {
				t.Errorf("first RawBytes now %q; overwritten=%v, want %v", kept[0], overwritten, reuse)
			}
			if reuse && &kept[0][0] != &kept[1][0] {
				t.Error("rows 0 and 1 do not share a backing array")
			}
		})
	}
}

func TestTransactions(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces})
	usersTable(t, d)
	ctx := context.Background()
	name := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) string {
		var s string
		if err := q.QueryRowContext(ctx, "SELECT name FROM users WHERE id = 1").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE users SET name = 'rolled' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if got := name(tx); got != "rolled" {
		t.Errorf("tx reads %q, want its own write", got)
	}
	if got := name(db); got != "ann" {
		t.Errorf("outside reads %q before commit, want ann", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := name(db); got != "ann" {
		t.Errorf("after rollback %q, want ann", got)
	}

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE users SET name = 'committed' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := name(db); got != "committed" {
		t.Errorf("after commit %q, want committed", got)
	}

	ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Exec("DELETE FROM users"); err == nil {
		t.Error("write in a read-only transaction succeeded")
	}
	ro.Rollback()

	want := []driver.TxOptions{
		{Isolation: driver.IsolationLevel(sql.LevelSerializable)},
		{},
		{ReadOnly: true},
	}
	if got := d.TxOptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("TxOptions %+v, want %+v", got, want)
	}
	if d.PathCount(PathCommit) != 1 || d.PathCount(PathRollback) != 2 {
		t.Errorf("commits %d rollbacks %d", d.PathCount(PathCommit), d.PathCount(PathRollback))
	}
}

// TestConcurrent hammers one table from many goroutines for the race
// detector and checks the final count.
func TestConcurrent(t *testing.T) {
	d, db := openDB(t, Options{Ifaces: AllIfaces, ReuseBuffers: true})
	if err := d.CreateTable("n", Cols("k", "v")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := db.Exec("INSERT INTO n VALUES (?, ?)", w, []byte("v")); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := queryAll(t, db, "SELECT v FROM n WHERE k = ?", w); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if _, err := db.Exec("UPDATE n SET v = ? WHERE k = ?", []byte("w"), w); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := len(d.Rows("n")); got != 400 {
		t.Errorf("%d rows, want 400", got)
	}
	if d.Execs() != 8*55 || d.Queries() != 400 {
		t.Errorf("execs %d queries %d", d.Execs(), d.Queries())
	}
}
