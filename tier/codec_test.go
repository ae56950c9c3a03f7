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
	{"empty raw", []byte{}, -1, formatRaw},
	{"empty with threshold 0", []byte{}, 0, formatRaw},
	{"small under threshold", []byte("abc"), 16, formatRaw},
	{"compressible", bytes.Repeat([]byte("row,"), 1000), 1, formatS2},
	{"compression off", bytes.Repeat([]byte("row,"), 1000), -1, formatRaw},
	{"incompressible", random(4096), 1, formatRaw},
	{"row set", compressible(20 << 10), 16 << 10, formatS2},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tt := range codecCases {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeValue(nil, tt.value, tt.threshold)
			if enc[0] != tt.format {
				t.Fatalf("format byte 0x%02x, want 0x%02x", enc[0], tt.format)
			}
			dec, err := decodeValue(enc, 1<<30)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(dec, tt.value) {
				t.Fatalf("round trip changed the value")
			}
			// Reusing a buffer gives the same bytes.
			again := encodeValue(make([]byte, 3, 1<<20), tt.value, tt.threshold)
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
		{"s2 claims more than allowed", append([]byte{formatS2}, encodeValue(nil, bytes.Repeat([]byte{1}, 200), 0)[1:]...), 100},
		{"s2 truncated", encodeValue(nil, bytes.Repeat([]byte("abcd"), 100), 0)[:10], 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := decodeValue(tt.raw, tt.max); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeValue = %d bytes, %v; want ErrCorrupt", len(v), err)
			}
		})
	}
}

// FuzzDecodeValue: arbitrary bytes decode or fail with ErrCorrupt, never
// panic, never return more than the limit.
func FuzzDecodeValue(f *testing.F) {
	for _, tt := range codecCases {
		f.Add(encodeValue(nil, tt.value, tt.threshold))
	}
	f.Add([]byte{formatS2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{formatRaw})
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := decodeValue(raw, limit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(v) > limit {
			t.Fatalf("decoded %d bytes past the %d limit", len(v), limit)
		}
		if raw[0] == formatRaw && !bytes.Equal(v, raw[1:]) {
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
		enc := encodeValue(nil, value, threshold)
		dec, err := decodeValue(enc, len(value))
		if err != nil {
			t.Fatalf("decode of our own encoding: %v", err)
		}
		if !bytes.Equal(dec, value) {
			t.Fatalf("round trip changed the value")
		}
	})
}
