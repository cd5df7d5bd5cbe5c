#!/usr/bin/env bash
# Open-loop load run (BENCHMARKS.md): oha sends RATE requests per second whatever the answers'
# latency, with latency correction (a stall counts against every request it holds back), to
# cxrules pinned to core 0; oha and the mock CXone share core 1.
# Usage: bench/open_loop.sh [live-h2|live|dry] [rate] [seconds]   (needs oha: cargo install oha)
# Every body is a different message over 100,000 interactions; oha draws the bodies at random
# from the file, and the file is sized (RATE x SECONDS / 0.59 lines) so that about a quarter of
# the requests re-send a message sent earlier in the run, which dedup suppresses.
# Settings: see start_host in bench/common.sh; SETTLE=N seconds before the counts (default 3);
# CONNS=N connections (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
mode=${1:-live-h2}; rate=${2:-20000}; secs=${3:-15}
build
lines=$(( rate * secs * 100 / 59 ))
bodies=${TMPDIR:-/tmp}/cxrules-open-loop-$lines.jsonl
[ -s "$bodies" ] || awk -v n="$lines" 'BEGIN {
  for (i = 1; i <= n; i++) { k = i % 100000
    printf "{\"type\":\"conversations.messages.messageCreated\",\"data\":{\"message\":{\"interactionId\":\"int-%d\",\"senderId\":\"cust-%d\",\"content\":\"Hello, order %d has not arrived yet, could you check the delivery status please\",\"sequenceNumber\":%d}}}\n", k, k, i, i } }' > "$bodies"
start_host "$mode"
conns=${CONNS:-64}
echo "== $mode: oha -q $rate -z ${secs}s -c $conns --latency-correction"
taskset -c 1 oha -z "${secs}s" -c "$conns" -q "$rate" --latency-correction --no-tui -m POST \
  -H 'content-type: application/json' -Z "$bodies" http://127.0.0.1:9300/webhook/cxone/events |
  sed -n '/^Summary/,/^ *Requests\/sec/p; /^Response time distribution/,/^ *99.99%/p; /^Status code distribution/,$p'
if [ "$mode" = live ] || [ "$mode" = live-h2 ]; then SETTLE=${SETTLE:-3} report_counts "$secs"; fi
