#!/usr/bin/env python3
"""A local CXone stand-in for the pacing bench: answers the token, discovery and definitions
requests of both profiles, and every update call with a seeded fault mix (default: 5 % 429
with Retry-After: 1, 1 % 401, 1 % 503, else 200). Writes down when each update was first
accepted, keyed by contact id and lastSequence.

Usage: mock_cxone_faults.py PORT [SEED]
  GET /progress  -> {"accepted": n, "answers": {...}}
  GET /arrivals  -> [[id, sequence, unix_time], ...] (first acceptance of each update)
"""
import base64
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

P429 = float(os.environ.get("P429", "0.05"))
P401 = float(os.environ.get("P401", "0.01"))
P503 = float(os.environ.get("P503", "0.01"))

lock = threading.Lock()
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
arrivals = {}  # (id, seq) -> first accepted time
answers = {}   # status -> count


def id_token():
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "none"}).encode())
    claims = b64(json.dumps({"tenantId": "bench"}).encode())
    return f"{header}.{claims}.sig"


def update_key(path, body):
    """(contact id, lastSequence) of a seed PATCH or a dfo PUT."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["dfo", "3.0", "contacts"]:
        contact = parts[3]
        seq = next(f["value"] for f in body if f.get("ident") == "deduplication-last-sequence")
    else:
        contact = parts[-1]
        seq = body["attributes"]["deduplication:lastSequence"]
    return contact, int(seq)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=None, headers=()):
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw

    def do_GET(self):
        base = f"http://{self.headers['host']}"
        if self.path == "/.well-known/openid-configuration":
            return self.send(200, {"issuer": base, "token_endpoint": f"{base}/auth/token"})
        if self.path.startswith("/.well-known/cxone-configuration"):
            return self.send(200, {"api_endpoint": base})
        if self.path == "/dfo/3.0/contacts/custom-field-definitions":
            return self.send(200, [{"ident": "deduplication-status"},
                                   {"ident": "deduplication-last-sequence"}])
        if self.path == "/progress":
            with lock:
                return self.send(200, {"accepted": len(arrivals), "answers": dict(answers)})
        if self.path == "/arrivals":
            with lock:
                return self.send(200, [[k[0], k[1], t] for k, t in arrivals.items()])
        self.send(404)

    def do_POST(self):
        self.body()
        if self.path in ("/oauth2/token", "/auth/token"):
            return self.send(200, {"access_token": "tok", "token_type": "Bearer",
                                   "expires_in": 3600, "id_token": id_token()})
        self.send(404)

    def update(self):
        raw = self.body()
        with lock:
            roll = rng.random()
        if roll < P429:
            status, headers = 429, [("retry-after", "1")]
        elif roll < P429 + P401:
            status, headers = 401, []
        elif roll < P429 + P401 + P503:
            status, headers = 503, []
        else:
            status, headers = 200, []
        with lock:
            answers[str(status)] = answers.get(str(status), 0) + 1
            if status == 200:
                key = update_key(self.path, json.loads(raw))
                arrivals.setdefault(key, time.time())
        self.send(status, {}, headers)

    do_PATCH = update
    do_PUT = update


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
