#!/usr/bin/env bash
# The host with its dedup windows in Redis against the same host with them in memory, in one
# session (BENCHMARKS.md): dry-run, cxrules pinned to core 0; wrk and a redis-server of this
# script's own (TCP 127.0.0.1:6399, no persistence, emptied before every round) on core 1.
# Rounds alternate memory and Redis for SECONDS each.
# Usage: bench/redis_ratio.sh [rounds] [seconds]   (needs wrk and redis-server: apt-get install)
# Then the open-loop p99 at 10,000 events/s, memory and Redis: bench/open_loop.sh dry 10000 15
# with CXRULES_DEDUP_STORE=redis://127.0.0.1:6399 set for the second.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; secs=${2:-15}
source bench/common.sh
build
export BIN=$bin
taskset -c 1 redis-server --port 6399 --save '' --appendonly no >/dev/null & pids+=($!)
for _ in $(seq 50); do redis-cli -p 6399 ping >/dev/null 2>&1 && break; sleep 0.1; done
rps() { bench/load.sh dry "$secs" | awk '/Requests\/sec/ {print $2}'; }
results=""
for r in $(seq "$rounds"); do
  m=$(rps)
  redis-cli -p 6399 flushall >/dev/null; redis-cli -p 6399 config resetstat >/dev/null
  d=$(CXRULES_DEDUP_STORE=redis://127.0.0.1:6399 rps)
  calls=$(redis-cli -p 6399 info commandstats | awk -F'[=,]' '/^cmdstat_evalsha/ {print $2}')
  awk -v r="$r" -v m="$m" -v d="$d" -v c="${calls:-0}" -v s="$secs" 'BEGIN {
    printf "round %d: memory %.0f req/s, redis %.0f req/s, ratio %.3f, evalsha per request %.3f\n", r, m, d, d / m, c / (d * s) }'
  results="$results $m $d"
done
echo "$results" | awk '{ for (i = 1; i <= NF; i += 2) { m += $i; d += $(i + 1); n++ }
  printf "mean of %d rounds: memory %.0f req/s, redis %.0f req/s, ratio %.3f\n", n, m / n, d / n, d / m }'
