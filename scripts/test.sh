#!/usr/bin/env bash
# The whole orgiam test suite:
#   * a throwaway PostgreSQL cluster (unless ORGIAM_TEST_POSTGRES_URL is already set),
#   * every Rust suite (`cargo test`, the default members) on SQLite and PostgreSQL,
#   * the Python end-to-end suite (tests/python, official `openai` SDK, and the Fiddler v1
#     client from its own venv) against the real `orgiam` binary on both backends; it also
#     runs the npm `openai` smoke test of tests/node (`npm ci` there first when node_modules
#     is missing or stale),
#   * a 60-second soak (scripts/soak.sh 60) of mixed load against the binary on SQLite.
# Fails if anything fails, and also if any pytest test was skipped or none ran.
#
# Environment:
#   ORGIAM_TEST_POSTGRES_URL  admin URL of an existing server to use instead of
#                             starting a throwaway cluster (e.g. postgres://postgres@127.0.0.1:5432/postgres)
#   CARGO_TARGET_DIR          honoured when locating the built binary
set -Eeuo pipefail
trap 'echo "test.sh: ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "test.sh: $*" >&2; }
die() {
    echo "test.sh: ERROR: $*" >&2
    exit 1
}

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

# Run a command with root privileges (we are root, or via non-interactive sudo).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        return 1
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not available; cannot install: $*"
    log "installing with apt-get: $*"
    if ! as_root apt-get update -qq \
        || ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; then
        die "could not install '$*' (need root or passwordless sudo, and the Debian archive)"
    fi
}

# /usr/lib/postgresql/<ver>/bin directories, newest version first.
pg_bindirs() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -d "$d" ]]; then printf '%s\n' "$d"; fi
    done | sort -V -r
}

# Newest /usr/lib/postgresql/<ver>/bin holding initdb and pg_ctl, or nothing.
find_pg_bindir() {
    local d
    while IFS= read -r d; do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            echo "$d"
            return 0
        fi
    done < <(pg_bindirs)
    return 0
}

# Run a PostgreSQL server binary as an unprivileged user (postgres refuses root).
PG_RUN_AS=""
run_pg() {
    if [[ -z "$PG_RUN_AS" ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_RUN_AS" -- "$@"
    else
        su "$PG_RUN_AS" -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# --------------------------------------------------------------------------
# Throwaway PostgreSQL cluster; the EXIT trap stops it and removes its files.
# --------------------------------------------------------------------------
PGTMP=""
PGDATA_DIR=""
PGBIN=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$PGTMP" && -d "$PGTMP" ]]; then
        if [[ -f "$PGDATA_DIR/postmaster.pid" ]]; then
            log "stopping PostgreSQL cluster"
            local pid
            pid="$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
            (cd / && run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop) >/dev/null 2>&1 \
                || (cd / && run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop) >/dev/null 2>&1 \
                || true
            # Last resort: the postmaster this script started, by its pid.
            if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        rm -rf "$PGTMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres() {
    PGBIN="$(find_pg_bindir)"
    if [[ -z "$PGBIN" ]]; then
        log "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
        apt_install postgresql
        PGBIN="$(find_pg_bindir)"
        [[ -n "$PGBIN" ]] || die "PostgreSQL installed but initdb/pg_ctl still not found under /usr/lib/postgresql/*/bin"
    fi
    log "using PostgreSQL binaries in $PGBIN ($("$PGBIN/pg_ctl" --version))"

    # /tmp explicitly (not $TMPDIR): the postgres user must be able to reach it.
    PGTMP="$(mktemp -d /tmp/orgiam-pg.XXXXXX)"
    PGDATA_DIR="$PGTMP/data"
    local sockdir="$PGTMP/sock"
    local pglog="$PGTMP/postgres.log"
    mkdir -p "$sockdir"

    if [[ $EUID -eq 0 ]]; then
        if ! id -u postgres >/dev/null 2>&1; then
            log "creating system user 'postgres'"
            useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
                --shell /bin/sh postgres \
                || die "could not create the 'postgres' user"
        fi
        PG_RUN_AS=postgres
        chown -R postgres: "$PGTMP"
    fi
    chmod 0700 "$PGTMP"

    log "initdb in $PGDATA_DIR"
    (cd "$PGTMP" && run_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres -E UTF8 --locale=C --no-sync) \
        >"$PGTMP/initdb.log" 2>&1 || {
        cat "$PGTMP/initdb.log" >&2
        die "initdb failed"
    }

    PG_PORT="$(free_port)"
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- orgiam scripts/test.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sockdir'
max_connections = 300
EOF

    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    if ! (cd "$PGTMP" && run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$pglog" -w -t 60 start) >/dev/null 2>&1; then
        cat "$pglog" >&2 2>/dev/null || true
        die "PostgreSQL failed to start"
    fi

    local pg_isready="$PGBIN/pg_isready"
    [[ -x "$pg_isready" ]] || pg_isready="$(command -v pg_isready || true)"
    local deadline=$((SECONDS + 60))
    until [[ -n "$pg_isready" ]] && "$pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2; do
        if [[ -z "$pg_isready" ]]; then
            sleep 2 # pg_ctl -w already waited; nothing better to probe with
            break
        fi
        if ((SECONDS >= deadline)); then
            cat "$pglog" >&2 2>/dev/null || true
            die "PostgreSQL not ready on 127.0.0.1:$PG_PORT after 60s"
        fi
        sleep 0.5
    done

    export ORGIAM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    # psql & co. for the Python harness (it also searches /usr/lib/postgresql/*/bin).
    export PATH="$PATH:$PGBIN"
}

if [[ -n "${ORGIAM_TEST_POSTGRES_URL:-}" ]]; then
    log "using existing PostgreSQL from ORGIAM_TEST_POSTGRES_URL"
    if ! command -v psql >/dev/null 2>&1; then
        pgb="$(pg_bindirs | head -n 1)"
        if [[ -n "$pgb" && -x "$pgb/psql" ]]; then
            export PATH="$PATH:$pgb"
        else
            apt_install postgresql-client
        fi
    fi
else
    start_postgres
fi
export ORGIAM_REQUIRE_POSTGRES=1

# Debian's chromium for the console's browser test (tests/python/test_console.py drives it
# with Playwright; Playwright's own browser download is not used).
export ORGIAM_CHROMIUM="${ORGIAM_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$ORGIAM_CHROMIUM" ]]; then
    apt_install chromium
    [[ -x "$ORGIAM_CHROMIUM" ]] || die "chromium installed but $ORGIAM_CHROMIUM is missing"
fi

# --------------------------------------------------------------------------
# Python venv (target/pyvenv), rebuilt when requirements.txt changes.
# --------------------------------------------------------------------------
REQS="tests/python/requirements.txt"
VENV="target/pyvenv"
[[ -f "$REQS" ]] || die "$REQS missing"
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
req_sha="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$VENV/.requirements-sha" ]] \
    && [[ "$(cat "$VENV/.requirements-sha")" == "$req_sha" ]] \
    && "$VENV/bin/python" -c 'import openai, pytest, schemathesis, playwright' >/dev/null 2>&1; then
    log "reusing Python venv $VENV"
else
    log "creating Python venv $VENV"
    rm -rf "$VENV"
    mkdir -p target
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV" || die "python3 -m venv failed"
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS" \
        || die "pip install -r $REQS failed"
    echo "$req_sha" >"$VENV/.requirements-sha"
fi

# A client whose dependencies clash with the main venv's gets a venv of its own, built from
# its requirements file the same way (sha256-keyed); the tests call it in a subprocess.
# client_venv VENV REQS IMPORT: (re)builds VENV unless it matches REQS and can run IMPORT.
client_venv() {
    local venv="$1" reqs="$2" probe="$3" sha
    [[ -f "$reqs" ]] || die "$reqs missing"
    sha="$(sha256sum "$reqs" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$venv/.requirements-sha" ]] \
        && [[ "$(cat "$venv/.requirements-sha")" == "$sha" ]] \
        && "$venv/bin/python" -c "$probe" >/dev/null 2>&1; then
        log "reusing Python venv $venv"
        return
    fi
    log "creating Python venv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv $venv failed"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$reqs" \
        || die "pip install -r $reqs failed"
    echo "$sha" >"$venv/.requirements-sha"
}

# The Fiddler v1 client (tests/python/test_dialects.py) needs pydantic<2, which cannot share
# a venv with openai 3.51.0 (pydantic 2).
client_venv target/pyvenv-fiddler tests/python/requirements-fiddler.txt \
    'from fiddler.fiddler_api import FiddlerApi'
export ORGIAM_FIDDLER_PYTHON="$ROOT/target/pyvenv-fiddler/bin/python"
# Aitronos' official SDK (tests/python/test_aitronos_sdk.py) needs the legacy `httpx` package.
client_venv target/pyvenv-aitronos tests/python/requirements-aitronos.txt 'from aitronos import Aitronos'
export ORGIAM_AITRONOS_PYTHON="$ROOT/target/pyvenv-aitronos/bin/python"

# --------------------------------------------------------------------------
# Node packages of tests/node (the npm `openai` smoke test, run by pytest), reinstalled
# with `npm ci` when node_modules is missing or older than package.json/package-lock.json.
# --------------------------------------------------------------------------
NODE_DIR="tests/node"
[[ -f "$NODE_DIR/package-lock.json" ]] || die "$NODE_DIR/package-lock.json missing"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
log "using $(command -v node) $(node --version), npm $(npm --version 2>/dev/null)"
lock_sha="$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ -f "$NODE_DIR/node_modules/.orgiam-lock-sha" && -f "$NODE_DIR/node_modules/openai/package.json" ]] \
    && [[ "$(cat "$NODE_DIR/node_modules/.orgiam-lock-sha")" == "$lock_sha" ]]; then
    log "reusing $NODE_DIR/node_modules"
else
    log "npm ci in $NODE_DIR"
    # The pinned openai 7.x declares node >=22 but runs on node 20 (the smoke test proves
    # it): don't let an `engine-strict` npmrc refuse the install.
    (cd "$NODE_DIR" && npm ci --engine-strict=false --no-audit --no-fund) || die "npm ci in $NODE_DIR failed"
    echo "$lock_sha" >"$NODE_DIR/node_modules/.orgiam-lock-sha"
fi

# --------------------------------------------------------------------------
# Rust
# --------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
mkdir -p "$ROOT/target"
RUST_LOG_FILE="$ROOT/target/test-sh-cargo-test.log"

log "cargo build --bin orgiam"
cargo build --bin orgiam

log "cargo test (SQLite + PostgreSQL at $ORGIAM_TEST_POSTGRES_URL)"
if ! cargo test 2>&1 | tee "$RUST_LOG_FILE"; then
    die "cargo test failed (log: $RUST_LOG_FILE)"
fi
rust_passed="$(awk '/^test result: /{for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^passed/) s += $i} END {print s + 0}' "$RUST_LOG_FILE")"
rust_ignored="$(awk '/^test result: /{for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^ignored/) s += $i} END {print s + 0}' "$RUST_LOG_FILE")"

# --------------------------------------------------------------------------
# Python end-to-end suite
# --------------------------------------------------------------------------
export ORGIAM_BIN="$TARGET_DIR/debug/orgiam"
[[ -x "$ORGIAM_BIN" ]] || die "binary $ORGIAM_BIN not found after cargo build"
JUNIT="$ROOT/target/pytest-junit.xml"
rm -f "$JUNIT"

log "pytest tests/python (ORGIAM_BIN=$ORGIAM_BIN)"
set +e
PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest tests/python -q -rs -p no:cacheprovider --junitxml="$JUNIT"
py_rc=$?
set -e

if [[ $py_rc -eq 5 ]]; then
    die "pytest collected no tests (exit code 5)"
fi
[[ -f "$JUNIT" ]] || die "pytest exited with $py_rc and wrote no junit report"

# Prints "passed skipped failed errors" on stdout, and each skipped test on stderr.
# pytest's junit report counts xfail/xpass-as-skip too: they fail this script as well.
read -r py_passed py_skipped py_failed py_errors < <("$VENV/bin/python" - "$JUNIT" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
failures = sum(int(s.get("failures", 0)) for s in suites)
errors = sum(int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
cases = []
for tc in root.iter("testcase"):
    for sk in tc.findall("skipped"):
        name = "::".join(p for p in (tc.get("classname"), tc.get("name")) if p)
        kind = "XFAIL" if sk.get("type") == "pytest.xfail" else "SKIPPED"
        cases.append(f"{kind} {name}: {sk.get('message', '')}")
skipped = max(skipped, len(cases))
for c in cases:
    print(f"test.sh: {c}", file=sys.stderr)
print(max(tests - failures - errors - skipped, 0), skipped, failures, errors)
PY
) || die "could not parse $JUNIT"

if [[ $py_rc -ne 0 ]]; then
    die "pytest failed (exit code $py_rc: $py_failed failed, $py_errors errors, $py_skipped skipped)"
fi
if [[ $py_skipped -ne 0 ]]; then
    die "pytest skipped $py_skipped test(s) (listed above; xfail counts as skipped); skips are failures here"
fi
if [[ $py_passed -eq 0 ]]; then
    die "pytest ran no tests"
fi

# --------------------------------------------------------------------------
# Soak, CI variant: 60 s of mixed load on SQLite against the debug binary (scripts/soak.sh;
# docs/RELIABILITY.md has the 10-minute command and its results). Any error fails the run.
# --------------------------------------------------------------------------
log "soak: bash scripts/soak.sh 60 (SQLite, $ORGIAM_BIN)"
ORGIAM_BIN="$ORGIAM_BIN" bash scripts/soak.sh 60 || die "soak failed"

echo "test.sh: all suites passed (rust: sqlite+postgres, $rust_passed passed, $rust_ignored ignored; python: $py_passed passed)"
echo "test.sh: $((rust_passed + py_passed)) passed, 0 failed"
