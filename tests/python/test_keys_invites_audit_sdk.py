"""End-to-end tests of admin API keys, user keys, invites and the audit log, driven by the
official `openai` SDK (3.51.0) against the real binary on SQLite and PostgreSQL.

Covers every method of `client.admin.organization.admin_api_keys`, `.invites` and
`.audit_logs` (with each filter), orgiam's user keys and invite acceptance over raw HTTP,
isolation from a second organization, one audit event per write, and that no secret this
module creates (key values, invite tokens, their digests) ever reaches the server's logs. The
server of this module logs at `trace` so that the last check covers everything the process
could log.

The server is shared by every test of a module run, so each test makes its own objects and
counts events by difference.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
import uuid
from typing import Any, Iterator

import openai
import pytest

from conftest import Backend, Server, http, new_org, psql, sdk, start_server, stop_server

# Secrets created per server (keyed by base_url), checked against its logs at the end.
SECRETS: dict[str, list[str]] = {}

MISSING_KEY_ID = "key_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_INVITE_ID = "invite_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[Server]:
    """The conftest server, logging everything (`ORGIAM_LOG=trace`)."""
    old = os.environ.get("ORGIAM_LOG")
    os.environ["ORGIAM_LOG"] = "trace"
    try:
        srv = start_server(backend)
    finally:
        if old is None:
            os.environ.pop("ORGIAM_LOG", None)
        else:
            os.environ["ORGIAM_LOG"] = old
    try:
        yield srv
    finally:
        stop_server(srv)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:12]


def ulid() -> str:
    """A fresh ULID in canonical Crockford base32 (48-bit time, 80 random bits)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def remember(server: Server, *values: str) -> None:
    SECRETS.setdefault(server.base_url, []).extend(values)


def admin(server: Server, key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    return sdk(server, key or server.admin_key, **kwargs)


def db_exec(server: Server, sql: str) -> None:
    """Runs a statement on the server's database (setup the API cannot do)."""
    if server.backend == "sqlite":
        con = sqlite3.connect(server.database_url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        psql(server.database_url, sql)


def provision(server: Server, role: str, key: str | None = None) -> dict[str, Any]:
    email = f"user-{uid()}@example.com"
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/users", json={"email": email, "name": email, "role": role})
    assert r.status_code == 200, r.text
    return r.json()


def user_key(server: Server, user_id: str, key: str | None = None) -> dict[str, Any]:
    with http(server, key or server.admin_key) as c:
        r = c.post(f"/v1/organization/users/{user_id}/api_keys", json={"name": "tool"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["value"].startswith("sk-user-")
    remember(server, body["value"])
    return body


def make_project(server: Server, org_id: str | None = None, key: str | None = None) -> str:
    """A project: through the projects API when this build has it, else inserted directly."""
    name = f"proj-{uid()}"
    try:
        return admin(server, key).admin.organization.projects.create(name=name).id
    except openai.NotFoundError as e:
        assert e.code == "unknown_route", e
    pid = "proj_" + ulid()
    db_exec(
        server,
        f"INSERT INTO projects (id, org_id, name, created_at) VALUES ('{pid}', '{org_id or server.org_id}', '{name}', 1)",
    )
    return pid


def audit_events(client: openai.OpenAI, **kwargs: Any) -> list[dict[str, Any]]:
    """Every matching event (auto-pagination by last_id), as dicts with the wire's keys."""
    return [e.to_dict() for e in client.admin.organization.audit_logs.list(**kwargs)]


def event_count(server: Server) -> int:
    return len(audit_events(admin(server), limit=100))


# ---------------------------------------------------------------------------
# 1. admin API keys
# ---------------------------------------------------------------------------


def test_admin_api_keys_every_method(server):
    client = admin(server)
    keys = client.admin.organization.admin_api_keys
    before = event_count(server)

    created = keys.create(name=f"ci-{uid()}")
    remember(server, created.value)
    assert created.object == "organization.admin_api_key"
    assert created.id.startswith("key_")
    assert created.value.startswith("sk-admin-")
    assert created.redacted_value.startswith("sk-admin-") and created.value[12:40] not in created.redacted_value
    assert created.expires_at is None and created.last_used_at is None
    assert created.owner.object == "organization.user"
    assert created.owner.role == "owner"
    assert created.owner.type == "user"
    assert created.owner.id and created.owner.created_at
    assert event_count(server) == before + 1

    expiring = keys.create(name=f"short-{uid()}", expires_in_seconds=3600)
    remember(server, expiring.value)
    assert expiring.expires_at == expiring.created_at + 3600

    got = keys.retrieve(created.id)
    assert got.id == created.id and got.name == created.name
    assert got.redacted_value == created.redacted_value
    assert "value" not in got.to_dict()

    # SyncCursorPage follows the last item's id
    ids = [k.id for k in keys.list(limit=1)]
    assert len(ids) == len(set(ids))
    assert ids.index(created.id) < ids.index(expiring.id)
    assert [k.id for k in keys.list(order="desc", limit=100)] == list(reversed(ids))
    page = keys.list(limit=1)
    assert len(page.data) == 1 and page.has_more is True
    assert all("value" not in k.to_dict() for k in keys.list(limit=100))

    # the new key works as the owner; its last use is recorded within a few seconds
    other = admin(server, created.value)
    assert [u.id for u in other.admin.organization.users.list(limit=100)]
    for _ in range(40):
        if keys.retrieve(created.id).last_used_at is not None:
            break
        time.sleep(0.2)
    assert keys.retrieve(created.id).last_used_at >= created.created_at

    before = event_count(server)
    with pytest.raises(openai.BadRequestError) as e:
        keys.create(name="")
    assert e.value.param == "name"
    with pytest.raises(openai.BadRequestError) as e:
        keys.create(name="x", expires_in_seconds=0)
    assert e.value.param == "expires_in_seconds"
    with pytest.raises(openai.BadRequestError):
        keys.list(limit=0)
    with pytest.raises(openai.NotFoundError):
        keys.retrieve(MISSING_KEY_ID)
    with pytest.raises(openai.NotFoundError):
        keys.delete(MISSING_KEY_ID)
    assert event_count(server) == before

    deleted = keys.delete(created.id)
    assert deleted.object == "organization.admin_api_key.deleted"
    assert deleted.id == created.id and deleted.deleted is True
    assert event_count(server) == before + 1
    # the deleted key fails on its very next request
    with pytest.raises(openai.AuthenticationError):
        other.admin.organization.users.list()
    with pytest.raises(openai.NotFoundError):
        keys.retrieve(created.id)
    assert created.id not in [k.id for k in keys.list(limit=100)]
    keys.delete(expiring.id)


def test_admin_keys_only_for_owners(server):
    x = provision(server, "admin")
    xk = user_key(server, x["id"])["value"]
    with pytest.raises(openai.PermissionDeniedError):
        admin(server, xk).admin.organization.admin_api_keys.create(name="nope")
    # admins read admin keys (owner ⊇ admin ⊇ reader): they cannot create or delete them
    assert list(admin(server, xk).admin.organization.admin_api_keys.list())
    r = provision(server, "reader")
    rk = user_key(server, r["id"])["value"]
    listed = list(admin(server, rk).admin.organization.admin_api_keys.list())
    assert listed
    with pytest.raises(openai.PermissionDeniedError):
        admin(server, rk).admin.organization.admin_api_keys.delete(listed[0].id)
    # another owner's admin key acts as that owner and dies with the membership
    y = provision(server, "owner")
    yk = user_key(server, y["id"])["value"]
    mine = admin(server, yk).admin.organization.admin_api_keys.create(name="y's")
    remember(server, mine.value)
    assert mine.owner.id == y["id"]
    ya = admin(server, mine.value)
    assert ya.admin.organization.roles.list().data
    admin(server).admin.organization.users.delete(y["id"])
    with pytest.raises(openai.AuthenticationError):
        ya.admin.organization.roles.list()
    with pytest.raises(openai.NotFoundError):
        admin(server).admin.organization.admin_api_keys.retrieve(mine.id)


# ---------------------------------------------------------------------------
# 2. user keys (orgiam's addition, raw HTTP for minting)
# ---------------------------------------------------------------------------


def test_user_keys_have_exactly_their_users_permissions(server):
    m = provision(server, "member")
    mk = user_key(server, m["id"])
    assert mk["object"] == "organization.user.api_key"
    assert mk["owner"]["id"] == m["id"] and mk["owner"]["role"] == "member"
    member = admin(server, mk["value"])
    with pytest.raises(openai.PermissionDeniedError):
        member.admin.organization.users.list()
    with pytest.raises(openai.PermissionDeniedError):
        member.admin.organization.roles.create(role_name=f"r-{uid()}", permissions=[])
    with pytest.raises(openai.PermissionDeniedError):
        member.admin.organization.users.roles.create(m["id"], role_id="role_00000000000000000000000001")
    with pytest.raises(openai.PermissionDeniedError):
        member.admin.organization.audit_logs.list()

    r = provision(server, "reader")
    reader = admin(server, user_key(server, r["id"])["value"])
    assert reader.admin.organization.users.list().data
    assert reader.admin.organization.audit_logs.list().data
    assert isinstance(reader.admin.organization.invites.list().data, list)
    with pytest.raises(openai.PermissionDeniedError):
        reader.admin.organization.roles.create(role_name=f"r-{uid()}", permissions=[])
    with pytest.raises(openai.PermissionDeniedError):
        reader.admin.organization.invites.create(email=f"z-{uid()}@example.com", role="reader")

    # an admin cannot mint a key for an owner (it lacks api.admin_keys.*)
    x = provision(server, "admin")
    xk = user_key(server, x["id"])["value"]
    with http(server, xk) as c:
        res = c.post(f"/v1/organization/users/{mk['owner']['id']}/api_keys", json={"name": "ok"})
        assert res.status_code == 200, res.text
        remember(server, res.json()["value"])
        owner_id = next(u.id for u in admin(server).admin.organization.users.list(limit=100) if u.role == "owner")
        esc = c.post(f"/v1/organization/users/{owner_id}/api_keys", json={"name": "esc"})
        assert esc.status_code == 403 and esc.json()["error"]["code"] == "privilege_escalation"
        listed = c.get(f"/v1/organization/users/{m['id']}/api_keys").json()
        assert {k["id"] for k in listed["data"]} >= {mk["id"]}
        assert all("value" not in k for k in listed["data"])
        gone = c.delete(f"/v1/organization/users/{m['id']}/api_keys/{mk['id']}")
        assert gone.status_code == 200 and gone.json()["deleted"] is True
    with pytest.raises(openai.AuthenticationError):
        member.admin.organization.roles.list()
    # removing the user kills the rest of their keys
    m2 = admin(server, user_key(server, m["id"])["value"])
    with pytest.raises(openai.PermissionDeniedError):
        m2.admin.organization.users.list()
    admin(server).admin.organization.users.delete(m["id"])
    with pytest.raises(openai.AuthenticationError):
        m2.admin.organization.users.list()


# ---------------------------------------------------------------------------
# 3. invites
# ---------------------------------------------------------------------------


def test_invites_every_method_and_accept(server):
    client = admin(server)
    invites = client.admin.organization.invites
    p = make_project(server)
    before = event_count(server)

    email = f"Invitee-{uid()}@Example.com"
    inv = invites.create(email=email, role="reader", projects=[{"id": p, "role": "member"}])
    extra = inv.to_dict()
    token = extra["token"]
    remember(server, token)
    assert inv.object == "organization.invite"
    assert inv.id.startswith("invite_")
    assert inv.email == email and inv.role == "reader" and inv.status == "pending"
    assert [(x.id, x.role) for x in inv.projects] == [(p, "member")]
    assert inv.expires_at == inv.created_at + 7 * 24 * 3600
    assert inv.accepted_at is None
    # without --public-url the link is a path to the accept page (never from the Host header)
    assert extra["accept_url"] == f"/invites/accept?token={token}"
    assert event_count(server) == before + 1

    owner_inv = invites.create(email=f"own-{uid()}@example.com", role="owner")
    remember(server, owner_inv.to_dict()["token"])
    none_inv = invites.create(email=f"none-{uid()}@example.com", role="reader", projects=[])
    remember(server, none_inv.to_dict()["token"])
    assert none_inv.projects == []

    got = invites.retrieve(inv.id)
    assert got.id == inv.id and got.status == "pending"
    assert "token" not in got.to_dict() and "accept_url" not in got.to_dict()
    listed = [i.id for i in invites.list(limit=1)]
    assert len(listed) == len(set(listed))
    assert listed.index(inv.id) < listed.index(owner_inv.id) < listed.index(none_inv.id)
    assert all("token" not in i.to_dict() for i in invites.list(limit=100))

    before = event_count(server)
    calls: list[str] = []
    counting = sdk(
        server,
        server.admin_key,
        http_client=openai.DefaultHttpxClient(event_hooks={"request": [lambda r: calls.append(str(r.url))]}),
        max_retries=2,
    )
    with pytest.raises(openai.ConflictError) as e:
        counting.admin.organization.invites.create(email=email.lower(), role="reader")
    assert e.value.code == "invite_pending"
    assert len(calls) == 1, "a deterministic 409 is not retried"
    with pytest.raises(openai.ConflictError) as e:
        invites.create(email="owner@example.com", role="reader")
    assert e.value.code == "already_member"
    with pytest.raises(openai.BadRequestError) as e:
        invites.create(email="not-an-email", role="reader")
    assert e.value.param == "email"
    with pytest.raises(openai.BadRequestError) as e:
        invites.create(email=f"b-{uid()}@example.com", role="reader", projects=[{"id": p, "role": "admin"}])
    assert e.value.param == "projects[0].role"
    with pytest.raises(openai.NotFoundError):
        invites.create(email=f"b-{uid()}@example.com", role="reader", projects=[{"id": "proj_" + ulid(), "role": "member"}])
    with pytest.raises(openai.NotFoundError):
        invites.retrieve(MISSING_INVITE_ID)
    with pytest.raises(openai.NotFoundError):
        invites.delete(MISSING_INVITE_ID)
    with pytest.raises(openai.BadRequestError):
        invites.list(limit=101)
    assert event_count(server) == before

    # accept over raw HTTP, without any API key
    with http(server) as c:
        bad = c.post("/v1/invites/accept", json={"token": "not-a-token"})
        assert bad.status_code == 404 and bad.json()["error"]["code"] == "invite_not_found"
        ok = c.post("/v1/invites/accept", json={"token": token, "name": "New Person"})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["organization_id"] == server.org_id
        assert body["user"]["role"] == "reader" and body["user"]["name"] == "New Person"
        again = c.post("/v1/invites/accept", json={"token": token})
        assert again.status_code == 400 and again.json()["error"]["code"] == "invite_already_accepted"
    assert event_count(server) == before + 1
    newest = audit_events(client, limit=1, event_types=["invite.accepted"])[0]
    assert newest["invite.accepted"]["id"] == inv.id
    user = client.admin.organization.users.retrieve(body["user"]["id"])
    assert user.email == email and user.role == "reader"
    accepted = invites.retrieve(inv.id)
    assert accepted.status == "accepted" and accepted.accepted_at >= accepted.created_at
    with pytest.raises(openai.ConflictError) as e:
        invites.delete(inv.id)
    assert e.value.code == "invite_accepted"

    deleted = invites.delete(owner_inv.id)
    assert deleted.object == "organization.invite.deleted"
    assert deleted.id == owner_inv.id and deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        invites.retrieve(owner_inv.id)
    with http(server) as c:
        r = c.post("/v1/invites/accept", json={"token": owner_inv.to_dict()["token"]})
        assert r.status_code == 404
    invites.delete(none_inv.id)


# ---------------------------------------------------------------------------
# 4. audit logs
# ---------------------------------------------------------------------------


def test_audit_logs_every_filter(server):
    client = admin(server)
    logs = client.admin.organization.audit_logs
    a = provision(server, "admin")
    ak = user_key(server, a["id"])
    actor = admin(server, ak["value"])
    role = actor.admin.organization.roles.create(role_name=f"audit-{uid()}", permissions=[])
    actor.admin.organization.roles.update(role.id, description="changed")
    inv = client.admin.organization.invites.create(email=f"aud-{uid()}@example.com", role="member")
    remember(server, inv.to_dict()["token"])

    events = audit_events(client, limit=100)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True), "newest first"
    newest = events[0]
    assert newest["type"] == "invite.sent"
    assert newest["invite.sent"]["id"] == inv.id
    assert newest["invite.sent"]["data"] == {"email": inv.email, "role": "member"}
    assert "object" not in newest and "project" not in newest
    typed = logs.list(limit=1).data[0]
    assert typed.id == newest["id"] and typed.type == "invite.sent"
    assert typed.invite_sent.id == inv.id
    assert typed.actor.type == "api_key"
    assert typed.actor.api_key.user.email == "owner@example.com"

    # pages of two by last_id give the same events
    assert [e["id"] for e in audit_events(client, limit=2)] == ids
    # before: the events just newer than a cursor
    page = logs.list(before=ids[3], limit=2)
    assert [e.id for e in page.data] == ids[1:3]

    assert [e["type"] for e in audit_events(client, event_types=["role.updated", "role.created"], actor_ids=[a["id"]])] == [
        "role.updated",
        "role.created",
    ]
    by_user = audit_events(client, actor_ids=[a["id"]])
    assert [e["type"] for e in by_user] == ["role.updated", "role.created"]
    assert all(e["actor"]["api_key"]["id"] == ak["id"] for e in by_user)
    assert [e["id"] for e in audit_events(client, actor_ids=[ak["id"]])] == [e["id"] for e in by_user]
    assert [e["id"] for e in audit_events(client, actor_emails=[a["email"].upper()])] == [e["id"] for e in by_user]
    on_role = audit_events(client, resource_ids=[role.id])
    assert [e["type"] for e in on_role] == ["role.updated", "role.created"]
    assert on_role[1]["role.created"]["id"] == role.id

    # project-scoped and time-placed events, written directly (projects are another family)
    p = make_project(server)
    marks = []
    for kind, at, project in [("project.updated", 1000, p), ("group.created", 2000, None), ("group.deleted", 3000, None)]:
        eid = "audit_" + ulid()
        proj = f"'{project}'" if project else "NULL"
        db_exec(
            server,
            "INSERT INTO audit_events (id, org_id, type, effective_at, actor_type, project_id, resource_id, details) "
            f"VALUES ('{eid}', '{server.org_id}', '{kind}', {at}, 'system', {proj}, 'res-{at}', "
            f"'{{\"actor\":{{\"type\":\"system\"}},\"payload\":{{\"id\":\"res-{at}\"}}}}')",
        )
        marks.append(eid)
        time.sleep(0.002)
    in_p = audit_events(client, project_ids=[p])
    assert [e["id"] for e in in_p if e["type"] == "project.updated"] == [marks[0]]
    assert in_p[-1]["project"]["id"] == p and "name" in in_p[-1]["project"]
    typed = [e for e in logs.list(project_ids=[p]) if e.id == marks[0]][0]
    assert typed.project.id == p and typed.project_updated.id == "res-1000"
    for window, want in [
        ({"gte": 1000, "lte": 3000}, [marks[2], marks[1], marks[0]]),
        ({"gt": 1000, "lt": 3000}, [marks[1]]),
        ({"gt": 1000, "lte": 3000}, [marks[2], marks[1]]),
        ({"gte": 2000, "lt": 2001}, [marks[1]]),
        ({"lt": 1000}, []),
    ]:
        assert [e["id"] for e in audit_events(client, effective_at=window)] == want, window
    recent = audit_events(client, effective_at={"gt": 3000}, limit=100)
    assert recent and all(e["effective_at"] > 3000 for e in recent)
    assert len(audit_events(client, tenant_only=True, limit=100)) == len(audit_events(client, limit=100))

    for bad in [{"limit": 0}, {"limit": 101}, {"after": "role_" + ulid()}, {"before": "nope"}]:
        with pytest.raises(openai.BadRequestError):
            logs.list(**bad)


def test_one_event_per_write(server):
    client = admin(server)
    ours = lambda: audit_events(client, limit=100)  # noqa: E731
    start = len(ours())
    steps = []
    k = client.admin.organization.admin_api_keys.create(name="counted")
    remember(server, k.value)
    steps.append("api_key.created")
    client.admin.organization.admin_api_keys.delete(k.id)
    steps.append("api_key.deleted")
    inv = client.admin.organization.invites.create(email=f"c-{uid()}@example.com", role="member")
    remember(server, inv.to_dict()["token"])
    steps.append("invite.sent")
    client.admin.organization.invites.delete(inv.id)
    steps.append("invite.deleted")
    u = provision(server, "member")
    steps.append("user.added")
    uk = user_key(server, u["id"])
    steps.append("api_key.created")
    with http(server, server.admin_key) as c:
        assert c.delete(f"/v1/organization/users/{u['id']}/api_keys/{uk['id']}").status_code == 200
    steps.append("api_key.deleted")
    after = ours()
    assert len(after) == start + len(steps)
    assert [e["type"] for e in after[: len(steps)]] == list(reversed(steps))
    # refused writes add nothing
    for call in [
        lambda: client.admin.organization.admin_api_keys.create(name=""),
        lambda: client.admin.organization.invites.create(email="bad", role="member"),
        lambda: client.admin.organization.invites.delete(MISSING_INVITE_ID),
        lambda: client.admin.organization.admin_api_keys.delete(MISSING_KEY_ID),
    ]:
        with pytest.raises(openai.APIStatusError):
            call()
    assert len(ours()) == len(after)


# ---------------------------------------------------------------------------
# 5. isolation
# ---------------------------------------------------------------------------


def test_second_org_sees_nothing(server):
    a = admin(server)
    a_key = a.admin.organization.admin_api_keys.create(name="A-only")
    remember(server, a_key.value)
    p = make_project(server)
    a_inv = a.admin.organization.invites.create(
        email=f"a-{uid()}@example.com", role="member", projects=[{"id": p, "role": "member"}]
    )
    remember(server, a_inv.to_dict()["token"])
    a_events = {e["id"] for e in audit_events(a, limit=100)}

    org_b = new_org(server, f"B-{uid()}", f"boss-{uid()}@b.example", "Boss")
    kb = org_b["admin_api_key"]["value"]
    remember(server, kb)
    b = admin(server, kb)
    for call in [
        lambda: b.admin.organization.admin_api_keys.retrieve(a_key.id),
        lambda: b.admin.organization.admin_api_keys.delete(a_key.id),
        lambda: b.admin.organization.invites.retrieve(a_inv.id),
        lambda: b.admin.organization.invites.delete(a_inv.id),
        lambda: b.admin.organization.invites.create(
            email=f"x-{uid()}@b.example", role="member", projects=[{"id": p, "role": "member"}]
        ),
    ]:
        with pytest.raises(openai.NotFoundError):
            call()
    assert [k.id for k in b.admin.organization.admin_api_keys.list()] == [org_b["admin_api_key"]["id"]]
    assert list(b.admin.organization.invites.list()) == []
    b_events = audit_events(b, limit=100)
    assert [e["type"] for e in b_events] == ["organization.created"]
    assert not {e["id"] for e in b_events} & a_events
    assert audit_events(b, resource_ids=[a_key.id, a_inv.id]) == []
    assert audit_events(b, actor_emails=["owner@example.com"]) == []
    # A's objects are unchanged
    assert a.admin.organization.admin_api_keys.retrieve(a_key.id).name == "A-only"
    assert a.admin.organization.invites.retrieve(a_inv.id).status == "pending"
    assert admin(server, a_key.value).admin.organization.roles.list().data


# ---------------------------------------------------------------------------
# 6. secrets never reach the logs (runs last in the module)
# ---------------------------------------------------------------------------


def test_no_secret_in_the_logs(server):
    created = SECRETS.get(server.base_url, [])
    assert len(created) >= 10, "the tests above created secrets"
    stderr = server.stderr_path.read_text(errors="replace")
    stdout = server.stdout_path.read_text(errors="replace")
    assert len(stderr) > 1000, "the server logged at trace level"
    assert "/v1/invites/accept" in stderr or "invites" in stderr
    for value in created:
        digest = hashlib.sha256(value.encode()).hexdigest()
        for text, name in [(stderr, "stderr"), (stdout, "stdout")]:
            assert value not in text, f"a secret ({value[:12]}…) is in the server's {name}"
            assert value[-24:] not in text, f"part of a secret ({value[:12]}…) is in the server's {name}"
            assert digest not in text, f"a secret's digest is in the server's {name}"
    # the root key is never shown; the bootstrap admin key only on stdout, once, by design
    for value, texts in [(server.root_key, [(stderr, "stderr"), (stdout, "stdout")]), (server.admin_key, [(stderr, "stderr")])]:
        digest = hashlib.sha256(value.encode()).hexdigest()
        for text, name in texts:
            assert value not in text and value[-24:] not in text, f"{value[:12]}… is in the server's {name}"
            assert digest not in text, f"the digest of {value[:12]}… is in the server's {name}"
