package rowset

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Decoding a time must not allocate a *time.Location per value, nor read the zone
// database each time, so locations are cached by name (LoadLocation results) and
// by name and offset (fixed zones). The maps are copy-on-write behind atomic
// pointers: the hit path is a lock-free map lookup whose key may alias the
// encoded bytes. Names come from the input, so each map is capped; past the cap a
// location is built without being cached (correct, only slower).
const maxCachedZones = 1024

type fixedKey struct {
	name string
	off  int32
}

var (
	zonesMu     sync.Mutex
	loadedZones atomic.Pointer[map[string]*time.Location] // nil value: LoadLocation failed
	fixedZones  atomic.Pointer[map[fixedKey]*time.Location]
)

func init() {
	loadedZones.Store(&map[string]*time.Location{})
	fixedZones.Store(&map[fixedKey]*time.Location{})
}

// location returns the location a time at unix second sec had when it was
// encoded with this kind, name and offset.
func location(kind byte, name string, off int32, sec int64) *time.Location {
	switch kind {
	case zoneUTC:
		return time.UTC
	case zoneLocal:
		if offsetAt(time.Local, sec) == off {
			return time.Local
		}
		return fixedZone("Local", off)
	case zoneNamed:
		if loc := loadLocation(name); loc != nil && offsetAt(loc, sec) == off {
			return loc
		}
		return fixedZone(name, off)
	}
	return fixedZone("", off)
}

func offsetAt(loc *time.Location, sec int64) int32 {
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int32(off)
}

func loadLocation(name string) *time.Location {
	if loc, ok := (*loadedZones.Load())[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	zonesMu.Lock()
	defer zonesMu.Unlock()
	old := *loadedZones.Load()
	if len(old) < maxCachedZones {
		next := make(map[string]*time.Location, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[strings.Clone(name)] = loc // the key must not keep the encoded bytes alive
		loadedZones.Store(&next)
	}
	return loc
}

func fixedZone(name string, off int32) *time.Location {
	key := fixedKey{name, off}
	if loc, ok := (*fixedZones.Load())[key]; ok {
		return loc
	}
	key.name = strings.Clone(name)
	loc := time.FixedZone(key.name, int(off))
	zonesMu.Lock()
	defer zonesMu.Unlock()
	old := *fixedZones.Load()
	if len(old) < maxCachedZones {
		next := make(map[fixedKey]*time.Location, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		next[key] = loc
		fixedZones.Store(&next)
	}
	return loc
}
