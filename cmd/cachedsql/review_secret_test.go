package main

import (
	"context"
	"strings"
	"testing"
)

// TestOpenRedisHidesPasswordOfUnparsableURL: a Redis password with a
// character that must be percent-encoded in a URL (space, '#', '%', '/'...),
// typed as is, makes url.Parse fail; redactURL and redactErr then give up and
// the --redis error repeats the URL, password included.
// A --redis URL that url.Parse rejects (a password with a space, % or #
// typed as is) must not show that password in the error.
func TestOpenRedisHidesPasswordOfUnparsableURL(t *testing.T) {
	for _, raw := range []string{
		"redis://app:s3cret pw@127.0.0.1:6379/0",
		"redis://app:s3cret%pw@127.0.0.1:6379/0",
		"redis://:s3cret#pw@127.0.0.1:6379/0",
	} {
		_, err := openRedis(context.Background(), raw)
		if err == nil {
			t.Fatalf("openRedis(%q) succeeded", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// An unparsable --redis URL with an '@' inside the password: redactURL
// masks only up to the last '@', so the rest of the password is shown.
func TestAtInQueryOpenRedisPasswordWithAt(t *testing.T) {
	for _, raw := range []string{
		"redis://app:s3c@ret pw@127.0.0.1:6379/0",
		"redis://app:s3cret pw@127.0.0.1:6379/0?password=hun@ter2\n",
	} {
		_, err := openRedis(context.Background(), raw)
		if err == nil {
			t.Fatalf("openRedis(%q) succeeded", raw)
		}
		if strings.Contains(err.Error(), "ret pw") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// A --redis password with a '?' typed as is: redactURL cuts at the first
// '?' before masking the user info, so the part before the '?' is shown.
func TestOpenRedisHidesPasswordWithQuestionMark(t *testing.T) {
	for _, raw := range []string{
		"redis://app:s3c?ret@127.0.0.1:6379/0",
		"rediss://:s3c?ret@cache.example:6380/0",
	} {
		_, err := openRedis(context.Background(), raw)
		if err == nil {
			t.Fatalf("openRedis(%q) succeeded", raw)
		}
		if strings.Contains(err.Error(), "s3c") {
			t.Errorf("openRedis(%q)'s error shows the password: %v", raw, err)
		}
	}
}

// The bench report's label shows the inner DSN through redactDSN: a MySQL
// DSN's password, and a libpq one's quoted or spaced password=, must not.
func TestRedactDSNHidesEveryPassword(t *testing.T) {
	for _, c := range []struct{ dsn, secret string }{
		{"root:s3cretpw@tcp(127.0.0.1:3306)/test", "s3cretpw"},
		{"host=h dbname=test password='my s3cretpw'", "s3cretpw"},
		{"host=h dbname=test password = s3cretpw", "s3cretpw"},
		{"postgres://app:s3cretpw@h/db?sslmode=disable", "s3cretpw"},
	} {
		if got := redactDSN(c.dsn); strings.Contains(got, c.secret) {
			t.Errorf("redactDSN(%q) = %q: shows the password", c.dsn, got)
		}
	}
}

// libpq reads an unquoted password to the next space, & and ; included;
// go-sql-driver splits user:password at the last @.
func TestRedactDSNHidesPasswordWithAmpSemicolonOrAt(t *testing.T) {
	for _, dsn := range []string{
		"host=h dbname=test password=s3c&ret9",
		"host=h dbname=test password=s3c;ret9",
		"root:s3c@ret9@tcp(127.0.0.1:3306)/test",
	} {
		if got := redactDSN(dsn); strings.Contains(got, "ret9") {
			t.Errorf("redactDSN(%q) = %q: shows the password", dsn, got)
		}
	}
}
