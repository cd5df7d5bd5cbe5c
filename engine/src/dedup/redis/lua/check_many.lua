-- Checks several messages at once, one interaction's hash per key (keys may repeat: a later
-- check sees what an earlier one wrote, as when they are sent one after the other; only for a
-- server without cluster mode, where keys of different slots may meet in one script).
-- ARGV: pinned time ('' server time), window ms, sliding ('1'), most keys, lease ms, then per
-- key: fingerprint field, event field ('' none), order key ('' none), the check's token.
-- Returns {verdict, highest, highest before, keys evicted, in flight} for each key (see
-- `check_one`), flattened, in key order. One clock reading serves the whole batch.
local now = clock(ARGV[1])
local window, sliding = tonumber(ARGV[2]), ARGV[3] == '1'
local cap, lease = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 1, #KEYS do
  KEY = KEYS[i]
  local b = 5 + (i - 1) * 4
  local verdict, highest, previous, evicted, in_flight = check_one(ARGV[b + 1], ARGV[b + 2],
    ARGV[b + 3], window, sliding, cap, lease, ARGV[b + 4], now)
  out[#out + 1] = verdict
  out[#out + 1] = highest
  out[#out + 1] = previous
  out[#out + 1] = evicted
  out[#out + 1] = in_flight
end
return out
