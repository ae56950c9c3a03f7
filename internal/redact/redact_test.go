package redact

import (
	"strings"
	"testing"
)

func TestUnparsedURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"redis://u:pw@h:1/0", "redis://…"},
		{"rediss://u:p?w@h:1", "rediss://…"},
		{"unix://u:p@/run/redis.sock?db=0", "unix://…"},
		{"redis+sentinel://h", "redis+sentinel://…"},
		{"h:1", "…"},
		{"u:pw@h/x://y", "…"},
		{"1redis://h", "…"},
		{"://h", "…"},
		{"", "…"},
	} {
		if got := UnparsedURL(tt.in); got != tt.want {
			t.Errorf("UnparsedURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Every form of password a DSN may hold is hidden whole, in the DSN and in
// a message quoting it.
func TestHide(t *testing.T) {
	for _, tt := range []struct{ dsn, secret string }{
		{"host=h password=s3c&ret9", "ret9"},
		{"host=h password=s3c;ret9", "ret9"},
		{"host=h password = s3c&ret9", "ret9"},
		{"host=h password='my s3c ret9'", "ret9"},
		{"root:s3c@ret9@tcp(h:3306)/d", "ret9"},
		{"postgres://app:s3c%40ret9@h/db", "ret9"},
		{"Server=x;Pwd=s3cret9;Database=d", "s3cret9"},
	} {
		msg := "failed: " + tt.dsn
		if got := Hide(msg, tt.dsn); strings.Contains(got, tt.secret) {
			t.Errorf("Hide(%q) = %q: shows the password", msg, got)
		}
	}
}
