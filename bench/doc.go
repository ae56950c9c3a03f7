// Package bench compares cachedsql with its baselines and with what a user
// would write by hand. It is a separate module so that the comparison
// libraries (go-redis/cache, pgx, go-sql-driver/mysql) never become
// dependencies of cachedsql itself.
//
// Every figure is a ratio against a baseline measured in the same run. The
// benchmarks are named Benchmark<Group>/<workload...>/<contender>; in each
// group one contender is the baseline ("floor", "raw-get" or "direct"), and
// cmd/table runs them and prints the ratios as a markdown table:
//
//	go run ./bench/cmd/table        # from the repository root (about 15 minutes on 2 cores)
//
// Databases on loopback (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306)
// are skipped with a reason when they do not answer; their addresses can be
// changed with CACHEDSQL_BENCH_PG and CACHEDSQL_BENCH_MYSQL. Redis is a
// throwaway redis-server started by each benchmark (internal/redistest).
package bench
