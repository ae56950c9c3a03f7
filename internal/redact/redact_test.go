package redact

import "testing"

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
