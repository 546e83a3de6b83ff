"""End-to-end tests of groups, driven by the official `openai` SDK (3.51.0).

Covers every method of `client.admin.organization.groups`, `.groups.users` and `.groups.roles`
on both backends (the module-scoped `server` fixture is parametrised over SQLite and
PostgreSQL), with strict response validation so that every answer matches the SDK's models.

The server is shared by every test of this module: each test creates its own uniquely named
objects, and the tests that count (pagination) run in an organization of their own.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import openai
import pytest
from openai.types.admin.organization import Group, GroupDeleteResponse, GroupUpdateResponse
from openai.types.admin.organization.groups import (
    OrganizationGroupUser,
    RoleCreateResponse,
    RoleDeleteResponse,
    RoleListResponse,
    RoleRetrieveResponse,
    UserCreateResponse,
    UserDeleteResponse,
    UserRetrieveResponse,
)

from conftest import Server, http, new_org, sdk

OWNER = "role_00000000000000000000000001"
ADMIN = "role_00000000000000000000000002"
MEMBER = "role_00000000000000000000000003"
MISSING_GROUP = "group_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_USER = "user_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MISSING_ROLE = "role_01ZZZZZZZZZZZZZZZZZZZZZZZZ"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:12]


def admin(server: Server, key: str | None = None, **kwargs: Any) -> openai.OpenAI:
    """An SDK client that validates every response against the SDK's models."""
    kwargs.setdefault("_strict_response_validation", True)
    return sdk(server, key or server.admin_key, **kwargs)


def counting_admin(server: Server, key: str | None = None, **kwargs: Any) -> tuple[openai.OpenAI, list[str]]:
    """An SDK client whose every HTTP request (retries included) is recorded as "METHOD url"."""
    calls: list[str] = []

    def on_request(request: Any) -> None:
        calls.append(f"{request.method} {request.url}")

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [on_request]})
    return admin(server, key, http_client=http_client, **kwargs), calls


def provision(server: Server, key: str | None = None, *, name: str | None = "Some One", role: str = "member") -> str:
    """Adds a member with the raw provisioning endpoint; returns the user id."""
    email = f"user-{uid()}@example.com"
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/users", json={"email": email, "name": name, "role": role})
    assert r.status_code == 200, f"{server.backend}: provisioning {email} -> {r.status_code}: {r.text}"
    return r.json()["id"]


def fresh_org(server: Server) -> tuple[openai.OpenAI, str, str]:
    """A new organization: (its owner's SDK client, its admin key, its owner's user id)."""
    tag = uid()
    org = new_org(server, f"Org {tag}", f"owner-{tag}@example.com", "Owner")
    key = org["admin_api_key"]["value"]
    return admin(server, key), key, org["owner"]["id"]


def manual_pages(list_fn, **kwargs: Any) -> list[list[str]]:
    """Walks a NextCursorPage list by hand (has_more / next), returning the ids page by page."""
    pages: list[list[str]] = []
    after: str | None = None
    for _ in range(10_000):
        params = dict(kwargs)
        if after is not None:
            params["after"] = after
        page = list_fn(**params)
        ids = [item.id for item in page.data]
        pages.append(ids)
        if not page.has_more:
            assert page.has_more is False
            assert page.next is None
            return pages
        assert ids and page.next == ids[-1], (ids, page.next)
        after = page.next
    raise AssertionError("pagination did not terminate")


def sources(row: Any) -> list[tuple[str, str]]:
    return sorted((s.principal_type, s.principal_id) for s in (row.assignment_sources or []))


# ---------------------------------------------------------------------------
# 1. groups
# ---------------------------------------------------------------------------


def test_group_crud(server):
    client, calls = counting_admin(server, max_retries=2)
    groups = client.admin.organization.groups
    name = f"Eng {uid()}"

    created = groups.create(name=name)
    assert isinstance(created, Group)
    assert created.id.startswith("group_")
    assert created.name == name
    assert created.group_type == "group"
    assert created.is_scim_managed is False
    assert abs(created.created_at - time.time()) < 300

    got = groups.retrieve(created.id)
    assert isinstance(got, Group)
    assert got.to_dict() == created.to_dict()
    assert created.id in [g.id for g in groups.list()]

    # Names are unique case-insensitively: a 409 the SDK does not retry.
    for clash in (name, name.upper(), f"  {name.lower()}  "):
        calls.clear()
        with pytest.raises(openai.ConflictError) as ei:
            groups.create(name=clash)
        assert ei.value.code == "group_name_taken"
        assert ei.value.response.headers["x-should-retry"] == "false"
        assert len(calls) == 1, f"409 was retried: {calls}"
    for bad in ("", "   ", "x" * 257):
        with pytest.raises(openai.BadRequestError) as ei:
            groups.create(name=bad)
        assert ei.value.param == "name"

    renamed = f"Platform {uid()}"
    updated = groups.update(created.id, name=renamed)
    assert isinstance(updated, GroupUpdateResponse)
    assert (updated.id, updated.name, updated.created_at, updated.is_scim_managed) == (
        created.id,
        renamed,
        created.created_at,
        False,
    )
    assert groups.retrieve(created.id).name == renamed
    # A change of case of its own name is no conflict; another group's name is.
    assert groups.update(created.id, name=renamed.upper()).name == renamed.upper()
    other = groups.create(name=f"Other {uid()}")
    with pytest.raises(openai.ConflictError):
        groups.update(other.id, name=renamed.lower())
    assert groups.retrieve(other.id).name == other.name

    deleted = groups.delete(created.id)
    assert isinstance(deleted, GroupDeleteResponse)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "group.deleted")
    for call in (
        lambda: groups.retrieve(created.id),
        lambda: groups.update(created.id, name=f"x {uid()}"),
        lambda: groups.delete(created.id),
        lambda: groups.retrieve(MISSING_GROUP),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert created.id not in [g.id for g in groups.list()]
    # The name is free again.
    groups.create(name=renamed)
    groups.delete(other.id)


def test_groups_pagination(server):
    client, key, _owner = fresh_org(server)
    counted, calls = counting_admin(server, key)
    groups = client.admin.organization.groups
    created = [groups.create(name=f"g-{i:03d}").id for i in range(101)]
    assert created == sorted(created), "ids follow creation order"

    # The SDK documents limit 0..1000 with a default of 100.
    first = groups.list()
    assert [g.id for g in first.data] == created[:100]
    assert first.has_more is True and first.next == created[99]
    rest = groups.list(after=first.next)
    assert [g.id for g in rest.data] == created[100:]
    assert rest.has_more is False and rest.next is None
    empty = groups.list(limit=0)
    assert empty.data == []
    assert [g.id for g in groups.list(limit=1000).data] == created
    for bad in (1001, -1):
        with pytest.raises(openai.BadRequestError) as ei:
            groups.list(limit=bad)
        assert ei.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as ei:
        groups.list(after="not-a-group")
    assert ei.value.param == "after"

    # Auto-pagination follows `next`, one request per page.
    calls.clear()
    seen = [g.id for g in counted.admin.organization.groups.list(limit=7)]
    assert seen == created
    assert len(calls) == math.ceil(len(created) / 7), calls
    assert all("limit=7" in c for c in calls)
    pages = manual_pages(groups.list, limit=25)
    assert [len(p) for p in pages] == [25, 25, 25, 25, 1]
    assert [i for p in pages for i in p] == created
    assert [g.id for g in groups.list(limit=10, order="desc")] == list(reversed(created))
    assert [g.id for g in groups.list(limit=10, order="asc")] == created


# ---------------------------------------------------------------------------
# 2. group users
# ---------------------------------------------------------------------------


def test_group_users(server):
    client, calls = counting_admin(server)
    groups = client.admin.organization.groups
    group = groups.create(name=f"Team {uid()}")
    named = provision(server, name="Ann Example")
    unnamed = provision(server, name=None)

    added = groups.users.create(group.id, user_id=named)
    assert isinstance(added, UserCreateResponse)
    assert (added.object, added.group_id, added.user_id) == ("group.user", group.id, named)
    # Adding again is an idempotent 200.
    again = groups.users.create(group.id, user_id=named)
    assert again.to_dict() == added.to_dict()
    groups.users.create(group.id, user_id=unnamed)

    listed = {u.id: u for u in groups.users.list(group.id)}
    assert set(listed) == {named, unnamed}
    assert all(isinstance(u, OrganizationGroupUser) for u in listed.values())
    assert listed[named].name == "Ann Example"
    assert listed[named].email.startswith("user-")
    assert listed[unnamed].name == listed[unnamed].email, "without a display name: the email"

    one = groups.users.retrieve(named, group_id=group.id)
    assert isinstance(one, UserRetrieveResponse)
    assert (one.id, one.name, one.email) == (named, "Ann Example", listed[named].email)
    assert one.user_type == "user"
    assert one.is_service_account is False
    assert one.picture is None

    # Only members of the organization, only existing groups.
    for call in (
        lambda: groups.users.create(group.id, user_id=MISSING_USER),
        lambda: groups.users.create(MISSING_GROUP, user_id=named),
        lambda: groups.users.retrieve(MISSING_USER, group_id=group.id),
        lambda: groups.users.retrieve(named, group_id=MISSING_GROUP),
        lambda: groups.users.list(MISSING_GROUP),
        lambda: groups.users.delete(named, group_id=MISSING_GROUP),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    _c2, _k2, other_owner = fresh_org(server)
    with pytest.raises(openai.NotFoundError):
        groups.users.create(group.id, user_id=other_owner)

    removed = groups.users.delete(unnamed, group_id=group.id)
    assert isinstance(removed, UserDeleteResponse)
    assert (removed.object, removed.deleted) == ("group.user.deleted", True)
    assert [u.id for u in groups.users.list(group.id)] == [named]
    with pytest.raises(openai.NotFoundError):
        groups.users.retrieve(unnamed, group_id=group.id)
    with pytest.raises(openai.NotFoundError):
        groups.users.delete(unnamed, group_id=group.id)


def test_group_users_pagination(server):
    client, calls = counting_admin(server)
    groups = client.admin.organization.groups
    group = groups.create(name=f"Big {uid()}")
    members = sorted(provision(server) for _ in range(7))
    for m in members:
        groups.users.create(group.id, user_id=m)

    default = groups.users.list(group.id)
    assert [u.id for u in default.data] == members
    assert default.has_more is False and default.next is None
    calls.clear()
    assert [u.id for u in groups.users.list(group.id, limit=3)] == members
    assert len(calls) == 3, calls
    assert [i for p in manual_pages(groups.users.list, group_id=group.id, limit=2) for i in p] == members
    assert [u.id for u in groups.users.list(group.id, limit=2, order="desc")] == list(reversed(members))
    assert groups.users.list(group.id, limit=0).data == []
    assert [u.id for u in groups.users.list(group.id, limit=1000).data] == members
    for bad in (1001, -1):
        with pytest.raises(openai.BadRequestError) as ei:
            groups.users.list(group.id, limit=bad)
        assert ei.value.param == "limit"


# ---------------------------------------------------------------------------
# 3. group roles
# ---------------------------------------------------------------------------


def test_group_roles(server):
    client = admin(server)
    groups = client.admin.organization.groups
    group = groups.create(name=f"Auditors {uid()}")
    role = client.admin.organization.roles.create(role_name=f"auditor-{uid()}", permissions=["api.audit_logs.read"])

    granted = groups.roles.create(group.id, role_id=role.id)
    assert isinstance(granted, RoleCreateResponse)
    assert granted.object == "group.role"
    assert (granted.group.id, granted.group.name, granted.group.object) == (group.id, group.name, "group")
    assert granted.group.created_at == group.created_at
    assert granted.group.scim_managed is False
    assert granted.role.id == role.id
    assert granted.role.object == "role"
    assert granted.role.permissions == ["api.audit_logs.read"]
    # Granting again is a 200.
    assert groups.roles.create(group.id, role_id=role.id).role.id == role.id
    groups.roles.create(group.id, role_id=ADMIN)

    rows = {r.id: r for r in groups.roles.list(group.id)}
    assert set(rows) == {role.id, ADMIN}
    assert all(isinstance(r, RoleListResponse) for r in rows.values())
    assert sources(rows[role.id]) == [("group", group.id)]
    assert rows[role.id].predefined_role is False
    assert rows[ADMIN].predefined_role is True
    assert rows[role.id].created_by is not None
    one = groups.roles.retrieve(role.id, group_id=group.id)
    assert isinstance(one, RoleRetrieveResponse)
    assert one.to_dict() == rows[role.id].to_dict()

    by_page = [r.id for r in groups.roles.list(group.id, limit=1)]
    assert by_page == sorted([role.id, ADMIN])
    assert [i for p in manual_pages(groups.roles.list, group_id=group.id, limit=1) for i in p] == by_page
    assert [r.id for r in groups.roles.list(group.id, limit=1, order="desc")] == list(reversed(by_page))
    with pytest.raises(openai.BadRequestError):
        groups.roles.list(group.id, limit=1001)

    for call in (
        lambda: groups.roles.create(group.id, role_id=MISSING_ROLE),
        lambda: groups.roles.create(MISSING_GROUP, role_id=MEMBER),
        lambda: groups.roles.retrieve(MEMBER, group_id=group.id),
        lambda: groups.roles.retrieve(role.id, group_id=MISSING_GROUP),
        lambda: groups.roles.list(MISSING_GROUP),
        lambda: groups.roles.delete(MEMBER, group_id=group.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()

    removed = groups.roles.delete(role.id, group_id=group.id)
    assert isinstance(removed, RoleDeleteResponse)
    assert (removed.object, removed.deleted) == ("group.role.deleted", True)
    assert [r.id for r in groups.roles.list(group.id)] == [ADMIN]
    with pytest.raises(openai.NotFoundError):
        groups.roles.retrieve(role.id, group_id=group.id)
    with pytest.raises(openai.NotFoundError):
        groups.roles.delete(role.id, group_id=group.id)


def test_group_roles_reach_members(server):
    client = admin(server)
    org = client.admin.organization
    user = provision(server)
    group = org.groups.create(name=f"Ops {uid()}")
    role = org.roles.create(role_name=f"operator-{uid()}", permissions=["api.users.read"])
    org.groups.users.create(group.id, user_id=user)
    org.groups.roles.create(group.id, role_id=role.id)
    org.users.roles.create(user, role_id=role.id)

    rows = {r.id: r for r in org.users.roles.list(user)}
    assert sources(rows[role.id]) == sorted([("user", user), ("group", group.id)])
    org.groups.roles.create(group.id, role_id=ADMIN)
    assert sources(org.users.roles.retrieve(ADMIN, user_id=user)) == [("group", group.id)]

    org.groups.users.delete(user, group_id=group.id)
    rows = {r.id: r for r in org.users.roles.list(user)}
    assert sources(rows[role.id]) == [("user", user)]
    assert ADMIN not in rows

    org.groups.users.create(group.id, user_id=user)
    assert ADMIN in {r.id for r in org.users.roles.list(user)}
    org.groups.delete(group.id)
    rows = {r.id: r for r in org.users.roles.list(user)}
    assert ADMIN not in rows
    assert sources(rows[role.id]) == [("user", user)]


def test_group_grants_never_escalate(server):
    # In a fresh organization, its owner x makes y an owner, then steps down to admin.
    client, key, x = fresh_org(server)
    org = client.admin.organization
    y = provision(server, key, role="owner")
    owners = org.groups.create(name="owners")
    org.groups.roles.create(owners.id, role_id=OWNER)
    plain = org.groups.create(name="plain")
    org.users.update(x, role="admin")

    for call in (
        lambda: org.groups.users.create(owners.id, user_id=y),
        lambda: org.groups.users.create(owners.id, user_id=x),
        lambda: org.groups.roles.create(plain.id, role_id=OWNER),
    ):
        with pytest.raises(openai.PermissionDeniedError) as ei:
            call()
        assert ei.value.code == "privilege_escalation"
    assert list(org.groups.users.list(owners.id)) == []
    assert [r.id for r in org.groups.roles.list(plain.id)] == []
    # What the admin holds, they may hand out.
    org.groups.roles.create(plain.id, role_id=MEMBER)
    org.groups.users.create(plain.id, user_id=y)


# ---------------------------------------------------------------------------
# 4. another organization
# ---------------------------------------------------------------------------


def test_second_org_is_isolated(server):
    c1 = admin(server)
    org1 = c1.admin.organization
    group = org1.groups.create(name=f"Secret {uid()}")
    user = provision(server)
    role = org1.roles.create(role_name=f"secret-{uid()}", permissions=["api.users.read"])
    org1.groups.users.create(group.id, user_id=user)
    org1.groups.roles.create(group.id, role_id=role.id)

    c2, _key2, owner2 = fresh_org(server)
    org2 = c2.admin.organization
    assert group.id not in [g.id for g in org2.groups.list()]
    own = org2.groups.create(name=group.name)  # names are per organization
    for call in (
        lambda: org2.groups.retrieve(group.id),
        lambda: org2.groups.update(group.id, name="pwned"),
        lambda: org2.groups.delete(group.id),
        lambda: org2.groups.users.create(group.id, user_id=owner2),
        lambda: org2.groups.users.retrieve(user, group_id=group.id),
        lambda: org2.groups.users.list(group.id),
        lambda: org2.groups.users.delete(user, group_id=group.id),
        lambda: org2.groups.roles.create(group.id, role_id=MEMBER),
        lambda: org2.groups.roles.retrieve(role.id, group_id=group.id),
        lambda: org2.groups.roles.list(group.id),
        lambda: org2.groups.roles.delete(role.id, group_id=group.id),
        lambda: org2.groups.users.create(own.id, user_id=user),
        lambda: org2.groups.roles.create(own.id, role_id=role.id),
    ):
        with pytest.raises(openai.NotFoundError) as ei:
            call()
        assert group.name not in str(ei.value.body)

    # Organization 1 sees its group as it was.
    assert org1.groups.retrieve(group.id).name == group.name
    assert [u.id for u in org1.groups.users.list(group.id)] == [user]
    assert [r.id for r in org1.groups.roles.list(group.id)] == [role.id]
    assert list(org2.groups.users.list(own.id)) == []
