-- Makes one check's claims last their window (the dedup scripts' KEY is the interaction's
-- hash): the claims of `token` become records; a claim that is gone (its lease ran out and it
-- was swept) is recorded anew for a window from `now`, since the host did act on the message, if
-- the interaction has room for it without evicting another; a claim another check holds, or a
-- record already committed, is left as it is. Returns claims committed, claims recorded anew.
local function commit_one(fp, event, token, window, cap, now)
  local committed, renewed = 0, 0
  local deadline = now
  local lost = {}
  -- One read of the keys and the meta field, one write of what changes.
  local got = redis.call('HMGET', KEY, META, event ~= '' and event or META, fp)
  local writes = {}
  local function settle(f, v)
    if f == '' then return end
    local e, _, t = nil, nil, nil
    if v then e, _, t = parse(v) end
    if t == token then
      writes[#writes + 1] = f
      writes[#writes + 1] = int(e)
      committed = committed + 1
      if e > deadline then deadline = e end
    elseif not v or ends(v) <= now then
      lost[#lost + 1] = f
    end
  end
  settle(event, got[2])
  settle(fp, got[3])
  if #lost > 0 then
    -- The sweep below must see this commit's records as records.
    if #writes > 0 then
      redis.call('HSET', KEY, unpack(writes))
      writes = {}
    end
    local _, live, count = load(now)
    for _, f in ipairs(lost) do
      -- Recorded anew only where there is room: a claim the cap evicted stays evicted.
      if live[f] == nil and count < cap then
        live[f] = int(now + window)
        count = count + 1
        writes[#writes + 1] = f
        writes[#writes + 1] = live[f]
        renewed = renewed + 1
        deadline = now + window
      end
    end
  end
  -- Committed, this check can no longer be rolled back: its token need not be kept as the stamp.
  local highest, stamp = meta(got[1])
  if stamp == token then
    if highest == nil then
      redis.call('HDEL', KEY, META)
    else
      writes[#writes + 1] = META
      writes[#writes + 1] = highest .. '|'
    end
  end
  if #writes > 0 then redis.call('HSET', KEY, unpack(writes)) end
  -- Unless this commit recorded a key anew (it may have made the hash), the hash holds this
  -- check's claim, which the check wrote and gave an expiry.
  expire_at(deadline, now, true, renewed == 0)
  return committed, renewed
end
