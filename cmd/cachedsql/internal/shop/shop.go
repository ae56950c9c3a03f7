// Package shop creates the demo database: a small web shop (customers,
// products, orders, order items) in SQLite, filled with deterministic data so
// that two runs with the same size hold the same rows.
package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Size is how many rows each table gets.
type Size struct {
	Customers, Products, Orders int
	ItemsPerOrder               int // at most; each order gets 1..ItemsPerOrder items
}

// SizeFor scales a shop to about orders orders. orders must be positive.
func SizeFor(orders int) Size {
	return Size{
		Customers:     max(1, orders/10),
		Products:      max(1, min(200, orders/25)),
		Orders:        orders,
		ItemsPerOrder: 5,
	}
}

// Counts is what Create wrote.
type Counts struct{ Customers, Products, Orders, OrderItems int }

// Total is the number of rows in all tables.
func (c Counts) Total() int { return c.Customers + c.Products + c.Orders + c.OrderItems }

// Schema is the DDL of the shop.
const Schema = `
CREATE TABLE customers (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT NOT NULL UNIQUE,
  country    TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE products (
  id          INTEGER PRIMARY KEY,
  sku         TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  category    TEXT NOT NULL,
  price_cents INTEGER NOT NULL
);
CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  status      TEXT NOT NULL,
  created_at  TIMESTAMP NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id, created_at);
CREATE TABLE order_items (
  id               INTEGER PRIMARY KEY,
  order_id         INTEGER NOT NULL REFERENCES orders(id),
  product_id       INTEGER NOT NULL REFERENCES products(id),
  quantity         INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL
);
CREATE INDEX order_items_order ON order_items(order_id);
`

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Radia", "Donald", "Hedy", "John", "Katherine", "Niklaus"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Dijkstra", "Perlman", "Knuth", "Lamarr", "McCarthy", "Johnson", "Wirth"}
	countries  = []string{"DE", "FR", "GB", "US", "JP", "BR", "IN", "NL", "SE", "CA"}
	categories = []string{"books", "games", "garden", "kitchen", "music", "office", "outdoor", "toys"}
	adjectives = []string{"Classic", "Compact", "Deluxe", "Eco", "Pro", "Smart", "Travel", "Vintage"}
	nouns      = []string{"Lamp", "Kettle", "Notebook", "Backpack", "Speaker", "Puzzle", "Chair", "Planter", "Mug", "Headphones"}
	statuses   = []string{"paid", "paid", "paid", "shipped", "shipped", "delivered", "delivered", "delivered", "cancelled"}
)

// epoch anchors the generated timestamps so runs are reproducible.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Create makes the schema in db (an empty SQLite database, opened without
// cachedsql) and fills it in one transaction.
func Create(ctx context.Context, db *sql.DB, size Size) (Counts, error) {
	if size.Customers < 1 || size.Products < 1 || size.Orders < 0 || size.ItemsPerOrder < 1 {
		return Counts{}, fmt.Errorf("shop: size %+v: every table needs at least one row", size)
	}
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		return Counts{}, fmt.Errorf("shop: creating the schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Counts{}, fmt.Errorf("shop: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	rng := rand.New(rand.NewPCG(1, 2))
	var n Counts
	insert := func(query string, rows int, args func(i int) []any) (int, error) {
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		for i := 1; i <= rows; i++ {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				return 0, err
			}
		}
		return rows, nil
	}
	if n.Customers, err = insert(`INSERT INTO customers (id, name, email, country, created_at) VALUES (?, ?, ?, ?, ?)`, size.Customers, func(i int) []any {
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		return []any{i, first + " " + last, fmt.Sprintf("%s.%s.%d@example.com", first, last, i), countries[rng.IntN(len(countries))],
			epoch.Add(time.Duration(rng.IntN(365*24)) * time.Hour)}
	}); err != nil {
		return n, fmt.Errorf("shop: customers: %w", err)
	}
	prices := make([]int, size.Products+1)
	if n.Products, err = insert(`INSERT INTO products (id, sku, name, category, price_cents) VALUES (?, ?, ?, ?, ?)`, size.Products, func(i int) []any {
		prices[i] = 199 + rng.IntN(20000)
		return []any{i, fmt.Sprintf("SKU-%05d", i), adjectives[rng.IntN(len(adjectives))] + " " + nouns[rng.IntN(len(nouns))],
			categories[rng.IntN(len(categories))], prices[i]}
	}); err != nil {
		return n, fmt.Errorf("shop: products: %w", err)
	}
	items, err := tx.PrepareContext(ctx, `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return n, fmt.Errorf("shop: order items: %w", err)
	}
	defer items.Close()
	var itemErr error
	if n.Orders, err = insert(`INSERT INTO orders (id, customer_id, status, created_at) VALUES (?, ?, ?, ?)`, size.Orders, func(i int) []any {
		k := 1 + rng.IntN(size.ItemsPerOrder)
		for range k {
			p := 1 + rng.IntN(size.Products)
			if _, err := items.ExecContext(ctx, i, p, 1+rng.IntN(3), prices[p]); err != nil && itemErr == nil {
				itemErr = err
			}
			n.OrderItems++
		}
		return []any{i, 1 + rng.IntN(size.Customers), statuses[rng.IntN(len(statuses))],
			epoch.Add(time.Duration(rng.IntN(365*24*60)) * time.Minute)}
	}); err != nil || itemErr != nil {
		return n, fmt.Errorf("shop: orders: %w", errors.Join(err, itemErr))
	}
	if err := tx.Commit(); err != nil {
		return n, fmt.Errorf("shop: %w", err)
	}
	return n, nil
}
