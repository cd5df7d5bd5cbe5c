-- Adds an event's entries to a stream and commits its checks, in one run: a crash can no longer
-- leave the entries added and the message unrecorded (its retry processed again), nor the
-- reverse. The entries go first: a write refused (out of memory) refuses the first, before
-- anything is written. Keys of several slots are refused on a cluster before anything runs
-- (CROSSSLOT); the caller then adds and commits in two steps.
-- KEYS: the interactions' hashes, one per check, then the stream.
-- ARGV: pinned time ('' server time), the entries' field, the number of checks n, then per check:
-- fingerprint field, event field ('' none), the check's token, window ms, most keys; then each
-- entry's value.
-- Returns {claims committed, claims recorded anew} for each check, flattened, in key order.
local now = clock(ARGV[1])
local field = ARGV[2]
local n = tonumber(ARGV[3])
local stream = KEYS[n + 1]
for j = 4 + n * 5, #ARGV do
  redis.call('XADD', stream, '*', field, ARGV[j])
end
local out = {}
for i = 1, n do
  KEY = KEYS[i]
  local b = 3 + (i - 1) * 5
  local committed, renewed = commit_one(ARGV[b + 1], ARGV[b + 2], ARGV[b + 3],
    tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), now)
  out[#out + 1] = committed
  out[#out + 1] = renewed
end
return out
