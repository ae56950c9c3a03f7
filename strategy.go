package cachedsql

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Strategy says whether and for how long a read is cached.
//
// The strategy of a query is chosen per query, first match wins: the context
// (WithStrategy), a comment hint in the SQL text (/* cachedsql:ttl=30s */,
// /* cachedsql:ttl=short */, /* cachedsql:nocache */), a per-table rule in
// Config.Tables (the shortest TTL among the tables read; NoCache wins), then the
// connector's default (Config.TTL, DSN key ttl).
type Strategy struct {
	name string
	ttl  time.Duration // 0 with name "nocache" means never cache
}

// The presets.
var (
	RealTime   = Strategy{"realtime", 10 * time.Second}
	ShortTerm  = Strategy{"short", 5 * time.Minute}
	MediumTerm = Strategy{"medium", time.Hour}
	LongTerm   = Strategy{"long", 3 * time.Hour}
	// Default is the strategy when nothing else chose one: 5 minutes.
	Default = Strategy{"", 5 * time.Minute}
	// NoCache sends the query to the database every time.
	NoCache = Strategy{"nocache", 0}
)

var presets = []Strategy{RealTime, ShortTerm, MediumTerm, LongTerm, NoCache}

// Custom caches for d. d must be positive; Custom(0) or less is NoCache.
func Custom(d time.Duration) Strategy {
	if d <= 0 {
		return NoCache
	}
	return Strategy{"", d}
}

// TTL is how long a result is cached; 0 means not cached.
func (s Strategy) TTL() time.Duration { return s.ttl }

// Caches reports whether the strategy caches at all.
func (s Strategy) Caches() bool { return s.ttl > 0 }

// String is the preset name, or the TTL as a Go duration.
func (s Strategy) String() string {
	if s.name != "" {
		return s.name
	}
	return s.ttl.String()
}

func (s Strategy) isZero() bool { return s == Strategy{} }

// ParseStrategy reads a preset name (realtime, short, medium, long, nocache) or
// a positive Go duration ("90s").
func ParseStrategy(v string) (Strategy, error) {
	for _, p := range presets {
		if strings.EqualFold(v, p.name) {
			return p, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return Strategy{}, fmt.Errorf("%q is neither a preset (realtime, short, medium, long, nocache) nor a Go duration: %w", v, err)
	}
	if d <= 0 {
		return Strategy{}, fmt.Errorf("%q: a TTL must be positive (use nocache to disable caching)", v)
	}
	return Custom(d), nil
}

type strategyKey struct{}

// WithStrategy returns a context under which queries use s, whatever their
// hints, table rules and the default say. The zero Strategy chooses nothing:
// under it, queries follow their hints, rules and the default again (as the
// zero Config.TTL means the default), even below a context that chose one.
func WithStrategy(ctx context.Context, s Strategy) context.Context {
	return context.WithValue(ctx, strategyKey{}, s)
}

func strategyFrom(ctx context.Context) (Strategy, bool) {
	s, ok := ctx.Value(strategyKey{}).(Strategy)
	return s, ok
}

// hintStrategy reads the strategy from comment hints: "nocache" or "ttl=X".
// A malformed hint is ignored with ok=false and reported as bad, so a typo in a
// comment never breaks the query.
func hintStrategy(hints []string) (s Strategy, ok bool, bad string) {
	for _, h := range hints {
		h = strings.TrimSpace(h)
		switch {
		case strings.EqualFold(h, "nocache"):
			return NoCache, true, ""
		case strings.HasPrefix(strings.ToLower(h), "ttl="):
			st, err := ParseStrategy(strings.TrimSpace(h[4:]))
			if err != nil {
				return Strategy{}, false, h
			}
			return st, true, ""
		default:
			bad = h
		}
	}
	return Strategy{}, false, bad
}

// tableStrategy applies per-table rules to the tables a query reads: NoCache
// if any table says so, else the shortest TTL of the tables with a rule.
func tableStrategy(rules map[string]Strategy, tables []string) (Strategy, bool) {
	var best Strategy
	found := false
	for _, t := range tables {
		r, ok := rules[t]
		if !ok {
			continue
		}
		if !r.Caches() {
			return NoCache, true
		}
		if !found || r.ttl < best.ttl {
			best, found = r, true
		}
	}
	return best, found
}
