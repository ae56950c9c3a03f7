package cachedsql

import (
	"strings"
	"testing"
)

// TestRedisURLErrorHidesPassword: the same URLs through NewConnector
// (Config.RedisURL), whose errors pass through redactErr.
// A Redis URL that does not parse must not show its password in
// NewConnector's error, even when a control character next to it is
// escaped there (%q).
func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, u := range []string{
		"redis://sentinel:26379/0?master_name=mymaster&password=hunter2\n",
		"redis://sentinel:26379/0?master_name=mymaster&password=hunter2\x7f",
		"redis://sentinel:26379/0?master_name=mymaster&password=hunter2\x7f&db=0",
	} {
		cfg := Config{DriverName: "sqlite3", DSN: ":memory:", Namespace: "secret-test", RedisURL: u}
		c, err := NewConnector(cfg)
		if err == nil {
			c.Close()
			t.Fatalf("NewConnector accepted %q", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewConnector's error shows the password: %v", err)
		}
	}
}

// Same through NewConnector, whose errors pass through redactErr.
func TestAtInQueryRedisURLSentinelQueryPasswordWithAt(t *testing.T) {
	for _, u := range []string{
		"redis://app:s3ntinel@sentinel:26379/0?master_name=mymaster&password=hunter2\n",
		"redis://sentinel:26379/0?master_name=mymaster&password=hun@ter2\n",
	} {
		cfg := Config{DriverName: "sqlite3", DSN: ":memory:", Namespace: "rv-secret", RedisURL: u}
		c, err := NewConnector(cfg)
		if err == nil {
			c.Close()
			t.Fatalf("NewConnector accepted %q", u)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("NewConnector's error shows the password: %v", err)
		}
	}
}
