import { createHash } from "node:crypto";

/**
 * The Lua scripts of the backplane. Each runs atomically in Redis, so an event's id, its place in every stream it
 * goes to, and the genesis mark of a new stream are decided together.
 *
 * Ids come from one clock per namespace (`{prefix}:clock`), with the shape of a stream id, `<ms>-<seq>`: the
 * millisecond part is Redis's `TIME` and never goes back, the sequence breaks ties. Every stream is given explicit ids
 * from this clock, so ids are totally ordered across all channels and sessions of the namespace: one Last-Event-ID
 * says where a client stood in every one of them.
 *
 * Each event is stored as one field, `j`: the JSON `[data, event name or null, targets, channel or null]`, the same
 * text that is published, so it is sent to Redis once.
 *
 * Delivery is pub/sub, with the streams as the source of truth: each event is published on a channel named like its
 * stream, as `<id> <previous id> <JSON>`. A subscriber that finds the previous id is not the last one it handled
 * missed something (pub/sub drops messages across a disconnect, or for a subscriber Redis cut off as too slow) and
 * reads the gap from the stream. One subscriber connection per node serves every channel, at a cost per event that
 * does not grow with the number of channels (measured against `XREAD BLOCK` over many keys: bench/backplane-paths.mjs).
 *
 * A stream's first entry is a genesis mark (`g`). Replay is complete from an id X when X is at or after the genesis
 * (or the genesis was trimmed) and at or after the newest trimmed id (`max-deleted-entry-id`): a stream that was lost
 * and created again starts with a newer genesis, so an older X is reported as a gap, never skipped.
 */
const PRELUDE = `
local function fmt(n) return string.format('%.0f', n) end
local function parts(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function nextid(clock)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local c = redis.call('HMGET', clock, 'ms', 'seq')
  local ms, seq = tonumber(c[1]), tonumber(c[2])
  if ms == nil then ms, seq = 0, 0 end
  if now > ms then ms, seq = now, 0 else seq = seq + 1 end
  redis.call('HSET', clock, 'ms', fmt(ms), 'seq', fmt(seq))
  return fmt(ms) .. '-' .. fmt(seq)
end
local function field(info, name)
  for i = 1, #info, 2 do if info[i] == name then return info[i + 1] end end
  return nil
end
-- A clock that was lost (evicted) while streams survived restarts above what those streams hold.
local function settle(clock, streams)
  if redis.call('EXISTS', clock) == 1 then return end
  local best_ms, best_seq = 0, 0
  for _, key in ipairs(streams) do
    if redis.call('EXISTS', key) == 1 then
      local ms, seq = parts(field(redis.call('XINFO', 'STREAM', key), 'last-generated-id'))
      if ms > best_ms or (ms == best_ms and seq > best_seq) then best_ms, best_seq = ms, seq end
    end
  end
  redis.call('HSET', clock, 'ms', fmt(best_ms), 'seq', fmt(best_seq))
end
local function genesis(clock, key)
  if redis.call('EXISTS', key) == 0 then redis.call('XADD', key, nextid(clock), 'g', '1') end
end
local function add(key, maxlen, id, fields)
  local args = { 'XADD', key, 'MAXLEN', '~', maxlen, id }
  for _, v in ipairs(fields) do args[#args + 1] = v end
  redis.call(unpack(args))
end
-- The id of a stream's newest entry ('0-0' when empty): sent with each event so a subscriber can tell it missed none.
local function newest(key)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if last[1] then return last[1][1] end
  return '0-0'
end
-- Where a history stands, for replay: {clock, genesis or '', max deleted, entries after 'after'}.
local function standing(clock, key, after, upto)
  local c = redis.call('HMGET', clock, 'ms', 'seq')
  local clockid = '0-0'
  if c[1] then clockid = c[1] .. '-' .. c[2] end
  if redis.call('EXISTS', key) == 0 then return { clockid, '', '0-0', {} } end
  -- XINFO gives the first entry and the newest deleted id at once: the read itself is the one XRANGE.
  local info = redis.call('XINFO', 'STREAM', key)
  local first = field(info, 'first-entry')
  local floor = '0-0'
  if first and first[2][1] == 'g' then floor = first[1] end
  local maxdel = field(info, 'max-deleted-entry-id') or '0-0'
  return { clockid, floor, maxdel, redis.call('XRANGE', key, '(' .. after, upto or '+') }
end
`;

/**
 * KEYS: clock, channel stream. ARGV: maxlen, event (JSON). Appends the event and publishes `<id> <previous id> <JSON>`
 * on the pub/sub channel named like the stream. Returns the id.
 */
const PUBLISH = `
settle(KEYS[1], { KEYS[2] })
genesis(KEYS[1], KEYS[2])
local prev = newest(KEYS[2])
local id = nextid(KEYS[1])
add(KEYS[2], ARGV[1], id, { 'j', ARGV[2] })
redis.call('PUBLISH', KEYS[2], id .. ' ' .. prev .. ' ' .. ARGV[2])
return id
`;

/**
 * KEYS: clock, channel stream. ARGV: keep. Returns {max deleted, the newest keep + 1 entries newest first (genesis
 * included)}: a node keeps them, and replays from before the max deleted id are gaps.
 */
const FOLLOW = `
settle(KEYS[1], { KEYS[2] })
genesis(KEYS[1], KEYS[2])
local maxdel = field(redis.call('XINFO', 'STREAM', KEYS[2]), 'max-deleted-entry-id') or '0-0'
return { maxdel, redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', tonumber(ARGV[1]) + 1) }
`;

/** KEYS: clock, stream. ARGV: after, up to (inclusive; '+' for all). Returns where the stream stands (see standing). */
const REPLAY = `
return standing(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
`;

/**
 * KEYS: clock, then streams. ARGV: the position on each. Returns where every one stands, read at one instant, so the
 * entries a node missed during an outage can be handed out in id order across streams.
 */
const CATCH_UP = `
local out = {}
for i = 2, #KEYS do
  local key, pos = KEYS[i], ARGV[i - 1]
  if redis.call('EXISTS', key) == 1 then
    -- Redis lost writes it had acknowledged (a restore, a failover to a lagging replica): this node saw ids the
    -- stream no longer has. Recording them as deleted makes a replay from before them a gap, not a silent skip.
    local last_ms, last_seq = parts(field(redis.call('XINFO', 'STREAM', key), 'last-generated-id'))
    local pos_ms, pos_seq = parts(pos)
    if pos_ms > last_ms or (pos_ms == last_ms and pos_seq > last_seq) then
      redis.call('XSETID', key, pos, 'MAXDELETEDID', pos)
      local c = redis.call('HMGET', KEYS[1], 'ms', 'seq')
      local cms, cseq = tonumber(c[1]) or 0, tonumber(c[2]) or 0
      if pos_ms > cms or (pos_ms == cms and pos_seq > cseq) then
        redis.call('HSET', KEYS[1], 'ms', fmt(pos_ms), 'seq', fmt(pos_seq))
      end
    end
  end
  out[#out + 1] = standing(KEYS[1], key, pos)
end
return out
`;

/**
 * KEYS: clock, session stream, session settings. ARGV: ttl to hold it while open, after ('' for none), last (newest
 * n when no after), historySize, historyTtl, since ('' for none), up to (the newest id to replay; '+' for all).
 * Creates the history when missing, keeps its settings (for senders on other nodes), holds it, and returns where it
 * stands.
 *
 * A history created for a fresh client (no Last-Event-ID) starts at 'since', the newest id its node had delivered
 * when the session opened: the session may already have received channel events newer than that, and a client
 * coming back with one of their ids must find its history complete. Created for a client with an id, it starts now:
 * that history was lost or expired, and a replay from before it is a gap.
 */
const OPEN_SESSION = `
settle(KEYS[1], { KEYS[2] })
if ARGV[2] == '' and ARGV[6] ~= '' and ARGV[6] ~= '0-0' and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XADD', KEYS[2], ARGV[6], 'g', '1')
end
genesis(KEYS[1], KEYS[2])
redis.call('HSET', KEYS[3], 'n', ARGV[4], 't', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
if ARGV[2] ~= '' then return standing(KEYS[1], KEYS[2], ARGV[2], ARGV[7]) end
if tonumber(ARGV[3]) == 0 then return { '', '', '', {} } end
local newest = redis.call('XREVRANGE', KEYS[2], ARGV[7], '-', 'COUNT', tonumber(ARGV[3]) + 1)
return { '', '', '', newest }
`;

/**
 * KEYS: clock, direct stream, then a (history, settings) pair per session to record in. ARGV: direct maxlen, default
 * historySize and historyTtl (for a session whose settings are unknown), event (JSON with its targets). Appends it to
 * each history and to the direct stream, and publishes it on the direct stream's pub/sub channel. Returns the id.
 * Each history is capped and kept alive by its own session's settings.
 */
const SEND_TO = `
local streams = { KEYS[2] }
for i = 3, #KEYS, 2 do streams[#streams + 1] = KEYS[i] end
settle(KEYS[1], streams)
genesis(KEYS[1], KEYS[2])
for i = 3, #KEYS, 2 do genesis(KEYS[1], KEYS[i]) end
local prev = newest(KEYS[2])
local id = nextid(KEYS[1])
for i = 3, #KEYS, 2 do
  local size = redis.call('HGET', KEYS[i + 1], 'n') or ARGV[2]
  local ttl = tonumber(redis.call('HGET', KEYS[i + 1], 't') or ARGV[3])
  add(KEYS[i], size, id, { 'j', ARGV[4] })
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('PEXPIRE', KEYS[i + 1], ttl)
  end
end
add(KEYS[2], ARGV[1], id, { 'j', ARGV[4] })
redis.call('PUBLISH', KEYS[2], id .. ' ' .. prev .. ' ' .. ARGV[4])
return id
`;

/** KEYS: presence hash. ARGV: node key prefix. Sums the counts of live nodes and drops the dead ones. */
const COUNT = `
local h = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #h, 2 do
  if redis.call('EXISTS', ARGV[1] .. h[i]) == 1 then sum = sum + tonumber(h[i + 1])
  else redis.call('HDEL', KEYS[1], h[i]) end
end
return sum
`;

/** A script and its SHA1, for EVALSHA with a fall back to EVAL after a Redis restart flushed the script cache. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(body: string): Script {
  const source = `${PRELUDE}${body}`;
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

export const SCRIPTS = {
  publish: script(PUBLISH),
  follow: script(FOLLOW),
  replay: script(REPLAY),
  openSession: script(OPEN_SESSION),
  sendTo: script(SEND_TO),
  count: script(COUNT),
  catchUp: script(CATCH_UP),
} as const;
