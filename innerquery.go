package cachedsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// queryRow runs q, without arguments, on an inner connection as
// database/sql would (QueryerContext, then Queryer, then a prepared
// statement), and returns its first row, of n columns at least.
func queryRow(ctx context.Context, dc driver.Conn, q string, n int) ([]driver.Value, error) {
	var row []driver.Value
	err := queryEach(ctx, dc, q, n, func(v []driver.Value) bool {
		row = v
		return false
	})
	if err == nil && row == nil {
		err = fmt.Errorf("%s: no row", q)
	}
	return row, err
}

// queryEach runs q as queryRow does and calls each with every row, of n
// columns at least (in a slice of its own), until it returns false.
func queryEach(ctx context.Context, dc driver.Conn, q string, n int, each func([]driver.Value) bool) error {
	var rows driver.Rows
	err := driver.ErrSkip
	switch c := dc.(type) {
	case driver.QueryerContext:
		rows, err = c.QueryContext(ctx, q, nil)
	case driver.Queryer:
		rows, err = c.Query(q, nil) //nolint:staticcheck // the fallback database/sql itself takes
	}
	if err == driver.ErrSkip {
		var st driver.Stmt
		if st, err = dc.Prepare(q); err != nil {
			return err
		}
		defer st.Close()
		rows, err = st.Query(nil) //nolint:staticcheck // the fallback database/sql itself takes
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	width := len(rows.Columns())
	if width < n {
		return fmt.Errorf("%s: %d columns, want %d", q, width, n)
	}
	for {
		v := make([]driver.Value, width)
		if err := rows.Next(v); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !each(v) {
			return nil
		}
	}
}

// valueText is a server variable's or a count's value as text, lower-cased,
// whichever Go type the driver gave it; "" for any other.
func valueText(v driver.Value) string {
	switch v := v.(type) {
	case []byte:
		return strings.ToLower(string(v))
	case string:
		return strings.ToLower(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64: // BIGINT UNSIGNED (go-sql-driver/mysql 1.8 on)
		return strconv.FormatUint(v, 10)
	}
	return ""
}
