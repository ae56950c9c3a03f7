package generation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// advanceScript moves generations and appends the event in one atomic step, so
// the stream's order is the order of the sequence numbers it carries: a reader
// that finds sequence n+1 after n knows it missed nothing.
//
// A missing epoch means the hash is new, was flushed or evicted: the caller's
// random candidate becomes the epoch, so counters that restart at 1 never
// rebuild a key from before.
//
// The candidate is also the event's nonce: the entry carries it (n), and the
// hash keeps the last 64 as "<seq>:<nonce>" under "!n<seq mod 64>", so that
// a clock can later tell whether the event it saw with some sequence is
// still the one Redis holds under that number (see resyncScript).
//
// The caller's last event (its epoch, sequence and nonce) lets the script
// catch, before it hands out a number, a Redis that lost that event: its
// sequence is behind it, or the ring holds another event under its number.
// It then replaces the epoch, as resyncScript would, and the caller, seeing
// another epoch in the reply, resyncs.
//
// KEYS: hash, stream. ARGV: candidate epoch, origin, instance, unix ms, maxlen,
// "1" for the whole namespace or "0", the caller's epoch, its last sequence
// and that event's nonce ("" to skip the check), then the tables.
// Reply: epoch, sequence, namespace counter (0 if untouched), stream id, then
// one generation per table.
var advanceScript = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], '!epoch')
if not e then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], '!epoch', e)
elseif e == ARGV[7] and ARGV[9] ~= '' then
  local tip = tonumber(ARGV[8])
  local seq = tonumber(redis.call('HGET', KEYS[1], '!seq') or '0')
  local lost = seq < tip
  if not lost and seq < tip + 64 then
    local slot = redis.call('HGET', KEYS[1], '!n' .. (tip % 64)) or ''
    lost = string.sub(slot, 1, #ARGV[8] + 1) == ARGV[8] .. ':' and slot ~= ARGV[8] .. ':' .. ARGV[9]
  end
  if lost then
    e = ARGV[1]
    redis.call('HSET', KEYS[1], '!epoch', e)
  end
end
local seq = redis.call('HINCRBY', KEYS[1], '!seq', 1)
redis.call('HSET', KEYS[1], '!n' .. (seq % 64), string.format('%d', seq) .. ':' .. ARGV[1])
local f = {'o', ARGV[2], 'i', ARGV[3], 'e', e, 's', seq, 'ms', ARGV[4], 'n', ARGV[1]}
local out = {e, seq, 0, ''}
if ARGV[6] == '1' then
  local a = redis.call('HINCRBY', KEYS[1], '!all', 1)
  f[#f+1] = 'a'
  f[#f+1] = a
  out[3] = a
end
for i = 10, #ARGV do
  local k = 't:' .. ARGV[i]
  local g = redis.call('HINCRBY', KEYS[1], k, 1)
  f[#f+1] = k
  f[#f+1] = g
  out[#out+1] = g
end
out[4] = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(f))
return out
`)

// resyncScript returns the hash and the id of the stream's last entry as of one
// instant, so reading from that id afterwards misses nothing and repeats
// nothing the hash does not already hold.
//
// It creates the epoch if the hash is missing, and replaces it when the hash
// still has the caller's epoch but not the history the caller saw: Redis
// lost writes (a restart from a snapshot, a failover to a lagging replica, a
// restore), and its counters would otherwise hand out numbers that keys the
// caller filled already used. Lost writes show as a sequence below the
// caller's last, or, once other writers have caught up, as another event
// under the caller's last sequence, by the hash's ring or by the stream
// entry the caller read it from. force replaces it regardless: the caller
// has proof of a loss. When neither can tell (the caller is more than 64
// events behind and its entry was trimmed, or its last event came from a
// writer without nonces and is gone from the stream), the epoch stays and
// the reply says so: the caller alone may hold entries filled under lost
// numbers, and drops them.
//
// It first writes the probe key: a Redis that refuses writes (over
// maxmemory with noeviction, a read-only replica, CLIENT PAUSE WRITE)
// refuses this script too, and the clock does not vouch from it while no
// writer could publish an event.
//
// KEYS: hash, stream, probe. ARGV: candidate epoch, the caller's epoch, the
// highest sequence the caller saw in it, that event's nonce ("" if
// unknown) and stream id ("" if unknown), "1" to force, unix ms.
// Reply: last stream id ("0-0" if none), HGETALL's flat field/value list,
// 1 if the caller's history could not be checked, else 0.
var resyncScript = redis.NewScript(`
redis.call('HSET', KEYS[3], 'ms', ARGV[7])
redis.call('PEXPIRE', KEYS[3], 60000)
local e = redis.call('HGET', KEYS[1], '!epoch')
local unverified = 0
if not e then
  redis.call('HSET', KEYS[1], '!epoch', ARGV[1])
elseif e == ARGV[2] then
  local seq = tonumber(redis.call('HGET', KEYS[1], '!seq') or '0')
  local tip = tonumber(ARGV[3])
  local lost = ARGV[6] == '1' or seq < tip
  if not lost and tip > 0 then
    local known = false
    if ARGV[4] ~= '' then
      local slot = redis.call('HGET', KEYS[1], '!n' .. (tip % 64)) or ''
      if slot == ARGV[3] .. ':' .. ARGV[4] then
        known = true
      elseif string.sub(slot, 1, #ARGV[3] + 1) == ARGV[3] .. ':' then
        known, lost = true, true
      end
    end
    if not known and ARGV[5] ~= '' then
      local ev = redis.call('XRANGE', KEYS[2], ARGV[5], ARGV[5])
      if #ev > 0 then
        local f = ev[1][2]
        local n, s = '', ''
        for i = 1, #f, 2 do
          if f[i] == 'n' then n = f[i+1] end
          if f[i] == 's' then s = f[i+1] end
        end
        if s == ARGV[3] then
          known, lost = true, n ~= ARGV[4]
        end
      end
    end
    if not known then
      unverified = 1
    end
  end
  if lost then
    redis.call('HSET', KEYS[1], '!epoch', ARGV[1])
  end
end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then
  id = last[1][1]
end
return {id, redis.call('HGETALL', KEYS[1]), unverified}
`)

// maxScriptTables bounds the tables one event names: the script unpacks its
// fields onto Lua's stack. More tables are published as a whole-namespace
// invalidation, which is never less safe.
const maxScriptTables = 1000

// reply is what advanceScript answered.
type reply struct {
	epoch uint64
	seq   uint64
	all   uint64
	id    string
	nonce string
	gens  map[string]uint64
}

func runAdvance(ctx context.Context, rdb redis.Scripter, namespace, origin, instance string, epoch uint64, last tip, tables []string, all bool, at time.Time, maxLen int64) (*reply, error) {
	if len(tables) > maxScriptTables {
		tables, all = nil, true
	}
	hash, stream := Keys(namespace)
	args := make([]any, 0, 9+len(tables))
	allArg := "0"
	if all {
		allArg = "1"
	}
	nonce := strconv.FormatUint(random63(), 10)
	args = append(args, nonce, origin, instance,
		strconv.FormatInt(at.UnixMilli(), 10), strconv.FormatInt(maxLen, 10), allArg,
		strconv.FormatUint(epoch, 10), strconv.FormatUint(last.seq, 10), last.nonce)
	for _, t := range tables {
		args = append(args, t)
	}
	res, err := advanceScript.Run(ctx, rdb, []string{hash, stream}, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 4+len(tables) {
		return nil, fmt.Errorf("generation: advance script answered %d values, want %d", len(res), 4+len(tables))
	}
	rep := &reply{nonce: nonce, gens: make(map[string]uint64, len(tables))}
	if rep.epoch, err = uint63Of(res[0]); err != nil {
		return nil, fmt.Errorf("generation: advance script epoch: %w", err)
	}
	if rep.seq, err = uint63Of(res[1]); err != nil {
		return nil, fmt.Errorf("generation: advance script sequence: %w", err)
	}
	if rep.all, err = uint63Of(res[2]); err != nil {
		return nil, fmt.Errorf("generation: advance script namespace counter: %w", err)
	}
	var ok bool
	if rep.id, ok = res[3].(string); !ok {
		return nil, fmt.Errorf("generation: advance script stream id is a %T", res[3])
	}
	for i, t := range tables {
		if rep.gens[t], err = uint63Of(res[4+i]); err != nil {
			return nil, fmt.Errorf("generation: advance script generation of %q: %w", t, err)
		}
	}
	return rep, nil
}

// stepScript is a clock's idle check (redisSide.inStep): it writes the
// probe key, as resyncScript does, so that a Redis refusing writes fails
// the check, then reads the hash's epoch, sequence and the ring slot of the
// caller's last event.
//
// KEYS: hash, probe. ARGV: unix ms, then the three fields.
var stepScript = redis.NewScript(`
redis.call('HSET', KEYS[2], 'ms', ARGV[1])
redis.call('PEXPIRE', KEYS[2], 60000)
return redis.call('HMGET', KEYS[1], ARGV[2], ARGV[3], ARGV[4])
`)

// runResync runs resyncScript and decodes its answer.
func runResync(ctx context.Context, rdb redis.Scripter, namespace string, epoch uint64, tip tip, force bool) (lastID string, snap *snapshot, unverified bool, err error) {
	hash, stream := Keys(namespace)
	forceArg := "0"
	if force {
		forceArg = "1"
	}
	res, err := resyncScript.Run(ctx, rdb, []string{hash, stream, ProbeKey(namespace)},
		strconv.FormatUint(random63(), 10), strconv.FormatUint(epoch, 10), strconv.FormatUint(tip.seq, 10),
		tip.nonce, tip.id, forceArg, strconv.FormatInt(time.Now().UnixMilli(), 10)).Slice()
	if err != nil {
		return "", nil, false, err
	}
	if len(res) != 3 {
		return "", nil, false, fmt.Errorf("generation: resync script answered %d values, want 3", len(res))
	}
	lastID, ok := res[0].(string)
	if !ok {
		return "", nil, false, fmt.Errorf("generation: resync script stream id is a %T", res[0])
	}
	flat, ok := res[1].([]any)
	if !ok || len(flat)%2 != 0 {
		return "", nil, false, fmt.Errorf("generation: resync script hash is a %T of odd length or not a list", res[1])
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		v, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return "", nil, false, fmt.Errorf("generation: resync script hash holds a %T/%T pair", flat[i], flat[i+1])
		}
		fields[k] = v
	}
	flag, ok := res[2].(int64)
	if !ok {
		return "", nil, false, fmt.Errorf("generation: resync script flag is a %T", res[2])
	}
	snap, err = decodeSnapshot(fields)
	return lastID, snap, flag == 1, err
}

func uint63Of(v any) (uint64, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("negative value %d", v)
		}
		return uint64(v), nil
	case string:
		return parseUint63(v)
	default:
		return 0, fmt.Errorf("unexpected %T", v)
	}
}

// Publish announces that tables (every table when all is true) of namespace
// changed, as a Clock's Advance does, for writes made outside cachedsql. Every
// Clock on the namespace applies it; origin names the announcer in the event.
func Publish(ctx context.Context, rdb redis.UniversalClient, namespace, origin string, tables []string, all bool) error {
	if namespace == "" {
		return fmt.Errorf("generation: Publish needs a namespace")
	}
	tables = dedupe(tables)
	if len(tables) == 0 && !all {
		return fmt.Errorf("generation: Publish needs tables or all")
	}
	if all {
		tables = nil
	}
	if _, err := runAdvance(ctx, rdb, namespace, origin, "", 0, tip{}, tables, all, time.Now(), 10000); err != nil {
		return fmt.Errorf("generation: publishing to namespace %q: %w", namespace, err)
	}
	return nil
}

// Tail calls fn for every event of namespace's stream after fromID, in order,
// until ctx is done (it then returns ctx.Err()), fn returns an error (returned
// as is) or Redis fails. fromID "" or "$" means from now; "0" from the oldest
// entry still kept. Entries cachedsql did not write are skipped.
func Tail(ctx context.Context, rdb redis.UniversalClient, namespace, fromID string, fn func(Event) error) error {
	_, stream := Keys(namespace)
	id := fromID
	if id == "" || id == "$" {
		// "$" resolved once: repeating it on every XREAD would lose what arrives
		// between two calls.
		last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
		if err != nil {
			return fmt.Errorf("generation: reading the end of stream %s: %w", stream, err)
		}
		id = "0-0"
		if len(last) > 0 {
			id = last[0].ID
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, id}, Count: 100, Block: time.Second}).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("generation: reading stream %s from %s: %w", stream, id, err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				id = m.ID
				e, err := xmessageEvent(m)
				if err != nil {
					continue
				}
				if err := fn(e.public()); err != nil {
					return err
				}
			}
		}
	}
}
