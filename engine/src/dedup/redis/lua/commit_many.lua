-- Commits several checks at once, one interaction's hash per key (keys may repeat; only for a
-- server without cluster mode, where keys of different slots may meet in one script).
-- ARGV: pinned time ('' server time), window ms, most keys, then per key: fingerprint field,
-- event field ('' none), the check's token.
-- Returns {claims committed, claims recorded anew} for each key, flattened, in key order.
local now = clock(ARGV[1])
local window, cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  KEY = KEYS[i]
  local b = 3 + (i - 1) * 3
  local committed, renewed = commit_one(ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], window, cap, now)
  out[#out + 1] = committed
  out[#out + 1] = renewed
end
return out
