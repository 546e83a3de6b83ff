"""End-to-end tests of the RBAC foundation, driven by the official `openai` SDK (3.51.0).

Covers `client.admin.organization.roles`, `.users` and `.users.roles` on both backends
(the module-scoped `server` fixture is parametrised over SQLite and PostgreSQL).

The server is shared by every test of this module, so each test creates its own
uniquely named objects and never relies on absolute counts or on another test's data.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import openai
import pytest

from conftest import Server, http, new_org, sdk

SYSTEM_ROLES = {
    "owner": "role_00000000000000000000000001",
    "admin": "role_00000000000000000000000002",
    "member": "role_00000000000000000000000003",
    "reader": "role_00000000000000000000000004",
}
SYSTEM_ROLE_IDS = list(SYSTEM_ROLES.values())
# Well-formed ids (prefix + 26 Crockford base32 characters) that were never issued.
MISSING_ROLE_ID = "role_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_USER_ID = "user_01ZZZZZZZZZZZZZZZZZZZZZZZZ"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:12]


def admin(server: Server, key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    return sdk(server, key or server.admin_key, **kwargs)


def counting_admin(server: Server, key: str | None = None, **kwargs: Any) -> tuple[openai.OpenAI, list[str]]:
    """An SDK client whose every HTTP request (retries included) is recorded as "METHOD url"."""
    calls: list[str] = []

    def on_request(request: Any) -> None:
        calls.append(f"{request.method} {request.url}")

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [on_request]})
    return sdk(server, key or server.admin_key, http_client=http_client, **kwargs), calls


def provision(server: Server, key: str | None = None, *, email: str | None = None, name: str | None = None,
              role: str = "reader") -> dict[str, Any]:
    """Add a member with the raw (non-SDK) provisioning endpoint."""
    email = email or f"user-{uid()}@example.com"
    body = {"email": email, "name": name or f"User {email.split('@')[0]}", "role": role}
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/users", json=body)
    assert r.status_code == 200, f"{server.backend}: POST /v1/organization/users {body} -> {r.status_code}: {r.text}"
    user = r.json()
    assert user["object"] == "organization.user"
    assert user["email"] == email
    assert user["role"] == role
    return user


def create_role(client: openai.OpenAI, prefix: str = "role", permissions: list[str] | None = None, **kwargs: Any):
    return client.admin.organization.roles.create(
        role_name=f"{prefix}-{uid()}",
        permissions=permissions if permissions is not None else ["api.users.read"],
        **kwargs,
    )


def role_ids(client: openai.OpenAI, **kwargs: Any) -> list[str]:
    """Every role id, via the SDK's auto-pagination."""
    return [r.id for r in client.admin.organization.roles.list(**kwargs)]


def user_role_rows(client: openai.OpenAI, user_id: str, **kwargs: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for row in client.admin.organization.users.roles.list(user_id, **kwargs):
        assert row.id not in rows, f"duplicate assignment row {row.id} for {user_id}"
        rows[row.id] = row
    return rows


def sources(row: Any) -> list[tuple[str, str]]:
    return sorted((s.principal_type, s.principal_id) for s in (row.assignment_sources or []))


def manual_pages(list_fn, **kwargs: Any) -> list[list[str]]:
    """Walk a NextCursorPage list by hand (has_more / next), returning the ids page by page."""
    pages: list[list[str]] = []
    after: str | None = None
    for _ in range(10_000):
        params = dict(kwargs)
        if after is not None:
            params["after"] = after
        page = list_fn(**params)
        ids = [item.id for item in page.data]
        pages.append(ids)
        if ids:
            assert page.first_id == ids[0], (page.first_id, ids)
            assert page.last_id == ids[-1], (page.last_id, ids)
        if not page.has_more:
            assert page.has_more is False, f"has_more must be a boolean, got {page.has_more!r}"
            assert page.next is None, f"last page must have next=null, got {page.next!r}"
            return pages
        assert ids, "has_more=true on an empty page"
        assert page.next, "has_more=true but no next cursor"
        after = page.next
    raise AssertionError("pagination did not terminate")


# ---------------------------------------------------------------------------
# 1. predefined roles
# ---------------------------------------------------------------------------


def test_predefined_roles_listed(server):
    client = admin(server)
    page = client.admin.organization.roles.list()
    assert page.object == "list"
    first = page.data[:4]
    assert [r.name for r in first] == ["owner", "admin", "member", "reader"]
    assert [r.id for r in first] == SYSTEM_ROLE_IDS
    for r in first:
        assert r.object == "role"
        assert r.predefined_role is True
        assert r.resource_type == "api.organization"
        assert r.permissions and all(isinstance(p, str) and p.startswith("api.") for p in r.permissions)
        assert isinstance(r.description, str) and r.description

    all_roles = list(client.admin.organization.roles.list())
    predefined = [r for r in all_roles if r.predefined_role]
    assert [r.id for r in predefined] == SYSTEM_ROLE_IDS, "only the 4 system roles are predefined"

    by_name = {r.name: r for r in first}
    assert "api.roles.write" in by_name["owner"].permissions
    assert "api.users.read" in by_name["reader"].permissions
    assert not [p for p in by_name["reader"].permissions if p.endswith(".write")]
    assert set(by_name["admin"].permissions) <= set(by_name["owner"].permissions)

    for name, role_id in SYSTEM_ROLES.items():
        got = client.admin.organization.roles.retrieve(role_id)
        assert got.id == role_id
        assert got.name == name
        assert got.predefined_role is True
        assert got.resource_type == "api.organization"
        assert sorted(got.permissions) == sorted(by_name[name].permissions)


# ---------------------------------------------------------------------------
# 2. custom role CRUD
# ---------------------------------------------------------------------------


def test_custom_role_crud(server):
    client = admin(server)
    roles = client.admin.organization.roles
    name = f"crud-{uid()}"

    created = roles.create(role_name=name, permissions=["api.users.read", "api.groups.read"], description="first")
    assert created.object == "role"
    assert created.id.startswith("role_") and created.id not in SYSTEM_ROLE_IDS
    assert created.name == name
    assert sorted(created.permissions) == ["api.groups.read", "api.users.read"]
    assert created.description == "first"
    assert created.predefined_role is False
    assert created.resource_type == "api.organization"

    got = roles.retrieve(created.id)
    assert got.to_dict() == created.to_dict()

    new_name = f"crud-renamed-{uid()}"
    updated = roles.update(created.id, role_name=new_name, permissions=["api.roles.read"], description="second")
    assert updated.id == created.id
    assert updated.name == new_name
    assert updated.permissions == ["api.roles.read"]
    assert updated.description == "second"
    assert updated.predefined_role is False

    got = roles.retrieve(created.id)
    assert (got.name, got.permissions, got.description) == (new_name, ["api.roles.read"], "second")

    # Fields left out of an update are not changed.
    partial = roles.update(created.id, description="third")
    assert (partial.name, partial.permissions, partial.description) == (new_name, ["api.roles.read"], "third")

    listed = {r.id: r for r in roles.list()}
    assert created.id in listed
    assert listed[created.id].name == new_name
    assert listed[created.id].description == "third"

    deleted = roles.delete(created.id)
    assert deleted.id == created.id
    assert deleted.deleted is True
    assert deleted.object == "role.deleted"

    with pytest.raises(openai.NotFoundError):
        roles.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        roles.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        roles.update(created.id, description="gone")
    assert created.id not in role_ids(client)


# ---------------------------------------------------------------------------
# 3. pagination
# ---------------------------------------------------------------------------


def test_roles_pagination_by_two(server):
    client, calls = counting_admin(server)
    roles = client.admin.organization.roles
    tag = uid()
    created = [roles.create(role_name=f"page-{tag}-{i:02d}", permissions=["api.users.read"]).id for i in range(12)]
    assert len(set(created)) == 12

    # Auto-pagination: iterating the first page walks every page.
    calls.clear()
    seen = [r.id for r in roles.list(limit=2)]
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    for rid in created:
        assert seen.count(rid) == 1, f"{rid} seen {seen.count(rid)} times in {seen}"
    assert seen[:4] == SYSTEM_ROLE_IDS
    assert seen == sorted(seen), "order=asc (default) must be ascending by id"
    assert len(calls) == math.ceil(len(seen) / 2), f"expected pages of 2 and an accurate has_more: {calls}"
    assert all("limit=2" in c for c in calls), calls

    # The same, page by page, with has_more / next.
    pages = manual_pages(roles.list, limit=2)
    assert all(len(p) == 2 for p in pages[:-1]), pages
    assert 1 <= len(pages[-1]) <= 2, pages
    assert [i for p in pages for i in p] == seen

    # order=desc is the exact reverse, both ways.
    desc_auto = [r.id for r in roles.list(limit=2, order="desc")]
    assert desc_auto == list(reversed(seen))
    desc_pages = manual_pages(roles.list, limit=2, order="desc")
    assert all(len(p) == 2 for p in desc_pages[:-1]), desc_pages
    assert [i for p in desc_pages for i in p] == desc_auto

    # order=asc given explicitly, and one big page, agree too.
    assert [r.id for r in roles.list(limit=2, order="asc")] == seen
    big = roles.list(limit=1000)
    assert [r.id for r in big.data] == seen
    assert big.has_more is False and big.next is None

    for rid in created:
        roles.delete(rid)


# ---------------------------------------------------------------------------
# 4. user role assignment
# ---------------------------------------------------------------------------


def test_user_role_assign_list_unassign(server):
    client = admin(server)
    user = provision(server)
    user_id = user["id"]
    role = create_role(client, "assign", ["api.users.read", "api.roles.read"], description="assignable")
    user_roles = client.admin.organization.users.roles

    created = user_roles.create(user_id, role_id=role.id)
    assert created.object == "user.role"
    assert created.role.id == role.id
    assert created.role.name == role.name
    assert created.user.id == user_id
    assert created.user.email == user["email"]

    rows = user_role_rows(client, user_id)
    assert role.id in rows
    row = rows[role.id]
    assert row.name == role.name
    assert sorted(row.permissions) == ["api.roles.read", "api.users.read"]
    assert row.description == "assignable"
    assert row.predefined_role is False
    assert row.resource_type == "api.organization"
    assert sources(row) == [("user", user_id)]
    assert isinstance(row.created_at, int)
    # The base role is listed too.
    assert SYSTEM_ROLES["reader"] in rows
    assert rows[SYSTEM_ROLES["reader"]].predefined_role is True
    assert sources(rows[SYSTEM_ROLES["reader"]]) == [("user", user_id)]
    assert set(rows) == {role.id, SYSTEM_ROLES["reader"]}

    got = user_roles.retrieve(role.id, user_id=user_id)
    assert got.id == role.id
    assert got.name == role.name
    assert sources(got) == [("user", user_id)]

    # Granting again succeeds and does not duplicate the row.
    again = user_roles.create(user_id, role_id=role.id)
    assert again.role.id == role.id and again.user.id == user_id
    assert set(user_role_rows(client, user_id)) == {role.id, SYSTEM_ROLES["reader"]}

    deleted = user_roles.delete(role.id, user_id=user_id)
    assert deleted.deleted is True
    assert deleted.object == "user.role.deleted"

    with pytest.raises(openai.NotFoundError):
        user_roles.retrieve(role.id, user_id=user_id)
    assert set(user_role_rows(client, user_id)) == {SYSTEM_ROLES["reader"]}
    # The role itself survives the unassignment.
    assert client.admin.organization.roles.retrieve(role.id).id == role.id


def test_user_role_assignment_edges(server):
    client = admin(server)
    user = provision(server)
    user_id = user["id"]
    user_roles = client.admin.organization.users.roles
    extra = [create_role(client, "edge") for _ in range(3)]
    for r in extra:
        user_roles.create(user_id, role_id=r.id)

    # The base role cannot be removed through the assignment API.
    with pytest.raises(openai.ConflictError) as ei:
        user_roles.delete(SYSTEM_ROLES["reader"], user_id=user_id)
    assert ei.value.response.headers.get("x-should-retry") == "false"
    assert SYSTEM_ROLES["reader"] in user_role_rows(client, user_id)

    # Unknown role / unknown user.
    with pytest.raises(openai.NotFoundError):
        user_roles.create(user_id, role_id=MISSING_ROLE_ID)
    with pytest.raises(openai.NotFoundError):
        user_roles.create(MISSING_USER_ID, role_id=extra[0].id)
    with pytest.raises(openai.NotFoundError):
        user_roles.list(MISSING_USER_ID)
    with pytest.raises(openai.NotFoundError):
        user_roles.retrieve(MISSING_ROLE_ID, user_id=user_id)

    # Paging the assignment list one row at a time, both ways.
    expected = sorted([SYSTEM_ROLES["reader"]] + [r.id for r in extra])
    asc = [row.id for row in user_roles.list(user_id, limit=1)]
    assert asc == expected
    assert [i for p in manual_pages(lambda **kw: user_roles.list(user_id, **kw), limit=1) for i in p] == expected
    assert [row.id for row in user_roles.list(user_id, limit=1, order="desc")] == list(reversed(expected))

    # expires_at extension: a future expiry is accepted and reported; a past one is rejected.
    timed = create_role(client, "timed")
    expires = int(time.time()) + 3600
    user_roles.create(user_id, role_id=timed.id, extra_body={"expires_at": expires})
    row = user_role_rows(client, user_id)[timed.id]
    assert row.to_dict().get("expires_at") == expires
    past = create_role(client, "past")
    with pytest.raises(openai.BadRequestError) as ei:
        user_roles.create(user_id, role_id=past.id, extra_body={"expires_at": int(time.time()) - 3600})
    assert ei.value.param == "expires_at"
    assert past.id not in user_role_rows(client, user_id)


# ---------------------------------------------------------------------------
# 5. deleting a role removes its assignments
# ---------------------------------------------------------------------------


def test_deleting_role_removes_assignments(server):
    client = admin(server)
    users = [provision(server)["id"], provision(server, role="member")["id"]]
    name = f"doomed-{uid()}"
    role = client.admin.organization.roles.create(role_name=name, permissions=["api.groups.read"])
    keep = create_role(client, "keep")
    for user_id in users:
        client.admin.organization.users.roles.create(user_id, role_id=role.id)
        client.admin.organization.users.roles.create(user_id, role_id=keep.id)
        assert role.id in user_role_rows(client, user_id)

    assert client.admin.organization.roles.delete(role.id).deleted is True

    for user_id in users:
        rows = user_role_rows(client, user_id)
        assert role.id not in rows
        assert keep.id in rows, "other assignments must survive"
        with pytest.raises(openai.NotFoundError):
            client.admin.organization.users.roles.retrieve(role.id, user_id=user_id)
        with pytest.raises(openai.NotFoundError):
            client.admin.organization.users.roles.create(user_id, role_id=role.id)

    # The name is free again, and the new role starts with no assignments.
    reborn = client.admin.organization.roles.create(role_name=name, permissions=["api.groups.read"])
    assert reborn.id != role.id
    for user_id in users:
        assert reborn.id not in user_role_rows(client, user_id)


# ---------------------------------------------------------------------------
# 6. errors
# ---------------------------------------------------------------------------


def test_error_cases(server):
    client = admin(server)
    roles = client.admin.organization.roles

    # Unknown permission -> 400 naming the offending array element.
    name = f"badperm-{uid()}"
    with pytest.raises(openai.BadRequestError) as ei:
        roles.create(role_name=name, permissions=["api.users.read", "api.nope.read"])
    e = ei.value
    assert e.status_code == 400
    assert e.param == "permissions[1]"
    assert e.type == "invalid_request_error"
    assert isinstance(e.body, dict) and e.body.get("param") == "permissions[1]"
    assert "api.nope.read" in e.message
    assert e.response.headers.get("x-should-retry") == "false"
    assert name not in [r.name for r in roles.list()]

    good = create_role(client, "err")
    with pytest.raises(openai.BadRequestError) as ei:
        roles.update(good.id, permissions=["api.roles.read", "api.users.read", "bogus"])
    assert ei.value.param == "permissions[2]"
    assert roles.retrieve(good.id).permissions == ["api.users.read"]

    # Out-of-range limits and a bad cursor -> 400.
    for limit in (-1, 1001):  # 0 is allowed, as in the spec
        with pytest.raises(openai.BadRequestError) as ei:
            roles.list(limit=limit)
        assert ei.value.param == "limit", (limit, ei.value.body)
    with pytest.raises(openai.BadRequestError) as ei:
        roles.list(after="nope")
    assert ei.value.param == "after"
    with pytest.raises(openai.BadRequestError) as ei:
        roles.list(order="sideways")  # type: ignore[arg-type]
    assert ei.value.param == "order"
    assert len(roles.list(limit=1).data) == 1
    assert len(roles.list(limit=1000).data) >= 5

    # A wrong admin key -> 401.
    for bad_key in ("sk-admin-" + "A" * 43, "not-a-key"):
        with pytest.raises(openai.AuthenticationError) as ei:
            admin(server, bad_key).admin.organization.roles.list()
        assert ei.value.status_code == 401
    with http(server) as raw:
        r = raw.get("/v1/organization/roles")
    assert r.status_code == 401, r.text
    assert r.json()["error"]["type"]

    # Missing role -> 404.
    with pytest.raises(openai.NotFoundError):
        roles.retrieve(MISSING_ROLE_ID)
    with pytest.raises(openai.NotFoundError):
        roles.update(MISSING_ROLE_ID, description="x")
    with pytest.raises(openai.NotFoundError):
        roles.delete(MISSING_ROLE_ID)

    # System roles are read-only -> 403.
    with pytest.raises(openai.PermissionDeniedError) as ei:
        roles.update(SYSTEM_ROLES["member"], description="mine now")
    assert ei.value.code == "system_role_read_only"
    with pytest.raises(openai.PermissionDeniedError) as ei:
        roles.delete(SYSTEM_ROLES["reader"])
    assert ei.value.code == "system_role_read_only"
    assert roles.retrieve(SYSTEM_ROLES["reader"]).predefined_role is True

    # Duplicate names -> 409, and the SDK (default max_retries=2) does not retry it.
    retrying, calls = counting_admin(server, max_retries=2)
    dup = create_role(client, "Dup")
    for clash in (dup.name, dup.name.upper(), dup.name.lower(), "Owner", "reader"):
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            retrying.admin.organization.roles.create(role_name=clash, permissions=["api.users.read"])
        assert ei.value.status_code == 409
        assert ei.value.response.headers["x-should-retry"] == "false"
        assert len(calls) == 1, f"409 was retried: {calls}"
    # Renaming onto a taken name is a conflict too.
    other = create_role(client, "other")
    with pytest.raises(openai.ConflictError):
        roles.update(other.id, role_name=dup.name.upper())
    with pytest.raises(openai.ConflictError):
        roles.update(other.id, role_name="ADMIN")
    assert roles.retrieve(other.id).name == other.name


# ---------------------------------------------------------------------------
# 7. organization isolation
# ---------------------------------------------------------------------------


def test_second_org_is_isolated(server):
    c1 = admin(server)
    tag = uid()
    role1 = c1.admin.organization.roles.create(role_name=f"iso-{tag}", permissions=["api.users.read"])
    user1 = provision(server)
    c1.admin.organization.users.roles.create(user1["id"], role_id=role1.id)

    org2 = new_org(server, f"Org {tag}", f"owner2-{tag}@example.com", "Owner Two")
    key2 = org2["admin_api_key"]["value"]
    assert key2 != server.admin_key
    c2 = admin(server, key2)

    # The second org sees the system roles but none of the first's custom roles.
    roles2 = list(c2.admin.organization.roles.list())
    assert [r.id for r in roles2 if r.predefined_role] == SYSTEM_ROLE_IDS
    assert [r.name for r in roles2[:4]] == ["owner", "admin", "member", "reader"]
    assert role1.id not in [r.id for r in roles2]
    assert role1.name not in [r.name for r in roles2]
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.roles.retrieve(role1.id)
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.roles.update(role1.id, description="hijacked")
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.roles.delete(role1.id)
    assert c1.admin.organization.roles.retrieve(role1.id).description is None

    # Nor the first org's users.
    users2 = list(c2.admin.organization.users.list())
    assert [u.email for u in users2] == [f"owner2-{tag}@example.com"]
    owner2 = users2[0]
    assert owner2.role == "owner"
    assert user1["id"] not in [u.id for u in users2]
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.users.retrieve(user1["id"])
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.users.roles.list(user1["id"])
    with pytest.raises(openai.NotFoundError):
        c1.admin.organization.users.retrieve(owner2.id)

    # Assigning the first org's role to a second-org user -> 404 (from either side).
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.users.roles.create(owner2.id, role_id=role1.id)
    with pytest.raises(openai.NotFoundError):
        c1.admin.organization.users.roles.create(owner2.id, role_id=role1.id)
    assert role1.id not in user_role_rows(c2, owner2.id)

    # Role names are per organization.
    role2 = c2.admin.organization.roles.create(role_name=role1.name, permissions=["api.groups.read"])
    assert role2.id != role1.id
    assert role2.id not in role_ids(c1)
    with pytest.raises(openai.NotFoundError):
        c1.admin.organization.roles.retrieve(role2.id)

    # A person in both orgs: same user id, separate role assignments.
    shared = provision(server, key2, email=user1["email"], role="member")
    assert shared["id"] == user1["id"]
    c2.admin.organization.users.roles.create(shared["id"], role_id=role2.id)
    with pytest.raises(openai.NotFoundError):
        c2.admin.organization.users.roles.create(shared["id"], role_id=role1.id)
    rows1 = user_role_rows(c1, user1["id"])
    rows2 = user_role_rows(c2, shared["id"])
    assert set(rows1) == {SYSTEM_ROLES["reader"], role1.id}
    assert set(rows2) == {SYSTEM_ROLES["member"], role2.id}
    assert c1.admin.organization.users.retrieve(user1["id"]).role == "reader"
    assert c2.admin.organization.users.retrieve(shared["id"]).role == "member"

    # Deleting the role in one org does not touch the other's.
    c2.admin.organization.roles.delete(role2.id)
    assert c1.admin.organization.roles.retrieve(role1.id).name == role1.name
    assert role1.id in user_role_rows(c1, user1["id"])


# ---------------------------------------------------------------------------
# 8. users
# ---------------------------------------------------------------------------


def test_users(server):
    client = admin(server)
    users = client.admin.organization.users
    tag = uid()
    a = provision(server, email=f"a-{tag}@example.com", name="Alice", role="reader")
    b = provision(server, email=f"b-{tag}@example.com", name="Bob", role="member")

    # Provisioning the same person twice -> 409.
    with http(server, server.admin_key) as raw:
        r = raw.post("/v1/organization/users", json={"email": a["email"], "name": "Alice", "role": "reader"})
    assert r.status_code == 409, r.text
    assert r.headers.get("x-should-retry") == "false"

    # emails[] filter.
    page = users.list(emails=[a["email"]])
    assert [u.id for u in page.data] == [a["id"]]
    assert page.has_more is False
    both = users.list(emails=[a["email"], b["email"]])
    assert sorted(u.id for u in both.data) == sorted([a["id"], b["id"]])
    none = users.list(emails=[f"nobody-{tag}@example.com"])
    assert none.data == [] and none.has_more is False

    # Paging by 1 with last_id cursors covers everyone exactly once.
    everyone = [u.id for u in users.list(limit=1)]
    assert len(everyone) == len(set(everyone))
    assert a["id"] in everyone and b["id"] in everyone
    assert sorted(everyone) == sorted(u.id for u in users.list(limit=100))
    for bad in (0, 101):
        with pytest.raises(openai.BadRequestError) as ei:
            users.list(limit=bad)
        assert ei.value.param == "limit"

    got = users.retrieve(a["id"])
    assert got.object == "organization.user"
    assert got.id == a["id"]
    assert got.email == a["email"]
    assert got.name == "Alice"
    assert got.role == "reader"
    assert isinstance(got.added_at, int) and got.added_at > 0
    with pytest.raises(openai.NotFoundError):
        users.retrieve(MISSING_USER_ID)

    # Changing the base role by name and by id.
    updated = users.update(a["id"], role="admin")
    assert updated.id == a["id"] and updated.role == "admin"
    assert users.retrieve(a["id"]).role == "admin"
    rows = user_role_rows(client, a["id"])
    assert SYSTEM_ROLES["admin"] in rows and SYSTEM_ROLES["reader"] not in rows
    updated = users.update(a["id"], role_id=SYSTEM_ROLES["member"])
    assert updated.role == "member"
    assert set(user_role_rows(client, a["id"])) == {SYSTEM_ROLES["member"]}

    # Delete a provisioned user.
    deleted = users.delete(b["id"])
    assert deleted.id == b["id"]
    assert deleted.deleted is True
    assert deleted.object == "organization.user.deleted"
    with pytest.raises(openai.NotFoundError):
        users.retrieve(b["id"])
    with pytest.raises(openai.NotFoundError):
        users.delete(b["id"])
    assert users.list(emails=[b["email"]]).data == []
    assert [u.id for u in users.list(emails=[a["email"]]).data] == [a["id"]]


def test_last_owner_is_protected(server):
    tag = uid()
    org = new_org(server, f"Owners {tag}", f"boss-{tag}@example.com", "Boss")
    key = org["admin_api_key"]["value"]
    client = admin(server, key)
    users = client.admin.organization.users
    (boss,) = list(users.list())
    assert boss.role == "owner"

    with pytest.raises(openai.ConflictError) as ei:
        users.update(boss.id, role="reader")
    assert ei.value.response.headers.get("x-should-retry") == "false"
    with pytest.raises(openai.ConflictError):
        users.update(boss.id, role_id=SYSTEM_ROLES["admin"])
    with pytest.raises(openai.ConflictError):
        users.delete(boss.id)
    assert users.retrieve(boss.id).role == "owner"

    # With a second owner, either owner may be demoted (the caller's key belongs to `boss`,
    # so `boss` is demoted last).
    heir = provision(server, key, email=f"heir-{tag}@example.com", role="reader")
    assert users.update(heir["id"], role="owner").role == "owner"
    assert users.update(heir["id"], role="admin").role == "admin"
    with pytest.raises(openai.ConflictError):
        users.update(boss.id, role="member")
    assert users.update(heir["id"], role_id=SYSTEM_ROLES["owner"]).role == "owner"
    assert users.update(boss.id, role="reader").role == "reader"
    assert {u.id: u.role for u in users.list()} == {boss.id: "reader", heir["id"]: "owner"}
