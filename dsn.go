package cachedsql

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql/internal/dsnkv"
	"github.com/cachedsql/cachedsql/internal/redact"
)

// ErrDSN reports a cachedsql DSN that cannot be used. Its messages name the
// offending key and never contain a password.
var ErrDSN = errors.New("cachedsql: bad DSN")

// dsnKeys lists every key in the order FormatDSN writes them.
var dsnKeys = []string{"driver", "dsn", "redis", "ttl", "namespace", "l1_mib", "l1_ttl", "max_rows", "max_bytes", "redis_timeout", "stale_bound", "pure_functions"}

// ParseDSN reads a cachedsql DSN:
//
//	driver=sqlite3 dsn='file:app.db?_journal_mode=WAL' redis=redis://127.0.0.1:6379/0 ttl=5m
//
// Keys: driver (required), dsn (required), redis, ttl, namespace, l1_mib,
// l1_ttl, max_rows, max_bytes, redis_timeout, stale_bound, pure_functions
// (comma-separated, for Config.PureFunctions); see Config for
// what each means. The syntax is libpq's keyword/value form.
func ParseDSN(s string) (*Config, error) {
	pairs, err := dsnkv.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDSN, err)
	}
	cfg := &Config{}
	var hasDriver, hasDSN bool
	for _, p := range pairs {
		v := p.Value
		var err error
		switch p.Key {
		case "driver":
			cfg.DriverName, hasDriver = v, true
			if v == "" {
				err = errors.New("must name the inner driver")
			}
		case "dsn":
			cfg.DSN, hasDSN = v, true
		case "redis":
			if v != "" {
				if _, perr := url.Parse(v); perr != nil || !strings.Contains(v, "://") {
					err = errors.New("must be a redis:// or rediss:// URL")
				}
			}
			cfg.RedisURL = v
		case "ttl":
			cfg.TTL, err = ParseStrategy(v)
		case "namespace":
			cfg.Namespace = v
			if v == "" {
				err = errors.New("must not be empty (omit the key for the default)")
			}
		case "l1_mib":
			var n int
			n, err = parseCount(v)
			cfg.L1MiB = n
			if n == 0 {
				cfg.L1MiB = -1
			}
		case "l1_ttl":
			cfg.L1MaxTTL, err = parseDuration(v)
		case "max_rows":
			cfg.MaxRows, err = parseLimit(v)
		case "max_bytes":
			cfg.MaxBytes, err = parseLimit(v)
		case "redis_timeout":
			cfg.RedisTimeout, err = parseDuration(v)
		case "stale_bound":
			cfg.StaleBound, err = parseDuration(v)
		case "pure_functions":
			cfg.PureFunctions = nil
			for f := range strings.SplitSeq(v, ",") {
				if f = strings.TrimSpace(f); f == "" {
					err = errors.New("an empty function name (give names separated by commas)")
					break
				}
				cfg.PureFunctions = append(cfg.PureFunctions, f)
			}
		default:
			return nil, fmt.Errorf("%w: unknown key %q (known keys: %s)", ErrDSN, p.Key, strings.Join(dsnKeys, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", ErrDSN, p.Key, redactErr(err, v))
		}
	}
	if !hasDriver {
		return nil, fmt.Errorf("%w: key driver is required (the inner driver's registered name, e.g. driver=sqlite3)", ErrDSN)
	}
	if !hasDSN {
		return nil, fmt.Errorf("%w: key dsn is required (the inner driver's own DSN, quoted: dsn='...')", ErrDSN)
	}
	return cfg, nil
}

// FormatDSN writes the DSN form of cfg: ParseDSN(FormatDSN(cfg)) gives back
// every field a DSN can express. Fields set only in code (Driver, Connector,
// Redis, Tables, Dependencies, Logger) are not written.
func FormatDSN(cfg *Config) string {
	var pairs []dsnkv.Pair
	add := func(k, v string) { pairs = append(pairs, dsnkv.Pair{Key: k, Value: v}) }
	add("driver", cfg.DriverName)
	add("dsn", cfg.DSN)
	if cfg.RedisURL != "" {
		add("redis", cfg.RedisURL)
	}
	if !cfg.TTL.isZero() {
		add("ttl", cfg.TTL.String())
	}
	if cfg.Namespace != "" {
		add("namespace", cfg.Namespace)
	}
	switch {
	case cfg.L1MiB < 0:
		add("l1_mib", "0")
	case cfg.L1MiB > 0:
		add("l1_mib", strconv.Itoa(cfg.L1MiB))
	}
	if cfg.L1MaxTTL != 0 {
		add("l1_ttl", cfg.L1MaxTTL.String())
	}
	if cfg.MaxRows != 0 {
		add("max_rows", strconv.Itoa(cfg.MaxRows))
	}
	if cfg.MaxBytes != 0 {
		add("max_bytes", strconv.Itoa(cfg.MaxBytes))
	}
	if cfg.RedisTimeout != 0 {
		add("redis_timeout", cfg.RedisTimeout.String())
	}
	if cfg.StaleBound != 0 {
		add("stale_bound", cfg.StaleBound.String())
	}
	if len(cfg.PureFunctions) > 0 {
		add("pure_functions", strings.Join(cfg.PureFunctions, ","))
	}
	return dsnkv.Format(pairs)
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole number ≥ 0", v)
	}
	return n, nil
}

// parseLimit reads a cap: a positive number, or -1 for no limit.
func parseLimit(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n == 0 || n < -1 {
		return 0, fmt.Errorf("%q is not a positive whole number (or -1 for no limit)", v)
	}
	return n, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive Go duration (such as 250ms or 5m)", v)
	}
	return d, nil
}

// redactErr hides every secret of dsn in err's message; errors.Is still sees
// through to err.
func redactErr(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	redacted := redact.Hide(msg, dsn)
	if redacted == msg {
		return err
	}
	return &redactedError{msg: redacted, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
