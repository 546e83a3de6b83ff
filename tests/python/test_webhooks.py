"""Webhooks and the change feed, end to end against the real binary, on SQLite and PostgreSQL.

A receiver on loopback records every delivery; signatures are checked with the
`standardwebhooks` package from PyPI, unchanged. The server runs with
`--webhooks-allow-private` (the receiver is on loopback) and a retry schedule of seconds:
base 1 s, window 12 s, disabled after 1 s of failing.

Also here: the default address policy (a server without the flag refuses loopback and
private targets), the receiver down then up (every event arrives, in order), SIGKILL right
after acknowledged writes (nothing lost after the restart), retries running out (endpoint
failing, then disabled, with events), manual redelivery, and the feed (paging, long-poll,
410 for a revision the feed no longer holds).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import signal
import sqlite3
import threading
import time
from typing import Any, Iterator

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from conftest import Backend, Server, free_port, http, psql, start_server, stop_server

SERVER_ARGS = [
    "--webhooks-allow-private",
    "--webhooks-retry-base-seconds",
    "1",
    "--webhooks-retry-window-seconds",
    "12",
    "--webhooks-disable-after-seconds",
    "1",
]


class Receiver:
    """An HTTP receiver on a fixed loopback port that can go down (connections refused) and
    come back; it records every request's headers and body."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.lock = threading.Lock()
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        self.status = 200
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                    status = receiver.status
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"x" * 3000)  # more than the server keeps

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def messages(self, webhook_id_prefix: str = "msg_") -> list[tuple[dict[str, str], bytes, float]]:
        with self.lock:
            return [r for r in self.received if r[0].get("webhook-id", "").startswith(webhook_id_prefix)]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Env:
    def __init__(self, backend: Backend, server: Server) -> None:
        self.backend = backend
        self.server = server
        self.key = server.admin_key
        self.org_id = server.org_id

    def client(self):
        return http(self.server, self.key)

    def restart_after_sigkill(self) -> None:
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait(timeout=10)
        self.server = start_server(self.backend, args=SERVER_ARGS, bootstrap=False)


@pytest.fixture(scope="module")
def env(backend: Backend) -> Iterator[Env]:
    srv = start_server(backend, args=SERVER_ARGS)
    e = Env(backend, srv)
    try:
        yield e
    finally:
        stop_server(e.server)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    try:
        yield r
    finally:
        r.stop()


def create_endpoint(c, url: str, **fields: Any) -> dict[str, Any]:
    r = c.post("/v1/organization/webhooks", json={"url": url, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def make_role(c, name: str) -> int:
    r = c.post("/v1/organization/roles", json={"role_name": name, "permissions": ["api.users.read"]})
    assert r.status_code == 200, r.text
    return int(r.headers["orgiam-revision"])


def delete_endpoint(c, wid: str) -> None:
    assert c.delete(f"/v1/organization/webhooks/{wid}").status_code == 200


def revisions_of(messages) -> list[int]:
    return [json.loads(body)["data"]["revision"] for _, body, _ in messages]


def test_private_targets_refused_by_default(env: Env) -> None:
    # a second process without --webhooks-allow-private, on the same database
    strict = start_server(env.backend, bootstrap=False)
    try:
        with http(strict, env.key) as c:
            for url in [
                "http://example.com/hook",
                "https://127.0.0.1/hook",
                "https://localhost:8443/hook",
                "https://10.0.0.8/hook",
                "https://169.254.169.254/latest",
                "https://[::1]/hook",
                "https://user:pw@example.com/hook",
                "ftp://example.com/hook",
                "not a url",
            ]:
                r = c.post("/v1/organization/webhooks", json={"url": url})
                assert r.status_code == 400, (url, r.text)
                assert r.json()["error"]["param"] == "url"
            listed = c.get("/v1/organization/webhooks").json()
            assert listed["data"] == []
    finally:
        stop_server(strict)


def test_endpoint_crud_and_secret_shown_once(env: Env) -> None:
    with env.client() as c:
        created = create_endpoint(c, "http://127.0.0.1:9/hook", event_types=["role.created"], description="d")
        wid = created["id"]
        assert created["object"] == "webhook_endpoint" and wid.startswith("webhook_")
        assert created["secret"].startswith("whsec_")
        assert created["enabled"] is True and created["ordered"] is True and created["state"] == "active"
        got = c.get(f"/v1/organization/webhooks/{wid}").json()
        assert "secret" not in got and got["event_types"] == ["role.created"]
        assert wid in [e["id"] for e in c.get("/v1/organization/webhooks").json()["data"]]
        assert all("secret" not in e for e in c.get("/v1/organization/webhooks").json()["data"])

        upd = c.post(f"/v1/organization/webhooks/{wid}", json={"event_types": None, "description": None, "ordered": False})
        assert upd.status_code == 200, upd.text
        assert upd.json()["event_types"] is None and upd.json()["description"] is None and upd.json()["ordered"] is False
        assert "secret" not in upd.json()

        for body, param in [({"url": "ftp://x/"}, "url"), ({"url": "http://127.0.0.1/", "event_types": ["Bad Type"]}, "event_types[0]")]:
            r = c.post("/v1/organization/webhooks", json=body)
            assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
        assert c.post("/v1/organization/webhooks", json={"url": 5}).status_code == 400
        assert c.get("/v1/organization/webhooks/webhook_01M91TR3H55ERXBNZT9BZK5CGF").status_code == 404
        assert c.get("/v1/organization/webhooks/nope").status_code == 404

        rotated = c.post(f"/v1/organization/webhooks/{wid}/rotate_secret")
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != created["secret"]
        assert rotated.json()["previous_secret_expires_at"] > time.time() + 23 * 3600

        # every change above is one event in the feed, in order
        feed = c.get("/v1/organization/events", params={"after": created_rev(c, wid) - 1}).json()
        types = [e["type"] for e in feed["data"] if e["type"].startswith("webhook.")]
        assert types == ["webhook.created", "webhook.updated", "webhook.secret_rotated"]
        assert "secret" not in json.dumps(feed) or "whsec_" not in json.dumps(feed)

        delete_endpoint(c, wid)
        assert c.get(f"/v1/organization/webhooks/{wid}").status_code == 404


def created_rev(c, wid: str) -> int:
    data = c.get("/v1/organization/events", params={"limit": 1000}).json()["data"]
    return next(e["revision"] for e in data if e["type"] == "webhook.created" and e["webhook.created"]["data"]["id"] == wid)


def test_permissions(env: Env) -> None:
    with env.client() as c:
        r = c.post("/v1/organization/users", json={"email": "member-wh@example.com", "name": "M", "role": "member"})
        assert r.status_code == 200, r.text
        uid = r.json()["id"]
        k = c.post(f"/v1/organization/users/{uid}/api_keys", json={"name": "k"})
        assert k.status_code == 200, k.text
        member_key = k.json()["value"]
    with http(env.server, member_key) as m:
        assert m.get("/v1/organization/webhooks").status_code == 403
        assert m.post("/v1/organization/webhooks", json={"url": "http://127.0.0.1:9/"}).status_code == 403
        assert m.get("/v1/organization/events").status_code == 403
    with env.client() as c:
        listed = c.get("/v1/organization/permissions", params={"limit": 100}).json()
        names = {p.get("name") for p in listed["data"]}
        assert {"api.webhooks.read", "api.webhooks.write"} <= names, listed


def test_signed_deliveries_verify_with_standardwebhooks(env: Env, receiver: Receiver) -> None:
    with env.client() as c:
        ep = create_endpoint(c, receiver.url)
        secret = ep["secret"]
        revs = [make_role(c, f"signed-{i}") for i in range(3)]
        wait_for(lambda: set(revs) <= set(revisions_of(receiver.messages())), 15, "three role deliveries")
        msgs = [m for m in receiver.messages() if json.loads(m[1])["data"]["revision"] in revs]
        wh = Webhook(secret)
        for headers, body, _ in receiver.messages():
            payload = wh.verify(body, headers)  # raises if the signature is wrong
            assert payload["type"] == payload["data"]["type"]
        assert sorted(revisions_of(msgs)) == revs
        with pytest.raises(WebhookVerificationError):
            Webhook(ep["secret"].replace(ep["secret"][6:10], "AAAA")).verify(msgs[0][1], msgs[0][0])
        first = json.loads(msgs[0][1])
        assert first["type"] == "role.created" and first["data"]["role.created"]["id"].startswith("role_")
        assert first["data"]["actor"]["api_key"]["type"] == "user"

        # the feed shows the same changes, same revisions, same shape
        feed = c.get("/v1/organization/events", params={"after": revs[0] - 1, "limit": 3}).json()
        assert [e["revision"] for e in feed["data"]] == revs
        assert [e["id"] for e in feed["data"]] == [json.loads(m[1])["data"]["id"] for m in sorted(msgs, key=lambda m: json.loads(m[1])["data"]["revision"])]

        # a test ping, then the deliveries list with status, code, latency
        ping = c.post(f"/v1/organization/webhooks/{ep['id']}/test")
        assert ping.status_code == 200, ping.text
        pid = ping.json()["id"]
        wait_for(lambda: any(h["webhook-id"] == pid for h, _, _ in receiver.messages()), 15, "the ping")
        ping_msg = next(m for m in receiver.messages() if m[0]["webhook-id"] == pid)
        assert wh.verify(ping_msg[1], ping_msg[0])["type"] == "webhook.ping"

        def delivered():
            d = c.get(f"/v1/organization/webhooks/{ep['id']}/deliveries", params={"limit": 100}).json()["data"]
            return d if d and all(x["status"] == "delivered" for x in d) else None

        listed = wait_for(delivered, 15, "every delivery recorded as delivered")
        assert listed[0]["id"] == pid  # newest first
        for d in listed:
            assert d["response_status_code"] == 200 and d["attempts"] == 1 and d["latency_ms"] >= 0
            assert d["response_body"] == "x" * 1024  # at most 1 KiB kept
            assert d["next_attempt_at_ms"] is None
        assert c.get(f"/v1/organization/webhooks/{ep['id']}/deliveries", params={"status": "nope"}).status_code == 400

        # after a rotation both secrets sign, each verifies alone
        rotated = c.post(f"/v1/organization/webhooks/{ep['id']}/rotate_secret").json()["secret"]
        receiver.clear()
        rev = make_role(c, "after-rotation")
        msg = wait_for(lambda: [m for m in receiver.messages() if json.loads(m[1])["data"].get("revision") == rev], 15, "a delivery after rotation")[0]
        assert len(msg[0]["webhook-signature"].split(" ")) == 2
        Webhook(secret).verify(msg[1], msg[0])
        Webhook(rotated).verify(msg[1], msg[0])
        delete_endpoint(c, ep["id"])


def test_receiver_down_then_up_every_event_in_order(env: Env) -> None:
    receiver = Receiver()  # not started: connections are refused
    with env.client() as c:
        ep = create_endpoint(c, receiver.url, event_types=["role.created"])
        revs = [make_role(c, f"down-{i}") for i in range(8)]

        def attempted():
            d = c.get(f"/v1/organization/webhooks/{ep['id']}/deliveries").json()["data"]
            return [x for x in d if x["attempts"] >= 1 and x["status"] == "pending"]

        failed = wait_for(attempted, 10, "a failed attempt")
        assert failed[0]["error"] and failed[0]["next_attempt_at_ms"] is not None
        receiver.start()
        try:
            wait_for(lambda: len({h["webhook-id"] for h, _, _ in receiver.messages()}) >= 8, 30, "all 8 deliveries")
            got = revisions_of(receiver.messages())
            assert got == sorted(got), f"out of order: {got}"
            assert sorted(set(got)) == revs
        finally:
            receiver.stop()
        delete_endpoint(c, ep["id"])


def test_sigkill_right_after_acknowledged_writes_loses_nothing(env: Env) -> None:
    receiver = Receiver()
    with env.client() as c:
        ep = create_endpoint(c, receiver.url, event_types=["role.created"])
        revs = [make_role(c, f"kill-{i}") for i in range(10)]
    env.restart_after_sigkill()  # the instant after the last acknowledgement
    receiver.start()
    try:
        # a delivery whose attempt was cut by the kill waits for its lease (30 s) to expire
        wait_for(lambda: set(revisions_of(receiver.messages())) >= set(revs), 60, "every acknowledged change delivered after the restart")
        got = revisions_of(receiver.messages())
        assert [r for r in got if r in revs] == sorted(r for r in got if r in revs)
        Webhook(ep["secret"]).verify(receiver.messages()[0][1], receiver.messages()[0][0])
    finally:
        receiver.stop()
    with env.client() as c:
        delete_endpoint(c, ep["id"])


def test_retries_run_out_endpoint_failing_then_disabled_then_retry(env: Env) -> None:
    receiver = Receiver()  # down throughout the retry window
    with env.client() as c:
        ep = create_endpoint(c, receiver.url, event_types=["role.created"])
        revs = [make_role(c, f"dead-{i}") for i in range(2)]

        def state(s):
            return lambda: c.get(f"/v1/organization/webhooks/{ep['id']}").json()["state"] == s

        wait_for(state("failing"), 30, "the endpoint marked failing")
        wait_for(state("disabled"), 30, "the endpoint disabled")
        got = c.get(f"/v1/organization/webhooks/{ep['id']}").json()
        assert got["enabled"] is False
        ds = c.get(f"/v1/organization/webhooks/{ep['id']}/deliveries").json()["data"]
        assert {d["status"] for d in ds} == {"failed"} and all(d["attempts"] >= 2 for d in ds)
        events = c.get("/v1/organization/events", params={"after": revs[-1]}).json()["data"]
        kinds = [e["type"] for e in events if e["type"].startswith("webhook.endpoint.")]
        assert kinds == ["webhook.endpoint.failing", "webhook.endpoint.disabled"]
        server_actor = {"type": "api_key", "api_key": {"type": "service_account", "service_account": {"id": "orgiam"}}}
        assert all(e["actor"] == server_actor for e in events if e["type"].startswith("webhook.endpoint."))

        # a disabled endpoint gets nothing new; enabling it and redelivering by hand works
        assert c.post(f"/v1/organization/webhooks/{ep['id']}/test").status_code == 409
        receiver.start()
        try:
            assert c.post(f"/v1/organization/webhooks/{ep['id']}", json={"enabled": True}).json()["state"] == "active"
            target = ds[-1]["id"]
            r = c.post(f"/v1/organization/webhooks/{ep['id']}/deliveries/{target}/retry")
            assert r.status_code == 200 and r.json()["status"] == "pending", r.text
            wait_for(lambda: any(h["webhook-id"] == target for h, _, _ in receiver.messages()), 15, "the redelivery")
            assert c.post(f"/v1/organization/webhooks/{ep['id']}/deliveries/msg_01M91TR3H55ERXBNZT9BZK5CGF/retry").status_code == 404
        finally:
            receiver.stop()
        delete_endpoint(c, ep["id"])


def test_feed_paging_long_poll_and_gone(env: Env) -> None:
    with env.client() as c:
        for bad in [{"wait": "31"}, {"after": "-1"}, {"after": "999999999"}, {"limit": "0"}, {"limit": "1001"}, {"after": "x"}]:
            r = c.get("/v1/organization/events", params=bad)
            assert r.status_code == 400, (bad, r.text)
        base = make_role(c, "feed-0")
        revs = [base] + [make_role(c, f"feed-{i}") for i in range(1, 5)]
        page1 = c.get("/v1/organization/events", params={"after": base - 1, "limit": 2}).json()
        assert [e["revision"] for e in page1["data"]] == revs[:2] and page1["has_more"] is True
        page2 = c.get("/v1/organization/events", params={"after": page1["last_revision"], "limit": 10}).json()
        assert [e["revision"] for e in page2["data"]] == revs[2:]
        assert page2["has_more"] is False and page2["last_revision"] == revs[-1]

        # nothing newer: an empty answer after the wait, with the position unchanged
        t = time.monotonic()
        empty = c.get("/v1/organization/events", params={"after": revs[-1], "wait": 1}).json()
        assert empty["data"] == [] and empty["last_revision"] == revs[-1] and time.monotonic() - t >= 0.9

        # a write wakes a waiting request at once
        delays = []
        for i in range(5):
            after = int(c.get("/v1/organization/events", params={"after": revs[-1], "limit": 1000}).json()["last_revision"])
            result: dict[str, Any] = {}

            def poll() -> None:
                with env.client() as p:
                    result["r"] = p.get("/v1/organization/events", params={"after": after, "wait": 10})
                    result["t"] = time.monotonic()

            th = threading.Thread(target=poll)
            th.start()
            time.sleep(0.3)
            written = time.monotonic()  # before the write: its commit is later
            rev = make_role(c, f"wake-{i}")
            th.join(15)
            assert [e["revision"] for e in result["r"].json()["data"]] == [rev]
            delays.append(result["t"] - written)
        delays.sort()
        print(f"long-poll wake-up after a write in the same process: {[round(d * 1000, 1) for d in delays]} ms")
        assert delays[len(delays) // 2] < 0.1, delays

        # the feed starts where it was enabled: older revisions answer 410 with the oldest kept
        set_feed_from(env, revs[0])
        try:
            r = c.get("/v1/organization/events", params={"after": revs[0] - 1})
            assert r.status_code == 410, r.text
            assert r.json()["error"]["code"] == "revision_expired"
            assert r.headers["orgiam-oldest-revision"] == str(revs[0])
            assert c.get("/v1/organization/events", params={"after": revs[0]}).status_code == 200
        finally:
            set_feed_from(env, 0)


def set_feed_from(env: Env, rev: int) -> None:
    sql = f"UPDATE organizations SET feed_from = {int(rev)} WHERE id = '{env.org_id}'"
    if env.backend.name == "sqlite":
        path = env.backend.database_url.removeprefix("sqlite://")
        with sqlite3.connect(path, timeout=10) as db:
            db.execute(sql)
    else:
        psql(env.backend.database_url, sql)
