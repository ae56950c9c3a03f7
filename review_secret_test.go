package cachedsql

import (
	"database/sql"
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

// Same through NewConnector and through the DSN: a Redis password with a
// '?' typed as is shows up to its '?'.
func TestRedisURLHidesPasswordWithQuestionMark(t *testing.T) {
	u := "redis://app:s3c?ret@127.0.0.1:6379/0"
	c, err := NewConnector(Config{DriverName: "sqlite3", DSN: ":memory:", Namespace: "rv-secret-q", RedisURL: u})
	if err == nil {
		c.Close()
		t.Fatalf("NewConnector accepted %q", u)
	}
	if strings.Contains(err.Error(), "s3c") {
		t.Errorf("NewConnector's error shows the password: %v", err)
	}
	db, err := sql.Open("cachedsql", "driver=sqlite3 dsn=:memory: redis='"+u+"'")
	if err == nil {
		err = db.Ping()
		db.Close()
	}
	if err == nil {
		t.Fatalf("sql.Open accepted %q", u)
	}
	if strings.Contains(err.Error(), "s3c") {
		t.Errorf("sql.Open's error shows the password: %v", err)
	}
}
