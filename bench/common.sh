#!/usr/bin/env bash
# Shared by the load scripts (sourced, not run): build the host and the examples, start the mock CXone and
# the host pinned as BENCHMARKS.md describes, stop them on exit, and read the host's counts.
bin=${BIN:-target/production}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Waited for, so the next host of a script finds the port free (a live host drains first:
  # at most its CXRULES_DRAIN_TIMEOUT, 1 s in these runs).
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${capture_dir:-}" ]; then rm -rf "$capture_dir"; fi
}
trap cleanup EXIT

# The examples build the dev-dependencies, whose features (tokio's test-util) cargo then turns on
# for everything built with them; so the host is built on its own, last, as
# `cargo build --profile production` builds it. BIN=dir skips building.
build() {
  [ -n "${BIN:-}" ] && return
  cargo build --profile production -p cxrules-server --examples
  cargo build --profile production -p cxrules-server --bin cxrules
}

# start_host MODE: the mock CXone on core 1; on core 0 cxrules live (live: HTTP/1.1 to the mock,
# live-h2: HTTP/2), in dry-run (dry), in dry-run capturing every event to a temporary directory
# (dry-capture; REDACT=1 redacts too), or the bare axum handler (bare), listening on 9300.
# Live runs lift the client-side rate limit; MAX_IN_FLIGHT (default 128 over HTTP/2, 48 over
# HTTP/1.1), QUEUE (default 10000) and COALESCE (default 100ms) change the host's settings.
# Live runs write the durable outbox into a fresh temp data dir; NO_OUTBOX=1 keeps the queue in
# memory only (the comparison BENCHMARKS.md makes), COMMIT_WINDOW sets --outbox-commit-window.
start_host() {
  local mode=$1 h2=false
  taskset -c 1 $bin/examples/mock_cxone 127.0.0.1:9100 2>/dev/null & pids+=($!)
  [ "$mode" = live-h2 ] && h2=true
  local in_flight=${MAX_IN_FLIGHT:-$([ $h2 = true ] && echo 128 || echo 48)}
  case $mode in
    # `env` takes the settings as arguments, so the ones left out expand to nothing (a
    # `${X:+NAME=value}` word in front of a command would be taken for the command itself).
    live|live-h2) env CXONE_HTTP2_PRIOR_KNOWLEDGE=$h2 CXONE_BASE_URL=http://127.0.0.1:9100 CXONE_CLIENT_ID=load CXONE_CLIENT_SECRET=load \
            CXONE_RATE_LIMIT=0 CXONE_MAX_IN_FLIGHT=$in_flight CXRULES_QUEUE_CAPACITY=${QUEUE:-10000} ${COALESCE:+CXRULES_COALESCE_WINDOW=$COALESCE} \
            CXRULES_DRAIN_TIMEOUT=1s CXRULES_DATA_DIR=$(mktemp -d) ${NO_OUTBOX:+CXRULES_NO_OUTBOX=true} ${COMMIT_WINDOW:+CXRULES_OUTBOX_COMMIT_WINDOW=$COMMIT_WINDOW} \
            taskset -c 0 $bin/cxrules --log warn serve --bind 127.0.0.1 --port 9300 --env-file /dev/null & pids+=($!) ;;
    dry)  taskset -c 0 $bin/cxrules --log warn serve --bind 127.0.0.1 --port 9300 --env-file /dev/null & pids+=($!) ;;
    dry-capture) capture_dir=$(mktemp -d); env CXRULES_CAPTURE=$capture_dir ${REDACT:+CXRULES_CAPTURE_REDACT=true CXRULES_CAPTURE_REDACT_KEY=bench-key-0123456789abcdef} \
            taskset -c 0 $bin/cxrules --log warn serve --bind 127.0.0.1 --port 9300 --env-file /dev/null & pids+=($!) ;;
    bare) taskset -c 0 $bin/examples/bare_ok 127.0.0.1:9300 & pids+=($!) ;;
    *) echo "unknown mode $mode (live, live-h2, dry, dry-capture, bare)" >&2; exit 2 ;;
  esac
  for _ in $(seq 50); do curl -sf localhost:9300/healthz >/dev/null 2>&1 && break; [ "$mode" = bare ] && break; sleep 0.2; done
  sleep 0.5
}

# A family's values summed over its series, from the host's /metrics.
metric_sum() { curl -s localhost:9300/metrics | awk -v f="^$1" '$0 ~ f {s += $2} END {print s + 0}'; }

# The host's and the mock's counts, SETTLE seconds (default 1) after the load stopped.
report_counts() {
  local secs=$1
  local events; events=$(metric_sum cxrules_events_total)
  echo "== accepted (2xx): $events events, $((events / secs))/s; queue when the load stopped: $(metric_sum cxrules_effects_queue_depth)"
  sleep "${SETTLE:-1}"
  echo "== mock cxone counts: $(curl -s localhost:9100/counts)"
  echo "== cxrules: $(curl -s localhost:9300/metrics | grep -E '^cxrules_(events_total|effects_coalesced_total|effects_failed_total|effects_queue_depth|outbound_calls_total|requests_rejected_total)' | tr '\n' ' ')"
  echo "== cxrules skipped: $(curl -s localhost:9300/metrics | grep -E '^cxrules_effects_skipped_total' | tr '\n' ' ')"
  local fsyncs; fsyncs=$(metric_sum cxrules_outbox_fsyncs_total)
  [ "$fsyncs" != 0 ] && echo "== outbox: $fsyncs fsyncs for $events events = $(echo "scale=4; $fsyncs / $events" | bc) per event; $(curl -s localhost:9300/metrics | grep -E '^cxrules_outbox_(events_per_commit_(sum|count)|depth|write_errors_total)' | tr '\n' ' ')"
  return 0
  echo "== accepted - merged - skipped - calls answered 200 = $(( events - $(metric_sum cxrules_effects_coalesced_total) - $(metric_sum cxrules_effects_skipped_total) - $(metric_sum 'cxrules_outbound_calls_total\{endpoint="[a-z]+",status="200"\}') ))"
}
