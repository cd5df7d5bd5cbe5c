-- Undoes one check. ARGV: fingerprint field, event field ('' none), the check's token, the
-- highest order key before it ('' none), pinned time ('' server time), '1' to leave the highest as
-- it is (the release of a check whose answer was lost: its highest before is not known).
-- Only keys this check still holds as its claim are removed, never another check's. The highest
-- goes back only when no check of the interaction came after this one: a later check answered
-- with it, and its update may carry it. Returns how many keys were removed.
local fp, event, token, previous = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = clock(ARGV[5])
local keep_highest = ARGV[6] == '1'

local flat = redis.call('HGETALL', KEY)
if #flat == 0 then return 0 end
local values, keys, highest, stamp = {}, 0, nil, ''
for i = 1, #flat, 2 do
  if flat[i] == META then
    highest, stamp = meta(flat[i + 1])
  else
    values[flat[i]] = flat[i + 1]
    keys = keys + 1
  end
end
if stamp == token and not keep_highest then
  if previous == '' then highest = nil else highest = previous end
end

local removed, until_at = {}, nil
for _, f in ipairs({fp, event}) do
  local v = f ~= '' and values[f]
  if v then
    local e, _, t = parse(v)
    if t == token then
      removed[#removed + 1] = f
      if until_at == nil or e > until_at then until_at = e end
    end
  end
end
if #removed > 0 then hdel(removed) end
if keys == #removed then
  if highest == nil then
    redis.call('DEL', KEY)
    return #removed
  end
  -- The last key, but the highest must outlive it: a key that matches nothing stays until the
  -- end of the keys this rollback took.
  if until_at then
    redis.call('HSET', KEY, TOMBSTONE, int(until_at))
    expire_at(until_at, now, true)
  end
end
set_meta(highest, stamp)
return #removed
