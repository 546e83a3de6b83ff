"""Schemathesis against /openapi.json, every route, with a valid admin key, per backend.

The server is seeded first (a member, a custom role, a group with the member, a project with
the member, the group and a project role, an invite, an organization permission, a user key
and a second admin key) and their ids are handed to schemathesis as parameter values, so that
generated requests reach the handlers' logic instead of stopping at 404. Every operation is
then exercised by the examples, coverage and fuzzing phases, and each response is checked:

- not_a_server_error: no 5xx, ever;
- status_code_conformance, content_type_conformance, response_schema_conformance,
  response_headers_conformance: each answer is one the document lists, in the shape it gives;
- negative_data_rejection: a request that breaks the document (a wrong type, a missing field)
  is refused;
- missing_required_header, unsupported_method (405 with `Allow`), ignored_auth (a route
  that needs a key refuses a request without one, or with a wrong one).

One check is off, positive_data_acceptance ("a request valid by the document is accepted"):
the document gives each body's and parameter's shape (types, required fields, limit bounds)
but not every rule the server enforces and answers with a 400 naming the field: a trimmed,
non-empty name; an email's syntax; an `expires_at` in the future; a permission that exists in
the catalog; a role name the resource type knows. Those are checked by the hostile-input and
SDK tests instead. The stateful phase is off as well: the document has no OpenAPI links, so
it would only repeat the fuzzing phase's requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Server, http

# Examples per operation and phase; the run stays within about a minute per backend on two
# cores. ORGIAM_SCHEMATHESIS_EXAMPLES raises it for a longer local run.
MAX_EXAMPLES = {"sqlite": 12, "postgres": 6}
TIMEOUT_S = 600

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    ]
)


def _post(client, path: str, body: dict) -> dict:
    r = client.post(path, json=body)
    assert r.status_code == 200, f"seeding: POST {path} -> {r.status_code}: {r.text}"
    return r.json()


def seed(server: Server) -> dict[str, str]:
    """Creates one object of each kind; returns the ids schemathesis should use."""
    with http(server, server.admin_key) as c:
        user = _post(c, "/v1/organization/users", {"email": "fuzz@example.com", "name": "Fuzz", "role": "member"})
        role = _post(c, "/v1/organization/roles", {"role_name": "Fuzz role", "permissions": ["api.users.read"]})
        group = _post(c, "/v1/organization/groups", {"name": "Fuzz group"})
        _post(c, f"/v1/organization/groups/{group['id']}/users", {"user_id": user["id"]})
        project = _post(c, "/v1/organization/projects", {"name": "Fuzz project"})
        _post(c, f"/v1/organization/projects/{project['id']}/users", {"user_id": user["id"], "role": "member"})
        project_role = _post(
            c,
            f"/v1/projects/{project['id']}/roles",
            {"role_name": "Fuzz project role", "permissions": ["api.project.users.read"]},
        )
        _post(c, f"/v1/organization/projects/{project['id']}/groups", {"group_id": group["id"], "role": project_role["id"]})
        invite = _post(c, "/v1/organization/invites", {"email": "invitee@example.com", "role": "reader"})
        perm = _post(
            c,
            "/v1/organization/permissions",
            {"name": "documents.read", "description": "read documents", "resource_type": "api.organization"},
        )
        user_key = _post(c, f"/v1/organization/users/{user['id']}/api_keys", {"name": "fuzz key"})
        # Schemathesis may delete this one; the bootstrap key it authenticates with is never
        # offered to it as a parameter.
        admin_key = _post(c, "/v1/organization/admin_api_keys", {"name": "fuzz admin key"})
    return {
        "org_id": server.org_id,
        "user_id": user["id"],
        "role_id": role["id"],
        "group_id": group["id"],
        "project_id": project["id"],
        "project_role_id": project_role["id"],
        "invite_id": invite["id"],
        "permission": perm["name"],
        "user_key_id": user_key["id"],
        "admin_key_id": admin_key["id"],
    }


def config_toml(ids: dict[str, str]) -> str:
    def table(d: dict[str, str]) -> str:
        return "{ " + ", ".join(f'"{k}" = "{v}"' for k, v in d.items()) + " }"

    common = {k: ids[k] for k in ("org_id", "user_id", "group_id", "project_id", "invite_id", "permission")}
    return "\n".join(
        [
            f"parameters = {table({**common, 'role_id': ids['role_id'], 'key_id': ids['user_key_id']})}",
            "",
            # Project roles and their assignments live under /v1/projects: a project role id there.
            "[[operations]]",
            'include-path-regex = "^/v1/projects/"',
            f"parameters = {table({**common, 'role_id': ids['project_role_id']})}",
            "",
            "[[operations]]",
            'include-path-regex = "^/v1/organization/admin_api_keys"',
            f"parameters = {table({**common, 'key_id': ids['admin_key_id']})}",
            "",
        ]
    )


def schemathesis_bin() -> str:
    # The console script of the venv that runs pytest (target/pyvenv/bin/schemathesis).
    return str(Path(sys.executable).with_name("schemathesis"))


def test_schemathesis_every_route_conforms(server: Server, tmp_path: Path) -> None:
    ids = seed(server)
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_toml(ids))
    examples = int(os.environ.get("ORGIAM_SCHEMATHESIS_EXAMPLES", MAX_EXAMPLES[server.backend]))
    cmd = [
        schemathesis_bin(),
        "--config-file",
        str(config),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.admin_key}",
        # the key in both of the document's schemes: Aitronos reads X-API-Key and, without
        # one, Bearer; an auth probe that drops one scheme must not leave a generated value
        "--header",
        f"X-API-Key: {server.admin_key}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(examples),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--seed",
        "1",
        "--warnings",
        "off",
        "--no-color",
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    out = proc.stdout + proc.stderr
    log = tmp_path / "schemathesis.log"
    log.write_text(out)
    tail = out[-12000:]
    assert proc.returncode == 0, f"schemathesis found failures ({server.backend}; full log {log}):\n{tail}"
    # Every operation of the document was tested, not just loaded.
    with http(server) as c:
        doc = c.get("/openapi.json").json()
    operations = sum(1 for item in doc["paths"].values() for method in item if method in ("get", "post", "delete"))
    summary = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith(("Selected:", "Tested:"))
    }
    assert summary.get("Selected") == f"{operations}/{operations}", f"{summary}\n{tail}"
    assert summary.get("Tested") == str(operations), f"{summary}\n{tail}"
    # And the server is still healthy, with no panic in its log.
    with http(server) as c:
        assert c.get("/readyz").status_code == 200
    assert "panicked" not in server.stderr_path.read_text(errors="replace"), server.logs()
