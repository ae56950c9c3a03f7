package sqlscan

import (
	"strings"
	"testing"
)

// BenchmarkScanLong scans long texts whose cost must grow with their length,
// not its square, each beside a baseline of the same size: U&"..." names
// (a search of the rest of the text per name made 180 KB take 8 s against
// 9 ms for plain names), and many DDL statements before many unknown calls
// (a pass over every call per DDL statement: 1.1 s against 32 ms).
func BenchmarkScanLong(b *testing.B) {
	for _, c := range []struct {
		name string
		d    Dialect
		sql  string
	}{
		{"quoted-names", Postgres, "SELECT " + strings.Repeat(`"a",`, 30000) + "1 FROM t"},
		{"unicode-names", Postgres, "SELECT " + strings.Repeat(`U&"a",`, 30000) + "1 FROM t"},
		{"selects-then-calls", Postgres, strings.Repeat(`SELECT 1;`, 20000) + strings.Repeat("SELECT f();", 20000)},
		{"ddl-then-calls", Postgres, strings.Repeat(`DROP TABLE t;`, 20000) + strings.Repeat("SELECT f();", 20000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.sql)))
			for b.Loop() {
				Scan(c.d, c.sql)
			}
		})
	}
}

// BenchmarkScanNonASCII is a MySQL text with CJK letters, in UTF-8 and in
// GBK, beside the same text in ASCII: each is read once, unless it holds a
// byte another character set reads otherwise (review R measured 2-3 times
// the time while every non-ASCII text was also read as GBK, SJIS and
// latin1; the GBK text took 2.8 times while the readings' own byte passes
// ran for every text that is not UTF-8).
func BenchmarkScanNonASCII(b *testing.B) {
	for _, c := range []struct{ name, q string }{
		{"ascii", "SELECT * FROM `users` WHERE `users`.`name` = 'zhangsan' AND `users`.`deleted_at` IS NULL ORDER BY `users`.`id` LIMIT 1"},
		{"cjk", "SELECT * FROM `users` WHERE `users`.`name` = '张三' AND `users`.`deleted_at` IS NULL ORDER BY `users`.`id` LIMIT 1"},
		{"gbk", "SELECT * FROM `users` WHERE `users`.`name` = '\xd5\xc5\xc8\xfd' AND `users`.`deleted_at` IS NULL ORDER BY `users`.`id` LIMIT 1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.q)))
			for b.Loop() {
				Scan(MySQL, c.q)
			}
		})
	}
}
