"""The npm `openai` package against the real binary: runs the node smoke test of tests/node
(`node --test`, pinned SDK in tests/node/package.json) once per backend, on a server of its own.

tests/node/node_modules must be installed (`npm ci` in tests/node; scripts/test.sh does it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT

NODE_DIR = REPO_ROOT / "tests" / "node"
TIMEOUT_S = 180


def test_npm_sdk_smoke(server):
    node = shutil.which("node")
    assert node, "`node` is not on PATH (scripts/test.sh installs it)"
    assert (NODE_DIR / "node_modules" / "openai" / "package.json").is_file(), (
        f"the npm SDK is not installed: run `npm ci` in {NODE_DIR}"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ORGIAM_")) and k not in ("NODE_OPTIONS", "NODE_PATH")
    }
    env.update(ORGIAM_BASE_URL=server.base_url, ORGIAM_ADMIN_KEY=server.admin_key, NO_COLOR="1")
    try:
        # From tests/node, `node --test` finds its *.test.mjs files (node_modules excluded)
        # the same way on every Node version (a directory argument is not a glob on Node 22).
        proc = subprocess.run(
            [node, "--test"],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"node --test did not finish in {TIMEOUT_S}s\n{e.stdout}\n{e.stderr}\n{server.logs()}", pytrace=False)
    output = f"--- node --test stdout ---\n{proc.stdout}\n--- node --test stderr ---\n{proc.stderr}"
    assert proc.returncode == 0, f"node --test exited with {proc.returncode} ({server.backend})\n{output}\n{server.logs()}"
    # it really ran the smoke test (a test and its 5 steps, at least), and nothing was left out
    counts = {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", proc.stdout, re.M)}
    assert counts.get("pass", 0) >= 6 and counts["pass"] == counts.get("tests"), output
    assert all(counts.get(k) == 0 for k in ("fail", "cancelled", "skipped", "todo")), output
