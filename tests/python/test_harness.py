"""Smoke test of the harness itself: the real server starts on both backends."""

from conftest import ADMIN_KEY_RE, ORG_ID_RE, http


def test_healthz(server):
    with http(server) as client:
        r = client.get("/healthz")
    assert r.status_code == 200, f"{server.backend}: GET /healthz -> {r.status_code}: {r.text}\n{server.logs()}"
    assert ADMIN_KEY_RE.fullmatch(server.admin_key)
    assert ORG_ID_RE.fullmatch(server.org_id)
