#!/usr/bin/env bash
# Load run for the host (BENCHMARKS.md): cxrules pinned to core 0; wrk and a mock CXone on core 1.
# Usage: bench/load.sh [live|live-h2|dry|bare] [seconds]   (needs wrk: apt-get install wrk)
# live-h2: HTTP/2 to the mock (h2c). Live runs lift the client-side rate limit and keep the
# host's other defaults, the queue's 10,000 updates included, so an outbound side that falls
# behind shows as 503s (wrk's "Non-2xx") rather than as a queue that grows all run long.
# SETTLE=N: seconds to wait after the run before reading the counts (default 1).
# MAX_IN_FLIGHT=N: CXone calls in flight at once (default 128 over HTTP/2, 48 over HTTP/1.1).
# QUEUE=N: queue capacity (default 10000). COALESCE=D: coalescing window (default 100ms).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-live}; secs=${2:-20}
bin=target/release
[ -x $bin/cxrules ] && [ -x $bin/examples/mock_cxone ] && [ -x $bin/examples/bare_ok ] ||
  cargo build --release -p cxrules-server --bins --examples
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
taskset -c 1 $bin/examples/mock_cxone 127.0.0.1:9100 2>/dev/null & pids+=($!)
h2=false; [ $mode = live-h2 ] && h2=true
in_flight=${MAX_IN_FLIGHT:-$([ $h2 = true ] && echo 128 || echo 48)}
case $mode in
  live|live-h2) CXONE_HTTP2_PRIOR_KNOWLEDGE=$h2 CXONE_BASE_URL=http://127.0.0.1:9100 CXONE_CLIENT_ID=load CXONE_CLIENT_SECRET=load \
          CXONE_RATE_LIMIT=0 CXONE_MAX_IN_FLIGHT=$in_flight CXRULES_QUEUE_CAPACITY=${QUEUE:-10000} ${COALESCE:+CXRULES_COALESCE_WINDOW=$COALESCE} \
          taskset -c 0 $bin/cxrules --log warn serve --port 9300 --env-file /dev/null & pids+=($!) ;;
  dry)  taskset -c 0 $bin/cxrules --log warn serve --port 9300 --env-file /dev/null & pids+=($!) ;;
  bare) taskset -c 0 $bin/examples/bare_ok 127.0.0.1:9300 & pids+=($!) ;;
esac
for _ in $(seq 50); do curl -sf localhost:9300/healthz >/dev/null 2>&1 && break; [ $mode = bare ] && break; sleep 0.2; done
sleep 0.5
echo "== $mode: wrk -t2 -c64 -d${secs}s"
taskset -c 1 wrk -t2 -c64 -d${secs}s --latency -s bench/dedup_events.lua http://127.0.0.1:9300/webhook/cxone/events
if [ $mode != dry ] && [ $mode != bare ]; then
  metrics=$(curl -s localhost:9300/metrics)
  events=$(echo "$metrics" | awk '/^cxrules_events_total/ {s += $2} END {print s + 0}')
  echo "== accepted (2xx): $events events, $((events / secs))/s; queue when the load stopped: $(echo "$metrics" | grep -E '^cxrules_effects_queue_depth' | cut -d' ' -f2)"
  sleep ${SETTLE:-1}
  echo "== mock cxone counts: $(curl -s localhost:9100/counts)"
  echo "== cxrules: $(curl -s localhost:9300/metrics | grep -E '^cxrules_(events_total|effects_failed_total|effects_queue_depth|outbound_calls_total)' | tr '\n' ' ')"
fi
