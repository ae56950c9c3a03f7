package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters without replicas, each a Server on
// loopback. It is torn down when the test ends.
type Cluster struct {
	t       testing.TB
	masters []*Server
}

// StartCluster starts masters redis-server processes with cluster mode on,
// joins them with `redis-cli --cluster create` (slots split evenly, no
// replicas) and waits until every node reports cluster_state:ok.
//
// cluster-require-full-coverage is off, so when one master dies the others
// keep serving their slots, as a production cluster configured for
// availability does. Tests skip when redis-server or redis-cli is missing.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, asked for %d", masters)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli is not on PATH: install it (apt-get install redis-tools) to run this test")
	}
	c := &Cluster{t: t}
	for range masters {
		c.masters = append(c.masters, Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // relative to the server's own dir
			"--cluster-node-timeout", "1000",
			"--cluster-require-full-coverage", "no",
		))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(ctx)
	return c
}

// waitOK polls CLUSTER INFO on every node until all say cluster_state:ok
// and know every master.
func (c *Cluster) waitOK(ctx context.Context) {
	c.t.Helper()
	var last string
	for _, s := range c.masters {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
		for {
			info, err := rc.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.masters))+"\r") {
				break
			}
			last = info
			if err != nil {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				rc.Close()
				c.t.Fatalf("redistest: cluster node %s not ready: %s", s.Addr(), last)
			case <-time.After(20 * time.Millisecond): // polling processes we do not control
			}
		}
		rc.Close()
	}
}

// Addrs returns the masters' host:port addresses in start order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.masters))
	for i, s := range c.masters {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Master returns the i-th master's Server (to Pause, Resume or Flush it).
func (c *Cluster) Master(i int) *Server { return c.masters[i] }

// URL is a redis:// URL naming every master, in the form
// redis.ParseClusterURL accepts.
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			u += "?addr=" + a
		} else {
			u += "&addr=" + a
		}
	}
	return u
}

// Client returns a cluster client for the masters, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// KillMaster kills the i-th master with SIGKILL. With no replicas its slots
// stay unserved; the other masters keep serving theirs.
func (c *Cluster) KillMaster(i int) { c.masters[i].Stop() }
