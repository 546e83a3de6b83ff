"""Every RBAC operation of OpenAI's own OpenAPI document, called with valid data, answers a
body that validates against that document's schema for its status (JSON Schema draft 2020-12,
`$ref`s resolved inside the document).

The document is tests/contracts/openai-admin-openapi.json (see tests/contracts/README.md for
where it comes from). Its "RBAC operations" are every operation of its `/organization/…` and
`/projects/…` paths but the non-RBAC families listed in NOT_RBAC (usage, costs, certificates,
spend alerts and limits, rate limits, data retention, service accounts, project API keys,
model and hosted-tool permissions). The test fails if one of them is not called, or if orgiam's
own /openapi.json does not serve it.

Extra fields are fine (the spec's objects do not forbid them). So are the `role` values orgiam
documents as a superset of the SDK's (`admin`, `member` besides `owner`, `reader`; `viewer`
besides `owner`, `member` in projects): a validation error is ignored only when it is an
`enum` failure of a property named `role` whose value is one of orgiam's system role names.
Everything else that does not validate fails the test, with every error listed.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import Server, http

SPEC_PATH = Path(__file__).resolve().parents[1] / "contracts" / "openai-admin-openapi.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
SPEC_URI = "urn:openai-admin-openapi"
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))

NOT_RBAC = (
    "/organization/usage/",
    "/organization/costs",
    "/organization/certificates",
    "/certificates",
    "spend_alerts",
    "spend_limit",
    "/rate_limits",
    "/data_retention",
    "/service_accounts",
    "/organization/projects/{project_id}/api_keys",
    "/model_permissions",
    "/hosted_tool_permissions",
)
METHODS = ("get", "post", "delete")
ORGIAM_ROLE_NAMES = {"owner", "admin", "member", "reader", "viewer"}


def rbac_operations() -> set[tuple[str, str]]:
    ops = set()
    for path, item in SPEC["paths"].items():
        if any(x in path for x in NOT_RBAC):
            continue
        for method in METHODS:
            if method in item:
                ops.add((method.upper(), path))
    return ops


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    op = SPEC["paths"][path][method.lower()]
    response = op["responses"].get(str(status))
    assert response is not None, f"{method} {path}: the spec documents no {status} answer"
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response["content"]["application/json"]["schema"]
    return {"$ref": SPEC_URI + schema["$ref"]} if "$ref" in schema else schema


# orgiam's own audit event types, as its /openapi.json lists them (set by the test below):
# types OpenAI's spec has no name for. An event of one of these is an extension.
ORGIAM_OWN_EVENT_TYPES: set[str] = set()
SPEC_EVENT_TYPES = set(SPEC["components"]["schemas"]["AuditLogEventType"]["enum"])


def tolerated(error: jsonschema.ValidationError) -> bool:
    """orgiam's documented superset of role values and its own documented audit event types
    (which the spec has no name for); nothing else."""
    if error.validator != "enum" or len(error.absolute_path) == 0:
        return False
    last = error.absolute_path[-1]
    if last == "role":
        return error.instance in ORGIAM_ROLE_NAMES
    if last == "type" and len(error.absolute_path) == 3 and error.absolute_path[0] == "data":
        return error.instance in ORGIAM_OWN_EVENT_TYPES
    return False


def schema_errors(schema: dict[str, Any], body: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY)
    out = []
    for e in validator.iter_errors(body):
        # anyOf/oneOf: an error is tolerated only if some branch fails on tolerated errors alone
        if e.validator in ("anyOf", "oneOf") and e.context:
            by_branch: dict[int, list[jsonschema.ValidationError]] = {}
            for sub in e.context:
                by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
            if any(all(tolerated(s) for s in subs) for subs in by_branch.values()):
                continue
        if tolerated(e):
            continue
        out.append(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}")
    return out


class Caller:
    """Calls an operation by its spec path template and checks the answer against the spec."""

    def __init__(self, server: Server) -> None:
        self.client = http(server, server.admin_key)
        self.called: set[tuple[str, str]] = set()
        self.failures: list[str] = []

    def __call__(self, method: str, template: str, body: Any = None, query: str = "", **ids: str) -> Any:
        path = template.format(**ids)
        url = "/v1" + path + (("?" + query) if query else "")
        r = self.client.request(method, url, json=body)
        assert r.status_code == 200, f"{method} {url} -> {r.status_code}: {r.text}"
        self.called.add((method, template))
        data = r.json()
        errors = schema_errors(response_schema(method, template, 200), data)
        if errors:
            self.failures.append(f"{method} {template}:\n    " + "\n    ".join(errors))
        return data


def test_every_rbac_operation_answers_the_specs_schema(server: Server) -> None:
    ops = rbac_operations()
    assert len(ops) >= 60, f"the spec's RBAC operations were not found: {sorted(ops)}"
    with http(server) as c:
        served = c.get("/openapi.json").json()["paths"]
    not_served = sorted(f"{m} {p}" for m, p in ops if m.lower() not in served.get("/v1" + p, {}))
    assert not not_served, f"orgiam's /openapi.json does not serve: {not_served}"
    # every operation orgiam shares with the spec carries the spec's operationId
    for m, p in ops:
        assert served["/v1" + p][m.lower()]["operationId"] == SPEC["paths"][p][m.lower()]["operationId"], (m, p)
    with http(server) as c:
        audit_schema = c.get("/openapi.json").json()["components"]["schemas"]["AuditLogObject"]
    documented = next(
        part["properties"]["type"]["enum"] for part in [audit_schema, *audit_schema.get("allOf", [])] if "type" in part.get("properties", {})
    )
    ORGIAM_OWN_EVENT_TYPES.clear()
    ORGIAM_OWN_EVENT_TYPES.update(set(documented) - SPEC_EVENT_TYPES)
    # orgiam uses the spec's name wherever the spec has one: none of its own names is a
    # renamed spec event (api keys, groups, invites, projects, roles, users)
    assert not ORGIAM_OWN_EVENT_TYPES & {"admin_api_key.created", "admin_api_key.deleted", "user_api_key.created"}

    call = Caller(server)
    tag = secrets.token_hex(3)
    # a member to work with (orgiam's own provisioning route: the spec has no user create)
    r = call.client.post("/v1/organization/users", json={"email": f"conf-{tag}@example.com", "name": "Conf User", "role": "member"})
    assert r.status_code == 200, r.text
    user = r.json()["id"]

    # roles
    call("GET", "/organization/roles")
    call("GET", "/organization/roles", query="limit=0")
    role = call("POST", "/organization/roles", {"role_name": f"Conf {tag}", "permissions": ["api.users.read"], "description": "d"})["id"]
    call("GET", "/organization/roles/{role_id}", role_id=role)
    call("POST", "/organization/roles/{role_id}", {"description": "changed"}, role_id=role)
    call("POST", "/organization/roles/{role_id}", {"role_name": f"Conf {tag} 2", "permissions": ["api.users.read", "api.groups.read"]}, role_id=role)

    # users and their roles
    call("GET", "/organization/users")
    call("GET", "/organization/users/{user_id}", user_id=user)
    call("POST", "/organization/users/{user_id}", {"role": "reader"}, user_id=user)
    call("POST", "/organization/users/{user_id}/roles", {"role_id": role}, user_id=user)
    call("GET", "/organization/users/{user_id}/roles", user_id=user)
    call("GET", "/organization/users/{user_id}/roles/{role_id}", user_id=user, role_id=role)
    call("DELETE", "/organization/users/{user_id}/roles/{role_id}", user_id=user, role_id=role)

    # invites
    invite = call("POST", "/organization/invites", {"email": f"invitee-{tag}@example.com", "role": "reader"})["id"]
    call("GET", "/organization/invites")
    call("GET", "/organization/invites/{invite_id}", invite_id=invite)
    call("DELETE", "/organization/invites/{invite_id}", invite_id=invite)

    # groups, their users and roles
    group = call("POST", "/organization/groups", {"name": f"conf-{tag}"})["id"]
    call("GET", "/organization/groups")
    call("GET", "/organization/groups/{group_id}", group_id=group)
    call("POST", "/organization/groups/{group_id}", {"name": f"conf-{tag}-2"}, group_id=group)
    call("POST", "/organization/groups/{group_id}/users", {"user_id": user}, group_id=group)
    call("GET", "/organization/groups/{group_id}/users", group_id=group)
    call("GET", "/organization/groups/{group_id}/users/{user_id}", group_id=group, user_id=user)
    call("POST", "/organization/groups/{group_id}/roles", {"role_id": role}, group_id=group)
    call("GET", "/organization/groups/{group_id}/roles", group_id=group)
    call("GET", "/organization/groups/{group_id}/roles/{role_id}", group_id=group, role_id=role)
    call("DELETE", "/organization/groups/{group_id}/roles/{role_id}", group_id=group, role_id=role)

    # projects, their users, groups and roles
    project = call("POST", "/organization/projects", {"name": f"Conf {tag}"})["id"]
    call("GET", "/organization/projects")
    call("GET", "/organization/projects/{project_id}", project_id=project)
    call("POST", "/organization/projects/{project_id}", {"name": f"Conf {tag} 2"}, project_id=project)
    call("POST", "/organization/projects/{project_id}/users", {"user_id": user, "role": "member"}, project_id=project)
    call("GET", "/organization/projects/{project_id}/users", project_id=project)
    call("GET", "/organization/projects/{project_id}/users/{user_id}", project_id=project, user_id=user)
    call("POST", "/organization/projects/{project_id}/users/{user_id}", {"role": "owner"}, project_id=project, user_id=user)
    prole = call(
        "POST", "/projects/{project_id}/roles", {"role_name": f"PConf {tag}", "permissions": ["api.project.users.read"]}, project_id=project
    )["id"]
    call("GET", "/projects/{project_id}/roles", project_id=project)
    call("GET", "/projects/{project_id}/roles", query="limit=0", project_id=project)
    call("GET", "/projects/{project_id}/roles/{role_id}", project_id=project, role_id=prole)
    call("POST", "/projects/{project_id}/roles/{role_id}", {"description": "p"}, project_id=project, role_id=prole)
    call("POST", "/projects/{project_id}/users/{user_id}/roles", {"role_id": prole}, project_id=project, user_id=user)
    call("GET", "/projects/{project_id}/users/{user_id}/roles", project_id=project, user_id=user)
    call("GET", "/projects/{project_id}/users/{user_id}/roles/{role_id}", project_id=project, user_id=user, role_id=prole)
    call("DELETE", "/projects/{project_id}/users/{user_id}/roles/{role_id}", project_id=project, user_id=user, role_id=prole)
    call("POST", "/organization/projects/{project_id}/groups", {"group_id": group, "role": prole}, project_id=project)
    call("GET", "/organization/projects/{project_id}/groups", project_id=project)
    call("GET", "/organization/projects/{project_id}/groups/{group_id}", project_id=project, group_id=group)
    call("POST", "/projects/{project_id}/groups/{group_id}/roles", {"role_id": prole}, project_id=project, group_id=group)
    call("GET", "/projects/{project_id}/groups/{group_id}/roles", project_id=project, group_id=group)
    call("GET", "/projects/{project_id}/groups/{group_id}/roles/{role_id}", project_id=project, group_id=group, role_id=prole)
    call("DELETE", "/projects/{project_id}/groups/{group_id}/roles/{role_id}", project_id=project, group_id=group, role_id=prole)
    call("DELETE", "/organization/projects/{project_id}/groups/{group_id}", project_id=project, group_id=group)
    call("DELETE", "/organization/projects/{project_id}/users/{user_id}", project_id=project, user_id=user)
    call("DELETE", "/projects/{project_id}/roles/{role_id}", project_id=project, role_id=prole)
    call("POST", "/organization/projects/{project_id}/archive", project_id=project)

    # group membership and the group go last (the project grants above used them)
    call("DELETE", "/organization/groups/{group_id}/users/{user_id}", group_id=group, user_id=user)
    call("DELETE", "/organization/groups/{group_id}", group_id=group)

    # admin API keys
    key = call("POST", "/organization/admin_api_keys", {"name": f"conf-{tag}"})["id"]
    call("GET", "/organization/admin_api_keys")
    call("GET", "/organization/admin_api_keys/{key_id}", key_id=key)
    call("DELETE", "/organization/admin_api_keys/{key_id}", key_id=key)

    call("DELETE", "/organization/roles/{role_id}", role_id=role)
    call("DELETE", "/organization/users/{user_id}", user_id=user)

    # the audit log, last: every kind of event above is in it (a page per 100)
    page = call("GET", "/organization/audit_logs", query="limit=100")
    types = {e["type"] for e in page["data"]}
    while page["has_more"]:
        page = call("GET", "/organization/audit_logs", query=f"limit=100&after={page['last_id']}")
        types |= {e["type"] for e in page["data"]}
    assert {"role.created", "role.updated", "group.created", "project.archived", "invite.sent", "api_key.created"} <= types, types
    assert types <= set(documented), f"undocumented event types: {types - set(documented)}"

    call.client.close()
    missing = sorted(f"{m} {p}" for m, p in ops - call.called)
    assert not missing, f"RBAC operations of the spec the test did not call: {missing}"
    assert not call.failures, "answers that do not validate against the spec:\n" + "\n".join(call.failures)


def test_the_schema_check_can_fail() -> None:
    """The validator used above rejects what the spec forbids (so a green run means something)."""
    project = response_schema("GET", "/organization/projects/{project_id}", 200)
    good = {"id": "proj_1", "object": "organization.project", "name": "x", "created_at": 1}
    assert schema_errors(project, good) == []
    assert schema_errors(project, {**good, "residency": None}), "residency: null must not validate"
    assert schema_errors(project, {**good, "object": "project"})
    invite = response_schema("GET", "/organization/invites/{invite_id}", 200)
    inv = {"object": "organization.invite", "id": "invite_1", "email": "e@x", "role": "admin", "status": "pending", "invited_at": 1, "expires_at": 2, "created_at": 1, "projects": []}
    assert schema_errors(invite, inv) == []  # a documented superset value
    assert schema_errors(invite, {**inv, "role": "emperor"})
    audit = response_schema("GET", "/organization/audit_logs", 200)
    event = {"id": "audit_1", "type": "role.created", "effective_at": 1, "actor": {"type": "api_key"}}
    page = {"object": "list", "data": [event], "first_id": "audit_1", "last_id": "audit_1", "has_more": False}
    assert schema_errors(audit, page) == []
    assert schema_errors(audit, {**page, "data": [{**event, "actor": {"type": "system"}}]})
    ORGIAM_OWN_EVENT_TYPES.add("group.user.added")
    assert schema_errors(audit, {**page, "data": [{**event, "type": "group.user.added"}]}) == []
    assert schema_errors(audit, {**page, "data": [{**event, "type": "no.such.type"}]})


def test_orgiams_openapi_document_is_valid(server: Server) -> None:
    """orgiam's /openapi.json passes a real OpenAPI 3.1 validator, and its operationIds are
    unique (client generators name methods after them)."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    with http(server) as c:
        doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    try:
        validate(doc)
    except OpenAPIValidationError as e:
        pytest.fail(f"/openapi.json is not a valid OpenAPI document: {e}", pytrace=False)
    op_ids = [op.get("operationId") for item in doc["paths"].values() for m, op in item.items() if m in ("get", "post", "put", "patch", "delete")]
    assert all(op_ids), "an operation without an operationId"
    dupes = sorted({i for i in op_ids if op_ids.count(i) > 1})
    assert not dupes, f"operationIds repeat: {dupes}"
    # and the validator is real: a repeated operationId is refused
    broken = json.loads(json.dumps(doc))
    first, second = list(broken["paths"].values())[:2]
    next(iter(v for k, v in second.items() if k in ("get", "post", "delete")))["operationId"] = next(
        iter(v for k, v in first.items() if k in ("get", "post", "delete"))
    )["operationId"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
