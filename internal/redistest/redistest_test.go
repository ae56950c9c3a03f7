package redistest

import (
	"context"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	s.Flush()
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Fatalf("key survived FLUSHALL")
	}
	c.Set(ctx, "k", "v", 0)
	s.Restart()
	if v, err := c.Get(ctx, "k").Result(); err == nil {
		t.Fatalf("restarted server still had k=%q; it must start empty", v)
	}
	s.Pause()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := c.Ping(short).Err()
	cancel()
	if err == nil {
		t.Fatalf("PING answered while paused")
	}
	s.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after resume: %v", err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatalf("PING answered after stop")
	}
}
