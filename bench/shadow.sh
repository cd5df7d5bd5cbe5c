#!/usr/bin/env bash
# What shadow rules cost the live path (BENCHMARKS.md): the host without and with
# `--shadow-rules rules` (the shipped rules as their own shadow: every event decided twice),
# alternating, in one run. Each round: a closed-loop wrk run (requests/s, p99) and, on a host
# started afresh and warmed for 3 s, an open-loop oha run at RATE events/s (p99 with latency
# correction). Host on core 0; wrk, oha and the mock CXone on core 1 (bench/common.sh).
# Usage: bench/shadow.sh [live|dry] [seconds] [rounds] [rate]   (needs wrk and oha)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
mode=${1:-live}; secs=${2:-15}; rounds=${3:-2}; rate=${4:-10000}
build
lines=$(( rate * secs * 100 / 59 ))
bodies=${TMPDIR:-/tmp}/cxrules-open-loop-$lines.jsonl
[ -s "$bodies" ] || awk -v n="$lines" 'BEGIN {
  for (i = 1; i <= n; i++) { k = i % 100000
    printf "{\"type\":\"conversations.messages.messageCreated\",\"data\":{\"message\":{\"interactionId\":\"int-%d\",\"senderId\":\"cust-%d\",\"content\":\"Hello, order %d has not arrived yet, could you check the delivery status please\",\"sequenceNumber\":%d}}}\n", k, k, i, i } }' > "$bodies"
stop_host() { cleanup; pids=(); sleep 1; }
# The shadow's counts so far (after a phase; they add up over the host's life).
shadow_counts() {
  [ -n "$shadow" ] || return 0
  sleep 1
  echo "   shadow so far: $(curl -s localhost:9300/metrics | grep -E '^cxrules_shadow_events_total' | sed 's/cxrules_shadow_events_total{result="\([a-z]*\)"} /\1=/' | tr '\n' ' ')"
}
for round in $(seq "$rounds"); do
  for shadow in "" rules; do
    label=${shadow:+with shadow}; label=${label:-no shadow}
    if [ -n "$shadow" ]; then export CXRULES_SHADOW_RULES=$shadow; else unset CXRULES_SHADOW_RULES; fi
    start_host "$mode"
    echo "== round $round, $label: wrk -t2 -c64 -d${secs}s"
    taskset -c 1 wrk -t2 -c64 -d${secs}s --latency -s bench/dedup_events.lua \
      http://127.0.0.1:9300/webhook/cxone/events | grep -E 'Requests/sec|^ +99%|Non-2xx'
    shadow_counts
    # A fresh host for the open-loop run: none of the closed loop's queued updates or shadow
    # backlog left to work off while it is measured.
    stop_host
    start_host "$mode"
    # Warmed for 3 s at the same rate (not measured): a host's first seconds fill its tables.
    taskset -c 1 oha -z 3s -c 64 -q "$rate" --no-tui -m POST -H 'content-type: application/json' \
      -Z "$bodies" http://127.0.0.1:9300/webhook/cxone/events >/dev/null 2>&1 || true
    echo "== round $round, $label: oha -q $rate -z ${secs}s"
    taskset -c 1 oha -z "${secs}s" -c 64 -q "$rate" --latency-correction --no-tui -m POST \
      -H 'content-type: application/json' -Z "$bodies" http://127.0.0.1:9300/webhook/cxone/events |
      grep -E 'Requests/sec|^ +(50|99)(\.00)?% in|\[2' || true
    shadow_counts
    stop_host
  done
done
