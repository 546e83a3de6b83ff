"""Runs the real Fiddler v1 client (`fiddler-client` 1.8.x) for tests/python/test_dialects.py.

It runs under target/pyvenv-fiddler (the client needs pydantic<2, the main venv has pydantic 2),
reads a JSON list of calls on stdin and prints a JSON list of outcomes on stdout:

    in:  [{"url": ..., "org_id": ..., "auth_token": ..., "call": "construct" | "list_org_roles"}]
    out: [{"ok": true, "client_version": "1.8.6", "result": ...}
          | {"ok": false, "error": "<exception type>", "status": ..., "message": "..."}]

`construct` only builds `FiddlerApi(url=..., org_id=..., auth_token=...)`, which calls
`get_supported_features/{org_id}`; `list_org_roles` builds it and calls `list_org_roles()`.
"""

from __future__ import annotations

import json
import logging
import sys


def run(call: dict) -> dict:
    import fiddler
    from fiddler.fiddler_api import FiddlerApi

    try:
        client = FiddlerApi(url=call["url"], org_id=call["org_id"], auth_token=call["auth_token"])
        result = client.list_org_roles() if call["call"] == "list_org_roles" else None
    except Exception as e:  # noqa: BLE001 - the test asserts on the client's own exceptions
        return {
            "ok": False,
            "error": type(e).__name__,
            "status": getattr(e, "status", None),
            "message": str(e),
        }
    return {"ok": True, "client_version": fiddler.__version__, "result": result}


def main() -> None:
    # The client logs a traceback when its connection check fails; that is expected here.
    logging.disable(logging.CRITICAL)
    calls = json.load(sys.stdin)
    json.dump([run(c) for c in calls], sys.stdout)


if __name__ == "__main__":
    main()
