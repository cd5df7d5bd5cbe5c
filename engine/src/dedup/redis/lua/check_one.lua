-- One check of the interaction's hash KEY: answers whether the message (fingerprint field fp,
-- event field event ('' none), order key order ('' none)) is new, and claims it for `lease` ms
-- with `token` when it is. Returns verdict (0 unique, 1 out of order, 2 duplicate,
-- 3 redelivery), highest ('' none), highest before ('' none), keys evicted, 1 when a hit key is
-- still a claim.
local function check_one(fp, event, order, window, sliding, cap, lease, token, now)
  local highest, live, count, gone, fields, deadline = load(now)
  if count == 0 then
    -- Every key ran out: the interaction starts over, its highest order key with it.
    if fields > 0 then redis.call('DEL', KEY) end
    highest = nil
  elseif #gone > 0 then
    hdel(gone)
  end

  local previous = highest
  if order ~= '' and (highest == nil or less(highest, order)) then highest = order end
  local expires = now + window
  local verdict, evicted, in_flight = 0, 0, 0
  local writes = {}
  local hit_event = event ~= '' and live[event] ~= nil
  if hit_event or live[fp] then
    if hit_event then verdict = 3 else verdict = 2 end
    -- A hit key, slid when the window slides; its end only moves later.
    local function hit(f)
      local v = live[f]
      if f == '' or not v then return end
      local e, l, t = parse(v)
      if l then in_flight = 1 end
      if sliding and expires > e then
        v = int(expires)
        local until_at = expires
        if l then
          v = v .. ':' .. int(l) .. ':' .. t
          if l < until_at then until_at = l end
        end
        live[f] = v
        writes[#writes + 1] = f
        writes[#writes + 1] = v
        if until_at > deadline then deadline = until_at end
      end
    end
    hit(event)
    hit(fp)
  else
    -- New: the event id, then the fingerprint, claimed for the lease (the fingerprint is kept
    -- over the event id when there is room for one key only).
    -- The claims are written with the highest, in one HSET; a claim evicted for the next one
    -- is not written at all.
    local claim = int(expires) .. ':' .. int(now + lease) .. ':' .. token
    local event_kept = false
    local function claim_key(f)
      if count >= cap then
        if evict_first(live) == event then event_kept = false end
        count = count - 1
        evicted = evicted + 1
      end
      live[f] = claim
      count = count + 1
    end
    if event ~= '' then
      claim_key(event)
      event_kept = true
    end
    claim_key(fp)
    if event_kept then
      writes[#writes + 1] = event
      writes[#writes + 1] = claim
    end
    writes[#writes + 1] = fp
    writes[#writes + 1] = claim
    if evicted > 0 then
      -- The evicted key may have been the last to end.
      deadline = now
      for _, v in pairs(live) do
        local e = ends(v)
        if e > deadline then deadline = e end
      end
    end
    local until_at = math.min(expires, now + lease)
    if until_at > deadline then deadline = until_at end
    if order ~= '' and previous ~= nil and less(order, previous) then verdict = 1 end
  end
  writes[#writes + 1] = META
  writes[#writes + 1] = (highest or '') .. '|' .. token
  redis.call('HSET', KEY, unpack(writes))
  expire_at(deadline, now, false)
  return verdict, highest or '', previous or '', evicted, in_flight
end
