"""Pytest harness that runs the real `orgiam` binary for end-to-end tests.

Fixtures
  backend  module-scoped, parametrised over "sqlite" and "postgres": a fresh, empty
           database for each test module (postgres needs ORGIAM_TEST_POSTGRES_URL,
           an admin URL; without it the postgres variant is skipped, which
           scripts/test.sh turns into a failure).
  server   module-scoped: `orgiam serve` on a free loopback port over `backend`,
           with a random ORGIAM_ROOT_KEY; yields a `Server` (see below) carrying the
           bootstrap owner's admin key and organization id read from its stdout.

Helpers
  new_org(server, name, owner_email, owner_name)  POST /v1/organizations with the root key.
  sdk(server, key)                                an `openai.OpenAI` admin client.
  http(server)                                    a raw httpx2.Client on server.base_url.

Environment
  ORGIAM_BIN                the binary (default: <repo>/target/debug/orgiam)
  ORGIAM_TEST_POSTGRES_URL  admin URL used to CREATE/DROP a database per module
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx2 as httpx  # openai>=3 ships httpx2 (same API as httpx)
import openai
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY_RE = re.compile(r"sk-admin-[A-Za-z0-9_-]{20,}")
ORG_ID_RE = re.compile(r"org_[0-9A-HJKMNP-TV-Z]{26}")

READY_TIMEOUT_S = 30.0
BOOTSTRAP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

# Keep the SDK hermetic: no ambient OpenAI settings may leak into the clients.
for _var in (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_WEBHOOK_SECRET",
):
    os.environ.pop(_var, None)


# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------


def orgiam_bin() -> Path:
    value = os.environ.get("ORGIAM_BIN")
    path = Path(value) if value else REPO_ROOT / "target" / "debug" / "orgiam"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _version_key(path: str) -> tuple:
    # /usr/lib/postgresql/<ver>/bin/psql -> numeric sort on <ver>
    ver = Path(path).parent.parent.name
    return tuple(int(p) if p.isdigit() else 0 for p in ver.split("."))


def find_psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), key=_version_key, reverse=True)
    if candidates:
        return candidates[0]
    pytest.fail("postgres: `psql` not found on PATH nor under /usr/lib/postgresql/*/bin", pytrace=False)


def psql(admin_url: str, sql: str, timeout: float = 60.0) -> None:
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    proc = subprocess.run(
        [find_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url, "-c", sql],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}) running {sql!r}: {proc.stderr.strip()}")


def with_database(url: str, dbname: str) -> str:
    """The admin URL with its database (path) replaced by `dbname`."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return text if len(text) <= limit else "...\n" + text[-limit:]


# ---------------------------------------------------------------------------
# backend
# ---------------------------------------------------------------------------


@dataclass
class Backend:
    name: str  # "sqlite" | "postgres"
    database_url: str
    workdir: Path  # scratch dir for this module+backend (logs live here too)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    name = request.param
    workdir = tmp_path_factory.mktemp(f"orgiam-{name}")
    if name == "sqlite":
        yield Backend(name, f"sqlite://{workdir}/orgiam.db", workdir)
        return

    admin_url = os.environ.get("ORGIAM_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("postgres: ORGIAM_TEST_POSTGRES_URL not set")
    dbname = f"orgiam_py_{secrets.token_hex(8)}"
    try:
        psql(admin_url, f'CREATE DATABASE "{dbname}"')
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"postgres: could not create test database: {e}", pytrace=False)
    try:
        yield Backend(name, with_database(admin_url, dbname), workdir)
    finally:
        # Best effort; the throwaway cluster of scripts/test.sh is removed anyway.
        try:
            psql(admin_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str  # http://127.0.0.1:PORT
    api_base: str  # http://127.0.0.1:PORT/v1
    admin_key: str  # bootstrap owner's admin key (sk-admin-...)
    org_id: str  # bootstrap organization (org_...)
    root_key: str  # ORGIAM_ROOT_KEY given to the process
    backend: str  # "sqlite" | "postgres"
    database_url: str
    port: int
    stdout_path: Path
    stderr_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def log_paths(self) -> tuple[Path, Path]:
        return (self.stdout_path, self.stderr_path)

    def logs(self) -> str:
        return (
            f"--- stdout ({self.stdout_path}) ---\n{_tail(self.stdout_path)}\n"
            f"--- stderr ({self.stderr_path}) ---\n{_tail(self.stderr_path)}"
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def start_server(
    backend: Backend,
    root_key: str | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    bootstrap: bool = True,
) -> Server:
    """Start `orgiam serve` over `backend` and wait for it (used by the `server` fixture;
    tests that need a restart on the same database may call it directly). `args` are added
    to the command line and `env` to the environment; with `bootstrap=False` (a database that
    already has its organization: a restart, a second process) only readiness is awaited."""
    binary = orgiam_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"orgiam binary not found at {binary} (run `cargo build --bin orgiam` or set ORGIAM_BIN)", pytrace=False)

    root_key = root_key or "orgiam-root-" + secrets.token_hex(32)
    port = free_port()
    run_id = secrets.token_hex(4)
    stdout_path = backend.workdir / f"server-{run_id}.stdout.log"
    stderr_path = backend.workdir / f"server-{run_id}.stderr.log"
    env = {**os.environ, **(env or {})}
    env["ORGIAM_ROOT_KEY"] = root_key
    env.setdefault("RUST_BACKTRACE", "1")

    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--database", backend.database_url, *(args or [])],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=backend.workdir,
        )
    base_url = f"http://127.0.0.1:{port}"
    server = Server(
        base_url=base_url,
        api_base=f"{base_url}/v1",
        admin_key="",
        org_id="",
        root_key=root_key,
        backend=backend.name,
        database_url=backend.database_url,
        port=port,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        process=proc,
    )

    try:
        # 1. /readyz answers 200.
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error = "no attempt"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"orgiam ({backend.name}) exited with code {proc.returncode} before becoming ready\n{server.logs()}",
                        pytrace=False,
                    )
                try:
                    r = client.get(f"{base_url}/readyz")
                    if r.status_code == 200:
                        break
                    last_error = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as e:
                    last_error = f"{type(e).__name__}: {e}"
                if time.monotonic() >= deadline:
                    pytest.fail(
                        f"orgiam ({backend.name}) not ready on {base_url}/readyz after {READY_TIMEOUT_S:.0f}s "
                        f"(last: {last_error})\n{server.logs()}",
                        pytrace=False,
                    )
                time.sleep(0.1)

        # 2. The bootstrap owner's admin key and organization id on stdout.
        deadline = time.monotonic() + BOOTSTRAP_TIMEOUT_S
        while bootstrap:
            text = stdout_path.read_text(errors="replace")
            key = ADMIN_KEY_RE.search(text)
            org = ORG_ID_RE.search(text)
            if key and org:
                server.admin_key = key.group(0)
                server.org_id = org.group(0)
                break
            if time.monotonic() >= deadline or proc.poll() is not None:
                pytest.fail(
                    f"orgiam ({backend.name}) printed no bootstrap admin key (sk-admin-...) and organization id "
                    f"(org_...) on stdout within {BOOTSTRAP_TIMEOUT_S:.0f}s\n{server.logs()}",
                    pytrace=False,
                )
            time.sleep(0.1)
    except BaseException:
        _stop(proc)
        raise
    return server


def stop_server(server: Server) -> None:
    _stop(server.process)


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[Server]:
    srv = start_server(backend)
    try:
        yield srv
    finally:
        stop_server(srv)


# ---------------------------------------------------------------------------
# Helpers for tests
# ---------------------------------------------------------------------------


def http(server: Server, key: str | None = None, **kwargs: Any) -> httpx.Client:
    """A raw HTTP client on server.base_url (Authorization: Bearer key, if given)."""
    headers = dict(kwargs.pop("headers", {}) or {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    kwargs.setdefault("timeout", 30.0)
    return httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, **kwargs)


def new_org(server: Server, name: str, owner_email: str, owner_name: str) -> dict[str, Any]:
    """Create an organization with the root key; returns the parsed JSON
    (with `id` and `admin_api_key.value`)."""
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        r = client.post(
            f"{server.api_base}/organizations",
            headers={"Authorization": f"Bearer {server.root_key}"},
            json={"name": name, "owner_email": owner_email, "owner_name": owner_name},
        )
    assert r.status_code in (200, 201), f"POST /v1/organizations -> {r.status_code}: {r.text}"
    return r.json()


def sdk(server: Server, key: str, api_key: str = "unused", **kwargs: Any) -> openai.OpenAI:
    """An official-SDK client on the server.

    In openai 3.51.0, endpoints under `client.admin.*` authenticate with
    `admin_api_key` (Authorization: Bearer <admin_api_key>); all other endpoints use
    `api_key`. Either must be non-empty for the client to construct."""
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(admin_api_key=key, api_key=api_key, base_url=server.api_base, **kwargs)
