// Package tier holds the cache tiers: L1 in process memory (bigcache) and L2 in Redis.
//
// Every tier stores opaque byte values under keying.Key with a per-entry time to
// live, and reports on lookup how long the entry has left, so that a value copied
// from one tier to another never outlives its original.
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
	// callers treat it as a miss. The returned slice belongs to the caller.
	Get(ctx context.Context, key keying.Key) (value []byte, ttl time.Duration, ok bool, err error)
	// Set stores value under key for ttl (ttl must be positive). The tier does
	// not retain value after Set returns.
	Set(ctx context.Context, key keying.Key, value []byte, ttl time.Duration) error
	// Close releases the tier's resources.
	Close() error
}
