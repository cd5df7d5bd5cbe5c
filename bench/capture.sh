#!/usr/bin/env bash
# Dry-run throughput with `serve --capture` as a share of without (BENCHMARKS.md), measured in
# one session: without and with capture alternate for ROUNDS rounds of SECONDS each, pinned as
# load.sh pins them. REDACT=1 redacts the captured text too.
# Usage: bench/capture.sh [rounds] [seconds]   (BIN=target/release uses that build instead)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; secs=${2:-15}
out=$(mktemp); trap 'rm -f "$out"' EXIT
rps() { bench/load.sh "$1" "$secs" > "$out"; grep '^== capture' "$out" >&2 || true; awk '/Requests\/sec/ {print $2}' "$out"; }
results=""
for r in $(seq "$rounds"); do
  off=$(rps dry); on=$(rps dry-capture)
  awk -v r="$r" -v a="$off" -v b="$on" 'BEGIN { printf "round %d: without %.0f req/s, with capture %.0f req/s, ratio %.3f\n", r, a, b, b / a }'
  results="$results $off $on"
done
echo "$results" | awk '{ for (i = 1; i <= NF; i += 2) { a += $i; b += $(i + 1); n++ }
  printf "mean of %d rounds: without %.0f req/s, with capture %.0f req/s, ratio %.3f\n", n, a / n, b / n, b / a }'
