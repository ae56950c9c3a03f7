package tier

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// The lookups L2 does not use, kept for BenchmarkL2GetInterleaved and for
// TestL2FetchAlternatives, which checks they agree with fetchPipeline.

// getLua returns nil on a miss and {value, PTTL} on a hit.
var getLua = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`)

// fetchScript runs getLua with EVALSHA (EVAL when Redis lacks it).
func (l *L2) fetchScript(ctx context.Context, k string) (raw []byte, pttl int64, found bool, err error) {
	res, err := getLua.Run(ctx, l.client, []string{k}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	pair, ok := res.([]any)
	if !ok || len(pair) != 2 {
		return nil, 0, false, fmt.Errorf("%w: script reply %T", ErrCorrupt, res)
	}
	s, ok1 := pair[0].(string)
	ms, ok2 := pair[1].(int64)
	if !ok1 || !ok2 {
		return nil, 0, false, fmt.Errorf("%w: script reply (%T, %T)", ErrCorrupt, pair[0], pair[1])
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), ms, true, nil
}

// fetchMulti sends GET and PTTL in MULTI/EXEC.
func (l *L2) fetchMulti(ctx context.Context, k string) (raw []byte, pttl int64, found bool, err error) {
	pipe := l.client.TxPipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	} else if err != nil {
		return nil, 0, false, err
	}
	b, _ := get.Bytes()
	d := ttl.Val()
	if d < 0 {
		return b, int64(d), d != -2, nil
	}
	return b, d.Milliseconds(), true, nil
}
