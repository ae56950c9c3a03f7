package cachedsql

import (
	"database/sql"
	"errors"
	"sync/atomic"
)

// Bypass reasons: why a query went to the database without looking at the cache.
const (
	BypassTx         = "tx"          // inside a transaction
	BypassWrite      = "write"       // a write, DDL or transaction statement
	BypassLocking    = "locking"     // FOR UPDATE / FOR SHARE
	BypassVolatile   = "volatile"    // NOW(), RANDOM(), nextval, session variables, ...
	BypassNoCache    = "nocache"     // the strategy said not to cache
	BypassArgs       = "args"        // an argument of a type keys cannot encode
	BypassUnknown    = "unknown"     // SQL the scanner could not classify
	BypassSession    = "session"     // the connection changed session state (SET, USE, temp tables)
	BypassOutOfSync  = "out_of_sync" // invalidations could not be vouched for (stream down too long)
	bypassReasonsLen = 9
)

var bypassNames = [bypassReasonsLen]string{BypassTx, BypassWrite, BypassLocking, BypassVolatile, BypassNoCache, BypassArgs, BypassUnknown, BypassSession, BypassOutOfSync}

type bypassReason uint8

const (
	byTx bypassReason = iota
	byWrite
	byLocking
	byVolatile
	byNoCache
	byArgs
	byUnknown
	bySession
	byOutOfSync
)

// Stats is a snapshot of one namespace's cache counters, shared by every
// *sql.DB opened on that namespace in this process.
type Stats struct {
	Namespace string

	L1Hits, L1Misses int64
	L1DecodedHits    int64 // L1 hits served from results kept decoded (part of L1Hits)
	L2Hits, L2Misses int64
	L2Errors         int64 // Redis lookups that failed or found garbage: served as misses, counted here instead of L2Misses (a refusal by the open breaker is an L2Miss); and fills' Redis writes that failed or ran past their budget
	Promotions       int64 // L2 hits copied into L1
	Fills            int64 // results read from the database and stored
	CoalescedWaits   int64 // callers that waited for another caller's query instead of running their own
	Uncacheable      int64 // results too large or of types the codec cannot reproduce
	Corrupt          int64 // entries that failed to decode (each counted as a miss)
	Invalidations    int64 // generation moves made by writes in this process
	Bypass           map[string]int64

	L1Entries int64
	// L1Bytes is the memory L1 has allocated for entries; it grows as entries
	// arrive, up to L1Capacity, and once there a new entry evicts the oldest
	// ones until it has room. L1Capacity is below l1_mib: the results kept
	// decoded take their share of it.
	L1Bytes, L1Capacity int64

	L2BytesWritten int64
	L2Breaker      string // closed, open or half-open; "" without Redis

	StreamSent, StreamReceived, Resyncs int64
	StreamConnected                     bool
	StreamLagMillis                     float64
}

type counters struct {
	l1Hits, l2Misses, l2Errors atomic.Int64
	hotHits                    stripedCounter // decoded hits; l1Hits holds the others
	// Bumped by every L2 hit, which 64 readers of one key make at once.
	l1Misses, l2Hits                          stripedCounter
	promotions, fills, coalesced, uncacheable atomic.Int64
	corrupt, invalidations                    atomic.Int64
	bypass                                    [bypassReasonsLen]atomic.Int64
}

// stripedCounter is a counter bumped by many goroutines at once on the
// hottest path (a decoded hit): each connection adds to one of several
// cache lines, so 64 readers of one key do not pass a single line between
// cores on every read.
type stripedCounter struct {
	lanes [counterLanes]struct {
		n atomic.Int64
		_ [56]byte // a lane per 64-byte cache line
	}
}

const counterLanes = 8

func (c *stripedCounter) add(lane uint32, n int64) { c.lanes[lane%counterLanes].n.Add(n) }

// Load is the sum of the lanes.
func (c *stripedCounter) Load() int64 {
	var sum int64
	for i := range c.lanes {
		sum += c.lanes[i].n.Load()
	}
	return sum
}

// laneSeq numbers connections, which each use the lane of their number.
var laneSeq atomic.Uint32

// StatsOf returns the cache statistics of a *sql.DB opened with the cachedsql
// driver or on a Connector.
func StatsOf(db *sql.DB) (Stats, error) {
	c, err := connectorOf(db)
	if err != nil {
		return Stats{}, err
	}
	return c.Stats(), nil
}

var errNotCachedSQL = errors.New("cachedsql: this *sql.DB was not opened with the cachedsql driver")

func connectorOf(db *sql.DB) (*Connector, error) {
	if d, ok := db.Driver().(*connectorDriver); ok {
		return d.c, nil
	}
	return nil, errNotCachedSQL
}
