-- Makes one check's claims last their window. ARGV: fingerprint field, event field ('' none),
-- the check's token, window ms, most keys, pinned time ('' server time).
-- Returns {claims committed, claims recorded anew}.
local committed, renewed = commit_one(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]),
  tonumber(ARGV[5]), clock(ARGV[6]))
return {committed, renewed}
