"""End-to-end tests of the compatibility dialects against the real binary, on SQLite and
PostgreSQL, called the way their own clients call them:

* Fiddler: the real v1 Python client, `fiddler-client` 1.8.6
  (`from fiddler.fiddler_api import FiddlerApi`). It needs pydantic<2, which cannot share a
  venv with openai 3.51.0, so it runs in target/pyvenv-fiddler (built by scripts/test.sh from
  tests/python/requirements-fiddler.txt; override with ORGIAM_FIDDLER_PYTHON) through
  tests/python/fiddler_v1.py; this module asserts on what the client returned or raised.
* Timbal: `GET /orgs/{org_id}/iam/roles[/{role_id}]` with `Authorization: Bearer`.
* Aitronos: `GET /v1/organizations/{org_id}/roles?include_global=` with `X-API-Key` (or
  `Authorization: Bearer` when `X-API-Key` is absent).

Each error case of each dialect, and a second organization whose key gets 403 everywhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, Server, http, new_org

FIDDLER_CLIENT_VERSION = "1.8.6"
SYSTEM_ORG_ROLES = [
    ("role_00000000000000000000000001", "owner"),
    ("role_00000000000000000000000002", "admin"),
    ("role_00000000000000000000000003", "member"),
    ("role_00000000000000000000000004", "reader"),
]
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def uid() -> str:
    return uuid.uuid4().hex[:10]


def fiddler_python() -> Path:
    value = os.environ.get("ORGIAM_FIDDLER_PYTHON")
    path = Path(value) if value else REPO_ROOT / "target" / "pyvenv-fiddler" / "bin" / "python"
    if not path.is_file():
        pytest.fail(
            f"the Fiddler v1 client's venv is missing ({path}): run scripts/test.sh, or\n"
            f"  python3 -m venv target/pyvenv-fiddler && "
            f"target/pyvenv-fiddler/bin/pip install -r tests/python/requirements-fiddler.txt",
            pytrace=False,
        )
    return path


def fiddler(server: Server, calls: list[dict[str, str]], tmp_path: Path) -> list[dict[str, Any]]:
    """Runs the real client for each call (see fiddler_v1.py); returns the outcomes."""
    payload = [{"url": server.base_url + "/compat/fiddler", **c} for c in calls]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIDDLER_", "REQUESTS_CA"))}
    proc = subprocess.run(
        [str(fiddler_python()), str(Path(__file__).with_name("fiddler_v1.py"))],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # the client reads ./fiddler.ini if there is one
        env=env,
    )
    assert proc.returncode == 0, f"fiddler_v1.py failed:\n{proc.stderr}"
    outcomes = json.loads(proc.stdout)
    assert len(outcomes) == len(calls)
    for o in outcomes:
        if o["ok"]:
            assert o["client_version"] == FIDDLER_CLIENT_VERSION
    return outcomes


def provision(server: Server, role: str, name: str, key: str | None = None) -> dict[str, Any]:
    email = f"{role}-{uid()}@example.com"
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/users", json={"email": email, "name": name, "role": role})
    assert r.status_code == 200, r.text
    return r.json()


def user_key(server: Server, user_id: str, key: str | None = None) -> str:
    with http(server, key or server.admin_key) as c:
        r = c.post(f"/v1/organization/users/{user_id}/api_keys", json={"name": "tool"})
    assert r.status_code == 200, r.text
    return r.json()["value"]


def invite(server: Server, role: str, key: str | None = None) -> dict[str, Any]:
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/invites", json={"email": f"inv-{role}-{uid()}@example.com", "role": role})
    assert r.status_code == 200, r.text
    return r.json()


def custom_role(server: Server, name: str, description: str | None = None, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"role_name": name, "permissions": ["api.groups.read", "api.users.read"]}
    if description is not None:
        body["description"] = description
    with http(server, key or server.admin_key) as c:
        r = c.post("/v1/organization/roles", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def timbal(server: Server, path: str, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with http(server) as c:
        return c.get(f"/compat/timbal{path}", headers=headers)


def aitronos(server: Server, path: str, key: str | None, **params: str) -> Any:
    headers = {"X-API-Key": key} if key else {}
    with http(server) as c:
        return c.get(f"/compat/aitronos{path}", headers=headers, params=params)


def assert_aitronos_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"success", "error"} and body["success"] is False, body
    e = body["error"]
    assert set(e) == {"code", "message", "system_message", "type", "status", "details", "trace_id", "timestamp"}, e
    assert e["code"] == code and e["status"] == status, e
    assert e["message"] and e["system_message"] and e["type"] and e["trace_id"], e
    assert isinstance(e["details"], dict)
    ts = datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - ts).total_seconds()) < 120
    return e


@pytest.fixture(scope="module")
def other(server: Server) -> dict[str, Any]:
    """A second organization with its owner's admin key."""
    org = new_org(server, f"Other {uid()}", f"other-owner-{uid()}@example.com", "Other Owner")
    return {"id": org["id"], "key": org["admin_api_key"]["value"]}


# ---------------------------------------------------------------------------
# Fiddler, with the real v1 client
# ---------------------------------------------------------------------------


def test_fiddler_client_lists_members_roles_and_invitations(server: Server, tmp_path: Path) -> None:
    admin = provision(server, "admin", "Grace Hopper")
    member = provision(server, "member", "Alan Turing")
    reader = provision(server, "reader", "Edsger")
    pending_admin = invite(server, "admin")
    pending_member = invite(server, "member")
    accepted = invite(server, "reader")
    deleted = invite(server, "member")
    with http(server, server.admin_key) as c:
        assert c.delete(f"/v1/organization/invites/{deleted['id']}").status_code == 200
        r = c.post("/v1/invites/accept", json={"token": accepted["token"], "name": "New Comer"})
        assert r.status_code == 200, r.text
        joined = r.json()["user"]
        everyone = c.get("/v1/organization/users", params={"limit": 100}).json()["data"]

    [out] = fiddler(
        server,
        [{"org_id": server.org_id, "auth_token": server.admin_key, "call": "list_org_roles"}],
        tmp_path,
    )
    assert out["ok"], out
    result = out["result"]
    assert set(result) == {"members", "invitations"}

    members = {m["id"]: m for m in result["members"]}
    assert set(members) == {u["id"] for u in everyone}, "every member, nothing else"
    assert [m["id"] for m in result["members"]] == sorted(members), "members by id"
    for m in result["members"]:
        assert set(m) == {"id", "user", "email", "isLoggedIn", "firstName", "lastName", "imageUrl", "settings", "role"}
        assert m["user"] == m["email"]
        assert m["isLoggedIn"] is True and m["imageUrl"] is None and m["settings"] == {}
    for user, first, last, role in [
        (admin, "Grace", "Hopper", "ADMINISTRATOR"),
        (member, "Alan", "Turing", "MEMBER"),
        (reader, "Edsger", "", "MEMBER"),
        (joined, "New", "Comer", "MEMBER"),
    ]:
        m = members[user["id"]]
        assert (m["email"], m["firstName"], m["lastName"], m["role"]) == (user["email"], first, last, role), m
    owners = [u for u in everyone if u["role"] == "owner"]
    assert owners and all(members[u["id"]]["role"] == "ADMINISTRATOR" for u in owners)

    invitations = {i["id"]: i for i in result["invitations"]}
    assert pending_admin["id"] in invitations and pending_member["id"] in invitations
    assert accepted["id"] not in invitations and deleted["id"] not in invitations
    for inv, role in [(pending_admin, "ADMINISTRATOR"), (pending_member, "MEMBER")]:
        i = invitations[inv["id"]]
        assert set(i) == {"id", "user", "role", "invited", "link"}
        assert (i["user"], i["role"], i["invited"]) == (inv["email"], role, True)
        # without --public-url, links are paths (never built from the request's Host)
        assert i["link"] == f"/v1/organization/invites/{inv['id']}"
        assert inv["token"] not in json.dumps(result), "the secret token never appears"
        # the link is the invitation's URL on the native API: it needs a key
        with http(server) as c:
            assert c.get(i["link"]).status_code == 401
        with http(server, server.admin_key) as c:
            assert c.get(i["link"]).json()["id"] == inv["id"]


def test_fiddler_client_administrators_only(server: Server, other: dict[str, Any], tmp_path: Path) -> None:
    keys = {role: user_key(server, provision(server, role, f"{role} user")["id"]) for role in ("owner", "admin", "member", "reader")}
    calls = []
    for role in keys:
        calls.append({"org_id": server.org_id, "auth_token": keys[role], "call": "construct"})
        calls.append({"org_id": server.org_id, "auth_token": keys[role], "call": "list_org_roles"})
    outcomes = fiddler(server, calls, tmp_path)
    for i, role in enumerate(keys):
        construct, listing = outcomes[2 * i], outcomes[2 * i + 1]
        # get_supported_features (called by the constructor) answers any key of the org
        assert construct["ok"], (role, construct)
        if role in ("owner", "admin"):
            assert listing["ok"], (role, listing)
            assert any(m["role"] == "ADMINISTRATOR" for m in listing["result"]["members"])
        else:
            # a 403 FAILURE envelope: the client raises JSONException with the status and message
            assert not listing["ok"], (role, listing)
            assert listing["error"] == "JSONException" and listing["status"] == "FAILURE", listing
            assert "status 403" in listing["message"] and "api.users.write" in listing["message"], listing


def test_fiddler_client_refuses_bad_keys_and_other_orgs(server: Server, other: dict[str, Any], tmp_path: Path) -> None:
    outcomes = fiddler(
        server,
        [
            # another organization's key, on this organization: refused when constructed
            {"org_id": server.org_id, "auth_token": other["key"], "call": "construct"},
            # this organization's key, naming another organization (existing or not)
            {"org_id": other["id"], "auth_token": server.admin_key, "call": "construct"},
            {"org_id": "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "auth_token": server.admin_key, "call": "construct"},
            # an unknown key
            {"org_id": server.org_id, "auth_token": "sk-admin-" + "x" * 43, "call": "construct"},
            # the other organization's own key on its own id works
            {"org_id": other["id"], "auth_token": other["key"], "call": "list_org_roles"},
        ],
        tmp_path,
    )
    for o in outcomes[:3]:
        assert not o["ok"] and o["error"] == "JSONException" and o["status"] == "FAILURE", o
        assert "status 403" in o["message"], o
        # past the URL the client quotes, the server's message names no organization
        reply = o["message"].split("failed with", 1)[1]
        assert server.org_id not in reply and other["id"] not in reply, o
    assert not outcomes[3]["ok"] and outcomes[3]["error"] == "RuntimeError", outcomes[3]
    assert "401" in outcomes[3]["message"]
    own = outcomes[4]
    assert own["ok"], own
    assert [m["role"] for m in own["result"]["members"]] == ["ADMINISTRATOR"]
    assert server.org_id not in json.dumps(own["result"])


# ---------------------------------------------------------------------------
# Timbal
# ---------------------------------------------------------------------------


def test_timbal_lists_roles_as_documented(server: Server) -> None:
    suffix = uid()
    created = [custom_role(server, f"{n} {suffix}", d) for n, d in [("zulu", "z"), ("Alpha", None), ("mike", "m")]]
    r = timbal(server, f"/orgs/{server.org_id}/iam/roles", server.admin_key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"roles"}
    roles = body["roles"]
    assert [(x["id"], x["name"]) for x in roles[:4]] == SYSTEM_ORG_ROLES
    assert all(x["source"] == "system" for x in roles[:4])
    custom = roles[4:]
    assert all(x["source"] == "custom" for x in custom)
    names = [x["name"] for x in custom]
    assert names == sorted(names, key=str.lower), "custom roles alphabetically"
    for x in roles:
        assert set(x) == {"id", "name", "description", "source", "created_at", "updated_at"}
        assert RFC3339_UTC.match(x["created_at"]) and RFC3339_UTC.match(x["updated_at"]), x
    by_id = {x["id"]: x for x in custom}
    for c in created:
        x = by_id[c["id"]]
        assert x["description"] == c["description"]
        ts = datetime.strptime(x["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert int(ts.timestamp()) == c["created_at"]
    assert by_id[created[1]["id"]]["description"] is None


def test_timbal_single_role_and_errors(server: Server, other: dict[str, Any]) -> None:
    role = custom_role(server, f"Editor {uid()}", "edits")
    r = timbal(server, f"/orgs/{server.org_id}/iam/roles/{role['id']}", server.admin_key)
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["permissions"] == ["api.groups.read", "api.users.read"]
    assert (one["id"], one["name"], one["source"]) == (role["id"], role["name"], "custom")
    admin_role = timbal(server, f"/orgs/{server.org_id}/iam/roles/{SYSTEM_ORG_ROLES[1][0]}", server.admin_key).json()
    with http(server, server.admin_key) as c:
        native = c.get(f"/v1/organization/roles/{SYSTEM_ORG_ROLES[1][0]}").json()
    assert admin_role["permissions"] == native["permissions"] and admin_role["source"] == "system"

    # 404: a role id that is not this organization's
    foreign = custom_role(server, f"Foreign {uid()}", key=other["key"])
    r = timbal(server, f"/orgs/{server.org_id}/iam/roles/{foreign['id']}", server.admin_key)
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    # 401: no key, an X-API-Key only (Timbal reads Bearer), an unknown key
    for key in (None, "sk-admin-" + "y" * 43):
        r = timbal(server, f"/orgs/{server.org_id}/iam/roles", key)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized" and r.json()["message"], r.text
    with http(server) as c:
        r = c.get(f"/compat/timbal/orgs/{server.org_id}/iam/roles", headers={"X-API-Key": server.admin_key})
    assert r.status_code == 401, r.text
    # 403: without api.roles.read
    member_key = user_key(server, provision(server, "member", "M")["id"])
    r = timbal(server, f"/orgs/{server.org_id}/iam/roles", member_key)
    assert r.status_code == 403 and "api.roles.read" in r.json()["message"], r.text


# ---------------------------------------------------------------------------
# Aitronos
# ---------------------------------------------------------------------------


def test_aitronos_lists_roles_as_documented(server: Server) -> None:
    role = custom_role(server, f"Support {uid()}", "helps")
    path = f"/v1/organizations/{server.org_id}/roles"
    r = aitronos(server, path, server.admin_key)
    assert r.status_code == 200, r.text
    everything = r.json()
    assert isinstance(everything, list)
    for x in everything:
        assert set(x) == {"id", "name", "description", "permissions", "is_base_role", "is_custom", "organization_id"}
        assert isinstance(x["permissions"], dict)
        assert x["is_base_role"] != x["is_custom"]
        assert x["organization_id"] == (None if x["is_base_role"] else server.org_id)
    assert [(x["id"], x["name"]) for x in everything if x["is_base_role"]] == SYSTEM_ORG_ROLES
    mine = next(x for x in everything if x["id"] == role["id"])
    assert mine["permissions"] == {"api.groups.read": True, "api.users.read": True}
    assert mine["description"] == "helps"

    assert aitronos(server, path, server.admin_key, include_global="true").json() == everything
    custom_only = aitronos(server, path, server.admin_key, include_global="false").json()
    assert custom_only == [x for x in everything if x["is_custom"]]
    assert role["id"] in {x["id"] for x in custom_only}

    e = assert_aitronos_error(aitronos(server, path, server.admin_key, include_global="sometimes"), 400, "VALIDATION_ERROR")
    assert e["details"]["field"] == "include_global" and e["type"] == "validation_error"


def test_aitronos_errors(server: Server, other: dict[str, Any]) -> None:
    path = f"/v1/organizations/{server.org_id}/roles"
    assert_aitronos_error(aitronos(server, path, None), 401, "AUTHENTICATION_REQUIRED")
    assert_aitronos_error(aitronos(server, path, "sk-admin-" + "z" * 43), 401, "AUTHENTICATION_REQUIRED")
    # Bearer is read when X-API-Key is absent (or empty), as Aitronos' backend does
    with http(server, server.admin_key) as c:
        r = c.get(f"/compat/aitronos{path}")
        assert r.status_code == 200, r.text
        assert r.json() == aitronos(server, path, server.admin_key).json()
        r = c.get(f"/compat/aitronos{path}", headers={"X-API-Key": ""})
        assert r.status_code == 200, r.text
        # X-API-Key, when present, is the key that is checked
        bad = "sk-admin-" + "z" * 43
        assert_aitronos_error(c.get(f"/compat/aitronos{path}", headers={"X-API-Key": bad}), 401, "AUTHENTICATION_REQUIRED")
    with http(server, "sk-admin-" + "z" * 43) as c:
        assert_aitronos_error(c.get(f"/compat/aitronos{path}"), 401, "AUTHENTICATION_REQUIRED")
    member_key = user_key(server, provision(server, "member", "M")["id"])
    e = assert_aitronos_error(aitronos(server, path, member_key), 403, "INSUFFICIENT_PERMISSIONS")
    assert e["details"]["required_permission"] == "api.roles.read"
    e = assert_aitronos_error(
        aitronos(server, f"/v1/organizations/{other['id']}/roles", server.admin_key), 403, "ORGANIZATION_ACCESS_DENIED"
    )
    assert e["details"]["organization_id"] == other["id"]


# ---------------------------------------------------------------------------
# A second organization, everywhere
# ---------------------------------------------------------------------------


def test_second_org_gets_403_on_every_dialect_route(server: Server, other: dict[str, Any], tmp_path: Path) -> None:
    secret_name = f"Secret {uid()}"
    role = custom_role(server, secret_name, "secret description")
    inv = invite(server, "member")
    org = server.org_id
    leaks = [org, role["id"], secret_name, "secret description", inv["id"], inv["email"]]
    with http(server) as c:
        answers = [
            c.get(f"/compat/timbal/orgs/{org}/iam/roles", headers={"Authorization": f"Bearer {other['key']}"}),
            c.get(f"/compat/timbal/orgs/{org}/iam/roles/{role['id']}", headers={"Authorization": f"Bearer {other['key']}"}),
            c.get(f"/compat/aitronos/v1/organizations/{org}/roles", headers={"X-API-Key": other["key"]}),
            c.get(f"/compat/aitronos/v1/organizations/{org}/roles?include_global=false", headers={"X-API-Key": other["key"]}),
            c.get(f"/compat/fiddler/get_supported_features/{org}", headers={"Authorization": f"Bearer {other['key']}"}),
            c.get(f"/compat/fiddler/roles/{org}", headers={"Authorization": f"Bearer {other['key']}"}),
        ]
    for r in answers:
        assert r.status_code == 403, (r.request.url, r.text)
    assert answers[0].json()["code"] == "forbidden"
    assert answers[2].json()["error"]["code"] == "ORGANIZATION_ACCESS_DENIED"
    assert answers[2].json()["error"]["details"] == {"organization_id": org}
    assert answers[5].json()["status"] == "FAILURE"
    for r in answers:
        # Aitronos echoes the path's organization id in `details` (the caller's own input);
        # nothing else of the first organization may appear
        body = r.text if "ORGANIZATION_ACCESS_DENIED" not in r.text else r.text.replace(org, "", 1)
        for leak in leaks:
            assert leak not in body, (r.request.url, leak, r.text)

    [out] = fiddler(server, [{"org_id": org, "auth_token": other["key"], "call": "list_org_roles"}], tmp_path)
    assert not out["ok"] and out["status"] == "FAILURE" and "status 403" in out["message"], out
    for leak in leaks[1:]:
        assert leak not in out["message"]
