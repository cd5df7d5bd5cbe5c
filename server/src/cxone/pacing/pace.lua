-- One call's permits: the contact's bucket, then the tenant's; GCRA on the Redis clock.
-- KEYS[1]: the contact's bucket, KEYS[2]: the tenant's (both hold a TAT in microseconds).
-- ARGV: contact interval, contact tolerance, tenant interval, tenant tolerance (microseconds;
-- a tenant interval of 0 means no tenant limit).
-- Answers {granted, wait_us}: {0, wait} when the contact's bucket is empty (nothing taken,
-- try again after wait); {1, wait} when the call may go after wait (its tenant turn, reserved).
-- Each key expires once its bucket would be full again, so idle contacts cost no memory.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ci, ctol = tonumber(ARGV[1]), tonumber(ARGV[2])
local ti, ttol = tonumber(ARGV[3]), tonumber(ARGV[4])

local ctat = tonumber(redis.call('GET', KEYS[1]) or now)
if ctat < now then ctat = now end
if ctat - now > ctol then
  return {0, math.floor(ctat - now - ctol)}
end
ctat = ctat + ci
redis.call('SET', KEYS[1], string.format('%d', ctat), 'PX', math.floor((ctat - now) / 1000) + 1)

if ti <= 0 then
  return {1, 0}
end
local ttat = tonumber(redis.call('GET', KEYS[2]) or now)
if ttat < now then ttat = now end
local wait = ttat - now - ttol
if wait < 0 then wait = 0 end
ttat = ttat + ti
redis.call('SET', KEYS[2], string.format('%d', ttat), 'PX', math.floor((ttat - now) / 1000) + 1)
return {1, math.floor(wait)}
