#!/usr/bin/env bash
# Restart with a backlog (BENCHMARKS.md, "Durable outbox"): fills the outbox of a live host with
# PENDING (default 100000) updates that CXone has not taken (rate limit 1 call/s), kills it with
# SIGKILL, starts it again on the same data dir with the rate limit lifted, and prints how long
# until /readyz answers 200 (serving) and until the mock CXone got its first update (delivery
# resumed), measured from the start of the process.
# Usage: bench/outbox_restart.sh [PENDING]   (BIN=dir: use built binaries). 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/production}
want=${1:-100000}
work=$(mktemp -d)
host_pid='' load_pid='' mock_pid=''
cleanup() {
  for p in $load_pid $host_pid $mock_pid; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && cp "$work/host.log" "$KEEP"
  wait 2>/dev/null || true
}
trap cleanup EXIT
if [ -z "${BIN:-}" ]; then
  cargo build --profile production -p cxrules-server --examples
  cargo build --profile production -p cxrules-server --bin cxrules
fi
"$bin/examples/mock_cxone" 127.0.0.1:9102 2>/dev/null & mock_pid=$!
host() {
  CXONE_BASE_URL=http://127.0.0.1:9102 CXONE_CLIENT_ID=load CXONE_CLIENT_SECRET=load \
    CXONE_RATE_LIMIT=$1 CXRULES_QUEUE_CAPACITY=1000000 \
    "$bin/cxrules" --log "${2:-warn}" serve --bind 127.0.0.1 --port 9302 --env-file /dev/null --no-watch \
    --data-dir "$work/data" >>"$work/host.log" 2>&1 &
  host_pid=$!
}
metric() { curl -s 127.0.0.1:9302/metrics | awk -v f="^$1" '$0 ~ f {s += $2} END {print s + 0}'; }
updates() { curl -s 127.0.0.1:9102/counts | sed 's/.*"updates":\([0-9]*\).*/\1/'; }

host 1
for _ in $(seq 500); do curl -sf 127.0.0.1:9302/readyz >/dev/null 2>&1 && break; sleep 0.02; done
"$bin/examples/acked_load" http://127.0.0.1:9302/webhook/cxone/events "$work/acked.txt" 32 & load_pid=$!
while [ "$(metric cxrules_outbox_depth)" -lt "$want" ]; do sleep 0.5; done
kill "$load_pid"; wait "$load_pid" 2>/dev/null || true; load_pid=''
pending=$(metric cxrules_outbox_depth)
kill -9 "$host_pid"; wait "$host_pid" 2>/dev/null || true
echo "== killed with $pending updates pending; file $(du -h "$work/data/outbox.redb" | cut -f1)"
[ -n "${SNAP:-}" ] && cp -r "$work/data" "$SNAP"
before=$(updates)
start=$(date +%s.%N); echo "== restarting at $(date -u +%T.%N)"
host "${RESTART_RATE:-0}" info
until curl -sf 127.0.0.1:9302/readyz >/dev/null 2>&1; do sleep 0.005; done
ready=$(date +%s.%N)
until [ "$(updates)" -gt "$before" ]; do sleep 0.005; done
first=$(date +%s.%N)
grep -E "outbox file opened|dedup windows rebuilt|outbox open" "$work/host.log" | sed 's/^/   /'
echo "== serving after $(echo "$ready - $start" | bc) s; first update delivered after $(echo "$first - $start" | bc) s"
for _ in $(seq 600); do [ "$(metric cxrules_outbox_depth)" = 0 ] && break; sleep 0.5; done
echo "== backlog delivered; outbox depth $(metric cxrules_outbox_depth); mock updates $(( $(updates) - before ))"
