package fakedb

import (
	"database/sql/driver"
	"testing"
)

// FuzzStatement feeds arbitrary text to the tokenizer, the form matcher and
// the engine: any input gives a plan or an error, never a panic, and the same
// answer twice.
func FuzzStatement(f *testing.F) {
	for _, q := range []string{
		"SELECT * FROM users",
		"select name, id from USERS where id = ?",
		"SELECT name FROM users WHERE name = $1;",
		"SELECT id FROM users WHERE name = :who",
		"/* hint */ SELECT id FROM users -- trailing\n WHERE name = 'ann'",
		"INSERT INTO users VALUES (?, ?, ?)",
		"INSERT INTO users (name, id) VALUES ('dee', 4), ('eve', 5)",
		"UPDATE users SET name = ?, balance = ? WHERE id = ?",
		"UPDATE users SET balance = $1 WHERE name = $2 RETURNING id, balance",
		"DELETE FROM users WHERE id = 4 RETURNING *",
		"DELETE FROM users WHERE id = @id",
		"SELECT \"id\" FROM users WHERE balance = -1.5",
		"SELECT * FROM users WHERE name = 'it''s'",
		"SELECT NOW()",
		"SELECT * FROM users WHERE id = $99999999999",
		"/* unterminated",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p1, err1 := parse(q)
		p2, err2 := parse(q)
		if (err1 == nil) != (err2 == nil) || (p1 == nil) != (p2 == nil) {
			t.Fatalf("parse(%q) differs between runs", q)
		}
		d := New(Options{Ifaces: AllIfaces})
		usersTable(t, d)
		args := []driver.NamedValue{
			{Ordinal: 1, Value: int64(1)}, {Ordinal: 2, Value: "ann"}, {Ordinal: 3, Value: []byte("x")},
			{Name: "who", Ordinal: 4, Value: nil},
		}
		out, err := d.execute(nil, q, args, true)
		if err == nil && err1 != nil {
			t.Fatalf("execute(%q) ran a statement parse rejected: %v", q, err1)
		}
		if err == nil {
			r := d.newRows(out.sets)
			dest := make([]driver.Value, len(r.Columns()))
			for r.Next(dest) == nil {
			}
			r.Close()
		}
	})
}
