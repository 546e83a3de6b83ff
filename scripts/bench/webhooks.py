"""Webhook delivery figures: deliveries per second and acknowledged-write → delivery latency.

Usage (from the repository root, with a release build):

    python3 scripts/bench/webhooks.py --bin target/release/orgiam --database sqlite:///tmp/wh.db
    python3 scripts/bench/webhooks.py --bin target/release/orgiam --database postgres://…/wh

It starts `orgiam serve --webhooks-allow-private` on the database (best an empty one), a
receiver on loopback answering 200 at once, and measures:

1. latency: writes (role creations) one after another, paced `--gap-ms` apart, each delivered
   to one endpoint; for each, the time from the write's acknowledgement (its HTTP response;
   its commit came before) to the delivery's arrival at the receiver; p50 and p99;
2. throughput: `--backlog` changes written while the receiver holds the first requests it
   gets unanswered (the worker's attempts in flight wait, the rest queue up in the outbox),
   then the time from the receiver answering again to the last arrival, for an ordered
   endpoint (one delivery at a time, in revision order) and an unordered one (claims of 64
   sent side by side).

Only loopback traffic; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[int, float] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.gate = threading.Event()
        self.gate.set()

    def start(self) -> None:
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                rec.gate.wait(30)
                now = time.monotonic()
                rev = json.loads(body)["data"].get("revision")
                with rec.lock:
                    rec.arrivals.setdefault(rev, now)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def call(base: str, key: str, method: str, path: str, body: dict | None = None) -> tuple[dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {key}")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read()), dict(r.headers)


def wait(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/orgiam")
    ap.add_argument("--database", required=True)
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=20)
    ap.add_argument("--backlog", type=int, default=1000)
    args = ap.parse_args()

    port = free_port()
    proc = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--database", args.database, "--webhooks-allow-private"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        key = None
        end = time.monotonic() + 30
        while key is None and time.monotonic() < end:
            line = proc.stdout.readline()
            m = re.search(r"sk-admin-[A-Za-z0-9_-]+", line)
            key = m.group(0) if m else None
        if key is None:
            raise SystemExit("no bootstrap key on stdout (use an empty database)")
        base = f"http://127.0.0.1:{port}"
        rec = Receiver()
        rec.start()
        url = f"http://127.0.0.1:{rec.port}/hook"

        # 1. latency
        ep, _ = call(base, key, "POST", "/v1/organization/webhooks", {"url": url, "event_types": ["role.created"]})
        acked: dict[int, float] = {}
        for i in range(args.writes):
            _, h = call(base, key, "POST", "/v1/organization/roles", {"role_name": f"lat-{i}", "permissions": ["api.users.read"]})
            acked[int(h["orgiam-revision"])] = time.monotonic()
            time.sleep(args.gap_ms / 1000)
        wait(lambda: set(acked) <= set(rec.arrivals), 60)
        lat = [(rec.arrivals[r] - t) * 1000 for r, t in acked.items() if r in rec.arrivals]
        print(f"latency, ack -> delivery, {len(lat)}/{len(acked)} delivered: p50 {statistics.median(lat):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms")
        call(base, key, "DELETE", f"/v1/organization/webhooks/{ep['id']}")

        # 2. throughput, ordered and unordered
        for ordered in (True, False):
            rec.arrivals.clear()
            rec.gate.clear()
            ep, _ = call(base, key, "POST", "/v1/organization/webhooks",
                         {"url": url, "event_types": ["role.created"], "ordered": ordered})
            revs = []
            t_w = time.monotonic()
            for i in range(args.backlog):
                _, h = call(base, key, "POST", "/v1/organization/roles",
                            {"role_name": f"tp-{ordered}-{i}", "permissions": ["api.users.read"]})
                revs.append(int(h["orgiam-revision"]))
            t_w = time.monotonic() - t_w
            if t_w > 8:
                print(f"warning: the backlog took {t_w:.1f} s to write; held attempts may have timed out (10 s)")
            t0 = time.monotonic()
            rec.gate.set()
            done = wait(lambda: len(rec.arrivals) >= len(revs), 600)
            elapsed = max(rec.arrivals.values()) - t0 if rec.arrivals else float("nan")
            print(f"throughput, {'ordered' if ordered else 'unordered'}: {len(rec.arrivals)}/{len(revs)} delivered "
                  f"in {elapsed:.2f} s from the receiver answering = {len(rec.arrivals) / elapsed:.0f} deliveries/s"
                  f"{'' if done else ' (incomplete)'} (backlog written in {t_w:.1f} s)")
            call(base, key, "DELETE", f"/v1/organization/webhooks/{ep['id']}")
        rec.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
