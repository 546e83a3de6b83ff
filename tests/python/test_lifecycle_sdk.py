"""The whole member-and-role life cycle of issue 3, driven by the official `openai` SDK
(3.51.0) against the real binary on SQLite and PostgreSQL.

One test walks it end to end with `client.admin.organization…` only, plus the one call the
SDK cannot make (`POST /v1/invites/accept`, orgiam's extension, which takes no API key):
project → invite with a project role → accept → the new member is listed → group (created,
renamed) → member added → the group gets an organization role → a custom project role →
granted to the member → the member's roles name their sources → the audit log, filtered by
event type, has one event per step, newest first.
"""

from __future__ import annotations

import uuid
from typing import Any

from conftest import http, sdk

# The audit event each step writes, in the order the walk takes them.
STEPS = [
    "project.created",
    "invite.sent",
    "invite.accepted",
    "group.created",
    "group.user.added",
    "role.assignment.created",  # the group's organization role
    "role.created",  # the custom project role
    "role.assignment.created",  # the project role, granted to the member
]


def uid() -> str:
    return uuid.uuid4().hex[:12]


def sources(row: Any) -> list[tuple[str, str]]:
    return sorted((s.principal_type, s.principal_id) for s in (row.assignment_sources or []))


def test_invite_accept_group_project_role_audit(server):
    client = sdk(server, server.admin_key)
    org = client.admin.organization
    newest_before = org.audit_logs.list(limit=1).data[0].id

    # a project, and an invitation into it as a member
    project = org.projects.create(name=f"Lifecycle {uid()}")
    assert project.object == "organization.project" and project.status == "active"
    email = f"ada-{uid()}@example.com"
    invite = org.invites.create(email=email, role="reader", projects=[{"id": project.id, "role": "member"}])
    assert invite.object == "organization.invite" and invite.status == "pending"
    assert [(p.id, p.role) for p in invite.projects] == [(project.id, "member")]
    # the SDK keeps orgiam's extension fields of the create response
    token = invite.model_extra["token"]
    assert token and invite.to_dict()["accept_url"] == f"/invites/accept?token={token}"
    assert "token" not in org.invites.retrieve(invite.id).to_dict()

    # the invitee accepts (no API key: the token is the credential)
    with http(server) as c:
        r = c.post("/v1/invites/accept", json={"token": token, "name": "Ada Lovelace"})
    assert r.status_code == 200, r.text
    user_id = r.json()["user"]["id"]
    assert org.invites.retrieve(invite.id).status == "accepted"

    # the new member is listed, with the invited role
    listed = list(org.users.list(emails=[email]))
    assert [(u.id, u.email, u.name, u.role) for u in listed] == [(user_id, email, "Ada Lovelace", "reader")]
    assert user_id in {u.id for u in org.users.list(limit=2)}
    assert {u.id for u in org.projects.users.list(project.id)} >= {user_id}
    assert org.projects.users.retrieve(user_id, project_id=project.id).role == "member"

    # a group with the member in it, holding an organization role
    group = org.groups.create(name=f"analysts {uid()}")
    # (a write the audit query below filters out: its event type is not asked for)
    group_name = f"Analysts {uid()}"
    assert org.groups.update(group.id, name=group_name).name == group_name
    added = org.groups.users.create(group.id, user_id=user_id)
    assert (added.object, added.group_id, added.user_id) == ("group.user", group.id, user_id)
    assert [u.id for u in org.groups.users.list(group.id)] == [user_id]
    admin_role = next(r for r in org.roles.list() if r.predefined_role and r.name == "admin")
    granted = org.groups.roles.create(group.id, role_id=admin_role.id)
    assert (granted.object, granted.group.id, granted.role.id) == ("group.role", group.id, admin_role.id)

    # a custom project role, granted to the member
    project_role = org.projects.roles.create(
        project.id, role_name=f"Reviewer {uid()}", permissions=["api.project.users.read"], description="reads members"
    )
    assert project_role.resource_type == "api.project" and project_role.predefined_role is False
    assigned = org.projects.users.roles.create(user_id, project_id=project.id, role_id=project_role.id)
    assert (assigned.object, assigned.user.id, assigned.role.id) == ("user.role", user_id, project_role.id)

    # the member's organization roles: the base role held directly, admin through the group
    org_roles = {r.name: r for r in org.users.roles.list(user_id)}
    assert set(org_roles) == {"reader", "admin"}
    assert sources(org_roles["admin"]) == [("group", group.id)]
    assert sources(org_roles["reader"]) == [("user", user_id)]
    assert sources(org.users.roles.retrieve(admin_role.id, user_id=user_id)) == [("group", group.id)]
    # and in the project: the invited project role and the custom one, both held directly
    in_project = {r.id: r for r in org.projects.users.roles.list(user_id, project_id=project.id)}
    assert project_role.id in in_project and len(in_project) == 2
    assert {r.name for r in in_project.values()} == {"member", project_role.name}
    assert all(sources(r) == [("user", user_id)] for r in in_project.values())

    # the audit log: one event per step, newest first, each naming its object
    events = [
        e.to_dict()
        for e in org.audit_logs.list(event_types=sorted(set(STEPS)), limit=3)
        if e.id > newest_before
    ]
    assert [e["type"] for e in events] == list(reversed(STEPS))
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    everything = [e.type for e in org.audit_logs.list(limit=100) if e.id > newest_before]
    assert everything == list(reversed(STEPS[:4] + ["group.updated"] + STEPS[4:]))
    (proj_role_grant, role_created, group_grant, group_user, group_created, accepted, sent, proj_created) = events
    assert proj_created["project.created"]["id"] == project.id
    assert proj_created["project"]["id"] == project.id
    assert sent["invite.sent"]["id"] == invite.id
    assert sent["invite.sent"]["data"] == {"email": email, "role": "reader"}
    assert accepted["invite.accepted"]["id"] == invite.id
    assert group_created["group.created"]["id"] == group.id
    assert group_user["group.user.added"]["id"] == group.id
    assert group_user["group.user.added"]["data"]["user_id"] == user_id
    grant = group_grant["role.assignment.created"]
    assert (grant["principal_type"], grant["principal_id"], grant["resource_type"]) == (
        "group",
        group.id,
        "api.organization",
    )
    assert role_created["role.created"]["id"] == project_role.id
    assert role_created["role.created"]["resource_type"] == "api.project"
    assert role_created["project"]["id"] == project.id
    grant = proj_role_grant["role.assignment.created"]
    assert (grant["principal_type"], grant["principal_id"], grant["resource_id"], grant["resource_type"]) == (
        "user",
        user_id,
        project.id,
        "api.project",
    )
    # the owner's key acted everywhere but in the acceptance, which the invitee did
    for e in events:
        if e is not accepted:
            assert e["actor"]["api_key"]["user"]["email"] == "owner@example.com", e
    # the invitation's two events can be found by its id
    mine = [e.type for e in org.audit_logs.list(resource_ids=[invite.id])]
    assert mine == ["invite.accepted", "invite.sent"]
