"""Aitronos' official Python SDK (`aitronos-sdk` 5.0.0, `organizations.list_roles`) against the
Aitronos dialect, unchanged: with the key as `api_key` (sent as `X-API-Key`) and as `token`
(sent only as `Authorization: Bearer`, `api_key` empty).

The SDK depends on the legacy `httpx` package, so it runs in its own venv,
target/pyvenv-aitronos (built by scripts/test.sh from tests/python/requirements-aitronos.txt;
override with ORGIAM_AITRONOS_PYTHON), through tests/python/aitronos_sdk.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, Server, http

SYSTEM_ORG_ROLE_NAMES = ["owner", "admin", "member", "reader"]


def aitronos_python() -> Path:
    value = os.environ.get("ORGIAM_AITRONOS_PYTHON")
    path = Path(value) if value else REPO_ROOT / "target" / "pyvenv-aitronos" / "bin" / "python"
    if not path.is_file():
        pytest.fail(
            f"Aitronos' SDK venv is missing ({path}): run scripts/test.sh, or\n"
            f"  python3 -m venv target/pyvenv-aitronos && "
            f"target/pyvenv-aitronos/bin/pip install -r tests/python/requirements-aitronos.txt",
            pytrace=False,
        )
    return path


def run_sdk(server: Server, calls: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    payload = [{"base_url": server.base_url + "/compat/aitronos", **c} for c in calls]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AITRONOS")}
    proc = subprocess.run(
        [str(aitronos_python()), str(Path(__file__).with_name("aitronos_sdk.py"))],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, f"aitronos_sdk.py failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


def test_list_roles_with_the_official_sdk(server: Server, tmp_path: Path) -> None:
    with http(server, server.admin_key) as c:
        r = c.post("/v1/organization/roles", json={"role_name": "Aitronos Support", "permissions": ["api.users.read"]})
        assert r.status_code == 200, r.text
        role = r.json()
    key = server.admin_key
    org = server.org_id
    out = run_sdk(
        server,
        [
            {"org_id": org, "api_key": key},
            {"org_id": org, "api_key": key, "include_global": False},
            {"org_id": org, "api_key": "", "token": key},
            {"org_id": org, "api_key": "", "token": "sk-admin-" + "z" * 43},
            {"org_id": "org_01M899Z0V2CFYK8Q48T4VT1PCN", "api_key": "", "token": key},
        ],
        tmp_path,
    )
    everything, custom_only, via_bearer, bad_bearer, other_org = out
    assert everything["ok"], everything
    names = [r["name"] for r in everything["roles"]]
    assert names[:4] == SYSTEM_ORG_ROLE_NAMES and "Aitronos Support" in names
    mine = next(r for r in everything["roles"] if r["id"] == role["id"])
    assert mine["is_custom"] and not mine["is_base_role"] and mine["organization_id"] == org
    assert mine["permissions"] == {"api.users.read": True}
    assert custom_only["ok"] and all(r["is_custom"] for r in custom_only["roles"])
    assert role["id"] in [r["id"] for r in custom_only["roles"]]
    # the token alone (Authorization: Bearer) is accepted and lists the same roles
    assert via_bearer == everything
    assert not bad_bearer["ok"] and bad_bearer["status"] == 401, bad_bearer
    assert bad_bearer["body"]["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert not other_org["ok"] and other_org["status"] == 403, other_org
    assert other_org["body"]["error"]["code"] == "ORGANIZATION_ACCESS_DENIED"
