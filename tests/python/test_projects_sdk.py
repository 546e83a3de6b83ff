"""End-to-end tests of projects, driven by the official `openai` SDK (3.51.0).

Covers every method of `client.admin.organization.projects`, `.projects.users`,
`.projects.roles`, `.projects.users.roles`, `.projects.groups` and `.projects.groups.roles`
on both backends (the module-scoped `server` fixture is parametrised over SQLite and
PostgreSQL): objects as the SDK reads them, each resource's pagination style and `limit`
bounds, archiving, isolation from a second organization, and one audit event per write
(counted in the database, since the audit log API is another family's).

Groups are another family's API: `make_group` uses `groups.create` when the server has it and
otherwise inserts the group directly in the database.

The server is shared by every test of this module, so each test creates its own objects and
never relies on absolute counts or on another test's data.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import time
import uuid
from typing import Any, Iterator
from contextlib import contextmanager

import openai
import pytest

from conftest import Server, find_psql, http, new_org, sdk

PROJECT_ROLES = {
    "owner": "role_00000000000000000000000005",
    "member": "role_00000000000000000000000006",
    "viewer": "role_00000000000000000000000007",
}
PROJECT_ROLE_IDS = list(PROJECT_ROLES.values())
ORG_ADMIN = "role_00000000000000000000000002"
ORG_MEMBER = "role_00000000000000000000000003"
MISSING_PROJECT = "proj_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_USER = "user_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_GROUP = "group_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:12]


def ulid() -> str:
    n = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))


def admin(server: Server, key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    return sdk(server, key or server.admin_key, **kwargs)


def counting_admin(server: Server, key: str | None = None, **kwargs: Any) -> tuple[openai.OpenAI, list[str]]:
    """An SDK client (default retries) whose every HTTP request is recorded as "METHOD url"."""
    calls: list[str] = []

    def on_request(request: Any) -> None:
        calls.append(f"{request.method} {request.url}")

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [on_request]})
    kwargs.setdefault("max_retries", 2)
    return sdk(server, key or server.admin_key, http_client=http_client, **kwargs), calls


def provision(server: Server, key: str | None = None, *, role: str = "member", email: str | None = None) -> dict[str, Any]:
    """Add a member to the organization with the raw provisioning route."""
    email = email or f"user-{uid()}@example.com"
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/users", json={"email": email, "name": f"User {email}", "role": role})
    assert r.status_code == 200, r.text
    return r.json()


def db_rows(server: Server, sql: str) -> list[tuple[str, ...]]:
    """Rows of a query run directly on the server's database, every value as text."""
    if server.backend == "sqlite":
        path = server.database_url.removeprefix("sqlite://")
        with sqlite3.connect(path, timeout=10) as conn:
            rows = conn.execute(sql).fetchall()
            conn.commit()
        return [tuple("" if v is None else str(v) for v in row) for row in rows]
    proc = subprocess.run(
        [find_psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", server.database_url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [tuple(line.split("|")) for line in proc.stdout.splitlines() if line]


def db_count(server: Server, sql: str) -> int:
    return int(db_rows(server, sql)[0][0])


def audit_types(server: Server) -> list[str]:
    return [r[0] for r in db_rows(server, "SELECT type FROM audit_events ORDER BY id")]


@contextmanager
def expect_events(server: Server, *types: str) -> Iterator[None]:
    """Asserts the block recorded exactly these audit events, in this order."""
    before = len(audit_types(server))
    yield
    assert audit_types(server)[before:] == list(types)


@contextmanager
def no_events(server: Server) -> Iterator[None]:
    with expect_events(server):
        yield


def make_group(server: Server, org_id: str, key: str | None = None, name: str | None = None) -> str:
    name = name or f"group-{uid()}"
    client = admin(server, key)
    try:
        return client.admin.organization.groups.create(name=name).id
    except openai.NotFoundError as e:
        assert e.code == "unknown_route", e
    group_id = f"group_{ulid()}"
    db_rows(
        server,
        "INSERT INTO org_groups (id, org_id, name, name_key, created_at, updated_at) "
        f"VALUES ('{group_id}', '{org_id}', '{name}', '{name.lower()}', 1700000000, 1700000000)",
    )
    return group_id


def new_project(client: openai.OpenAI, prefix: str = "proj") -> Any:
    return client.admin.organization.projects.create(name=f"{prefix}-{uid()}")


# ---------------------------------------------------------------------------
# projects
# ---------------------------------------------------------------------------


def test_projects_create_retrieve_update_archive(server):
    client = admin(server)
    projects = client.admin.organization.projects
    name = f"Apollo {uid()} ✓"

    with expect_events(server, "project.created"):
        p = projects.create(name=name, residency="EU_STORAGE_PROCESSING", external_key_id="key-1")
    assert p.object == "organization.project"
    assert p.id.startswith("proj_")
    assert p.name == name
    assert p.status == "active"
    assert p.archived_at is None
    assert p.residency is None and p.external_key_id is None
    assert isinstance(p.created_at, int) and p.created_at > 1_600_000_000
    assert projects.retrieve(p.id).to_dict() == p.to_dict()

    with expect_events(server, "project.updated", "project.updated"):
        u = projects.update(p.id, name=f"{name} 2", geography="US")
        assert u.name == f"{name} 2"
        same = projects.update(p.id, external_key_id=None)
        assert same.name == f"{name} 2"

    with no_events(server):
        for bad in ["", "   ", "x" * 257]:
            with pytest.raises(openai.BadRequestError) as ei:
                projects.create(name=bad)
            assert ei.value.param == "name"
        with pytest.raises(openai.NotFoundError):
            projects.retrieve(MISSING_PROJECT)
        with pytest.raises(openai.NotFoundError):
            projects.update(MISSING_PROJECT, name="x")
        with pytest.raises(openai.NotFoundError):
            projects.archive(MISSING_PROJECT)

    with expect_events(server, "project.archived"):
        a = projects.archive(p.id)
    assert a.status == "archived"
    assert isinstance(a.archived_at, int)
    assert projects.retrieve(p.id).status == "archived"
    assert p.id not in [x.id for x in projects.list(limit=100)]
    assert p.id in [x.id for x in projects.list(include_archived=True, limit=100)]

    # An archived project refuses changes: a 409 the SDK does not retry.
    retrying, calls = counting_admin(server)
    with no_events(server):
        for call in (
            lambda: retrying.admin.organization.projects.update(p.id, name="again"),
            lambda: retrying.admin.organization.projects.archive(p.id),
        ):
            calls.clear()
            with pytest.raises(openai.ConflictError) as ei:
                call()
            assert ei.value.code == "project_archived"
            assert len(calls) == 1, calls


def test_projects_pagination_by_last_id(server):
    client, calls = counting_admin(server)
    projects = client.admin.organization.projects
    created = [new_project(client, "page").id for _ in range(5)]
    archived = new_project(client, "page-archived").id
    projects.archive(archived)

    everything = projects.list(limit=100)
    assert everything.has_more is False
    active = [p.id for p in everything.data]
    assert active == sorted(active)
    assert set(created) <= set(active) and archived not in active

    calls.clear()
    seen = [p.id for p in projects.list(limit=2)]
    assert seen == active
    assert len(calls) == math.ceil(len(active) / 2), calls

    # by hand: has_more and last_id
    pages, after = [], None
    while True:
        page = projects.list(limit=2, **({"after": after} if after else {}))
        pages.append([p.id for p in page.data])
        assert page.last_id == page.data[-1].id
        if not page.has_more:
            break
        after = page.last_id
    assert [i for pg in pages for i in pg] == active
    with_archived = [p.id for p in projects.list(limit=3, include_archived=True)]
    assert with_archived == [p.id for p in projects.list(limit=100, include_archived=True).data]
    assert with_archived == sorted(with_archived)
    assert set(active) | {archived} <= set(with_archived)

    assert len(projects.list(limit=1).data) == 1
    for limit in (0, 101, -1):
        with pytest.raises(openai.BadRequestError) as ei:
            projects.list(limit=limit)
        assert ei.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as ei:
        projects.list(after="not-a-project-id")
    assert ei.value.param == "after"


# ---------------------------------------------------------------------------
# project users
# ---------------------------------------------------------------------------


def test_project_users(server):
    client, calls = counting_admin(server)
    users = client.admin.organization.projects.users
    p = new_project(client, "users")
    ann = provision(server)
    bob = provision(server, email=f"Bob-{uid()}@Example.com")

    with expect_events(server, "project.user.added", "project.user.added"):
        a = users.create(p.id, role="member", user_id=ann["id"])
        b = users.create(p.id, role="owner", email=bob["email"].lower())
    assert a.object == "organization.project.user"
    assert (a.id, a.role, a.email, a.name) == (ann["id"], "member", ann["email"], ann["name"])
    assert isinstance(a.added_at, int)
    assert (b.id, b.role, b.email) == (bob["id"], "owner", bob["email"])

    outsider = new_org(server, f"Other {uid()}", f"out-{uid()}@example.com", "Out")
    with no_events(server):
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            users.create(p.id, role="owner", user_id=ann["id"])
        assert ei.value.code == "already_project_member"
        assert len(calls) == 1, "a duplicate is not retried"
        with pytest.raises(openai.NotFoundError):
            users.create(p.id, role="member", user_id=outsider["owner"]["id"])
        with pytest.raises(openai.NotFoundError):
            users.create(p.id, role="member", email="nobody@example.com")
        with pytest.raises(openai.NotFoundError):
            users.create(MISSING_PROJECT, role="member", user_id=ann["id"])
        with pytest.raises(openai.BadRequestError) as ei:
            users.create(p.id, role="member")
        assert ei.value.param == "user_id"
        with pytest.raises(openai.BadRequestError) as ei:
            users.create(p.id, role="admin", user_id=ann["id"])
        assert ei.value.param == "role"

    assert users.retrieve(ann["id"], project_id=p.id).to_dict() == a.to_dict()
    with pytest.raises(openai.NotFoundError):
        users.retrieve(MISSING_USER, project_id=p.id)

    with expect_events(server, "project.user.updated", "project.user.updated"):
        assert users.update(ann["id"], project_id=p.id, role="viewer").role == "viewer"
        assert users.update(ann["id"], project_id=p.id).role == "viewer"
    with no_events(server):
        with pytest.raises(openai.BadRequestError):
            users.update(ann["id"], project_id=p.id, role="reader")
        with pytest.raises(openai.NotFoundError):
            users.update(MISSING_USER, project_id=p.id, role="member")

    more = [provision(server)["id"] for _ in range(3)]
    for u in more:
        users.create(p.id, role="viewer", user_id=u)
    expected = sorted([ann["id"], bob["id"], *more])
    calls.clear()
    assert [u.id for u in users.list(p.id, limit=2)] == expected
    assert len(calls) == 3, calls
    first = users.list(p.id, limit=2)
    assert first.has_more is True and first.last_id == expected[1]
    assert [u.id for u in users.list(p.id, after=first.last_id, limit=100).data] == expected[2:]
    for limit in (0, 101):
        with pytest.raises(openai.BadRequestError):
            users.list(p.id, limit=limit)
    assert len(users.list(p.id, limit=100).data) == 5

    with expect_events(server, "project.user.removed"):
        d = users.delete(ann["id"], project_id=p.id)
    assert (d.object, d.id, d.deleted) == ("organization.project.user.deleted", ann["id"], True)
    with no_events(server):
        with pytest.raises(openai.NotFoundError):
            users.retrieve(ann["id"], project_id=p.id)
        with pytest.raises(openai.NotFoundError):
            users.delete(ann["id"], project_id=p.id)
    # still a member of the organization
    assert client.admin.organization.users.retrieve(ann["id"]).id == ann["id"]


# ---------------------------------------------------------------------------
# project roles
# ---------------------------------------------------------------------------


def test_project_roles(server):
    client, calls = counting_admin(server)
    roles = client.admin.organization.projects.roles
    p = new_project(client, "roles")
    q = new_project(client, "roles-other")

    listed = roles.list(p.id)
    assert [r.id for r in listed.data] == PROJECT_ROLE_IDS
    assert [r.name for r in listed.data] == ["owner", "member", "viewer"]
    for r in listed.data:
        assert (r.object, r.predefined_role, r.resource_type) == ("role", True, "api.project")
        assert all(perm.startswith("api.project.") for perm in r.permissions)
    assert roles.retrieve(PROJECT_ROLES["viewer"], project_id=p.id).name == "viewer"
    with pytest.raises(openai.NotFoundError):
        roles.retrieve(ORG_ADMIN, project_id=p.id)

    name = f"Deployer {uid()}"
    with expect_events(server, "role.created"):
        r = roles.create(p.id, role_name=name, permissions=["api.project.users.read"], description="ships")
    assert (r.object, r.name, r.description, r.predefined_role, r.resource_type) == ("role", name, "ships", False, "api.project")
    assert r.permissions == ["api.project.users.read"]
    assert roles.retrieve(r.id, project_id=p.id).to_dict() == r.to_dict()
    assert db_count(server, f"SELECT COUNT(*) FROM audit_events WHERE resource_id = '{r.id}' AND project_id = '{p.id}'") == 1

    with no_events(server):
        with pytest.raises(openai.BadRequestError) as ei:
            roles.create(p.id, role_name=f"bad-{uid()}", permissions=["api.project.users.read", "api.users.read"])
        assert ei.value.param == "permissions[1]"
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            roles.create(p.id, role_name=name.upper(), permissions=[])
        assert ei.value.code == "role_name_taken"
        assert len(calls) == 1
        with pytest.raises(openai.ConflictError):
            roles.create(p.id, role_name="Viewer", permissions=[])
        with pytest.raises(openai.NotFoundError):
            roles.create(MISSING_PROJECT, role_name="x", permissions=[])
        with pytest.raises(openai.NotFoundError):
            roles.retrieve(r.id, project_id=q.id)
        with pytest.raises(openai.NotFoundError):
            client.admin.organization.roles.retrieve(r.id)
        with pytest.raises(openai.PermissionDeniedError) as ei:
            roles.update(PROJECT_ROLES["member"], project_id=p.id, role_name="x")
        assert ei.value.code == "system_role_read_only"
        with pytest.raises(openai.PermissionDeniedError):
            roles.delete(PROJECT_ROLES["owner"], project_id=p.id)
    # the same name in another project is fine
    roles.create(q.id, role_name=name, permissions=[])

    with expect_events(server, "role.updated", "role.updated"):
        u = roles.update(r.id, project_id=p.id, role_name=f"{name} 2", permissions=["api.project.roles.read"], description=None)
        assert (u.name, u.permissions, u.description) == (f"{name} 2", ["api.project.roles.read"], None)
        u = roles.update(r.id, project_id=p.id, description="again")
        assert (u.name, u.permissions, u.description) == (f"{name} 2", ["api.project.roles.read"], "again")

    custom = [r.id] + [roles.create(p.id, role_name=f"r{i}-{uid()}", permissions=[]).id for i in range(3)]
    expected = PROJECT_ROLE_IDS + custom
    calls.clear()
    assert [x.id for x in roles.list(p.id, limit=2)] == expected
    assert len(calls) == math.ceil(len(expected) / 2), calls
    assert [x.id for x in roles.list(p.id, limit=3, order="desc")] == list(reversed(expected))
    page = roles.list(p.id, limit=2)
    assert page.has_more is True and page.next == expected[1]
    assert len(roles.list(p.id, limit=1000).data) == len(expected)
    for limit in (-1, 1001):  # 0 is allowed, as in the spec
        with pytest.raises(openai.BadRequestError):
            roles.list(p.id, limit=limit)

    with expect_events(server, "role.deleted"):
        d = roles.delete(r.id, project_id=p.id)
    assert (d.object, d.id, d.deleted) == ("role.deleted", r.id, True)
    with pytest.raises(openai.NotFoundError):
        roles.retrieve(r.id, project_id=p.id)


# ---------------------------------------------------------------------------
# project user roles
# ---------------------------------------------------------------------------


def test_project_user_roles(server):
    client, calls = counting_admin(server)
    projects = client.admin.organization.projects
    user_roles = projects.users.roles
    p = new_project(client, "user-roles")
    q = new_project(client, "user-roles-other")
    ann = provision(server)
    out = provision(server)
    projects.users.create(p.id, role="viewer", user_id=ann["id"])
    role = projects.roles.create(p.id, role_name=f"ops-{uid()}", permissions=["api.project.groups.read"])
    q_role = projects.roles.create(q.id, role_name=f"q-{uid()}", permissions=[])

    with expect_events(server, "role.assignment.created", "role.assignment.updated"):
        c = user_roles.create(ann["id"], project_id=p.id, role_id=role.id)
        again = user_roles.create(ann["id"], project_id=p.id, role_id=role.id)
    assert c.object == "user.role"
    assert c.role.id == role.id and c.role.resource_type == "api.project"
    assert c.user.object == "organization.user" and c.user.id == ann["id"] and c.user.email == ann["email"]
    assert again.role.id == role.id
    assert db_count(server, f"SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p.id}' AND user_id = '{ann['id']}'") == 2

    rows = {row.id: row for row in user_roles.list(ann["id"], project_id=p.id)}
    assert set(rows) == {PROJECT_ROLES["viewer"], role.id}
    row = rows[role.id]
    assert row.name == role.name and row.predefined_role is False and row.resource_type == "api.project"
    assert [(s.principal_type, s.principal_id) for s in row.assignment_sources] == [("user", ann["id"])]
    assert isinstance(row.created_at, int)
    assert rows[PROJECT_ROLES["viewer"]].predefined_role is True
    got = user_roles.retrieve(role.id, project_id=p.id, user_id=ann["id"])
    assert got.id == role.id and got.permissions == ["api.project.groups.read"]

    user_roles.create(ann["id"], project_id=p.id, role_id=PROJECT_ROLES["member"])
    calls.clear()
    expected = sorted([PROJECT_ROLES["member"], PROJECT_ROLES["viewer"], role.id])
    assert [x.id for x in user_roles.list(ann["id"], project_id=p.id, limit=1)] == expected
    assert len(calls) == 3, calls
    assert [x.id for x in user_roles.list(ann["id"], project_id=p.id, order="desc")] == list(reversed(expected))
    assert user_roles.list(ann["id"], project_id=p.id, limit=0).data == []  # the spec allows 0
    with pytest.raises(openai.BadRequestError):
        user_roles.list(ann["id"], project_id=p.id, limit=1001)

    with no_events(server):
        with pytest.raises(openai.NotFoundError) as ei:
            user_roles.create(out["id"], project_id=p.id, role_id=role.id)
        assert ei.value.code == "not_project_member"
        for bad_role in (ORG_ADMIN, q_role.id, "role_01ZZZZZZZZZZZZZZZZZZZZZZZZ"):
            with pytest.raises(openai.NotFoundError):
                user_roles.create(ann["id"], project_id=p.id, role_id=bad_role)
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            user_roles.delete(PROJECT_ROLES["viewer"], project_id=p.id, user_id=ann["id"])
        assert ei.value.code == "base_role"
        assert len(calls) == 1
        with pytest.raises(openai.NotFoundError):
            user_roles.delete(PROJECT_ROLES["owner"], project_id=p.id, user_id=ann["id"])
        with pytest.raises(openai.NotFoundError):
            user_roles.retrieve(role.id, project_id=q.id, user_id=ann["id"])

    with expect_events(server, "role.assignment.deleted"):
        d = user_roles.delete(role.id, project_id=p.id, user_id=ann["id"])
    assert (d.object, d.deleted) == ("user.role.deleted", True)
    with pytest.raises(openai.NotFoundError):
        user_roles.retrieve(role.id, project_id=p.id, user_id=ann["id"])

    # removing the project user removes every assignment they had on the project
    user_roles.create(ann["id"], project_id=p.id, role_id=role.id)
    projects.users.delete(ann["id"], project_id=p.id)
    assert db_count(server, f"SELECT COUNT(*) FROM role_assignments WHERE project_id = '{p.id}' AND user_id = '{ann['id']}'") == 0
    assert db_count(server, f"SELECT COUNT(*) FROM role_assignments WHERE user_id = '{ann['id']}'") == 1, "the org base role stays"


# ---------------------------------------------------------------------------
# project groups and their roles
# ---------------------------------------------------------------------------


def test_project_groups_and_group_roles(server):
    client, calls = counting_admin(server)
    projects = client.admin.organization.projects
    groups = projects.groups
    p = new_project(client, "groups")
    role = projects.roles.create(p.id, role_name=f"watch-{uid()}", permissions=["api.project.users.read"])
    devs, ops, third = (make_group(server, server.org_id) for _ in range(3))

    with expect_events(server, "project.group.added", "project.group.added"):
        g = groups.create(p.id, group_id=devs, role=PROJECT_ROLES["member"])
        groups.create(p.id, group_id=ops, role=role.id)
    assert g.object == "project.group"
    assert (g.project_id, g.group_id, g.group_type) == (p.id, devs, "group")
    assert isinstance(g.group_name, str) and g.group_name
    assert isinstance(g.created_at, int)
    assert groups.retrieve(devs, project_id=p.id).to_dict() == g.to_dict()
    assert groups.retrieve(devs, project_id=p.id, group_type="group").group_id == devs
    with pytest.raises(openai.NotFoundError):
        groups.retrieve(devs, project_id=p.id, group_type="tenant_group")

    with no_events(server):
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            groups.create(p.id, group_id=devs, role=PROJECT_ROLES["viewer"])
        assert ei.value.code == "already_project_group"
        assert len(calls) == 1
        with pytest.raises(openai.NotFoundError):
            groups.create(p.id, group_id=MISSING_GROUP, role=PROJECT_ROLES["viewer"])
        with pytest.raises(openai.NotFoundError):
            groups.create(p.id, group_id=third, role=ORG_MEMBER)
        with pytest.raises(openai.NotFoundError):
            groups.retrieve(third, project_id=p.id)

    expected = sorted([devs, ops])
    calls.clear()
    assert [x.group_id for x in groups.list(p.id, limit=1)] == expected
    assert len(calls) == 2, calls
    page = groups.list(p.id, limit=1)
    assert page.has_more is True and page.next == expected[0]
    assert [x.group_id for x in groups.list(p.id, order="desc")] == list(reversed(expected))
    for limit in (-1, 1001):  # 0 is allowed, as in the spec
        with pytest.raises(openai.BadRequestError):
            groups.list(p.id, limit=limit)

    group_roles = groups.roles
    with expect_events(server, "role.assignment.created"):
        c = group_roles.create(devs, project_id=p.id, role_id=role.id)
    assert c.object == "group.role"
    assert (c.group.object, c.group.id, c.group.scim_managed) == ("group", devs, False)
    assert c.group.name == g.group_name and isinstance(c.group.created_at, int)
    assert c.role.id == role.id
    expected_roles = sorted([PROJECT_ROLES["member"], role.id])
    calls.clear()
    assert [x.id for x in group_roles.list(devs, project_id=p.id, limit=1)] == expected_roles
    assert len(calls) == 2, calls
    row = group_roles.retrieve(role.id, project_id=p.id, group_id=devs)
    assert row.id == role.id
    assert [(s.principal_type, s.principal_id) for s in row.assignment_sources] == [("group", devs)]
    with no_events(server):
        with pytest.raises(openai.NotFoundError) as ei:
            group_roles.create(third, project_id=p.id, role_id=role.id)
        assert ei.value.code == "not_project_group"
        with pytest.raises(openai.NotFoundError):
            group_roles.create(devs, project_id=p.id, role_id=ORG_ADMIN)

    with expect_events(server, "role.assignment.deleted"):
        d = group_roles.delete(role.id, project_id=p.id, group_id=devs)
    assert (d.object, d.deleted) == ("group.role.deleted", True)
    with pytest.raises(openai.NotFoundError):
        group_roles.retrieve(role.id, project_id=p.id, group_id=devs)

    group_roles.create(devs, project_id=p.id, role_id=PROJECT_ROLES["owner"])
    with expect_events(server, "project.group.removed"):
        d = groups.delete(devs, project_id=p.id)
    assert (d.object, d.deleted) == ("project.group.deleted", True)
    assert db_count(server, f"SELECT COUNT(*) FROM role_assignments WHERE group_id = '{devs}'") == 0
    with pytest.raises(openai.NotFoundError):
        groups.retrieve(devs, project_id=p.id)
    with pytest.raises(openai.NotFoundError):
        groups.delete(devs, project_id=p.id)


# ---------------------------------------------------------------------------
# archiving
# ---------------------------------------------------------------------------


def test_archived_project_refuses_every_write(server):
    client = admin(server)
    projects = client.admin.organization.projects
    p = new_project(client, "frozen")
    ann, bob = provision(server), provision(server)
    devs, ops = make_group(server, server.org_id), make_group(server, server.org_id)
    projects.users.create(p.id, role="owner", user_id=ann["id"])
    projects.groups.create(p.id, group_id=devs, role=PROJECT_ROLES["viewer"])
    role = projects.roles.create(p.id, role_name=f"r-{uid()}", permissions=[])
    projects.users.roles.create(ann["id"], project_id=p.id, role_id=role.id)
    projects.archive(p.id)

    writes = [
        lambda: projects.update(p.id, name="x"),
        lambda: projects.archive(p.id),
        lambda: projects.users.create(p.id, role="member", user_id=bob["id"]),
        lambda: projects.users.update(ann["id"], project_id=p.id, role="viewer"),
        lambda: projects.users.delete(ann["id"], project_id=p.id),
        lambda: projects.groups.create(p.id, group_id=ops, role=PROJECT_ROLES["viewer"]),
        lambda: projects.groups.delete(devs, project_id=p.id),
        lambda: projects.roles.create(p.id, role_name="new", permissions=[]),
        lambda: projects.roles.update(role.id, project_id=p.id, role_name="renamed"),
        lambda: projects.roles.delete(role.id, project_id=p.id),
        lambda: projects.users.roles.create(ann["id"], project_id=p.id, role_id=PROJECT_ROLES["member"]),
        lambda: projects.users.roles.delete(role.id, project_id=p.id, user_id=ann["id"]),
        lambda: projects.groups.roles.create(devs, project_id=p.id, role_id=role.id),
        lambda: projects.groups.roles.delete(PROJECT_ROLES["viewer"], project_id=p.id, group_id=devs),
    ]
    with no_events(server):
        for i, write in enumerate(writes):
            with pytest.raises(openai.ConflictError) as ei:
                write()
            assert ei.value.code == "project_archived", i
    # everything stays readable as it was
    assert projects.users.retrieve(ann["id"], project_id=p.id).role == "owner"
    assert [g.group_id for g in projects.groups.list(p.id)] == [devs]
    assert {r.id for r in projects.users.roles.list(ann["id"], project_id=p.id)} == {PROJECT_ROLES["owner"], role.id}


# ---------------------------------------------------------------------------
# isolation
# ---------------------------------------------------------------------------


def test_second_org_sees_nothing_of_the_first(server):
    client = admin(server)
    projects = client.admin.organization.projects
    p = new_project(client, "mine")
    ann = provision(server)
    devs = make_group(server, server.org_id)
    projects.users.create(p.id, role="member", user_id=ann["id"])
    projects.groups.create(p.id, group_id=devs, role=PROJECT_ROLES["viewer"])
    role = projects.roles.create(p.id, role_name=f"r-{uid()}", permissions=[])
    projects.users.roles.create(ann["id"], project_id=p.id, role_id=role.id)
    projects.groups.roles.create(devs, project_id=p.id, role_id=role.id)

    def snapshot() -> list[Any]:
        return [
            projects.retrieve(p.id).to_dict(),
            [u.to_dict() for u in projects.users.list(p.id)],
            [g.to_dict() for g in projects.groups.list(p.id)],
            [r.to_dict() for r in projects.roles.list(p.id)],
            [r.to_dict() for r in projects.users.roles.list(ann["id"], project_id=p.id)],
            [r.to_dict() for r in projects.groups.roles.list(devs, project_id=p.id)],
        ]

    before = snapshot()
    other = new_org(server, f"B {uid()}", f"b-{uid()}@example.com", "B")
    b = admin(server, other["admin_api_key"]["value"]).admin.organization.projects
    calls = [
        lambda: b.retrieve(p.id),
        lambda: b.update(p.id, name="stolen"),
        lambda: b.archive(p.id),
        lambda: b.users.list(p.id),
        lambda: b.users.create(p.id, role="owner", user_id=ann["id"]),
        lambda: b.users.retrieve(ann["id"], project_id=p.id),
        lambda: b.users.update(ann["id"], project_id=p.id, role="owner"),
        lambda: b.users.delete(ann["id"], project_id=p.id),
        lambda: b.groups.list(p.id),
        lambda: b.groups.create(p.id, group_id=devs, role=PROJECT_ROLES["owner"]),
        lambda: b.groups.retrieve(devs, project_id=p.id),
        lambda: b.groups.delete(devs, project_id=p.id),
        lambda: b.roles.list(p.id),
        lambda: b.roles.create(p.id, role_name="x", permissions=[]),
        lambda: b.roles.retrieve(role.id, project_id=p.id),
        lambda: b.roles.update(role.id, project_id=p.id, role_name="y"),
        lambda: b.roles.delete(role.id, project_id=p.id),
        lambda: b.users.roles.list(ann["id"], project_id=p.id),
        lambda: b.users.roles.create(ann["id"], project_id=p.id, role_id=PROJECT_ROLES["owner"]),
        lambda: b.users.roles.retrieve(role.id, project_id=p.id, user_id=ann["id"]),
        lambda: b.users.roles.delete(role.id, project_id=p.id, user_id=ann["id"]),
        lambda: b.groups.roles.list(devs, project_id=p.id),
        lambda: b.groups.roles.create(devs, project_id=p.id, role_id=PROJECT_ROLES["owner"]),
        lambda: b.groups.roles.retrieve(role.id, project_id=p.id, group_id=devs),
        lambda: b.groups.roles.delete(role.id, project_id=p.id, group_id=devs),
    ]
    with no_events(server):
        for i, call in enumerate(calls):
            with pytest.raises(openai.NotFoundError):
                call()
    assert list(b.list(include_archived=True)) == []
    assert snapshot() == before
