#!/usr/bin/env python3
"""Scale benchmarks on a generated data set (see docs/PERFORMANCE.md, section Scale).

    python3 scripts/bench/scale.py --binary target/release/orgiam \
        --database sqlite://l.db --keys l.keys [--seconds 10]

The database must hold a data set of `orgiam dev generate --size L` and KEYS its keys file.
Starts the server (a fresh process per figure where the figure needs cold snapshots) and
prints one line per figure. Needs Python 3 and wrk (for the write load).
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, database, extra_env=None):
        self.port = free_port()
        env = dict(os.environ, ORGIAM_LOG="warn")
        env.update(extra_env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--database", database],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit("scale.py: the server exited")
            time.sleep(0.005)
        self.ready_after = time.perf_counter() - self.started
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def call(self, method, path, key, body=None):
        headers = {"Authorization": f"Bearer {key}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["content-type"] = "application/json"
        t = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        raw = res.read()
        elapsed = time.perf_counter() - t
        if res.status != 200:
            sys.exit(f"scale.py: {method} {path}: {res.status} {raw[:300]!r}")
        return elapsed, json.loads(raw)

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def p50(xs):
    return statistics.median(xs) * 1000


def load_keys(path):
    orgs = []
    with open(path) as f:
        for line in f:
            org, members, roles, owner, key, sample = line.rstrip("\n").split("\t")
            orgs.append(dict(org=org, members=int(members), roles=int(roles), owner=owner,
                             key=key, sample=sample))
    return orgs


def check(server, org, user):
    return server.call("POST", "/v1/organization/permissions/check", org["key"],
                       {"user_id": user, "permission": "documents.read"})


def creates_per_second(server, org, seconds, fresh_roles):
    """16 clients (wrk: 16 threads, one connection each) granting distinct (user, role) pairs."""
    user_ids = []
    after = ""
    while len(user_ids) < 1000:
        _, users = server.call("GET", f"/v1/organization/users?limit=100{after}", org["key"])
        user_ids += [u["id"] for u in users["data"]]
        if not users.get("has_more"):
            break
        after = f"&after={users['last_id']}"
    role_ids = []
    for i in range(fresh_roles):
        _, r = server.call("POST", "/v1/organization/roles", org["key"],
                           {"role_name": f"bench {time.time_ns()} {i}",
                            "permissions": ["documents.read"]})
        role_ids.append(r["id"])
    with tempfile.TemporaryDirectory() as d:
        pairs = os.path.join(d, "pairs")
        with open(pairs, "w") as f:
            for r in role_ids:
                for u in user_ids:
                    f.write(f"{u} {r}\n")
        script = os.path.join(d, "grant.lua")
        with open(script, "w") as f:
            f.write("""
local n = 0
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
function init(args)
  pairs_ = {}
  for line in io.lines(args[1]) do table.insert(pairs_, line) end
  key = args[2]
end
function request()
  local i = (n * 16 + id) % #pairs_ + 1
  n = n + 1
  local user, role = pairs_[i]:match("(%S+) (%S+)")
  return wrk.format("POST", "/v1/organization/users/" .. user .. "/roles",
    {["Authorization"] = "Bearer " .. key, ["content-type"] = "application/json"},
    '{"role_id": "' .. role .. '"}')
end
""")
        out = subprocess.run(
            ["wrk", "-t16", "-c16", f"-d{seconds}s", "--latency", "-s", script,
             f"http://127.0.0.1:{server.port}", "--", pairs, org["key"]],
            capture_output=True, text=True, check=True).stdout
    non2xx = 0
    rps = 0.0
    latency = {}
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        if "Non-2xx" in line:
            non2xx = int(line.split()[-1])
        words = line.split()
        if len(words) == 2 and words[0] in ("50%", "99%"):
            latency[words[0]] = words[1]
    if non2xx:
        sys.exit(f"scale.py: {non2xx} grants failed\n{out}")
    if rps * seconds > len(user_ids) * len(role_ids):
        print("scale.py: warning: some grants repeated a pair", file=sys.stderr)
    return rps, latency.get("50%", "?"), latency.get("99%", "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only-writes", action="store_true",
                    help="measure only the role-assignment creates")
    a = ap.parse_args()
    orgs = load_keys(a.keys)
    big = max(orgs, key=lambda o: o["members"])
    small = [o for o in orgs if o is not big]
    sm, bm = f"{small[0]['members']:,}", f"{big['members']:,}"

    def out(name, value):
        print(f"{name}\t{value}", flush=True)

    if a.only_writes:
        writes(a, small, big, sm, bm, out)
        return

    # start to /readyz: the first start may apply new migrations; then three measured starts
    Server(a.binary, a.database).stop()
    starts = []
    for _ in range(3):
        s = Server(a.binary, a.database)
        starts.append(s.ready_after)
        s.stop()
    out("start to /readyz (median of 3), ms", f"{p50(starts):.0f}")

    s = Server(a.binary, a.database)
    cold = [check(s, o, o["sample"])[0] for o in small[:5]]
    out(f"first check, cold {sm}-member org (median of 5), ms", f"{p50(cold):.1f}")
    t, _ = check(s, big, big["sample"])
    out(f"first check, cold {bm}-member org, ms", f"{t * 1000:.0f}")
    warm = [check(s, big, big["sample"])[0] for _ in range(a.repeat)]
    out(f"check over HTTP afterwards, {bm}-member org (p50), ms", f"{p50(warm):.2f}")

    # each page is asked a few times untimed first (the read connections' page caches), then
    # timed: the steady state, as a client paging through it sees it
    def timed(path):
        for _ in range(5):
            s.call("GET", path, big["key"])
        return [s.call("GET", path, big["key"])[0] for _ in range(a.repeat)]

    page1 = timed("/v1/organization/roles?limit=1000")
    cursor = None
    for _ in range(99):
        q = "/v1/organization/roles?limit=1000" + (f"&after={cursor}" if cursor else "")
        _, body = s.call("GET", q, big["key"])
        if not body.get("next"):
            break
        cursor = body["next"]
    last = "/v1/organization/roles?limit=1000" + (f"&after={cursor}" if cursor else "")
    page100 = timed(last)
    out("list roles 1,000/page, page 1 (p50), ms", f"{p50(page1):.1f}")
    out("list roles 1,000/page, page 100 (p50), ms", f"{p50(page100):.1f}")
    out("page 100 / page 1", f"{p50(page100) / p50(page1):.2f}")

    user = big["sample"]
    roles = [s.call("GET", f"/v1/organization/users/{user}/roles", big["key"])[0]
             for _ in range(a.repeat)]
    perms = [s.call("GET", f"/v1/organization/users/{user}/permissions", big["key"])[0]
             for _ in range(a.repeat)]
    out(f"a user's role list, {bm}-member org (p50), ms", f"{p50(roles):.2f}")
    out(f"a user's effective permissions, {bm}-member org (p50), ms", f"{p50(perms):.2f}")
    s.stop()

    # resident memory of M's snapshots: a fresh process, every 1,000-member org loaded
    s = Server(a.binary, a.database)
    base = s.rss()
    assignments = 0
    for o in small:
        check(s, o, o["sample"])
    time.sleep(1)
    loaded = s.rss()
    s.stop()
    assignments = count_assignments(a.database, big["org"])
    out(f"RSS before / after loading the {len(small):,} {sm}-member orgs, MiB",
        f"{base / 2**20:.0f} / {loaded / 2**20:.0f}")
    out("assignments in those orgs", f"{assignments}")
    out("resident bytes per assignment", f"{(loaded - base) / assignments:.0f}")

    writes(a, small, big, sm, bm, out)


def writes(a, small, big, sm, bm, out):
    s = Server(a.binary, a.database)
    for org, members, roles in ((small[-1], sm, 50), (big, bm, 10)):
        rps, p50_, p99_ = creates_per_second(s, org, a.seconds, roles)
        out(f"role-assignment creates/s, 16 clients, {members}-member org", f"{rps:.0f}")
        out("  latency p50 / p99", f"{p50_} / {p99_}")
    s.stop()


def count_assignments(database, big_org):
    sql = f"SELECT COUNT(*) FROM role_assignments WHERE org_id <> '{big_org}'"
    if database.startswith("sqlite:"):
        import sqlite3
        path = database.split("://", 1)[1].split("?")[0]
        return sqlite3.connect(path).execute(sql).fetchone()[0]
    return int(subprocess.run(["psql", database, "-Atc", sql], capture_output=True, text=True,
                              check=True).stdout.strip())


if __name__ == "__main__":
    main()
