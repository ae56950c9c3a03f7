package sqlscan

import (
	"unicode/utf8"
	"unsafe"
)

// charsetReadings returns the MySQL text sql as other client character
// sets read it, each of the same length, to lex in place of sql
// (lexOpts.lexSrc): the bytes that such a character set reads otherwise
// are replaced by bytes the lexer reads the same way. A text that is valid
// UTF-8 (every ASCII text among them) is read otherwise only where a
// backslash follows a byte above 0x80: a connection in another character
// set sends its own bytes, which are almost never valid UTF-8, and reading
// every UTF-8 text with CJK or accented letters as GBK or latin1 would make
// some Unknown (a name of three-byte characters ends in a byte GBK pairs
// with the backtick after it) and scan all of them more slowly.
//
//   - GBK (and GB18030), SJIS (and CP932), Big5: a two-byte character
//     whose second byte is a backslash or a backtick, which then escapes
//     nothing or ends no name (0xbf 0x5c is one GBK character, so the
//     backslash after it escapes the quote; 0x83 0x5c is the SJIS "ソ").
//     Such a second byte becomes 0x80, a byte of a name. Other second bytes
//     in 0x40-0x7E are letters and operators, which open and close nothing.
//   - The single-byte sets that take 0xA0 (latin1, latin2, cp1250, ...) or
//     0xFF (cp852, cp866, keybcs2) for white space, and those that take a
//     byte above 0x7F after -- for a control character, beginning a
//     comment (cp1250 0x80, hebrew 0xFD, cp850 0xFF, ...): such a byte
//     becomes a space.
func charsetReadings(sql string) []string {
	// Valid UTF-8 is read otherwise by a two-byte set only where a
	// backslash follows a byte above 0x80 (E4 B8 AD 5C is "中\" in UTF-8,
	// and E4 B8, AD 5C in GBK): rare, and cheap to look for. A backtick
	// there would be common (a UTF-8 name in backticks), and is no
	// different in a text the server reads as garbage anyway.
	// One pass finds what any reading would change; most texts have none
	// of it, and the readings' own passes cost more than the scan.
	var special, a0, ff, dashHigh bool
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case (c == '\\' || c == '`') && i > 0 && sql[i-1] > 0x80:
			special = true
		case c == 0xA0:
			a0 = true
		case c == 0xFF:
			ff = true
		}
		if sql[i] >= 0x80 && i >= 2 && sql[i-1] == '-' && sql[i-2] == '-' {
			dashHigh = true
		}
	}
	if !special && !a0 && !ff && !dashHigh {
		return nil
	}
	utf8Text := utf8.ValidString(sql)
	if utf8Text && !backslashAfterHigh(sql) {
		return nil
	}
	var out []string
	add := func(alt string, ok bool) {
		if !ok {
			return
		}
		for _, o := range out {
			if o == alt {
				return
			}
		}
		out = append(out, alt)
	}
	if special {
		second := func(c byte) bool { return c == '\\' || c == '`' && !utf8Text }
		add(pairedReading(sql, second, // GBK, GB18030
			func(c byte) bool { return c >= 0x81 && c <= 0xFE },
			func(c byte) bool { return c >= 0x40 && c <= 0x7E || c >= 0x80 && c <= 0xFE }))
		add(pairedReading(sql, second, // SJIS, CP932
			func(c byte) bool { return c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC },
			func(c byte) bool { return c >= 0x40 && c <= 0x7E || c >= 0x80 && c <= 0xFC }))
		add(pairedReading(sql, second, // Big5
			func(c byte) bool { return c >= 0xA1 && c <= 0xF9 },
			func(c byte) bool { return c >= 0x40 && c <= 0x7E || c >= 0xA1 && c <= 0xFE }))
	}
	if utf8Text {
		return out
	}
	if a0 {
		add(spaceReading(sql, func(c byte) bool { return c == 0xA0 }, false))
	}
	if ff {
		add(spaceReading(sql, func(c byte) bool { return c == 0xFF }, false))
	}
	if a0 || ff || dashHigh {
		add(spaceReading(sql, func(c byte) bool { return c == 0xA0 || c == 0xFF }, true))
	}
	return out
}

// backslashAfterHigh reports a backslash right after a byte above 0x80.
func backslashAfterHigh(sql string) bool {
	for i := 1; i < len(sql); i++ {
		if sql[i] == '\\' && sql[i-1] > 0x80 {
			return true
		}
	}
	return false
}

// pairedReading reads sql in a character set of two-byte characters with
// the first and second bytes lead and trail report, and replaces each
// second byte that special reports (a backslash, a backtick) by 0x80; ok
// is false when there is none.
func pairedReading(sql string, special, lead, trail func(byte) bool) (string, bool) {
	var b []byte
	for i := 0; i+1 < len(sql); i++ {
		if !lead(sql[i]) || !trail(sql[i+1]) {
			continue
		}
		if special(sql[i+1]) {
			if b == nil {
				b = []byte(sql)
			}
			b[i+1] = 0x80
		}
		i++
	}
	if b == nil {
		return "", false
	}
	return string(b), true
}

// spaceReading replaces every byte space reports by a space, and with
// afterDashes every byte above 0x7F right after -- too; ok is false when
// it replaces none.
func spaceReading(sql string, space func(byte) bool, afterDashes bool) (string, bool) {
	var b []byte
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if space(c) || afterDashes && c >= 0x80 && i >= 2 && sql[i-1] == '-' && sql[i-2] == '-' {
			if b == nil {
				b = []byte(sql)
			}
			b[i] = ' '
		}
	}
	if b == nil {
		return "", false
	}
	return string(b), true
}

// textsOf makes the tokens' texts, lexed from s.src, the same stretches of
// orig, the text s.src stands in for (of the same length): the names a
// statement files are the bytes the server reads.
func (s *scanner) textsOf(orig string) {
	base := uintptr(unsafe.Pointer(unsafe.StringData(s.src)))
	at := func(t string) string {
		if len(t) == 0 {
			return t
		}
		off := uintptr(unsafe.Pointer(unsafe.StringData(t))) - base
		if off >= uintptr(len(s.src)) || int(off)+len(t) > len(orig) {
			return t // not a stretch of s.src (a decoded name)
		}
		return orig[off : int(off)+len(t)]
	}
	for i := range s.toks {
		s.toks[i].text = at(s.toks[i].text)
	}
	for i := range s.hints {
		s.hints[i] = at(s.hints[i])
	}
	s.src = orig
}
