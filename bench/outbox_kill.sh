#!/usr/bin/env bash
# Durability under kill -9 (BENCHMARKS.md, "Durable outbox"): a live host with its outbox in a temp
# data dir, a mock CXone that records the path of every update, and acked_load sending events
# (one interaction each) from 16 connections and writing down every one answered 2xx. The host
# is killed with SIGKILL KILLS times (default 20) at random moments 0.5-2.5 s apart and started
# again on the same data dir each time; then the load stops, the host drains its outbox with the
# rate limit lifted, and every acknowledged event must have reached the mock. Prints the counts
# and exits 1 when any acknowledged update was lost.
# Usage: bench/outbox_kill.sh [KILLS]   (BIN=dir: use built binaries, e.g. BIN=target/release)
# RATE (default 300): the host's calls per second while the kills happen, below the load's rate,
# so a backlog is pending in the outbox at every kill. Only 127.0.0.1; kills only its own pids.
# REDIS=1: the Redis outbox instead of the file (a redis-server of its own on a unix socket in
# the temp dir, appendonly with appendfsync always; --dedup-store and --outbox-lease LEASE,
# default 2s): each restart is a new consumer, which takes over what the killed one held once
# the lease has run out.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/production}
kills=${1:-20}
work=$(mktemp -d)
host_pid='' load_pid='' mock_pid='' redis_pid=''
cleanup() {
  for p in $load_pid $host_pid $mock_pid $redis_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
if [ -z "${BIN:-}" ]; then
  cargo build --profile production -p cxrules-server --examples
  cargo build --profile production -p cxrules-server --bin cxrules
fi

MOCK_RECORD=1 "$bin/examples/mock_cxone" 127.0.0.1:9101 2>/dev/null & mock_pid=$!

redis_args=()
if [ -n "${REDIS:-}" ]; then
  redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --dir "$work" \
    --save '' --appendonly yes --appendfsync always --maxmemory-policy noeviction \
    >"$work/redis.log" 2>&1 & redis_pid=$!
  for _ in $(seq 250); do [ -S "$work/redis.sock" ] && break; sleep 0.02; done
  redis_args=(--dedup-store "redis+unix://$work/redis.sock" --dedup-key-prefix cxrules:bench
    --outbox-lease "${LEASE:-2s}")
fi

start_host() {
  CXONE_BASE_URL=http://127.0.0.1:9101 CXONE_CLIENT_ID=load CXONE_CLIENT_SECRET=load \
    CXONE_RATE_LIMIT=$1 CXRULES_QUEUE_CAPACITY=1000000 \
    "$bin/cxrules" --log warn serve --bind 127.0.0.1 --port 9301 --env-file /dev/null --no-watch \
    --data-dir "$work/data" ${redis_args[@]+"${redis_args[@]}"} >>"$work/host.log" 2>&1 &
  host_pid=$!
  for _ in $(seq 500); do
    curl -sf 127.0.0.1:9301/readyz >/dev/null 2>&1 && return
    sleep 0.02
  done
  echo "the host did not start; see $work/host.log" >&2
  exit 2
}
metric() { curl -s 127.0.0.1:9301/metrics | awk -v f="^$1" '$0 ~ f {s += $2} END {print s + 0}'; }

start_host "${RATE:-300}"
"$bin/examples/acked_load" http://127.0.0.1:9301/webhook/cxone/events "$work/acked.txt" 16 & load_pid=$!
for i in $(seq "$kills"); do
  sleep "$(awk -v r="$RANDOM" 'BEGIN {printf "%.2f", 0.5 + 2 * r / 32768}')"
  pending=$(metric cxrules_outbox_depth)
  kill -9 "$host_pid"; wait "$host_pid" 2>/dev/null || true
  echo "kill $i: pending in the outbox at the kill ≈ $pending, acknowledged so far $(wc -l < "$work/acked.txt")"
  start_host "${RATE:-300}"
done
kill "$load_pid"; wait "$load_pid" 2>/dev/null || true; load_pid=''
# Drain: a graceful stop, then the rate limit lifted until the outbox is empty (at most 5 min).
kill -TERM "$host_pid"; wait "$host_pid" 2>/dev/null || true
start_host 0
for _ in $(seq 3000); do
  [ "$(metric cxrules_outbox_depth)" = 0 ] && break
  sleep 0.1
done
sort -u "$work/acked.txt" > "$work/acked.sorted"
curl -s 127.0.0.1:9101/seen | sed 's|.*/||' | sort -u > "$work/seen.sorted"
acked=$(wc -l < "$work/acked.sorted")
lost=$(comm -23 "$work/acked.sorted" "$work/seen.sorted" | wc -l)
echo "== $kills kill -9s; acknowledged (2xx) events: $acked; interactions updated at the mock: $(wc -l < "$work/seen.sorted"); acknowledged but never delivered: $lost"
echo "== outbox after the drain: depth $(metric cxrules_outbox_depth), dead letters $(metric cxrules_outbox_dead_letters)"
[ "$lost" = 0 ]
