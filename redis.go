package cachedsql

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cachedsql/cachedsql/tier"
	"github.com/redis/go-redis/v9"
)

// openRedis makes the L2 and returns the client the invalidation clock shares
// with it, and what must be closed with them. Without Redis it returns nils:
// L1 only, and invalidation stays inside the process.
func openRedis(cfg *Config, log *slog.Logger) (redis.UniversalClient, tier.Tier, []func() error, error) {
	if cfg.Redis == nil && cfg.RedisURL == "" {
		return nil, nil, nil, nil
	}
	l2cfg := tier.L2Config{
		Client:       cfg.Redis,
		Namespace:    cfg.Namespace,
		DialTimeout:  cfg.RedisTimeout,
		ReadTimeout:  cfg.RedisTimeout,
		WriteTimeout: cfg.RedisTimeout,
	}
	if cfg.Redis == nil {
		l2cfg.URL = cfg.RedisURL
		quietRedis(log)
	}
	l2, err := tier.NewL2(l2cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cachedsql: redis: %w", redactErr(err, cfg.RedisURL))
	}
	return l2.Client(), l2, []func() error{l2.Close}, nil
}

func addL2Stats(l2 tier.Tier, s *Stats) {
	x, ok := l2.(*tier.L2)
	if !ok {
		return
	}
	st := x.Stats()
	s.L2BytesWritten = st.BytesWritten
	s.L2Breaker = st.BreakerState.String()
}

// go-redis logs pool failures through one process-wide logger that prints to
// stderr. A library must not print, so when cachedsql makes the client itself
// it routes those lines to the Logger of the latest such connector, at Debug
// level. An application that passes its own client keeps its own setting.
var (
	redisLogOnce sync.Once
	redisLog     atomic.Pointer[slog.Logger]
)

type slogRedisLogger struct{}

func (slogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
	}
}

func quietRedis(log *slog.Logger) {
	redisLog.Store(log)
	redisLogOnce.Do(func() { redis.SetLogger(slogRedisLogger{}) })
}
