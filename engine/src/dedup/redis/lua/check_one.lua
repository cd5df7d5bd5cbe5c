-- One check of the interaction's hash KEY: answers whether the message (fingerprint field fp,
-- event field event ('' none), order key order ('' none)) is new, and claims it for `lease` ms
-- with `token` when it is. Returns verdict (0 unique, 1 out of order, 2 duplicate,
-- 3 redelivery), highest ('' none), highest before ('' none), keys evicted, 1 when a hit key is
-- still a claim.
local function check_one(fp, event, order, window, sliding, cap, lease, token, now)
  local highest, live, count, gone, fields = load(now)
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
    for _, f in ipairs({event, fp}) do
      local v = live[f]
      if f ~= '' and v then
        local e, l, t = parse(v)
        if l then in_flight = 1 end
        if sliding and expires > e then
          v = int(expires)
          if l then v = v .. ':' .. int(l) .. ':' .. t end
          live[f] = v
          writes[#writes + 1] = f
          writes[#writes + 1] = v
        end
      end
    end
  else
    -- New: the event id, then the fingerprint, claimed for the lease (the fingerprint is kept
    -- over the event id when there is room for one key only).
    -- The claims are written with the highest, in one HSET; a claim evicted for the next one
    -- is not written at all.
    local claim = int(expires) .. ':' .. int(now + lease) .. ':' .. token
    local claimed = {}
    for _, f in ipairs({event, fp}) do
      if f ~= '' then
        if count >= cap then
          claimed[evict_first(live)] = nil
          count = count - 1
          evicted = evicted + 1
        end
        live[f] = claim
        count = count + 1
        claimed[f] = true
      end
    end
    for _, f in ipairs({event, fp}) do
      if claimed[f] then
        writes[#writes + 1] = f
        writes[#writes + 1] = claim
      end
    end
    if order ~= '' and previous ~= nil and less(order, previous) then verdict = 1 end
  end
  writes[#writes + 1] = META
  writes[#writes + 1] = (highest or '') .. '|' .. token
  redis.call('HSET', KEY, unpack(writes))

  local deadline = now
  for _, v in pairs(live) do
    local e = ends(v)
    if e > deadline then deadline = e end
  end
  expire_at(deadline, now, false)
  return verdict, highest or '', previous or '', evicted, in_flight
end
