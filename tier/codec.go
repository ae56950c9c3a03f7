package tier

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// The L2 value format: one header byte, then the payload.
//
//	formatRaw: the value as given to Set
//	formatS2:  the value compressed with S2 block encoding (klauspost/compress/s2)
//
// Set writes formatRawDeadline and formatS2Deadline, the same with 8 bytes
// between header and payload: the writer's wall clock when the entry ends
// (Unix milliseconds, big-endian). A reader that does not ask Redis for the
// TTL (GetValue) checks it, so that an entry whose TTL something else
// removed (PERSIST, RESTORE with TTL 0) is still not served for ever.
// Anything else under a cachedsql key (another program's data, a truncated
// write, a future format) fails to decode and is a miss.
const (
	formatRaw         byte = 0xC5
	formatS2          byte = 0xC6
	formatRawDeadline byte = 0xC7
	formatS2Deadline  byte = 0xC8
)

// deadlineLen is the size of the deadline of formatRawDeadline and
// formatS2Deadline.
const deadlineLen = 8

// ErrCorrupt reports an L2 entry that is not in cachedsql's format.
var ErrCorrupt = errors.New("tier: L2 entry is not in cachedsql's format")

// minCompressionGain is the share of the raw size compression must save for
// the compressed form to be stored: below it, decoding costs more than the
// bytes saved.
const minCompressionGain = 8 // 1/8 = 12.5%

// encodeValue appends the stored form of value, ending at deadline (Unix
// milliseconds), to dst[:0]. It compresses when threshold ≥ 0 and
// len(value) ≥ threshold and that saves at least 1/minCompressionGain of the
// bytes.
func encodeValue(dst, value []byte, threshold int, deadline int64) []byte {
	const head = 1 + deadlineLen
	if threshold >= 0 && len(value) >= threshold && len(value) > 0 {
		need := head + s2.MaxEncodedLen(len(value))
		if need > head { // MaxEncodedLen is -1 for values too large to encode
			if cap(dst) < need {
				dst = make([]byte, need)
			}
			dst = dst[:need]
			dst[0] = formatS2Deadline
			binary.BigEndian.PutUint64(dst[1:], uint64(deadline))
			enc := s2.Encode(dst[head:], value)
			if len(enc) <= len(value)-len(value)/minCompressionGain {
				return dst[:head+len(enc)]
			}
		}
	}
	dst = append(dst[:0], formatRawDeadline)
	dst = binary.BigEndian.AppendUint64(dst, uint64(deadline))
	return append(dst, value...)
}

// decodeValue returns the value stored as raw, and the deadline it was
// written with (0 for the formats without one). A raw-format value is a
// sub-slice of raw; a compressed one is decoded into a new slice of at most
// maxLen bytes (the length an S2 block claims is checked before anything is
// allocated, so garbage cannot make it allocate more).
func decodeValue(raw []byte, maxLen int) (value []byte, deadline int64, err error) {
	if len(raw) == 0 {
		return nil, 0, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	format := raw[0]
	raw = raw[1:]
	switch format {
	case formatRawDeadline, formatS2Deadline:
		if len(raw) < deadlineLen {
			return nil, 0, fmt.Errorf("%w: %d bytes, too short for a deadline", ErrCorrupt, len(raw))
		}
		deadline = int64(binary.BigEndian.Uint64(raw))
		raw = raw[deadlineLen:]
		format -= formatRawDeadline - formatRaw
	}
	value, err = decodePayload(format, raw, maxLen)
	return value, deadline, err
}

func decodePayload(format byte, raw []byte, maxLen int) ([]byte, error) {
	switch format {
	case formatRaw:
		return raw, nil
	case formatS2:
		n, err := s2.DecodedLen(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: S2 header: %v", ErrCorrupt, err)
		}
		if n > maxLen {
			return nil, fmt.Errorf("%w: S2 block claims %d bytes, the limit is %d", ErrCorrupt, n, maxLen)
		}
		out, err := s2.Decode(make([]byte, n), raw)
		if err != nil {
			return nil, fmt.Errorf("%w: S2 block: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown format byte 0x%02x", ErrCorrupt, format)
}
