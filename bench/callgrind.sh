#!/usr/bin/env bash
# Instructions per dry-run request (BENCHMARKS.md): the host runs under callgrind twice, for N
# and for 3×N requests (oha, 4 connections, bodies over 1,000 interactions); the difference of
# the two totals over 2×N requests leaves start-up and shutdown out. Deterministic for one
# binary, whatever else the machine is doing. Needs valgrind and oha.
# Usage: bench/callgrind.sh [N]   (BIN=dir to use a built binary, default target/production)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/production}
[ -n "${BIN:-}" ] || cargo build --profile production -p cxrules-server --bin cxrules
n=${1:-2000}
bodies=${TMPDIR:-/tmp}/cxrules-callgrind-bodies.jsonl
awk 'BEGIN { for (i = 1; i <= 20000; i++) { k = i % 1000
  printf "{\"type\":\"conversations.messages.messageCreated\",\"data\":{\"message\":{\"interactionId\":\"int-%d\",\"senderId\":\"cust-%d\",\"content\":\"Hello, order %d has not arrived yet, could you check the delivery status please\",\"sequenceNumber\":%d}}}\n", k, k, i, i } }' > "$bodies"
total() { # requests -> instructions of the whole run
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin/cxrules" --log warn serve \
    --bind 127.0.0.1 --port 9400 --env-file /dev/null >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf localhost:9400/healthz >/dev/null 2>&1 && break; sleep 0.3; done
  oha -n "$1" -c 4 --no-tui -m POST -H 'content-type: application/json' -Z "$bodies" \
    http://127.0.0.1:9400/webhook/cxone/events >/dev/null
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
  rm -f "$out"
}
small=$(total "$n"); large=$(total $((3 * n)))
echo "instructions per request: $(( (large - small) / (2 * n) ))"
