package sqlscan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzScan holds Scan to its contract on any input: no panic, the same
// answer twice, and the structural invariants of checkInvariants.
func FuzzScan(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(uint8(c.dialect), c.sql)
	}
	f.Fuzz(func(t *testing.T, d uint8, sql string) {
		dialect := Dialect(d % 4)
		a := Scan(dialect, sql)
		b := Scan(dialect, sql)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("two scans differ:\n%s\n%s", describe(a), describe(b))
		}
		checkInvariants(t, sql, a)
	})
}

var benchStatements = []struct {
	name string
	d    Dialect
	sql  string
}{
	{"gorm_select", Postgres, `SELECT * FROM "users" WHERE "users"."id" = $1 AND "users"."deleted_at" IS NULL ORDER BY "users"."id" LIMIT $2`},
	{"gorm_insert", Postgres, `INSERT INTO "users" ("created_at","updated_at","deleted_at","name","age") VALUES ($1,$2,$3,$4,$5) RETURNING "id"`},
	{"mysql_join", MySQL, "SELECT `o`.`id`, `u`.`name` FROM `orders` AS `o` INNER JOIN `users` `u` ON `u`.`id` = `o`.`user_id` WHERE `o`.`status` IN (?, ?, ?) ORDER BY `o`.`created_at` DESC LIMIT 20"},
	{"cte_report", Postgres, `WITH recent AS (SELECT user_id, sum(total) AS spent FROM orders WHERE created_at > $1 GROUP BY user_id), ranked AS (SELECT user_id, spent, rank() OVER (ORDER BY spent DESC) AS r FROM recent) SELECT u.id, u.email, r.spent FROM ranked r JOIN users u ON u.id = r.user_id LEFT JOIN profiles p ON p.user_id = u.id WHERE r.r <= 10 AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id AND s.active)`},
}

func BenchmarkScan(b *testing.B) {
	for _, s := range benchStatements {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.sql)))
			for b.Loop() {
				Scan(s.d, s.sql)
			}
		})
	}
}

// BenchmarkScanSize shows the cost grows linearly with the text: ns/op per
// byte (MB/s) stays flat from 1 to 100 joined subqueries.
func BenchmarkScanSize(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		var sb strings.Builder
		sb.WriteString("SELECT * FROM t0")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&sb, " JOIN (SELECT id, max(v) AS m FROM t%d WHERE x = $%d GROUP BY id) s%d ON s%d.id = t0.id", i, i, i, i)
		}
		sql := sb.String()
		b.Run(fmt.Sprintf("joins=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(sql)))
			for b.Loop() {
				Scan(Postgres, sql)
			}
		})
	}
}
