package tier

import (
	"strings"
	"testing"
)

// TestNewL2ErrorHidesQueryPassword: a Sentinel URL carries the master's
// password in its query (go-redis ParseFailoverURL: password=...). A URL that
// url.Parse refuses (here: the trailing newline of a value read from a file or
// an environment variable) and has no '@' is repeated verbatim in NewL2's
// error, password and all.
// A URL that does not parse, with a Sentinel password= in its query (go-redis
// reads it there), must not show that password in NewL2's error.
func TestNewL2ErrorHidesQueryPassword(t *testing.T) {
	for _, u := range []string{
		"redis://sentinel:26379/0?master_name=mymaster&password=hunter2\n",
		"redis://sentinel:26379/0?master_name=mymaster&password=hunter2&dial_timeout=1s\x7f",
	} {
		_, err := NewL2(L2Config{URL: u, Namespace: "n"})
		if err == nil {
			t.Fatalf("NewL2(%q) accepted it", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewL2's error shows the password: %v", err)
		}
	}
}

// A Sentinel URL with both a user-info part and the master's password in
// its query (go-redis ParseFailoverURL reads password= there), made
// unparsable by a stray control character (a trailing newline from a file
// or an environment variable). 445efd7 cut the query off only when the
// URL has no '@'; with one, redactRawURL keeps everything after the last
// '@', query included.
func TestAtInQueryNewL2SentinelQueryPasswordWithUserinfo(t *testing.T) {
	for _, u := range []string{
		"redis://app:s3ntinel@sentinel:26379/0?master_name=mymaster&password=hunter2\n",
		"redis://sentinel:26379/0?master_name=mymaster&password=hun@ter2\n",
	} {
		_, err := NewL2(L2Config{URL: u, Namespace: "n"})
		if err == nil {
			t.Fatalf("NewL2(%q) accepted it", u)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("NewL2's error shows the password: %v", err)
		}
	}
}

// A password typed with a '?' in it (not percent-encoded) makes url.Parse
// fail ("invalid port"); redactRawURL now cuts the URL at its first '?'
// before it looks for the '@', so no '@' is left and the user info before
// the '?' is shown: "redis://app:s3c?…".
func TestNewL2HidesPasswordWithQuestionMark(t *testing.T) {
	for _, u := range []string{
		"redis://app:s3c?ret@127.0.0.1:6379/0",
		"rediss://:s3c?ret@cache.example:6380/0",
		"unix://app:s3c?ret@/run/redis.sock?db=0",
	} {
		_, err := NewL2(L2Config{URL: u, Namespace: "n"})
		if err == nil {
			t.Fatalf("NewL2(%q) accepted it", u)
		}
		if strings.Contains(err.Error(), "s3c") {
			t.Errorf("NewL2(%q)'s error shows the password: %v", u, err)
		}
	}
}
