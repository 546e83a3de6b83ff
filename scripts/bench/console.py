"""Console page render times: signs in to a running server's console with a key and times
each page (sequential keep-alive requests, p50 and max of N after 2 untimed warm-ups).

    python3 scripts/bench/console.py --base-url http://127.0.0.1:8080 --key sk-admin-… [-n 20]

Needs only the standard library. Prints one line per page: path, p50 ms, max ms, bytes.
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import time
import urllib.parse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)

    def request(method: str, path: str, body: str | None = None, cookie: str = "") -> tuple[int, dict, bytes]:
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    _, headers, form = request("GET", "/console/login")
    token = re.search(rb'name="csrf" value="([^"]+)"', form).group(1).decode()
    login_cookie = headers.get("set-cookie", "").split(";")[0]
    body = urllib.parse.urlencode({"api_key": args.key, "csrf": token})
    status, headers, _ = request("POST", "/console/login", body, cookie=login_cookie)
    cookie = headers.get("set-cookie", "").split(";")[0]
    if status != 303 or not cookie:
        raise SystemExit(f"sign-in failed: {status}")
    _, _, members = request("GET", "/console/members", cookie=cookie)
    first = re.search(rb'href="/console/members/(user_[0-9A-Z]+)"', members)
    _, _, roles = request("GET", "/console/roles", cookie=cookie)
    role = re.search(rb'href="/console/roles/(role_[0-9A-Za-z_]+)"', roles)
    pages = [
        "/console/",
        "/console/members",
        "/console/invites",
        "/console/groups",
        "/console/projects",
        "/console/roles",
        "/console/permissions",
        "/console/access?permission=api.users.read",
        "/console/audit",
        "/console/keys",
    ]
    if first:
        pages.insert(2, "/console/members/" + first.group(1).decode())
    if role:
        pages.insert(7, "/console/roles/" + role.group(1).decode())
    for path in pages:
        times = []
        size = 0
        for i in range(args.n + 2):
            t0 = time.perf_counter()
            status, _, body = request("GET", path, cookie=cookie)
            dt = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise SystemExit(f"{path}: {status}")
            size = len(body)
            if i >= 2:
                times.append(dt)
        print(f"{path:45s} p50 {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms  {size:7d} B")


if __name__ == "__main__":
    main()
