package cachedsql

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/cachedsql/cachedsql/internal/fakedb"
	"github.com/cachedsql/cachedsql/rowset"
)

// TestCaptureWhateverTheHint: the size hint only sizes allocations; the
// captured result, the overflow decision and the values (a []byte copied,
// not shared with the driver) are the same for no hint, an exact one, one too
// small and one too large, and the hint capture returns is what it held.
func TestCaptureWhateverTheHint(t *testing.T) {
	mk := func(n int) [][]driver.Value {
		rows := make([][]driver.Value, n)
		for i := range rows {
			rows[i] = []driver.Value{int64(i), fmt.Sprintf("n%d", i), []byte{byte(i)}, nil}
		}
		return rows
	}
	for _, n := range []int{0, 1, 7, 100, 300} {
		for _, hint := range []int{0, 1, n, n + 1, 2 * n, 5000} {
			for _, maxRows := range []int{0, 50} {
				t.Run(fmt.Sprintf("rows=%d/hint=%d/max=%d", n, hint, maxRows), func(t *testing.T) {
					data := mk(n)
					h := sizeHint{rows: hint, small: hint, arena: hint}
					if hint == n+1 {
						h.small, h.arena = 1, 1 // rows right, the arena far too small
					}
					res, got, overflow, err := captureEncoded(t, &sliceRows{cols: []string{"a", "b", "c", "d"}, data: data}, maxRows, 0, h)
					if err != nil {
						t.Fatal(err)
					}
					if c := len(res.Sets[0].Rows); got != (sizeHint{rows: c, small: c, arena: c}) {
						t.Fatalf("capture of %d rows, each with one 1-byte []byte, returned hint %+v", c, got)
					}
					if want := maxRows > 0 && n > maxRows; overflow != want {
						t.Fatalf("overflow = %v, want %v", overflow, want)
					}
					want := mk(n)
					if overflow {
						want = want[:maxRows+1]
					}
					rows := res.Sets[0].Rows
					if len(rows) != len(want) || (len(want) > 0 && !reflect.DeepEqual(rows, want)) {
						t.Fatalf("captured %d rows %v, want %d", len(rows), rows, len(want))
					}
					if len(rows) > 1 {
						// Appending to one captured value must not write into the next.
						_ = append(rows[0][2].([]byte), 0xee)
						if rows[1][2].([]byte)[0] != 1 {
							t.Fatalf("appending to row 0's []byte changed row 1's to %v", rows[1][2])
						}
					}
					for i := range rows {
						data[i][2].([]byte)[0] = 0xff // the driver reuses its buffer
						if rows[i][2].([]byte)[0] != byte(i) {
							t.Fatalf("row %d shares its []byte with the driver", i)
						}
					}
				})
			}
		}
	}
}

// TestCaptureCopiesTheRowItStopsAt: the row holding a value the codec cannot
// encode ends the capture (overflow), and is replayed to the caller from what
// capture kept; so every []byte in it, before and after that value, must be
// a copy and not the driver's buffer, and the rows before it likewise.
func TestCaptureCopiesTheRowItStopsAt(t *testing.T) {
	type odd struct{ n int } // a type rowset cannot reproduce
	for _, at := range []int{0, 1} {
		t.Run(fmt.Sprintf("odd at row %d", at), func(t *testing.T) {
			// Fresh buffers for each run: the last one overwrote its own.
			rows := [][]driver.Value{
				{[]byte{1}, int64(1), []byte{2}},
				{[]byte{3}, odd{1}, []byte{4}},
				{[]byte{5}, int64(3), []byte{6}},
			}
			if at == 0 {
				rows[0], rows[1] = rows[1], rows[0]
			}
			res, _, overflow, err := captureEncoded(t, &sliceRows{cols: []string{"a", "b", "c"}, data: rows}, 0, 0, sizeHint{})
			if err != nil || !overflow {
				t.Fatalf("capture: overflow %v, %v; want an overflow", overflow, err)
			}
			got := res.Sets[0].Rows
			if len(got) != at+1 {
				t.Fatalf("captured %d rows, want %d (up to the odd value's)", len(got), at+1)
			}
			want := make([][]byte, 0, 2*len(got))
			for _, r := range got {
				want = append(want, bytes.Clone(r[0].([]byte)), bytes.Clone(r[2].([]byte)))
			}
			for _, r := range rows { // the driver reuses its buffers
				r[0].([]byte)[0], r[2].([]byte)[0] = 0xff, 0xff
			}
			for i, r := range got {
				if !bytes.Equal(r[0].([]byte), want[2*i]) || !bytes.Equal(r[2].([]byte), want[2*i+1]) {
					t.Fatalf("row %d shares a []byte with the driver: %v", i, r)
				}
			}
		})
	}
}

// TestPlanSizeHintRoundTrips: a plan keeps a capture's hint in one word,
// each field capped at what its bits hold rather than wrapping.
func TestPlanSizeHintRoundTrips(t *testing.T) {
	for _, tt := range []struct{ in, want sizeHint }{
		{sizeHint{}, sizeHint{}},
		{sizeHint{rows: 100, small: 100, arena: 1600}, sizeHint{rows: 100, small: 100, arena: 1600}},
		{sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}, sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}},
		{sizeHint{rows: 1 << 30, small: 1 << 25, arena: 1 << 40}, sizeHint{rows: 1<<24 - 1, small: 1<<20 - 1, arena: 1<<20 - 1}},
	} {
		var p plan
		p.setSizeHint(tt.in)
		if got := p.sizeHint(); got != tt.want {
			t.Errorf("%+v stored, %+v read; want %+v", tt.in, got, tt.want)
		}
	}
}

// brokenRows yields rows until failAt, then fails: a connection dropped or a
// query cancelled partway through a result. With sets > 1 it has further
// result sets, whose NextResultSet fails.
type brokenRows struct {
	sliceRows
	failAt, read int
	err          error
}

func (r *brokenRows) Next(dest []driver.Value) error {
	if r.failAt >= 0 && r.read == r.failAt {
		return r.err
	}
	r.read++
	return r.sliceRows.Next(dest)
}

type brokenSets struct {
	brokenRows
}

func (r *brokenSets) HasNextResultSet() bool { return true }
func (r *brokenSets) NextResultSet() error   { return r.err }

// TestCaptureReturnsTheDriversError: an error from Next, on the first row or
// later, comes back from capture as is with the rows before it and overflow
// set (the caller reads those rows, then the error); from NextResultSet,
// marked as NextResultSet's, with the sets before it whole and overflow set
// (the caller reads them, then gets it from NextResultSet); whatever the
// hint (not a panic).
func TestCaptureReturnsTheDriversError(t *testing.T) {
	boom := errors.New("connection reset")
	mk := func() sliceRows {
		var data [][]driver.Value
		for i := range 10 {
			data = append(data, []driver.Value{int64(i), []byte{byte(i)}})
		}
		return sliceRows{cols: []string{"a", "b"}, data: data}
	}
	for _, tt := range []struct {
		name string
		rows driver.Rows
	}{
		{"first Next", &brokenRows{sliceRows: mk(), failAt: 0, err: boom}},
		{"fifth Next", &brokenRows{sliceRows: mk(), failAt: 4, err: boom}},
		{"NextResultSet", &brokenSets{brokenRows{sliceRows: mk(), failAt: -1, err: boom}}},
	} {
		for _, hint := range []sizeHint{{}, {rows: 10, small: 10, arena: 10}} {
			t.Run(fmt.Sprintf("%s/hint=%d", tt.name, hint.rows), func(t *testing.T) {
				if r, ok := tt.rows.(*brokenRows); ok {
					r.sliceRows, r.read = mk(), 0
				}
				if r, ok := tt.rows.(*brokenSets); ok {
					r.sliceRows, r.read = mk(), 0
				}
				res, _, overflow, err := captureEncoded(t, tt.rows, 0, 0, hint)
				if r, ok := tt.rows.(*brokenRows); ok {
					if !errors.Is(err, boom) || !overflow || res == nil || len(res.Sets) != 1 || len(res.Sets[0].Rows) != r.failAt {
						t.Fatalf("capture = %v, overflow %v, %v; want the %d rows before the error, true, %v", res, overflow, err, r.failAt, boom)
					}
					for i, row := range res.Sets[0].Rows {
						if row[0] != int64(i) {
							t.Fatalf("row %d = %v", i, row)
						}
					}
					return
				}
				var nse nextSetError
				if !errors.As(err, &nse) || !errors.Is(err, boom) || !overflow || res == nil || len(res.Sets) != 1 || len(res.Sets[0].Rows) != 10 {
					t.Fatalf("capture = %v, overflow %v, %v; want the whole first set, true, %v from NextResultSet", res, overflow, err, boom)
				}
			})
		}
	}
}

// brokenConnector's queries return two rows, then fail.
type brokenConnector struct{ err error }

func (c brokenConnector) Connect(context.Context) (driver.Conn, error) { return brokenConn(c), nil }
func (c brokenConnector) Driver() driver.Driver                        { return nil }

type brokenConn brokenConnector

func (c brokenConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &brokenRows{sliceRows: sliceRows{cols: []string{"n"}, data: [][]driver.Value{{int64(1)}, {int64(2)}, {int64(3)}}}, failAt: 2, err: c.err}, nil
}
func (brokenConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no statements") }
func (brokenConn) Close() error                        { return nil }
func (brokenConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }

// TestReadFailingMidRowsReturnsTheError: a miss whose rows fail partway
// (a dropped connection) hands the driver's error to its caller, on the
// caller's goroutine and on a worker's alike, and caches nothing.
func TestReadFailingMidRowsReturnsTheError(t *testing.T) {
	boom := errors.New("connection reset by peer")
	c, err := NewConnector(Config{Connector: brokenConnector{err: boom}, Namespace: "broken-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	for _, cancellable := range []bool{false, true} {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if cancellable {
			ctx, cancel = context.WithCancel(ctx)
		}
		rows, err := db.QueryContext(ctx, "SELECT n FROM t")
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		cancel()
		if !errors.Is(err, boom) {
			t.Fatalf("cancellable=%v: %v; want the driver's %v", cancellable, err, boom)
		}
	}
	if s := c.Stats(); s.Fills != 0 || s.L1Entries != 0 {
		t.Fatalf("fills %d, L1 entries %d after failed reads; want 0", s.Fills, s.L1Entries)
	}
}

// captureEncoded is capture with an encoder of its own. When the whole result
// was captured, it fails t unless what capture encoded row by row is what
// rowset.Append writes for the result it returned, and decodes.
func captureEncoded(t *testing.T, rows driver.Rows, maxRows, maxBytes int, hint sizeHint) (*rowset.Result, sizeHint, bool, error) {
	t.Helper()
	return captureEncodedInto(t, rows, maxRows, maxBytes, hint, new(fillMem))
}

// captureEncodedInto is captureEncoded into mem.
func captureEncodedInto(t *testing.T, rows driver.Rows, maxRows, maxBytes int, hint sizeHint, mem *fillMem) (*rowset.Result, sizeHint, bool, error) {
	t.Helper()
	var enc rowset.Encoder
	enc.Begin(nil)
	res, got, overflow, err := capture(rows, maxRows, maxBytes, hint, &enc, mem)
	if err != nil || overflow {
		return res, got, overflow, err
	}
	b, ferr := enc.Finish()
	if ferr != nil {
		t.Fatalf("Finish: %v", ferr)
	}
	want, aerr := rowset.Append(nil, res)
	if aerr != nil || !bytes.Equal(b, want) {
		t.Fatalf("capture encoded %x; Append of what it captured: %x, %v", b, want, aerr)
	}
	if _, derr := rowset.Decode(b); derr != nil {
		t.Fatalf("decoding what capture encoded: %v", derr)
	}
	return res, got, overflow, err
}

// TestCaptureByteCapIsTheEncodedSize: max_bytes counts the encoded result.
// A result whose encoding is exactly the cap is captured whole; one byte less
// and the capture stops at the row that crosses it.
func TestCaptureByteCapIsTheEncodedSize(t *testing.T) {
	mk := func() *sliceRows {
		var data [][]driver.Value
		for i := range 20 {
			data = append(data, []driver.Value{int64(i * 1000), fmt.Sprintf("row %d", i), []byte{byte(i)}})
		}
		return &sliceRows{cols: []string{"id", "name", "b"}, data: data}
	}
	res, _, overflow, err := captureEncoded(t, mk(), 0, 0, sizeHint{})
	if err != nil || overflow {
		t.Fatalf("capture without a cap: overflow %v, %v", overflow, err)
	}
	enc, err := rowset.Append(nil, res)
	if err != nil {
		t.Fatal(err)
	}
	size := len(enc)
	if _, _, overflow, err := captureEncoded(t, mk(), 0, size, sizeHint{}); err != nil || overflow {
		t.Fatalf("cap = the encoded size (%d bytes): overflow %v, %v; want the whole result", size, overflow, err)
	}
	res, _, overflow, err = captureEncoded(t, mk(), 0, size-1, sizeHint{})
	if err != nil || !overflow {
		t.Fatalf("cap one byte below the encoded size: overflow %v, %v; want an overflow", overflow, err)
	}
	if n := len(res.Sets[0].Rows); n != 20 {
		t.Fatalf("stopped after %d rows; the last row crosses the cap (the totals are patched in place, so only rows add bytes)", n)
	}
}

// TestByteCapCountsColumnsOfEmptyResults: max_bytes counts the whole
// encoding, so a result with no rows whose column descriptions alone exceed
// it is not cached (the cap is checked after each row, and once more at the
// end), while a cap it fits is.
func TestByteCapCountsColumnsOfEmptyResults(t *testing.T) {
	const q = "SELECT * FROM users WHERE id = 999" // no such row; three columns
	for _, tt := range []struct {
		maxBytes int
		reads    int64 // database reads for two queries
	}{{40, 2}, {1000, 1}} {
		t.Run(fmt.Sprintf("max_bytes=%d", tt.maxBytes), func(t *testing.T) {
			d, name := newFake(t, fakedb.Options{Ifaces: fakedb.AllIfaces})
			db := openCached(t, name, fmt.Sprintf("max_bytes=%d", tt.maxBytes))
			for range 2 {
				rows, err := db.Query(q)
				if err != nil {
					t.Fatal(err)
				}
				if cols, _ := rows.Columns(); len(cols) != 3 || rows.Next() {
					t.Fatalf("columns %v; want three and no rows", cols)
				}
				rows.Close()
			}
			if n := d.QueryCount(q); n != tt.reads {
				t.Fatalf("%d database reads, want %d", n, tt.reads)
			}
		})
	}
}

// clashScanType's name is also the name of the scan type the test below
// registers first, so the codec cannot tell them apart.
func clashScanType() reflect.Type {
	type clash string
	return reflect.TypeFor[clash]()
}

// clashRows is sliceRows whose second column reports clashScanType.
type clashRows struct{ sliceRows }

func (*clashRows) ColumnTypeScanType(i int) reflect.Type {
	if i == 1 {
		return clashScanType()
	}
	return reflect.TypeFor[any]()
}

// TestCaptureStopsAtAColumnTypeItCannotEncode: a scan type the codec cannot
// reproduce (its name clashes with another's) stops the capture before the
// set's first row, and the caller reads every row from the driver through
// overflowRows.
func TestCaptureStopsAtAColumnTypeItCannotEncode(t *testing.T) {
	type clash int
	if err := rowset.RegisterScanType(reflect.TypeFor[clash]()); err != nil {
		t.Fatal(err)
	}
	if err := rowset.RegisterScanType(clashScanType()); err == nil {
		t.Fatal("the test needs two scan types with one name")
	}
	data := [][]driver.Value{{int64(1), []byte("a")}, {int64(2), []byte("b")}, {int64(3), nil}}
	rows := &clashRows{sliceRows{cols: []string{"id", "v"}, data: slices.Clone(data)}}
	res, _, overflow, err := captureEncoded(t, rows, 0, 0, sizeHint{})
	if err != nil || !overflow {
		t.Fatalf("capture: overflow %v, %v; want an overflow", overflow, err)
	}
	if len(res.Sets) != 1 || len(res.Sets[0].Rows) != 0 {
		t.Fatalf("captured %+v; want one set and no rows", res.Sets)
	}
	r := newOverflowRows(res, rows, func() {})
	if got := r.Columns(); !slices.Equal(got, []string{"id", "v"}) {
		t.Fatalf("columns %v", got)
	}
	var got [][]driver.Value
	for {
		dest := make([]driver.Value, 2)
		if err := r.Next(dest); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, dest)
	}
	if !reflect.DeepEqual(got, data) {
		t.Fatalf("read %v; the driver returned %v", got, data)
	}
}

// setRows replays result sets from a driver that, with holes, leaves the
// last column of dest as it found it and, with eofJunk, writes into dest on
// the io.EOF call of Next.
type setRows struct {
	sets           [][][]driver.Value
	width          []int
	holes, eofJunk bool
	set, row       int
}

func (r *setRows) Columns() []string {
	cols := make([]string, r.width[r.set])
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	return cols
}
func (r *setRows) Close() error           { return nil }
func (r *setRows) HasNextResultSet() bool { return r.set+1 < len(r.sets) }
func (r *setRows) NextResultSet() error {
	if !r.HasNextResultSet() {
		return io.EOF
	}
	r.set, r.row = r.set+1, 0
	return nil
}
func (r *setRows) Next(dest []driver.Value) error {
	if r.row == len(r.sets[r.set]) {
		if r.eofJunk {
			for i := range dest {
				dest[i] = "junk"
			}
		}
		return io.EOF
	}
	n := len(dest)
	if r.holes {
		n--
	}
	copy(dest[:n], r.sets[r.set][r.row])
	r.row++
	return nil
}

// TestCaptureIntoReusedMemory: captures that reuse one fillMem, as lone
// leaders do through the pool, each read exactly their own result, whatever
// the shapes, result sets and hints before them and whatever the driver
// leaves in dest; and once reset, the memory holds no value of the last
// result (nothing pinned, nothing for the next to find), in any chunk it
// keeps.
func TestCaptureIntoReusedMemory(t *testing.T) {
	mk := func(n, width, seed int) [][]driver.Value {
		rows := make([][]driver.Value, n)
		for i := range rows {
			row := make([]driver.Value, width)
			for j := range row {
				switch j % 3 {
				case 0:
					row[j] = int64(seed*1000 + i)
				case 1:
					row[j] = fmt.Sprintf("s%d-%d", seed, i)
				case 2:
					row[j] = []byte(fmt.Sprintf("b%d-%d", seed, i))
				}
			}
			rows[i] = row
		}
		return rows
	}
	type shape struct{ n, width int }
	steps := []struct {
		sets           []shape
		hint           sizeHint
		holes, eofJunk bool
	}{
		{sets: []shape{{300, 6}}},
		{sets: []shape{{300, 6}}, hint: sizeHint{rows: 300, small: 600, arena: 4000}},
		{sets: []shape{{5, 4}}, hint: sizeHint{rows: 300, small: 600, arena: 4000}, holes: true},
		{sets: []shape{{0, 2}}, hint: sizeHint{rows: 5, small: 5, arena: 20}},
		// An empty first set leaves the kept rows to the next set.
		{sets: []shape{{0, 3}, {300, 3}}, hint: sizeHint{rows: 5, small: 5, arena: 20}, holes: true, eofJunk: true},
		{sets: []shape{{2, 4}, {3, 4}, {1, 2}}, hint: sizeHint{rows: 2}, holes: true, eofJunk: true},
		{sets: []shape{{100, 3}}, hint: sizeHint{rows: 1, small: 1, arena: 1}, holes: true},
		{sets: []shape{{2000, 5}}, hint: sizeHint{rows: 100, small: 100, arena: 1000}},
		{sets: []shape{{7, 5}}, hint: sizeHint{rows: 2000, small: 2000, arena: 20000}, holes: true},
	}
	mem := new(fillMem)
	for i, s := range steps {
		rows := &setRows{holes: s.holes, eofJunk: s.eofJunk}
		var want [][][]driver.Value
		for k, sh := range s.sets {
			seed := 10*i + k
			rows.width = append(rows.width, sh.width)
			w := mk(sh.n, sh.width, seed)
			if s.holes {
				// The driver sets all but the last column, to mk's values.
				for _, row := range w {
					row[sh.width-1] = nil
				}
			}
			rows.sets = append(rows.sets, mk(sh.n, sh.width, seed))
			want = append(want, w)
		}
		res, _, overflow, err := captureEncodedInto(t, rows, 0, 0, s.hint, mem)
		if err != nil || overflow {
			t.Fatalf("step %d: overflow %v, %v", i, overflow, err)
		}
		if len(res.Sets) != len(want) {
			t.Fatalf("step %d: %d result sets, want %d", i, len(res.Sets), len(want))
		}
		for k := range want {
			got := res.Sets[k].Rows
			if len(got) != len(want[k]) || (len(got) > 0 && !reflect.DeepEqual(got, want[k])) {
				t.Fatalf("step %d set %d: captured %d rows, want %d; first %v, want %v", i, k, len(got), len(want[k]), first(got), first(want[k]))
			}
		}
		mem.reset()
		for j, v := range mem.values[:cap(mem.values)] {
			if v != nil {
				t.Fatalf("step %d: value slot %d of the kept chunk holds %v after reset", i, j, v)
			}
		}
		for j, r := range mem.rows[:cap(mem.rows)] {
			if r != nil {
				t.Fatalf("step %d: row slot %d holds %v after reset", i, j, r)
			}
		}
		for j, h := range mem.headers[:cap(mem.headers)] {
			if h != nil {
				t.Fatalf("step %d: []byte header %d holds %q after reset", i, j, h)
			}
		}
		if mem.res.Sets != nil || mem.sets[0].Rows != nil {
			t.Fatalf("step %d: the result is still reachable after reset", i)
		}
	}
}

func first(rows [][]driver.Value) []driver.Value {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}
