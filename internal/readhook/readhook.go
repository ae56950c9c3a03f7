// Package readhook lets a tool in this repository learn, for one read, what
// cachedsql did that watching Redis and the database from that read's
// context cannot show: that the read took the outcome of another read's L2
// lookup, which ran under the other read's context. cachedsql looks for a
// hook only on that path, so reads without one pay nothing.
package readhook

import "context"

// Hook receives the events of the reads whose context carries it.
type Hook interface {
	// SharedL2 reports that the read took the outcome of a concurrent
	// identical read's L2 lookup: a hit, or not (a miss or a failure).
	SharedL2(hit bool)
}

type key struct{}

// With returns a context carrying h.
func With(ctx context.Context, h Hook) context.Context { return context.WithValue(ctx, key{}, h) }

// From returns the hook ctx carries, or nil.
func From(ctx context.Context) Hook {
	h, _ := ctx.Value(key{}).(Hook)
	return h
}
