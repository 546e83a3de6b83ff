"""Runs Aitronos' official Python SDK (`aitronos-sdk` 5.0.0) for tests/python/test_aitronos_sdk.py.

It runs under target/pyvenv-aitronos (the SDK needs the legacy `httpx` package, which the main
venv does not carry), reads a JSON list of calls on stdin and prints a JSON list of outcomes:

    in:  [{"base_url": ..., "org_id": ..., "api_key": ..., "token": ... | null,
           "include_global": true | false | null}]
    out: [{"ok": true, "roles": [<RoleResponse as a dict>, ...]}
          | {"ok": false, "error": "<exception type>", "status": ..., "body": ...}]

Each call builds `Aitronos(api_key=..., token=..., base_url=...)` and calls
`organizations.list_roles(org_id, include_global=...)`.
"""

from __future__ import annotations

import json
import sys


def run(call: dict) -> dict:
    from aitronos import Aitronos

    client = Aitronos(api_key=call["api_key"], token=call.get("token"), base_url=call["base_url"], timeout=30)
    try:
        roles = client.organizations.list_roles(call["org_id"], include_global=call.get("include_global"))
    except Exception as e:  # noqa: BLE001 - the test asserts on the SDK's own exceptions
        return {
            "ok": False,
            "error": type(e).__name__,
            "status": getattr(e, "status_code", None),
            "body": getattr(e, "body", None),
        }
    return {"ok": True, "roles": [r.model_dump(mode="json") for r in roles]}


def main() -> None:
    calls = json.load(sys.stdin)
    json.dump([run(c) for c in calls], sys.stdout)


if __name__ == "__main__":
    main()
