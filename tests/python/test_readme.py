"""The README's code runs as written: every ```sh and ```python block, in order, against a
fresh server (on SQLite and on PostgreSQL).

Which blocks run: a fence whose info string is exactly `sh` or `python`. A block that starts a
server or a long job is marked `no-run` after its language (```sh no-run) and is skipped, as
are blocks without a language (sample output). The server's address replaces
`http://127.0.0.1:8080` in each block, and the bootstrap owner's admin key is in
`ORGIAM_KEY` (and its root key in `ORGIAM_ROOT_KEY`), as the README tells its reader to set them; `orgiam` on the PATH is the binary
under test, with a fresh config directory. `sh` blocks run under `bash -euo
pipefail`, `python` blocks with this venv's interpreter (which has the pinned `openai` SDK);
each must exit 0 without an error body in its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, Server, http

README = REPO_ROOT / "README.md"
FENCE = re.compile(r"^```(.*)$")


def blocks(text: str) -> list[tuple[str, str, int]]:
    """(info string, code, line) of every fenced block, in order."""
    out = []
    info, code, start = None, [], 0
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m and info is None:
            info, code, start = m.group(1).strip(), [], n
        elif line.startswith("```") and info is not None:
            out.append((info, "\n".join(code) + "\n", start))
            info = None
        elif info is not None:
            code.append(line)
    assert info is None, f"README.md: a fence opened on line {start} is never closed"
    return out


def runnable(text: str) -> list[tuple[str, str, int]]:
    return [(info, code, line) for info, code, line in blocks(text) if info in ("sh", "python")]


def test_the_readme_has_runnable_blocks_and_marks_the_others() -> None:
    text = README.read_text()
    run = runnable(text)
    assert [i for i, _, _ in run].count("sh") >= 1 and [i for i, _, _ in run].count("python") >= 1
    # every other block with a language says why it does not run
    for info, _, line in blocks(text):
        if info and info not in ("sh", "python"):
            assert info.split()[1:] == ["no-run"], f"README.md line {line}: fence '{info}'"
    # the first lines stay the two commands a reader types first
    first = blocks(text)[0]
    assert first[0] == "sh no-run" and "cargo run --release -- serve" in first[1] and "scripts/test.sh" in first[1]


def test_the_readme_runs_as_written(server: Server, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["ORGIAM_KEY"] = server.admin_key
    env["ORGIAM_ROOT_KEY"] = server.root_key
    # the command-line blocks call the `orgiam` under test, with their own config directory
    binary = Path(os.environ.get("ORGIAM_BIN", REPO_ROOT / "target" / "debug" / "orgiam"))
    env["PATH"] = f"{binary.parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    for k in [k for k in env if k.startswith("OPENAI_")]:
        del env[k]
    for info, code, line in runnable(README.read_text()):
        code = code.replace("http://127.0.0.1:8080", server.base_url)
        if info == "sh":
            argv = ["bash", "-euo", "pipefail", "-c", code]
        else:
            argv = [sys.executable, "-c", code]
        proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        where = f"README.md block at line {line} ({info}):\n{code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        assert proc.returncode == 0, where
        assert '"error"' not in proc.stdout, where
    # what the blocks did is there
    with http(server, server.admin_key) as c:
        names = {r["name"] for r in c.get("/v1/organization/roles").json()["data"]}
    assert {"Billing", "Support"} <= names, names
