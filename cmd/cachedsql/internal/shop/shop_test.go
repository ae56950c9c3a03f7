package shop

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		orders int
	}{{10}, {1000}}
	for _, tc := range tests {
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "shop.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		size := SizeFor(tc.orders)
		n, err := Create(context.Background(), db, size)
		if err != nil {
			t.Fatal(err)
		}
		if n.Customers != size.Customers || n.Products != size.Products || n.Orders != tc.orders ||
			n.OrderItems < tc.orders || n.OrderItems > tc.orders*size.ItemsPerOrder {
			t.Errorf("orders=%d: counts %+v for size %+v", tc.orders, n, size)
		}
		for table, want := range map[string]int{"customers": n.Customers, "products": n.Products, "orders": n.Orders, "order_items": n.OrderItems} {
			var got int
			if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("orders=%d: %s has %d rows, Create said %d", tc.orders, table, got, want)
			}
		}
		var orphans int
		if err := db.QueryRow(`SELECT COUNT(*) FROM order_items oi LEFT JOIN orders o ON o.id = oi.order_id LEFT JOIN products p ON p.id = oi.product_id WHERE o.id IS NULL OR p.id IS NULL`).Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		if orphans != 0 {
			t.Errorf("orders=%d: %d order items point nowhere", tc.orders, orphans)
		}
	}
	if _, err := Create(context.Background(), nil, Size{}); err == nil {
		t.Error("an empty size was accepted")
	}
}
