#!/usr/bin/env python3
"""Pacing under CXone's faults (BENCHMARKS.md, "Pacing under faults"): cxrules live against
bench/mock_cxone_faults.py (5 % of update calls answered 429 with Retry-After: 1, 1 % 401,
1 % 503), coalescing off. One contact gets a burst of HOT events first; the other updates are
spread over many contacts, each contact's events posted in order. Reports how long after the
last event the last update was accepted, how many were accepted within 60 s of it, and the
latency (event posted -> update accepted) of the hot contact and of the others.

Usage: bench/pacing_faults.py [--profile seed|dfo] [--updates 10000] [--hot 200] [--rate 300]
BIN=dir picks the cxrules binary's directory (default target/debug).
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

RULES = """version: 1
normalizers:
  chat_text: [trim, lowercase, collapse_whitespace]
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default:
    window: 45s
    mode: sliding
    fingerprint: [sender, content]
    normalizer: chat_text
"""

MOCK_PORT, HOST_PORT = 9110, 9310


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()


def wait_up(port, path):
    for _ in range(200):
        try:
            get(port, path)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing answers on port {port}")


def event(contact, seq):
    return json.dumps({"type": "conversations.messages.messageCreated",
                       "data": {"message": {"interactionId": contact, "senderId": f"cust-{contact}",
                                            "content": f"message {seq} about order {contact}",
                                            "sequenceNumber": seq}}})


def post_all(events, posted):
    """Posts (contact, seq) pairs in order on one connection; 503 (queue full) is retried."""
    conn = http.client.HTTPConnection("127.0.0.1", HOST_PORT, timeout=30)
    for contact, seq in events:
        while True:
            conn.request("POST", "/webhook/cxone/events", event(contact, seq),
                         {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                break
            time.sleep(0.1)
        posted[(contact, seq)] = time.time()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="seed", choices=["seed", "dfo"])
    ap.add_argument("--updates", type=int, default=10_000)
    ap.add_argument("--hot", type=int, default=200)
    ap.add_argument("--per-contact", type=int, default=5)
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args()
    binary = os.path.join(os.environ.get("BIN", "target/debug"), "cxrules")

    rules = tempfile.mkdtemp(prefix="cxrules-pacing-")
    with open(os.path.join(rules, "dedup.yaml"), "w") as f:
        f.write(RULES)
    here = os.path.dirname(os.path.abspath(__file__))
    procs = [subprocess.Popen([sys.executable, os.path.join(here, "mock_cxone_faults.py"),
                               str(MOCK_PORT)])]
    try:
        wait_up(MOCK_PORT, "/progress")
        base = f"http://127.0.0.1:{MOCK_PORT}"
        env = dict(os.environ, CXONE_PROFILE=args.profile, CXONE_BASE_URL=base, CXONE_ISSUER=base,
                   CXONE_CLIENT_ID="bench", CXONE_CLIENT_SECRET="bench",
                   CXONE_ACCESS_KEY_ID="bench", CXONE_ACCESS_KEY_SECRET="bench",
                   CXONE_RATE_LIMIT=str(args.rate), CXRULES_COALESCE_WINDOW="0ms",
                   CXRULES_QUEUE_CAPACITY="20000")
        log = open(os.path.join(rules, "cxrules.log"), "w")
        print(f"== host log: {log.name}")
        procs.append(subprocess.Popen(
            [binary, "--log", "warn", "serve", "--rules", rules, "--bind", "127.0.0.1",
             "--port", str(HOST_PORT), "--env-file", "/dev/null", "--no-watch"], env=env,
            stdout=log, stderr=log))
        wait_up(HOST_PORT, "/healthz")

        # The hot contact's burst on one connection; the others' events spread over the rest,
        # each contact on one connection so its sequence stays in order.
        hot = [("hot-1", s) for s in range(1, args.hot + 1)]
        others = args.updates - args.hot
        contacts = others // args.per_contact
        lanes = [[] for _ in range(args.threads - 1)]
        for seq in range(1, args.per_contact + 1):
            for c in range(contacts):
                lanes[c % len(lanes)].append((f"c-{c}", seq))
        posted = {}
        started = time.time()
        workers = [threading.Thread(target=post_all, args=(hot, posted))]
        workers += [threading.Thread(target=post_all, args=(lane, posted)) for lane in lanes]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        last_event = max(posted.values())
        total = len(posted)
        print(f"== {total} events posted in {last_event - started:.1f} s "
              f"(profile {args.profile}, tenant rate {args.rate}/s, hot contact {args.hot} events)")

        deadline = last_event + 180
        while time.time() < deadline:
            progress = json.loads(get(MOCK_PORT, "/progress"))
            if progress["accepted"] >= total:
                break
            time.sleep(0.5)
        arrivals = json.loads(get(MOCK_PORT, "/arrivals"))
        accepted = {(c, s): t for c, s, t in arrivals}
        within = sum(1 for t in accepted.values() if t <= last_event + 60)
        lag = max(accepted.values()) - last_event
        hot_lat = [t - posted[k] for k, t in accepted.items() if k[0] == "hot-1" and k in posted]
        other_lat = [t - posted[k] for k, t in accepted.items() if k[0] != "hot-1" and k in posted]
        print(f"== accepted {len(accepted)}/{total}; within 60 s of the last event: {within}; "
              f"last accepted {lag:.1f} s after the last event")
        print(f"== latency hot contact: p50 {percentile(hot_lat, 50):.2f} s, "
              f"p99 {percentile(hot_lat, 99):.2f} s, max {max(hot_lat):.2f} s")
        print(f"== latency other contacts: p50 {percentile(other_lat, 50):.2f} s, "
              f"p99 {percentile(other_lat, 99):.2f} s, max {max(other_lat):.2f} s")
        print(f"== mock answers: {json.dumps(progress['answers'])}")
        metrics = get(HOST_PORT, "/metrics").splitlines()
        keep = ("cxrules_cxone_rate_limit ", "cxrules_outbound_retries_total",
                "cxrules_effects_failed_total", "cxrules_cxone_pacing_waits_total")
        for line in metrics:
            if line.startswith(keep):
                print(f"   {line}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
