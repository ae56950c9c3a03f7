// Package redact says what may be shown of a URL that url.Parse refused:
// its scheme, and nothing else. Such a URL's user info and query (a
// Sentinel's password=) may each hold ?, @ and /, so no cut can be trusted
// to find where a password ends.
package redact

import "strings"

// UnparsedURL returns raw's scheme followed by "://…", or "…" when raw does
// not begin with one.
func UnparsedURL(raw string) string {
	if i := strings.Index(raw, "://"); i > 0 && isScheme(raw[:i]) {
		return raw[:i+3] + "…"
	}
	return "…"
}

// isScheme reports a URL scheme: a letter, then letters, digits, +, - or .
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c|0x20 >= 'a' && c|0x20 <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
