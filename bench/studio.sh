#!/usr/bin/env bash
# The Studio endpoint's latency at a fixed rate (BENCHMARKS.md): oha sends RATE requests per
# second to POST /studio/v1/decide, as many in flight as a Studio tenant allows (100), with
# latency correction, to cxrules (profile dfo, dry-run: decided and answered, updates logged
# and counted, no call to CXone) pinned to core 0; the inventory stand-in (mock_cxone's
# /products/{sku}: always in stock) and oha share core 1. Every request is a new customer
# message with a SKU over 2,000 contacts: the first of each contact is routed (one inventory
# lookup), the others are deduplicated and answered as routed already.
# Usage: bench/studio.sh [rate] [seconds]   (needs oha: cargo install oha)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
rate=${1:-500}; secs=${2:-20}
build
lines=$(( rate * secs ))
bodies=${TMPDIR:-/tmp}/cxrules-studio-$lines.jsonl
[ -s "$bodies" ] || awk -v n="$lines" 'BEGIN {
  for (i = 1; i <= n; i++) { k = i % 2000
    printf "{\"contactNumber\":\"%d\",\"interactionId\":\"int-%d\",\"messageId\":\"m-%d\",\"text\":\"Is my order %d on its way?\",\"sender\":\"+1555%07d\",\"direction\":\"inbound\",\"channel\":\"chat\",\"time\":\"2026-11-23T10:00:00Z\",\"sku\":\"SKU-%d\"}\n", 131988340000 + k, k, i, i, k, k } }' > "$bodies"
taskset -c 1 $bin/examples/mock_cxone 127.0.0.1:9100 2>/dev/null & pids+=($!)
CXONE_PROFILE=dfo CXRULES_STUDIO_TOKEN=bench INVENTORY_API_URL=http://127.0.0.1:9100/products \
  taskset -c 0 $bin/cxrules --log warn serve --bind 127.0.0.1 --port 9300 --env-file /dev/null & pids+=($!)
for _ in $(seq 50); do curl -sf localhost:9300/healthz >/dev/null 2>&1 && break; sleep 0.2; done
sleep 0.5
echo "== studio: oha -q $rate -z ${secs}s -c 100 --latency-correction"
taskset -c 1 oha -z "${secs}s" -c 100 -q "$rate" --latency-correction --no-tui -m POST \
  -H 'content-type: application/json' -H 'authorization: Bearer bench' -Z "$bodies" \
  http://127.0.0.1:9300/studio/v1/decide |
  sed -n '/^Summary/,/^ *Requests\/sec/p; /^Response time distribution/,/^ *99.99%/p; /^Status code distribution/,$p'
echo "== answer size: $(head -1 "$bodies" | curl -s -H 'content-type: application/json' -H 'authorization: Bearer bench' --data-binary @- localhost:9300/studio/v1/decide | wc -c) bytes"
