-- One check. ARGV: fingerprint field, event field ('' none), order key ('' none), window ms,
-- sliding ('1'), most keys, lease ms, this check's token, pinned time ('' server time).
-- Returns {verdict, highest, highest before, keys evicted, in flight} (see `check_one`).
return {check_one(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1',
  tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], clock(ARGV[9]))}
