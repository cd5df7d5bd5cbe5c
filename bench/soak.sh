#!/usr/bin/env bash
# Soak run for the host (BENCHMARKS.md): inbound load beyond what the outbound side may send
# (client-side rate limit), for SECS seconds; prints the server's resident memory every 30 s,
# then the accounting: accepted, rejected with 503, updates sent, failures, queue depth.
# Usage: bench/soak.sh [seconds] [outbound calls/s]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
secs=${1:-600}; rate=${2:-3000}
build
taskset -c 1 $bin/examples/mock_cxone 127.0.0.1:9100 2>/dev/null & pids+=($!)
CXONE_BASE_URL=http://127.0.0.1:9100 CXONE_CLIENT_ID=soak CXONE_CLIENT_SECRET=soak \
  CXONE_RATE_LIMIT=$rate CXRULES_QUEUE_CAPACITY=10000 \
  taskset -c 0 $bin/cxrules --log error serve --port 9300 --env-file /dev/null & server=$!; pids+=($server)
sleep 1
( for i in $(seq 0 30 "$secs"); do
    echo "t=${i}s rss_kib=$(awk '/VmRSS/{print $2}' /proc/$server/status)"; sleep 30; done ) & pids+=($!)
taskset -c 1 wrk -t2 -c64 -d${secs}s --latency -s bench/dedup_events.lua http://127.0.0.1:9300/webhook/cxone/events
echo "== after load: rss_kib=$(awk '/VmRSS/{print $2}' /proc/$server/status)"
sleep 5
m=$(curl -s localhost:9300/metrics)
echo "$m" | grep -E '^cxrules_(events_total|requests_rejected_total|outbound_calls_total|effects_failed_total|effects_coalesced_total|effects_queue_depth)'
echo "== mock cxone: $(curl -s localhost:9100/counts)"
echo "== accepted - merged - skipped - calls answered 200 = $(( $(metric_sum cxrules_events_total) - $(metric_sum cxrules_effects_coalesced_total) - $(metric_sum cxrules_effects_skipped_total) - $(metric_sum 'cxrules_outbound_calls_total\{endpoint="[a-z]+",status="200"\}') ))"
