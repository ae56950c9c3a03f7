package cachedsql

import (
	"fmt"
	"log/slog"

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
