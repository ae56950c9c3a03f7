// Package probe tells, for one read made through cachedsql, where its answer
// came from.
//
// Two facts are observable from outside: whether the inner database driver ran
// a query (Driver wraps it and counts), and whether a Redis call answered with
// a value (Hook is a go-redis hook on the client given to cachedsql as its L2).
// Both see the context of the read: cachedsql passes the caller's context to
// Redis, and runs a shared query on a context detached from the caller's
// cancellation but carrying its values. A Probe put in the context with With
// therefore learns what happened on behalf of that read, even when other reads
// run concurrently. One fact is not observable from outside: identical reads
// arriving together share one L2 lookup, made under the first one's context;
// cachedsql tells the others through internal/readhook, which a Probe
// implements. Path turns what a Probe saw into a path name.
package probe

import (
	"context"
	"database/sql/driver"
	"net"
	"sync/atomic"

	"github.com/cachedsql/cachedsql/internal/countdriver"
	"github.com/cachedsql/cachedsql/internal/readhook"
	"github.com/redis/go-redis/v9"
)

// Probe records what happened on behalf of one operation. Its zero value is
// ready to use; it is safe for concurrent use.
type Probe struct {
	DBQueries atomic.Int32 // queries the inner driver ran for this operation
	RedisOK   atomic.Int32 // Redis calls that answered with a value
	RedisMiss atomic.Int32 // Redis calls that answered nil or failed
}

type probeKey struct{}

// With returns ctx carrying p, as a Probe and as cachedsql's read hook.
func With(ctx context.Context, p *Probe) context.Context {
	return readhook.With(context.WithValue(ctx, probeKey{}, p), p)
}

var _ readhook.Hook = (*Probe)(nil)

// SharedL2 counts the outcome of another read's L2 lookup that this read
// took as if this read had made the call.
func (p *Probe) SharedL2(hit bool) {
	if hit {
		p.RedisOK.Add(1)
	} else {
		p.RedisMiss.Add(1)
	}
}

func from(ctx context.Context) *Probe {
	p, _ := ctx.Value(probeKey{}).(*Probe)
	return p
}

// Paths of a read, as Path names them.
const (
	PathDatabase  = "database"  // this read ran the query on the database (a miss or a bypass)
	PathCoalesced = "coalesced" // missed every tier and waited for another read's query
	PathL1        = "L1 hit"    // answered from the in-process cache
	PathL2        = "L2 hit"    // answered from Redis
)

// Path classifies a read from what p saw. withL2 says whether cachedsql has an
// L2 whose client carries Hook. Without an L2 a read that waited for another
// read's query cannot be told from an L1 hit: both are reported as PathL1.
func Path(p *Probe, withL2 bool) string {
	switch {
	case p.DBQueries.Load() > 0:
		return PathDatabase
	case p.RedisOK.Load() > 0:
		return PathL2
	case withL2 && p.RedisMiss.Load() > 0:
		return PathCoalesced
	default:
		return PathL1
	}
}

// Hook is a go-redis hook that records, in the Probe of a command's context,
// whether the command answered with a value. Commands without a Probe in
// their context (cachedsql's background writes and its invalidation stream)
// are not looked at.
type Hook struct{}

var _ redis.Hook = Hook{}

func (Hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if p := from(ctx); p != nil {
			// go-redis sets cmd's error only after the hooks return: judge by err.
			record(p, cmd, err)
		}
		return err
	}
}

func (Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if p := from(ctx); p != nil {
			// A pipeline is one lookup (cachedsql's L2 sends GET and PTTL
			// together): it found a value only if every reply is one, since
			// on a miss GET answers nil while PTTL still answers -2.
			ok := len(cmds) > 0
			for _, c := range cmds {
				ok = ok && answered(c)
			}
			if ok {
				p.RedisOK.Add(1)
			} else {
				p.RedisMiss.Add(1)
			}
		}
		return err
	}
}

func record(p *Probe, cmd redis.Cmder, err error) {
	if err == nil && answered(cmd) {
		p.RedisOK.Add(1)
		return
	}
	// A script's first EVALSHA fails with NOSCRIPT and is retried as EVAL:
	// the retry says whether it was a hit.
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return
	}
	p.RedisMiss.Add(1)
}

// answered reports whether cmd succeeded with a value (a GET of an existing
// key, a script returning its pair): nil replies and errors are misses.
func answered(cmd redis.Cmder) bool {
	if cmd.Err() != nil {
		return false
	}
	if c, ok := cmd.(*redis.Cmd); ok {
		return c.Val() != nil
	}
	return true
}

// Driver counts the queries and statements that reach an inner driver.
type Driver = countdriver.Driver

// NewDriver wraps inner so that every query reaching it is counted and
// recorded in the Probe of its context (cachedsql's shared query keeps the
// caller's context values).
func NewDriver(inner driver.Driver) *Driver {
	return countdriver.Observe(inner, func(ctx context.Context) {
		if p := from(ctx); p != nil {
			p.DBQueries.Add(1)
		}
	})
}
