// Package dsnkv reads and writes libpq-style keyword/value strings:
// key=value pairs separated by white space, in any order. A value may be
// single-quoted; inside quotes `\'` is a quote and `\\` a backslash and every
// other character (spaces, `?`, `&`, `;`, `@`, `=`) is literal. Outside quotes a
// backslash escapes the next character too, as in libpq. White space may surround
// the `=`.
package dsnkv

import (
	"errors"
	"fmt"
	"strings"
)

// Pair is one key and its value.
type Pair struct {
	Key, Value string
}

// ErrSyntax reports text that is not a keyword/value string.
var ErrSyntax = errors.New("malformed keyword/value string")

// Parse splits s into pairs in order. A key given twice is an error: silently
// keeping one of two values is how a DSN ends up meaning something else.
// Errors name the key and byte offset but never quote a value.
func Parse(s string) ([]Pair, error) {
	var pairs []Pair
	seen := map[string]bool{}
	i := 0
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return pairs, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		i = skipSpace(s, i)
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%w: key %q at offset %d is not followed by '='", ErrSyntax, key, start)
		}
		if key == "" {
			return nil, fmt.Errorf("%w: '=' at offset %d has no key before it", ErrSyntax, i)
		}
		i = skipSpace(s, i+1)
		var b strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '\'' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%w: the value of key %q has no closing quote", ErrSyntax, key)
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, fmt.Errorf("%w: the quoted value of key %q is followed by text without a space", ErrSyntax, key)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(s[i])
				i++
			}
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: key %q is given twice", ErrSyntax, key)
		}
		seen[key] = true
		pairs = append(pairs, Pair{key, b.String()})
	}
}

// Format writes pairs in order, quoting a value whenever it is empty or holds
// anything but letters, digits and the punctuation that needs no quoting.
func Format(pairs []Pair) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.Key)
		b.WriteByte('=')
		b.WriteString(Quote(p.Value))
	}
	return b.String()
}

// Quote returns v as it must appear after '='.
func Quote(v string) string {
	if v != "" && !needsQuote(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
	return b.String()
}

func needsQuote(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.:/+,%@?&;=", c) >= 0:
		default:
			return true
		}
	}
	// A leading quote would read as a quoted value; '=' is literal anyway.
	return v[0] == '\''
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
