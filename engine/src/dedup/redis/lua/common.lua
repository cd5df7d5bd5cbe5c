-- Shared by the dedup scripts. KEYS[1] is one interaction's hash; its fields:
--   'm'               "<highest>|<stamp>": the highest order key ('' when none) and the token of
--                     the latest check while it may still be rolled back ('' once committed);
--                     absent when both are empty
--   16-byte fields    fingerprint prefixes and hashed event ids ("keys"), valued "<expires>"
--                     once committed and "<expires>:<lease ends>:<token>" while claimed
-- Tokens are 8 random bytes (they may hold ':' or '|', so they always come last).
-- Times are ms on the server's clock (or a pinned time that only tests pass).
local KEY = KEYS[1]
local META = 'm'
-- A key no message has: what a rolled-back last key becomes while a highest must outlive it.
local TOMBSTONE = string.rep('\0', 16)

-- A pinned clock may run at any pace against the server's, which still expires the hash: keep
-- the hash ten minutes past its last key then (the keys' own expiries decide, as always).
local slack = 0

local function clock(pinned)
  if pinned ~= '' then
    slack = 600000
    return tonumber(pinned)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%.0f', n)
end

-- expires, then lease end and token while the key is a claim.
local function parse(v)
  local a = string.find(v, ':', 1, true)
  if not a then return tonumber(v) end
  local b = string.find(v, ':', a + 1, true)
  return tonumber(string.sub(v, 1, a - 1)), tonumber(string.sub(v, a + 1, b - 1)), string.sub(v, b + 1)
end

-- When a key stops counting: its window's end, or its lease's end while claimed, if sooner.
local function ends(v)
  local expires, lease = parse(v)
  if lease and lease < expires then return lease end
  return expires
end

-- The highest order key (nil when none) and the latest check's token ('' when none).
local function meta(v)
  if not v then return nil, '' end
  local bar = string.find(v, '|', 1, true)
  local highest = string.sub(v, 1, bar - 1)
  if highest == '' then highest = nil end
  return highest, string.sub(v, bar + 1)
end

-- Writes the meta field, or removes it when it would hold nothing.
local function set_meta(highest, stamp)
  if highest == nil and stamp == '' then
    redis.call('HDEL', KEY, META)
  else
    redis.call('HSET', KEY, META, (highest or '') .. '|' .. stamp)
  end
end

-- a < b for canonical decimal integers: exact over all of i64, where Lua's doubles are not.
local function less(a, b)
  local na, nb = string.byte(a) == 45, string.byte(b) == 45
  if na ~= nb then return na end
  if #a ~= #b then return (#a < #b) ~= na end
  if a == b then return false end
  return (a < b) ~= na
end

-- Reads the hash: its highest order key, the live keys (field -> value) and how many, the
-- fields of keys that ran out, how many fields it had, and when its last live key ends (`now`
-- when none).
local function load(now)
  local flat = redis.call('HGETALL', KEY)
  local highest, live, count, gone, last = nil, {}, 0, {}, now
  for i = 1, #flat, 2 do
    local f, v = flat[i], flat[i + 1]
    if f == META then
      highest = meta(v)
    else
      local e = ends(v)
      if e > now then
        live[f] = v
        count = count + 1
        if e > last then last = e end
      else
        gone[#gone + 1] = f
      end
    end
  end
  return highest, live, count, gone, #flat, last
end

local function hdel(fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', KEY, unpack(fields, i, math.min(i + 999, #fields)))
  end
end

-- Forgets the live key whose window ends first, to make room for another; returns its field.
local function evict_first(live)
  local first, at = nil, nil
  for f, v in pairs(live) do
    local e = parse(v)
    if at == nil or e < at then first, at = f, e end
  end
  redis.call('HDEL', KEY, first)
  live[first] = nil
  return first
end

-- Makes the hash live until its last live key ends (never shorter than it already does).
-- `ms` is a whole number far below 2^53: Redis reads it as Lua prints it, without a fraction.
-- With `has_ttl` (the hash is known to have an expiry: every script that creates a hash gives
-- it one), PEXPIRE's GT option does the comparison in one call.
local function expire_at(deadline, now, only_longer, has_ttl)
  local ms = deadline - now
  if ms <= 0 then return end
  ms = ms + slack
  if only_longer then
    if has_ttl then
      redis.call('PEXPIRE', KEY, ms, 'GT')
      return
    end
    local ttl = redis.call('PTTL', KEY)
    if ttl >= ms then return end
  end
  redis.call('PEXPIRE', KEY, ms)
end
