"""Two `orgiam serve` processes on one PostgreSQL database (how orgiam scales out).

- each webhook delivery is sent by exactly one of them: writes alternate between the two
  processes, both workers claim from the one outbox, and the receiver sees every change once,
  in revision order;
- the change feed's long-poll in one process is woken by a write committed in the other,
  within 100 ms (median of several; the machine may be loaded).

PostgreSQL only: several processes on one database is a PostgreSQL deployment (SQLite serves
one process). Needs ORGIAM_TEST_POSTGRES_URL, an admin URL (skipped without it, which
scripts/test.sh turns into a failure).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Backend, Server, http, psql, start_server, stop_server, with_database
from test_webhooks import SERVER_ARGS, Receiver, create_endpoint, delete_endpoint, make_role, revisions_of, wait_for


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    admin_url = os.environ.get("ORGIAM_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("postgres: ORGIAM_TEST_POSTGRES_URL not set")
    dbname = f"orgiam_py_{secrets.token_hex(8)}"
    psql(admin_url, f'CREATE DATABASE "{dbname}"')
    try:
        yield Backend("postgres", with_database(admin_url, dbname), Path(tmp_path_factory.mktemp("orgiam-pg2")))
    finally:
        try:
            psql(admin_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="module")
def pair(pg: Backend) -> Iterator[tuple[Server, Server]]:
    a = start_server(pg, args=SERVER_ARGS)
    try:
        b = start_server(pg, args=SERVER_ARGS, bootstrap=False)
        try:
            yield a, b
        finally:
            stop_server(b)
    finally:
        stop_server(a)


def test_each_delivery_sent_once_by_one_of_two_processes(pair: tuple[Server, Server]) -> None:
    a, b = pair
    key = a.admin_key
    receiver = Receiver()
    receiver.start()
    try:
        with http(a, key) as ca, http(b, key) as cb:
            ep = create_endpoint(ca, receiver.url, event_types=["role.created"])
            revs = [make_role(ca if i % 2 == 0 else cb, f"two-{i}") for i in range(30)]
            wait_for(lambda: set(revisions_of(receiver.messages())) >= set(revs), 30, "all 30 deliveries")
            time.sleep(1.5)  # a duplicate, if any, would arrive by now
            ids = [h["webhook-id"] for h, _, _ in receiver.messages()]
            assert len(ids) == len(set(ids)) == 30, f"{len(ids)} deliveries for 30 changes"
            got = revisions_of(receiver.messages())
            assert got == revs, "not in revision order"
            # both processes' workers took part or not, every delivery is recorded once, delivered
            listed = ca.get(f"/v1/organization/webhooks/{ep['id']}/deliveries", params={"limit": 100}).json()["data"]
            assert len(listed) == 30 and all(d["status"] == "delivered" and d["attempts"] == 1 for d in listed)
            delete_endpoint(ca, ep["id"])
    finally:
        receiver.stop()


def test_long_poll_woken_by_a_write_in_the_other_process(pair: tuple[Server, Server]) -> None:
    a, b = pair
    key = a.admin_key
    delays = []
    with http(a, key) as ca, http(b, key) as cb:
        for i in range(7):
            after = ca.get("/v1/organization/events", params={"limit": 1000}).json()
            after = after["data"][-1]["revision"] if after["data"] else 0
            while True:  # to the newest revision
                page = ca.get("/v1/organization/events", params={"after": after, "limit": 1000}).json()
                if not page["data"]:
                    break
                after = page["last_revision"]
            result: dict[str, Any] = {}

            def poll() -> None:
                with http(a, key) as p:
                    result["r"] = p.get("/v1/organization/events", params={"after": after, "wait": 10})
                    result["t"] = time.monotonic()

            th = threading.Thread(target=poll)
            th.start()
            time.sleep(0.3)
            written = time.monotonic()  # before the write: its commit is later
            rev = make_role(cb, f"cross-{i}")  # committed by process B
            th.join(15)
            r = result["r"]
            assert r.status_code == 200, r.text
            assert [e["revision"] for e in r.json()["data"]] == [rev]
            delays.append(result["t"] - written)
    delays.sort()
    print(f"long-poll in A woken by a write in B: {[round(d * 1000, 1) for d in delays]} ms")
    assert delays[len(delays) // 2] < 0.1, delays
    assert delays[-1] < 1.0, delays
