package sqlscan

import "unsafe"

// charsetReadings returns the MySQL text sql as other client character
// sets read it, each of the same length, to lex in place of sql
// (lexOpts.lexSrc): the bytes that such a character set reads otherwise
// are replaced by bytes the lexer reads the same way. None when no
// character set reads sql otherwise than UTF-8 does.
//
//   - GBK (and GB18030, Big5): a byte 0x81-0xFE begins a two-byte
//     character whose second byte may be 0x40-0x7E: ASCII, a backslash or
//     a backtick among them, which then ends no string and escapes nothing
//     (0xbf 0x5c is one character, so the backslash after it escapes the
//     quote). Such a second byte becomes 0x80, a byte of a name.
//   - SJIS and CP932: the same with first bytes 0x81-0x9F and 0xE0-0xFC
//     (0xA1-0xDF are characters of one byte); 0x83 0x5c is "ソ".
//   - latin1 (and the other single-byte sets that take 0xA0 for white
//     space): 0xA0 separates words (FROM<0xA0>b reads b), and after --
//     begins a comment. It becomes a space.
func charsetReadings(sql string) []string {
	high := false
	for i := 0; i < len(sql); i++ {
		if sql[i] >= 0x80 {
			high = true
			break
		}
	}
	if !high {
		return nil
	}
	var out []string
	if alt, ok := pairedReading(sql, func(c byte) bool { return c >= 0x81 && c <= 0xFE }); ok {
		out = append(out, alt)
	}
	if alt, ok := pairedReading(sql, func(c byte) bool { return c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC }); ok {
		out = append(out, alt)
	}
	if b, ok := replaced(sql, 0xA0, ' '); ok {
		out = append(out, b)
	}
	return out
}

// pairedReading reads sql in a character set of two-byte characters whose
// first bytes lead reports and whose second bytes are 0x40-0x7E or
// 0x80-0xFE, and replaces each ASCII second byte by 0x80; ok is false when
// there is none.
func pairedReading(sql string, lead func(byte) bool) (string, bool) {
	var b []byte
	for i := 0; i+1 < len(sql); i++ {
		if !lead(sql[i]) {
			continue
		}
		switch c := sql[i+1]; {
		case c >= 0x40 && c <= 0x7E:
			if b == nil {
				b = []byte(sql)
			}
			b[i+1] = 0x80
			i++
		case c >= 0x80 && c <= 0xFE:
			i++
		}
	}
	if b == nil {
		return "", false
	}
	return string(b), true
}

// replaced is sql with every byte old replaced by new; ok is false when
// there is none.
func replaced(sql string, old, new byte) (string, bool) {
	var b []byte
	for i := 0; i < len(sql); i++ {
		if sql[i] == old {
			if b == nil {
				b = []byte(sql)
			}
			b[i] = new
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
