package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type ifaceCheck struct {
	bit Iface
	has func(any) bool
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

var (
	connChecks = []ifaceCheck{
		{ConnQueryerContext, is[driver.QueryerContext]},
		{ConnQueryer, is[driver.Queryer]},
		{ConnExecerContext, is[driver.ExecerContext]},
		{ConnExecer, is[driver.Execer]},
		{ConnPrepareContext, is[driver.ConnPrepareContext]},
		{ConnBeginTx, is[driver.ConnBeginTx]},
		{ConnPinger, is[driver.Pinger]},
		{ConnSessionResetter, is[driver.SessionResetter]},
		{ConnValidator, is[driver.Validator]},
		{ConnNamedValueChecker, is[driver.NamedValueChecker]},
	}
	stmtChecks = []ifaceCheck{
		{StmtQueryContext, is[driver.StmtQueryContext]},
		{StmtExecContext, is[driver.StmtExecContext]},
		{StmtNamedValueChecker, is[driver.NamedValueChecker]},
		{StmtColumnConverter, is[driver.ColumnConverter]},
	}
	rowsChecks = []ifaceCheck{
		{RowsColumnTypeScanType, is[driver.RowsColumnTypeScanType]},
		{RowsColumnTypeDatabaseTypeName, is[driver.RowsColumnTypeDatabaseTypeName]},
		{RowsColumnTypeLength, is[driver.RowsColumnTypeLength]},
		{RowsColumnTypeNullable, is[driver.RowsColumnTypeNullable]},
		{RowsColumnTypePrecisionScale, is[driver.RowsColumnTypePrecisionScale]},
		{RowsNextResultSet, is[driver.RowsNextResultSet]},
	}
)

// exactly reports the first interface whose presence on v differs from mask.
func exactly(v any, mask Iface, checks []ifaceCheck) (Iface, bool) {
	for _, c := range checks {
		if c.has(v) != (mask&c.bit != 0) {
			return c.bit, false
		}
	}
	return 0, true
}

// TestEveryCombination builds every conn (2^10), stmt (2^4) and rows (2^6)
// combination and asserts by type assertion that exactly the requested
// optional interfaces are present, and that the value still works.
func TestEveryCombination(t *testing.T) {
	for m := Iface(0); m <= AllConnIfaces; m++ {
		d := New(Options{Ifaces: m})
		c, err := d.Open("")
		if err != nil {
			t.Fatal(err)
		}
		if bit, ok := exactly(c, m, connChecks); !ok {
			t.Fatalf("conn %s: %s present=%v", m, bit, !(m&bit != 0))
		}
		if is[driver.ColumnConverter](c) || is[driver.RowsNextResultSet](c) {
			t.Fatalf("conn %s has a stmt or rows interface", m)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for m := Iface(0); m <= AllStmtIfaces>>stmtShift; m++ {
		mask := m << stmtShift
		d := New(Options{Ifaces: mask})
		c, _ := d.Open("")
		s, err := c.Prepare("SELECT a FROM t WHERE a = ?")
		if err != nil {
			t.Fatal(err)
		}
		if bit, ok := exactly(s, mask, stmtChecks); !ok {
			t.Fatalf("stmt %s: %s wrong", mask, bit)
		}
		if s.NumInput() != 1 {
			t.Fatalf("stmt %s: NumInput %d", mask, s.NumInput())
		}
		s.Close()
	}
	for m := Iface(0); m <= AllRowsIfaces>>rowsShift; m++ {
		mask := m << rowsShift
		d := New(Options{Ifaces: mask})
		r := d.newRows([]ResultSet{{Columns: Cols("a"), Rows: [][]driver.Value{{int64(1)}}}})
		if bit, ok := exactly(r, mask, rowsChecks); !ok {
			t.Fatalf("rows %s: %s wrong", mask, bit)
		}
		dest := make([]driver.Value, 1)
		if err := r.Next(dest); err != nil || dest[0] != int64(1) {
			t.Fatalf("rows %s: Next %v %v", mask, dest, err)
		}
		r.Close()
	}
}

func TestMatrixAndNames(t *testing.T) {
	m := Matrix()
	if len(m) != 2+2*len(Bits()) {
		t.Fatalf("%d variants", len(m))
	}
	seen := map[string]bool{}
	for _, v := range m {
		if seen[v.Name] {
			t.Errorf("duplicate variant name %q", v.Name)
		}
		seen[v.Name] = true
	}
	if AllConnIfaces&AllStmtIfaces != 0 || AllStmtIfaces&AllRowsIfaces != 0 || AllIfaces != ifaceEnd-1 {
		t.Error("group masks overlap or leave gaps")
	}
	for _, tc := range []struct {
		i    Iface
		want string
	}{{0, "none"}, {AllIfaces, "all"}, {ConnPinger | StmtColumnConverter, "Pinger|ColumnConverter"}, {1 << 31, "none"}} {
		if got := tc.i.String(); got != tc.want {
			t.Errorf("%#x.String() = %q, want %q", uint32(tc.i), got, tc.want)
		}
	}
}

// TestConversionPaths shows which converter database/sql used by the value
// that reached the driver: a NamedValueChecker yields float64, the
// ColumnConverter a string, database/sql's default an error.
func TestConversionPaths(t *testing.T) {
	const ins = "INSERT INTO temps VALUES (?)"
	noNVC := AllIfaces &^ (ConnNamedValueChecker | StmtNamedValueChecker)
	for _, tc := range []struct {
		name     string
		ifaces   Iface
		prepared bool // db.Prepare then Stmt.Exec: database/sql has a driver.Stmt
		want     driver.Value
		wantErr  string
		path     Path
	}{
		{"all direct uses conn checker", AllIfaces, false, 21.5, "", PathConnCheckNamedValue},
		{"all prepared uses stmt checker", AllIfaces, true, 21.5, "", PathStmtCheckNamedValue},
		{"conn checker under prepared stmt", AllIfaces &^ StmtNamedValueChecker, true, 21.5, "", PathConnCheckNamedValue},
		{"column converter", noNVC, true, "21.5C", "", PathColumnConverter},
		{"no stmt, no checker: default", noNVC, false, nil, "unsupported type fakedb.Celsius", PathQueryContext},
		{"none", 0, false, nil, "unsupported type fakedb.Celsius", PathQueryContext},
		{"only conn checker (prepares)", ConnNamedValueChecker, false, 21.5, "", PathConnCheckNamedValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: tc.ifaces})
			if err := d.CreateTable("temps", Cols("c")); err != nil {
				t.Fatal(err)
			}
			exec := func(arg any) error {
				if !tc.prepared {
					_, err := db.Exec(ins, arg)
					return err
				}
				s, err := db.Prepare(ins)
				if err != nil {
					return err
				}
				defer s.Close()
				_, err = s.Exec(arg)
				return err
			}
			err := exec(Celsius{21.5})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.LastArgs(ins); len(got) != 1 || got[0].Value != tc.want {
				t.Errorf("driver got %#v, want %#v", got, tc.want)
			}
			if d.PathCount(tc.path) == 0 {
				t.Errorf("%s never called", tc.path)
			}
			if err := exec(Bad{}); !errors.Is(err, ErrBadArg) {
				t.Errorf("Bad argument: %v, want ErrBadArg", err)
			}
		})
	}
}

// TestConnFeatures checks each conn-level feature's observable behaviour with
// and without its interface.
func TestConnFeatures(t *testing.T) {
	ctx := context.Background()
	errPing := errors.New("ping failed")
	for _, tc := range []struct {
		name   string
		ifaces Iface
		run    func(t *testing.T, d *Driver, db *sql.DB)
	}{
		{"pinger fails", AllIfaces, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetPingError(errPing)
			if err := db.PingContext(ctx); !errors.Is(err, errPing) {
				t.Errorf("Ping = %v, want errPing", err)
			}
		}},
		{"no pinger: ping succeeds", AllIfaces &^ ConnPinger, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetPingError(errPing)
			if err := db.PingContext(ctx); err != nil || d.PathCount(PathPing) != 0 {
				t.Errorf("Ping = %v, calls %d", err, d.PathCount(PathPing))
			}
		}},
		{"validator invalid: conn discarded", AllIfaces, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetValid(false)
			twoQueries(t, db)
			if d.Opens() != 2 || d.PathCount(PathIsValid) == 0 {
				t.Errorf("opens %d IsValid calls %d, want 2 and >0", d.Opens(), d.PathCount(PathIsValid))
			}
		}},
		{"no validator: conn reused", AllIfaces &^ ConnValidator, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetValid(false)
			twoQueries(t, db)
			if d.Opens() != 1 {
				t.Errorf("opens %d, want 1", d.Opens())
			}
		}},
		{"session reset counted", AllIfaces, func(t *testing.T, d *Driver, db *sql.DB) {
			twoQueries(t, db)
			if d.Opens() != 1 || d.PathCount(PathResetSession) != 1 {
				t.Errorf("opens %d resets %d, want 1 1", d.Opens(), d.PathCount(PathResetSession))
			}
		}},
		{"session reset bad conn", AllIfaces, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetResetSessionError(driver.ErrBadConn)
			twoQueries(t, db)
			if d.Opens() != 2 {
				t.Errorf("opens %d, want 2", d.Opens())
			}
		}},
		{"no session resetter", AllIfaces &^ ConnSessionResetter, func(t *testing.T, d *Driver, db *sql.DB) {
			d.SetResetSessionError(driver.ErrBadConn)
			twoQueries(t, db)
			if d.Opens() != 1 || d.PathCount(PathResetSession) != 0 {
				t.Errorf("opens %d resets %d", d.Opens(), d.PathCount(PathResetSession))
			}
		}},
		{"legacy queryer and execer used", ConnQueryer | ConnExecer, func(t *testing.T, d *Driver, db *sql.DB) {
			twoQueries(t, db)
			if _, err := db.Exec("DELETE FROM users WHERE id = 9"); err != nil {
				t.Fatal(err)
			}
			if d.PathCount(PathQuery) != 2 || d.PathCount(PathExec) != 1 || d.PathCount(PathPrepare) != 0 {
				t.Errorf("Query %d Exec %d Prepare %d", d.PathCount(PathQuery), d.PathCount(PathExec), d.PathCount(PathPrepare))
			}
		}},
		{"context queryer preferred over legacy", AllIfaces, func(t *testing.T, d *Driver, db *sql.DB) {
			twoQueries(t, db)
			if d.PathCount(PathQuery) != 0 || d.PathCount(PathQueryContext) != 2 {
				t.Errorf("Query %d QueryContext %d", d.PathCount(PathQuery), d.PathCount(PathQueryContext))
			}
		}},
		{"no queryer: prepare with context", ConnPrepareContext | StmtQueryContext, func(t *testing.T, d *Driver, db *sql.DB) {
			twoQueries(t, db)
			if d.PathCount(PathPrepareContext) != 2 || d.PathCount(PathStmtQueryContext) != 2 {
				t.Errorf("PrepareContext %d StmtQueryContext %d", d.PathCount(PathPrepareContext), d.PathCount(PathStmtQueryContext))
			}
		}},
		{"none: legacy prepare and stmt", 0, func(t *testing.T, d *Driver, db *sql.DB) {
			twoQueries(t, db)
			if d.PathCount(PathPrepare) != 2 || d.PathCount(PathStmtQuery) != 2 || d.OpenStmts() != 0 {
				t.Errorf("Prepare %d StmtQuery %d open stmts %d", d.PathCount(PathPrepare), d.PathCount(PathStmtQuery), d.OpenStmts())
			}
		}},
		{"no BeginTx: isolation refused", AllIfaces &^ ConnBeginTx, func(t *testing.T, d *Driver, db *sql.DB) {
			if _, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}); err == nil {
				t.Error("BeginTx with isolation succeeded without ConnBeginTx")
			}
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			tx.Rollback()
			if d.PathCount(PathBegin) != 1 || len(d.TxOptions()) != 0 {
				t.Errorf("Begin %d, TxOptions %v", d.PathCount(PathBegin), d.TxOptions())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: tc.ifaces})
			db.SetMaxIdleConns(1)
			usersTable(t, d)
			tc.run(t, d, db)
		})
	}
}

// twoQueries runs two queries one after the other, so the second reuses the
// first's connection if database/sql keeps it.
func twoQueries(t *testing.T, db *sql.DB) {
	t.Helper()
	for range 2 {
		if _, _, err := queryAll(t, db, "SELECT id FROM users"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestColumnTypes compares what database/sql reports with and without the
// rows' ColumnType interfaces.
func TestColumnTypes(t *testing.T) {
	type ct struct {
		db         string
		scan       reflect.Type
		length     int64
		lengthOK   bool
		nullable   bool
		nullableOK bool
		prec       int64
		scale      int64
		psOK       bool
	}
	anyType := reflect.TypeFor[any]()
	for _, tc := range []struct {
		name   string
		ifaces Iface
		want   []ct
	}{
		{"all", AllIfaces, []ct{
			{"INTEGER", reflect.TypeFor[int64](), 0, false, false, true, 0, 0, false},
			{"VARCHAR", reflect.TypeFor[string](), 64, true, true, true, 0, 0, false},
			{"DECIMAL", reflect.TypeFor[float64](), 0, false, false, false, 10, 2, true},
		}},
		{"none", AllIfaces &^ AllRowsIfaces, []ct{
			{"", anyType, 0, false, false, false, 0, 0, false},
			{"", anyType, 0, false, false, false, 0, 0, false},
			{"", anyType, 0, false, false, false, 0, 0, false},
		}},
		{"only length", AllConnIfaces | RowsColumnTypeLength, []ct{
			{"", anyType, 0, false, false, false, 0, 0, false},
			{"", anyType, 64, true, false, false, 0, 0, false},
			{"", anyType, 0, false, false, false, 0, 0, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDB(t, Options{Ifaces: tc.ifaces})
			usersTable(t, d)
			rows, err := db.Query("SELECT * FROM users")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cts {
				var g ct
				g.db, g.scan = c.DatabaseTypeName(), c.ScanType()
				g.length, g.lengthOK = c.Length()
				g.nullable, g.nullableOK = c.Nullable()
				g.prec, g.scale, g.psOK = c.DecimalSize()
				if g != tc.want[i] {
					t.Errorf("column %d: %+v, want %+v", i, g, tc.want[i])
				}
			}
		})
	}
}

func TestDriverContextAndRegister(t *testing.T) {
	for _, withCtx := range []bool{false, true} {
		d := New(Options{DriverContext: withCtx, Ifaces: AllIfaces})
		if got := is[driver.DriverContext](d.AsDriver()); got != withCtx {
			t.Errorf("DriverContext=%v: AsDriver implements it: %v", withCtx, got)
		}
		name := "fakedb-test-" + map[bool]string{true: "ctx", false: "plain"}[withCtx]
		Register(name, d)
		db, err := sql.Open(name, "the-dsn")
		if err != nil {
			t.Fatal(err)
		}
		usersTable(t, d)
		if _, _, err := queryAll(t, db, "SELECT id FROM users"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if dsns := d.DSNs(); len(dsns) != 1 || dsns[0] != "the-dsn" {
			t.Errorf("DSNs %q", dsns)
		}
		if d.OpenConns() != 0 {
			t.Errorf("%d conns open after Close", d.OpenConns())
		}
	}
}
