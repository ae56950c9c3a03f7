package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql/generation"
)

func init() {
	register(&command{
		name:    "watch",
		summary: "tail the invalidation events of a namespace",
		usage:   "watch --redis URL (--namespace NS | --dsn DSN) [--from ID] [--json]",
		help: `Prints every invalidation event of the namespace as it is published on the
Redis stream: writes made through cachedsql by any process, and
'cachedsql invalidate' announcements. One line per event:

  TIME  STREAM-ID  ORIGIN  TABLES

With --json each event is one JSON object per line:
  {"id":"...","time":"...","origin":"...","tables":["orders"],"all":false}

By default it starts at the end of the stream (only new events); --from 0
replays every event the stream still keeps, --from ID the events after ID.
Ctrl-C stops it (exit code 0).`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer, io.Writer) error {
			var t target
			fs.StringVar(&t.redisURL, "redis", "", "Redis `URL` the applications use (redis://[user:password@]host:port/db)")
			fs.StringVar(&t.namespace, "namespace", "", "cachedsql namespace `NS` (the DSN's namespace= key)")
			fs.StringVar(&t.dsn, "dsn", "", "the applications' cachedsql `DSN`, to take the namespace and Redis URL from")
			from := fs.String("from", "", "start after stream `ID` (0 = from the oldest event kept; default: only new events)")
			asJSON := fs.Bool("json", false, "print one JSON object per event")
			return func(ctx context.Context, args []string, out, errOut io.Writer) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runWatch(ctx, &t, *from, *asJSON, out, errOut)
			}
		},
	})
}

// watchEvent is the JSON form of an event.
type watchEvent struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Origin string    `json:"origin"`
	Tables []string  `json:"tables"`
	All    bool      `json:"all"`
}

func runWatch(ctx context.Context, t *target, from string, asJSON bool, out, errOut io.Writer) error {
	if err := t.resolve(); err != nil {
		return err
	}
	if from != "" && from != "$" && !validStreamID(from) {
		return usagef("--from %q: expected a stream id like 1712345678901-0, a millisecond time, or 0", from)
	}
	client, err := openRedis(ctx, t.redisURL)
	if err != nil {
		return err
	}
	defer client.Close()
	_, stream := generation.Keys(t.namespace)
	if from == "" || from == "$" {
		// Resolved here rather than by Tail so that the "watching" line
		// below is printed only once every later event will be seen.
		last, err := client.XRevRangeN(ctx, stream, "+", "-", 1).Result()
		if err != nil {
			return fmt.Errorf("reading the end of stream %s: %w", stream, err)
		}
		from = "0-0"
		if len(last) > 0 {
			from = last[0].ID
		}
	}
	fmt.Fprintf(errOut, "watching namespace %s (stream %s) after id %s; Ctrl-C to stop\n", t.namespace, stream, from)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	err = generation.Tail(ctx, client, t.namespace, from, func(e generation.Event) error {
		all := len(e.Tables) == 0
		if asJSON {
			tables := e.Tables
			if tables == nil {
				tables = []string{}
			}
			return enc.Encode(watchEvent{ID: e.ID, Time: e.Time, Origin: e.Origin, Tables: tables, All: all})
		}
		tables := strings.Join(e.Tables, ",")
		if all {
			tables = "(every table)"
		}
		_, err := fmt.Fprintf(out, "%s  %s  %s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.ID, e.Origin, tables)
		return err
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C: the normal way to stop watching
	}
	return err
}

// validStreamID accepts what XREAD takes as a start: "ms" or "ms-seq".
func validStreamID(s string) bool {
	ms, seq, hasSeq := strings.Cut(s, "-")
	return digits(ms) && (!hasSeq || digits(seq))
}

func digits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
