#!/usr/bin/env bash
# Load run for the host (BENCHMARKS.md): cxrules pinned to core 0; wrk and a mock CXone on core 1.
# Usage: bench/load.sh [live|live-h2|dry|dry-capture|bare] [seconds]   (needs wrk: apt-get install wrk)
# CONNS=N: connections (default 64).
# wrk is closed-loop: each connection sends its next request when the answer arrives, so a live
# run finds the most the host accepts. With the host's own queue (10,000 updates) an outbound
# side that falls behind shows as 503s (wrk's "Non-2xx") rather than as a queue that grows all run
# long. bench/open_loop.sh sends a fixed rate instead. Settings: see start_host in bench/common.sh;
# SETTLE=N: seconds to wait after the run before reading the counts (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
mode=${1:-live}; secs=${2:-20}
build
start_host "$mode"
conns=${CONNS:-64}
echo "== $mode: wrk -t2 -c$conns -d${secs}s"
taskset -c 1 wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/dedup_events.lua http://127.0.0.1:9300/webhook/cxone/events
if [ "$mode" = live ] || [ "$mode" = live-h2 ]; then report_counts "$secs"; fi
if [ "$mode" = dry-capture ]; then
  echo "== capture: $(metric_sum cxrules_events_total) events decided, $(metric_sum cxrules_capture_events_written_total) written, $(metric_sum cxrules_capture_events_dropped_total) dropped, $(du -sh "$capture_dir" | cut -f1) on disk"
fi
