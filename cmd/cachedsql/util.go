package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql"
	"github.com/cachedsql/cachedsql/internal/redact"
	"github.com/redis/go-redis/v9"
)

// openRedis connects to rawURL and checks that Redis answers, with an error
// that says what to do when it does not. The password never appears in it.
func openRedis(ctx context.Context, rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		if _, perr := url.Parse(rawURL); perr != nil {
			// Unparsable, the URL's password cannot be told from the rest,
			// and url's error repeats it.
			return nil, usagef("--redis %s is not a valid URL (percent-encode special characters in the user name and password; expected redis://[user:password@]host:port/db or rediss://...)", redactURL(rawURL))
		}
		return nil, usagef("--redis %s: %v (expected redis://[user:password@]host:port/db or rediss://...)", redactURL(rawURL), redactErr(err, rawURL))
	}
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach Redis at %s: %v; start redis-server or give the right --redis URL", opt.Addr, redactErr(err, rawURL))
	}
	return client, nil
}

// redactURL hides the password of a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Its user info and query (a password=) may each hold ?, @ and /:
		// no cut can be trusted to find where a password ends.
		return redact.UnparsedURL(raw)
	}
	// The query may hold a password= too: never shown.
	u.RawQuery = ""
	if u.User == nil {
		return u.String()
	}
	return u.Redacted()
}

func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// target is where watch and invalidate operate: a Redis URL and a namespace,
// given directly or taken from an application's cachedsql DSN.
type target struct {
	redisURL, namespace, dsn string
	driver                   string // the DSN's driver= key, for the names' dialect
}

// resolve fills what the DSN gives and checks that both parts are known.
func (t *target) resolve() error {
	if t.dsn != "" {
		cfg, err := cachedsql.ParseDSN(t.dsn)
		if err != nil {
			return usagef("--dsn: %v", err)
		}
		if t.redisURL == "" {
			t.redisURL = cfg.RedisURL
		}
		t.driver = cfg.DriverName
		if t.namespace == "" {
			ns, err := namespaceOf(cfg)
			if err != nil {
				return err
			}
			t.namespace = ns
		}
	}
	if t.redisURL == "" {
		return usagef("no Redis: give --redis URL (for example redis://127.0.0.1:6379/0), or --dsn with a redis= key")
	}
	if t.namespace == "" {
		return usagef("no namespace: give --namespace NS (the namespace= key of the application's DSN) or --dsn with the application's cachedsql DSN")
	}
	return nil
}

// namespaceOf returns the namespace a cachedsql DSN's connector uses: its
// namespace key, or the default the library derives from driver and DSN. The
// library computes that default; asking it needs the inner driver compiled
// into this binary, so for other drivers the same derivation is done here
// (TestNamespaceOfMatchesLibrary keeps the two in step).
func namespaceOf(cfg *cachedsql.Config) (string, error) {
	if cfg.Namespace != "" {
		return cfg.Namespace, nil
	}
	if !slices.Contains(sql.Drivers(), cfg.DriverName) {
		return defaultNamespace(cfg.DriverName, cfg.DSN), nil
	}
	local := *cfg
	local.RedisURL, local.L1MiB = "", -1
	c, err := cachedsql.NewConnector(local)
	if err != nil {
		return "", fmt.Errorf("deriving the namespace from --dsn: %w", err)
	}
	defer c.Close()
	if c.Namespace() != defaultNamespace(cfg.DriverName, cfg.DSN) {
		// The library made it private to this process, or to this opening
		// (an in-memory SQLite database): another process's cannot be
		// derived.
		return "", fmt.Errorf("--dsn names a database private to the process that opens it (in-memory SQLite): give --namespace")
	}
	return c.Namespace(), nil
}

// defaultNamespace is the library's derivation of a namespace from the inner
// driver name and DSN (connector.go), for drivers this binary lacks.
func defaultNamespace(driverName, dsn string) string {
	sum := sha256.Sum256([]byte(driverName + "\x00" + dsn))
	return hex.EncodeToString(sum[:8])
}

// origin names this process in the events it publishes.
func origin() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("cachedsql-cli@%s:%d", host, os.Getpid())
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}

var errInterrupted = errors.New("interrupted")
