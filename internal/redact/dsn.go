package redact

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// secretPatterns find passwords in the DSN forms drivers use: URL user info,
// key=value (libpq, ODBC, SQL Server) and MySQL's user:password@.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(?:password|passwd|pwd|pass)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s;&]*)`),
	// libpq reads an unquoted value to the next space, & and ; included.
	regexp.MustCompile(`(?i)(?:password|passwd|pwd|pass)\s*=\s*([^\s']\S*)`),
	regexp.MustCompile(`^[^:@/\s]*:(.*)@`), // to the last @, as go-sql-driver splits
}

// Secrets lists the password-like substrings of an inner DSN or URL.
func Secrets(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	for _, re := range secretPatterns {
		for _, m := range re.FindAllStringSubmatch(dsn, -1) {
			if m[1] != "" {
				out = append(out, m[1], strings.Trim(m[1], "'"))
			}
		}
	}
	return out
}

// Hide replaces every secret of dsn in msg with xxxxx, also as %q shows it
// (a control character in the secret is escaped there). Hide(dsn, dsn) is
// dsn fit to show.
func Hide(msg, dsn string) string {
	secrets := Secrets(dsn)
	// Longest first: a secret that holds another (s3c&ret9, s3c) goes whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) >= 1 && s != "xxxxx" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			if q := strconv.Quote(s); q[1:len(q)-1] != s {
				msg = strings.ReplaceAll(msg, q[1:len(q)-1], "xxxxx")
			}
		}
	}
	return msg
}
