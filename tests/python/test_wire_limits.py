"""A plain client that writes its whole body before reading (Python's urllib) reads the 413
of a too-large body instead of a connection reset, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import Server, http


def test_urllib_reads_the_413_of_a_12_mib_body(server: Server) -> None:
    body = b'{"role_name": "big", "permissions": [], "description": "' + b"a" * (12 * 1024 * 1024) + b'"}'
    req = urllib.request.Request(
        server.api_base + "/organization/roles",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {server.admin_key}", "Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(req, timeout=60)
        raise AssertionError("a 12 MiB body was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 413
        err = json.loads(e.read())["error"]
        assert err["code"] == "payload_too_large" and err["type"] == "invalid_request_error"
        assert e.headers["x-request-id"]
    # nothing was written, and the server answers the next request
    with http(server, server.admin_key) as c:
        names = [r["name"] for r in c.get("/v1/organization/roles").json()["data"]]
    assert "big" not in names
