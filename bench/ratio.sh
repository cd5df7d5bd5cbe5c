#!/usr/bin/env bash
# Dry-run throughput as a share of a bare axum "OK" handler (BENCHMARKS.md), measured in one
# session: bare and dry alternate for ROUNDS rounds of SECONDS each, same pinning as load.sh.
# Usage: bench/ratio.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; secs=${2:-15}
rps() { bench/load.sh "$1" "$secs" | awk '/Requests\/sec/ {print $2}'; }
results=""
for r in $(seq "$rounds"); do
  b=$(rps bare); d=$(rps dry)
  awk -v r="$r" -v b="$b" -v d="$d" 'BEGIN { printf "round %d: bare %.0f req/s, dry-run %.0f req/s, ratio %.3f\n", r, b, d, d / b }'
  results="$results $b $d"
done
echo "$results" | awk '{ for (i = 1; i <= NF; i += 2) { b += $i; d += $(i + 1); n++ }
  printf "mean of %d rounds: bare %.0f req/s, dry-run %.0f req/s, ratio %.3f\n", n, b / n, d / n, d / b }'
