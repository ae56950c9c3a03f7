// Package tier holds the cache tiers: L1 in process memory (bigcache) and L2 in Redis.
//
// Every tier stores opaque byte values under keying.Key with a per-entry time to
// live, and reports on lookup how long the entry has left, so that a value copied
// from one tier to another never outlives its original.
//
// The contract every tier keeps:
//   - A hit has ok true and ttl > 0: the time the entry has left, measured
//     from no later than when Get returned. Storing the value elsewhere for
//     ttl never makes it live longer than the original. A tier that cannot
//     tell the remaining life (an L2 entry with no expiry) reports a miss.
//   - A miss has ok false, a nil value and ttl 0; err says why when it was
//     not a plain absence (Redis failing, the breaker open, a corrupt entry).
//     Callers treat every error as a miss; errors are for stats and logs.
//   - Set never substitutes a TTL: ttl ≤ 0 is an error (ErrBadTTL), and a
//     tier only ever shortens a TTL (L1's MaxTTL cap, L2's millisecond
//     truncation).
//   - No input, stored bytes included, makes a tier panic.
package tier

import (
	"context"
	"time"

	"github.com/cachedsql/cachedsql/keying"
)

// Tier is one level of the cache.
type Tier interface {
	// Get returns the value stored under key and how long it has left to live.
	// ok is false on a miss. A non-nil error means the tier could not answer;
	// callers treat it as a miss. The returned slice belongs to the caller,
	// who may write to it (cachedsql hands a lone reader's []byte values out
	// of it). On a hit ttl is positive.
	Get(ctx context.Context, key keying.Key) (value []byte, ttl time.Duration, ok bool, err error)
	// Set stores value under key for ttl (ttl must be positive). The tier does
	// not retain value after Set returns.
	Set(ctx context.Context, key keying.Key, value []byte, ttl time.Duration) error
	// Close releases the tier's resources.
	Close() error
}

// ValueGetter is a tier that answers more cheaply when the caller has no use
// for the remaining life (it will not copy the value into another tier). On
// a hit ok is true; ttl is not reported, and an entry with no expiry is a hit.
// The returned slice belongs to the caller, who may write to it, as with Get.
type ValueGetter interface {
	GetValue(ctx context.Context, key keying.Key) (value []byte, ok bool, err error)
}
