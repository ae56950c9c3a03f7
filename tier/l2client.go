package tier

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cachedsql/cachedsql/internal/redact"
	"github.com/redis/go-redis/v9"
)

// Default L2 timeouts: a cache lookup that takes longer than the database
// query it saves is worse than a miss.
const (
	DefaultL2DialTimeout  = 250 * time.Millisecond
	DefaultL2ReadTimeout  = 200 * time.Millisecond
	DefaultL2WriteTimeout = 200 * time.Millisecond
)

// newClient builds a go-redis client from cfg.URL:
//   - with a master_name query parameter: Sentinel (redis.ParseFailoverURL);
//   - with cfg.Cluster or one or more addr query parameters: Cluster
//     (redis.ParseClusterURL; addr adds seed nodes);
//   - otherwise a single node (redis.ParseURL).
//
// Timeouts come from cfg when set, else from the URL's query parameters
// (dial_timeout=...), else the L2 defaults. Retries are off unless the URL
// sets max_retries: with the breaker, a dead Redis must cost one timeout.
// Context deadlines bound each call too (ContextTimeoutEnabled): without it
// go-redis ignores them, and a stalled Redis would hold a read past its
// caller's deadline.
func newClient(cfg L2Config) (redis.UniversalClient, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Error repeats the whole URL, and a mis-encoded password can
		// even appear in the inner error: say only what is safe.
		if strings.Contains(cfg.URL, "@") {
			return nil, fmt.Errorf("tier: L2 URL %s is not a valid URL (percent-encode special characters in the user name and password)", redactRawURL(cfg.URL))
		}
		if strings.Contains(cfg.URL, "?") {
			// A query may hold a password=, and url's error may quote
			// part of it (an invalid escape).
			return nil, fmt.Errorf("tier: L2 URL %s is not a valid URL", redactRawURL(cfg.URL))
		}
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("tier: L2 URL %q is not a valid URL: %w", redactRawURL(cfg.URL), err)
	}
	// The query is left out: go-redis names a bad option itself, and a
	// value there could be a secret.
	shown := *u
	shown.RawQuery = ""
	safe := shown.Redacted()
	password, _ := u.User.Password()
	fail := func(err error) error {
		msg := err.Error()
		if password != "" {
			msg = strings.ReplaceAll(msg, password, "xxxxx")
		}
		return fmt.Errorf("tier: L2 URL %s: %s", safe, msg)
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, fail(err)
		}
		cfg.applyTimeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	case cfg.Cluster || q.Has("addr"):
		o, err := redis.ParseClusterURL(cfg.URL)
		if err != nil {
			return nil, fail(err)
		}
		cfg.applyTimeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries)
		o.ContextTimeoutEnabled = true
		if o.MaxRedirects == 0 {
			// go-redis follows 3 redirects and retries a failing node with a
			// backoff between tries: a dead master would cost several
			// timeouts per call. A MOVED reply still makes the client reload
			// its slot map, so the next call goes to the right node.
			o.MaxRedirects = -1
		}
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fail(err)
		}
		cfg.applyTimeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	}
}

func (cfg L2Config) applyTimeouts(dial, read, write, pool *time.Duration, maxRetries, dialerRetries *int) {
	pick := func(dst *time.Duration, mine, def time.Duration) {
		switch {
		case mine > 0:
			*dst = mine
		case *dst == 0: // the URL did not set it
			*dst = def
		}
	}
	pick(dial, cfg.DialTimeout, DefaultL2DialTimeout)
	pick(read, cfg.ReadTimeout, DefaultL2ReadTimeout)
	pick(write, cfg.WriteTimeout, DefaultL2WriteTimeout)
	if *pool == 0 {
		// go-redis waits ReadTimeout+1s for a pooled connection by default;
		// while Redis stalls every connection is stuck, so wait no longer
		// than a read would.
		*pool = max(*read, *dial)
	}
	if *maxRetries == 0 {
		*maxRetries = -1 // go-redis: -1 is no retry, 0 is its default of 3
	}
	if *dialerRetries == 0 {
		*dialerRetries = 1 // go-redis dials 5 times by default
	}
}

// redactRawURL is what an error shows of a URL that url.Parse refused: its
// scheme only. Its user info and its query (a Sentinel's password=) may
// each hold ?, @ and /, so no cut can be trusted to find where a password
// ends.
func redactRawURL(raw string) string {
	return redact.UnparsedURL(raw)
}
