package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/generation"
	"github.com/cachedsql/cachedsql/sqlscan"
)

func init() {
	register(&command{
		name:    "invalidate",
		summary: "announce writes that bypassed cachedsql (migrations, other services)",
		usage:   "invalidate --redis URL (--namespace NS | --dsn DSN) (TABLE... | --all)",
		help: `Tells every process using cachedsql on the namespace that TABLEs changed,
so that none of them serves a cached read of those tables again. Use it after
writes that did not go through cachedsql: a migration, a batch job, another
service, a trigger. With --all every table of the namespace is invalidated.

The namespace is the namespace= key of the applications' DSN; without that
key it is derived from their driver and dsn keys, so pass their DSN with --dsn
(its redis= key then also gives the Redis URL).

A TABLE is named as in SQL (orders, public.Orders, '"my.table"'); it is
filed as the applications file it: its last dotted part, unquoted, in lower
case (with --dsn, PostgreSQL's names are also cut to 63 bytes). Where that
differs from the whole argument in lower case, that is invalidated too.

Example:
  cachedsql invalidate --redis redis://127.0.0.1:6379/0 --namespace shop orders order_items`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer, io.Writer) error {
			var t target
			fs.StringVar(&t.redisURL, "redis", "", "Redis `URL` the applications use (redis://[user:password@]host:port/db)")
			fs.StringVar(&t.namespace, "namespace", "", "cachedsql namespace `NS` (the DSN's namespace= key)")
			fs.StringVar(&t.dsn, "dsn", "", "the applications' cachedsql `DSN`, to take the namespace and Redis URL from")
			all := fs.Bool("all", false, "invalidate every table of the namespace")
			return func(ctx context.Context, tables []string, out, _ io.Writer) error {
				return runInvalidate(ctx, &t, *all, tables, out)
			}
		},
	})
}

func runInvalidate(ctx context.Context, t *target, all bool, tables []string, out io.Writer) error {
	if err := t.resolve(); err != nil {
		return err
	}
	switch {
	case all && len(tables) > 0:
		return usagef("give TABLEs or --all, not both")
	case !all && len(tables) == 0:
		return usagef("name the tables that changed (or --all for every table)")
	}
	var names []string
	for _, tb := range tables {
		if strings.TrimSpace(tb) == "" || strings.ContainsAny(tb, " \t\n") {
			return usagef("table name %q: expected one name per argument, without spaces", tb)
		}
		// Filed as the readers file them (Orders and public.orders are
		// orders), and whole too where that differs: a table whose quoted
		// name holds a dot or brackets ("Shop.Items") is filed whole (in lower
		// case), and scripts name it so. One name too many costs nothing.
		for _, n := range []string{cachedsql.TableName(t.driver, tb), sqlscan.TableName(sqlscan.DialectOf(t.driver), tb)} {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	tables = names
	client, err := openRedis(ctx, t.redisURL)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := generation.Publish(ctx, client, t.namespace, origin(), tables, all); err != nil {
		return err
	}
	what := "tables " + strings.Join(tables, ", ")
	if all {
		what = "every table"
	}
	fmt.Fprintf(out, "invalidated %s in namespace %s\n", what, t.namespace)
	return nil
}
