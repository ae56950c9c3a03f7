package tier

import (
	"bytes"
	"errors"
	"testing"
)

var codecCases = []struct {
	name      string
	value     []byte
	threshold int
	format    byte
}{
	{"empty raw", []byte{}, -1, formatRawDeadline},
	{"empty with threshold 0", []byte{}, 0, formatRawDeadline},
	{"small under threshold", []byte("abc"), 16, formatRawDeadline},
	{"compressible", bytes.Repeat([]byte("row,"), 1000), 1, formatS2Deadline},
	{"compression off", bytes.Repeat([]byte("row,"), 1000), -1, formatRawDeadline},
	{"incompressible", random(4096), 1, formatRawDeadline},
	{"row set", compressible(20 << 10), 16 << 10, formatS2Deadline},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tt := range codecCases {
		t.Run(tt.name, func(t *testing.T) {
			const end = 1_780_000_000_123
			enc := encodeValue(nil, tt.value, tt.threshold, end)
			if enc[0] != tt.format {
				t.Fatalf("format byte 0x%02x, want 0x%02x", enc[0], tt.format)
			}
			dec, deadline, err := decodeValue(enc, 1<<30)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(dec, tt.value) || deadline != end {
				t.Fatalf("round trip changed the value, or the deadline %d to %d", int64(end), deadline)
			}
			// The formats without a deadline, which earlier versions wrote,
			// still read.
			old := append([]byte{tt.format - (formatRawDeadline - formatRaw)}, enc[1+deadlineLen:]...)
			if dec, deadline, err := decodeValue(old, 1<<30); err != nil || deadline != 0 || !bytes.Equal(dec, tt.value) {
				t.Fatalf("the format without a deadline: deadline %d, %v", deadline, err)
			}
			// Reusing a buffer gives the same bytes.
			again := encodeValue(make([]byte, 3, 1<<20), tt.value, tt.threshold, end)
			if !bytes.Equal(again, enc) {
				t.Fatalf("encoding into a used buffer differs")
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		max  int
	}{
		{"empty", nil, 100},
		{"unknown format", []byte{0x00, 1, 2}, 100},
		{"msgpack-looking", []byte{0x93, 1, 2, 3}, 100},
		{"s2 empty", []byte{formatS2}, 100},
		{"s2 bad varint", []byte{formatS2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 100},
		{"s2 claims more than allowed", append([]byte{formatS2}, encodeValue(nil, bytes.Repeat([]byte{1}, 200), 0, 1)[1+deadlineLen:]...), 100},
		{"s2 truncated", encodeValue(nil, bytes.Repeat([]byte("abcd"), 100), 0, 1)[:10], 1000},
		{"deadline truncated", []byte{formatRawDeadline, 0, 0, 1}, 100},
		{"s2 deadline truncated", []byte{formatS2Deadline, 0}, 100},
		{"s2 with deadline empty", []byte{formatS2Deadline, 0, 0, 0, 0, 0, 0, 0, 1}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, _, err := decodeValue(tt.raw, tt.max); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeValue = %d bytes, %v; want ErrCorrupt", len(v), err)
			}
		})
	}
}

// FuzzDecodeValue: arbitrary bytes decode or fail with ErrCorrupt, never
// panic, never return more than the limit.
func FuzzDecodeValue(f *testing.F) {
	for _, tt := range codecCases {
		f.Add(encodeValue(nil, tt.value, tt.threshold, 1_780_000_000_123))
	}
	f.Add([]byte{formatS2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{formatRaw})
	f.Add([]byte{formatRawDeadline, 1, 2, 3})
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, _, err := decodeValue(raw, limit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(v) > limit {
			t.Fatalf("decoded %d bytes past the %d limit", len(v), limit)
		}
		if raw[0] == formatRaw && !bytes.Equal(v, raw[1:]) ||
			raw[0] == formatRawDeadline && !bytes.Equal(v, raw[1+deadlineLen:]) {
			t.Fatalf("raw format changed the payload")
		}
	})
}

// FuzzCodecRoundTrip: whatever the value and threshold, decode(encode(v)) == v.
func FuzzCodecRoundTrip(f *testing.F) {
	for _, tt := range codecCases {
		f.Add(tt.value, tt.threshold)
	}
	f.Fuzz(func(t *testing.T, value []byte, threshold int) {
		end := int64(len(value)) * 1_000_003
		enc := encodeValue(nil, value, threshold, end)
		dec, deadline, err := decodeValue(enc, len(value))
		if err != nil {
			t.Fatalf("decode of our own encoding: %v", err)
		}
		if !bytes.Equal(dec, value) || deadline != end {
			t.Fatalf("round trip changed the value or the deadline")
		}
	})
}
