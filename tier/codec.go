package tier

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// The L2 value format: one header byte, then the payload.
//
//	formatRaw: the value as given to Set
//	formatS2:  the value compressed with S2 block encoding (klauspost/compress/s2)
//
// Anything else under a cachedsql key (another program's data, a truncated
// write, a future format) fails to decode and is a miss.
const (
	formatRaw byte = 0xC5
	formatS2  byte = 0xC6
)

// ErrCorrupt reports an L2 entry that is not in cachedsql's format.
var ErrCorrupt = errors.New("tier: L2 entry is not in cachedsql's format")

// minCompressionGain is the share of the raw size compression must save for
// the compressed form to be stored: below it, decoding costs more than the
// bytes saved.
const minCompressionGain = 8 // 1/8 = 12.5%

// encodeValue appends the stored form of value to dst[:0]. It compresses
// when threshold ≥ 0 and len(value) ≥ threshold and that saves at least
// 1/minCompressionGain of the bytes.
func encodeValue(dst, value []byte, threshold int) []byte {
	if threshold >= 0 && len(value) >= threshold && len(value) > 0 {
		need := 1 + s2.MaxEncodedLen(len(value))
		if need > 0 { // MaxEncodedLen is -1 for values too large to encode
			if cap(dst) < need {
				dst = make([]byte, need)
			}
			dst = dst[:need]
			dst[0] = formatS2
			enc := s2.Encode(dst[1:], value)
			if len(enc) <= len(value)-len(value)/minCompressionGain {
				return dst[:1+len(enc)]
			}
		}
	}
	dst = append(dst[:0], formatRaw)
	return append(dst, value...)
}

// decodeValue returns the value stored as raw. A raw-format value is a
// sub-slice of raw; a compressed one is decoded into a new slice of at most
// maxLen bytes (the length an S2 block claims is checked before anything is
// allocated, so garbage cannot make it allocate more).
func decodeValue(raw []byte, maxLen int) ([]byte, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	switch raw[0] {
	case formatRaw:
		return raw[1:], nil
	case formatS2:
		n, err := s2.DecodedLen(raw[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: S2 header: %v", ErrCorrupt, err)
		}
		if n > maxLen {
			return nil, fmt.Errorf("%w: S2 block claims %d bytes, the limit is %d", ErrCorrupt, n, maxLen)
		}
		out, err := s2.Decode(make([]byte, n), raw[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: S2 block: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown format byte 0x%02x", ErrCorrupt, raw[0])
}
