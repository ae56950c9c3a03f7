package generation

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys returns the Redis keys of a namespace: the hash of generations and the
// stream of events. Both carry the same Cluster hash tag, so one script can
// touch both.
func Keys(namespace string) (hash, stream string) {
	tag := hashTag(namespace)
	return "cachedsql:{" + tag + "}:gen", "cachedsql:{" + tag + "}:events"
}

// hashTag is the namespace as the {tag} of its keys. A brace inside the tag
// would end it early or empty it (then the keys could land in different
// slots); such namespaces are hex-encoded, and so are those that look like an
// encoded one, which keeps the mapping one to one.
func hashTag(namespace string) string {
	if strings.ContainsAny(namespace, "{}") || strings.HasPrefix(namespace, "x:") {
		return "x:" + hex.EncodeToString([]byte(namespace))
	}
	return namespace
}

// ProbeKey is the small hash (60 s TTL) a clock writes to show that Redis
// takes its writes (stepScript, resyncScript): one that answers reads but
// refuses writes would otherwise let every reader vouch while no writer can
// publish. It shares Keys' hash slot.
func ProbeKey(namespace string) string { return "cachedsql:{" + hashTag(namespace) + "}:probe" }

// Fields of the hash and of stream entries. Tables are stored under "t:" so no
// table name can collide with a bookkeeping field.
const (
	fieldEpoch    = "!epoch"
	fieldSeq      = "!seq"
	fieldAll      = "!all"
	tablePrefix   = "t:"
	entryOrigin   = "o"
	entryInstance = "i"
	entryEpoch    = "e"
	entrySeq      = "s"
	entryTime     = "ms"
	entryAll      = "a"
	entryNonce    = "n"
	// ringPrefix holds, in the hash, the last 64 events as "<seq>:<nonce>"
	// under "!n<seq mod 64>".
	ringPrefix = "!n"
)

// ringField is the hash field that holds event seq's nonce while it is
// among the last 64.
func ringField(seq uint64) string { return ringPrefix + strconv.FormatUint(seq%64, 10) }

// ringNonce is the nonce of event seq in ring value v ("<seq>:<nonce>"),
// and whether v is event seq's at all.
func ringNonce(v string, seq uint64) (string, bool) {
	n, nonce, ok := strings.Cut(v, ":")
	if !ok || n != strconv.FormatUint(seq, 10) {
		return "", false
	}
	return nonce, true
}

// tip is the last event a clock saw in its epoch: its sequence, and, to
// tell it from another event Redis may later hold under that number after
// losing it, its nonce and stream id ("" when not known).
type tip struct {
	seq       uint64
	nonce, id string
}

// event is a decoded stream entry.
type event struct {
	id       string
	origin   string
	instance string
	epoch    uint64
	seq      uint64
	time     time.Time
	nonce    string            // "" from writers before nonces
	all      uint64            // new namespace-wide counter; 0 when the event is per table
	gens     map[string]uint64 // table -> new generation
}

func (e *event) public() Event {
	ev := Event{ID: e.id, Origin: e.origin, Time: e.time}
	if e.all == 0 {
		ev.Tables = make([]string, 0, len(e.gens))
		for t := range e.gens {
			ev.Tables = append(ev.Tables, t)
		}
		slices.Sort(ev.Tables)
	}
	return ev
}

// decodeEvent checks and decodes one stream entry. Everything the clock relies
// on (epoch, sequence, a change) must be present and well formed: an entry that
// is not is an error, and the reader resynchronises rather than guess.
func decodeEvent(id string, values map[string]any) (*event, error) {
	e := &event{id: id, gens: map[string]uint64{}}
	var haveEpoch, haveSeq bool
	for k, v := range values {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("generation: stream entry %s: field %q is a %T, want a string", id, k, v)
		}
		var err error
		switch {
		case k == entryOrigin:
			e.origin = s
		case k == entryInstance:
			e.instance = s
		case k == entryNonce:
			e.nonce = s
		case k == entryEpoch:
			e.epoch, err = parseUint63(s)
			haveEpoch = true
		case k == entrySeq:
			e.seq, err = parseUint63(s)
			haveSeq = true
		case k == entryTime:
			var ms uint64
			ms, err = parseUint63(s)
			e.time = time.UnixMilli(int64(ms))
		case k == entryAll:
			e.all, err = parseUint63(s)
			if err == nil && e.all == 0 {
				err = fmt.Errorf("namespace counter 0")
			}
		case strings.HasPrefix(k, tablePrefix) && len(k) > len(tablePrefix):
			var g uint64
			g, err = parseUint63(s)
			if err == nil && g == 0 {
				err = fmt.Errorf("generation 0")
			}
			e.gens[k[len(tablePrefix):]] = g
		default:
			// Unknown fields are ignored so that later versions can add some.
		}
		if err != nil {
			return nil, fmt.Errorf("generation: stream entry %s: field %q: %w", id, k, err)
		}
	}
	if !haveEpoch || !haveSeq {
		return nil, fmt.Errorf("generation: stream entry %s has no epoch or sequence: not written by cachedsql", id)
	}
	if e.seq == 0 {
		return nil, fmt.Errorf("generation: stream entry %s has sequence 0", id)
	}
	if e.all == 0 && len(e.gens) == 0 {
		return nil, fmt.Errorf("generation: stream entry %s changes nothing", id)
	}
	return e, nil
}

// parseUint63 parses a decimal in [0, 1<<63), the range Redis integers and
// epochs live in.
func parseUint63(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer in [0, 2^63): %w", s, err)
	}
	return v, nil
}

// snapshot is the hash as HGETALL returns it.
type snapshot struct {
	epoch uint64
	seq   uint64
	nonce string // of event seq, from the ring; "" if not there
	all   uint64
	gens  map[string]uint64
}

func decodeSnapshot(fields map[string]string) (*snapshot, error) {
	s := &snapshot{gens: make(map[string]uint64, len(fields))}
	e, ok := fields[fieldEpoch]
	if !ok {
		return nil, fmt.Errorf("generation: the generation hash has no %s field", fieldEpoch)
	}
	var err error
	if s.epoch, err = parseUint63(e); err != nil {
		return nil, fmt.Errorf("generation: hash field %s: %w", fieldEpoch, err)
	}
	for k, v := range fields {
		var dst *uint64
		switch {
		case k == fieldSeq:
			dst = &s.seq
		case k == fieldAll:
			dst = &s.all
		case strings.HasPrefix(k, tablePrefix) && len(k) > len(tablePrefix):
			g, err := parseUint63(v)
			if err != nil {
				return nil, fmt.Errorf("generation: hash field %q: %w", k, err)
			}
			s.gens[k[len(tablePrefix):]] = g
			continue
		default:
			continue
		}
		if *dst, err = parseUint63(v); err != nil {
			return nil, fmt.Errorf("generation: hash field %q: %w", k, err)
		}
	}
	s.nonce, _ = ringNonce(fields[ringField(s.seq)], s.seq)
	return s, nil
}

// xmessageEvent decodes a go-redis stream message.
func xmessageEvent(m redis.XMessage) (*event, error) { return decodeEvent(m.ID, m.Values) }
