package redistest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestCluster(t *testing.T) {
	t0 := time.Now()
	c := StartCluster(t, 3)
	t.Logf("cluster up in %v", time.Since(t0))
	cc := c.Client()
	ctx := context.Background()

	// Writes reach every master: slots were split over all of them.
	var mu sync.Mutex
	perMaster := map[string]int{}
	for i := range 300 {
		k := fmt.Sprintf("key:%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		perMaster[m.Options().Addr] = int(n)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	if len(perMaster) != 3 {
		t.Fatalf("cluster client saw %d masters, want 3: %v", len(perMaster), perMaster)
	}
	for addr, n := range perMaster {
		if n == 0 {
			t.Fatalf("master %s holds no key of 300: %v", addr, perMaster)
		}
	}

	// A killed master fails its own slots only. A client that does not
	// retry keeps this quick.
	c.KillMaster(0)
	cc = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()[1:], MaxRetries: -1, MaxRedirects: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	defer cc.Close()
	dead := c.Addrs()[0]
	var failed, served int
	for i := range 300 {
		k := fmt.Sprintf("key:%d", i)
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := cc.Get(short, k).Err()
		cancel()
		if err != nil {
			failed++
		} else {
			served++
		}
	}
	if failed == 0 || served == 0 {
		t.Fatalf("after killing %s: %d reads failed, %d served; want some of each", dead, failed, served)
	}
}
