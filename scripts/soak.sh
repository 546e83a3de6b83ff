#!/usr/bin/env bash
# Soak: a bounded mixed load (reads, permission checks, writes) against the real `orgiam`
# binary on loopback, with wrk and scripts/soak.lua. Records throughput, every non-2xx
# answer and socket error, and the server's resident memory (VmRSS) every few seconds.
# Fails on any error: a non-2xx answer, a socket error, a 5xx, or a server that died.
#
#   bash scripts/soak.sh [SECONDS]        default 60 (the CI variant); 600 for the long soak
#
# Environment:
#   ORGIAM_BIN            the binary (default target/release/orgiam if built, else target/debug/orgiam)
#   SOAK_DATABASE         database URL (default: a fresh SQLite file in a scratch directory;
#                         a postgres://…/DB URL of an empty database runs it on PostgreSQL)
#   SOAK_CONNECTIONS      concurrent connections (default 16), SOAK_THREADS (default 2)
#   SOAK_SAMPLE_SECONDS   memory sampling period (default 5)
#   SOAK_OUT              directory for the results (default target/soak)
# wrk and curl are installed from Debian's packages when missing. Only 127.0.0.1 is ever addressed.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "soak.sh: $*" >&2; }
die() {
    echo "soak.sh: ERROR: $*" >&2
    exit 1
}

DURATION="${1:-60}"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 5 && "$DURATION" -le 7200 ]] \
    || die "duration must be 5 to 7200 seconds, not '$DURATION'"
CONNECTIONS="${SOAK_CONNECTIONS:-16}"
THREADS="${SOAK_THREADS:-2}"
SAMPLE="${SOAK_SAMPLE_SECONDS:-5}"
OUT="${SOAK_OUT:-$ROOT/target/soak}"

if [[ -n "${ORGIAM_BIN:-}" ]]; then
    BIN="$ORGIAM_BIN"
elif [[ -x target/release/orgiam ]]; then
    BIN=target/release/orgiam
else
    BIN=target/debug/orgiam
fi
[[ -x "$BIN" ]] || die "binary $BIN not found (cargo build --release --bin orgiam, or set ORGIAM_BIN)"

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        return 1
    fi
}
missing=()
for tool in wrk curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
    log "not found: ${missing[*]}; installing from Debian's packages"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        || die "could not install ${missing[*]} (need root or passwordless sudo, and the Debian archive)"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed to read the seeding answers"

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/orgiam-soak.XXXXXX")"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$SCRATCH"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
DATABASE="${SOAK_DATABASE:-sqlite://$SCRATCH/orgiam.db}"
mkdir -p "$OUT"

log "starting $BIN on $BASE ($(sed -E 's#//[^@/]*@#//…@#' <<<"$DATABASE"))"
# The per-key rate limit stays at its default: the soak runs the configuration users run.
ORGIAM_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database "$DATABASE" \
    >"$SCRATCH/stdout.log" 2>"$SCRATCH/stderr.log" </dev/null &
SERVER_PID=$!

for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$SCRATCH/stderr.log" >&2
        die "the server exited before it was ready"
    fi
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && grep -q 'sk-admin-' "$SCRATCH/stdout.log"; then
        break
    fi
    sleep 0.1
done
KEY="$(grep -o 'sk-admin-[A-Za-z0-9_-]*' "$SCRATCH/stdout.log" | head -n 1)"
[[ -n "$KEY" ]] || die "no admin key on the server's stdout (is $DATABASE empty?)"

# Seed: a member, a custom role to update, a role to grant, a group with the member, and an
# organization permission the checks ask about.
post() {
    curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2" "$BASE$1" \
        || die "seeding: POST $1 failed"
}
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
SOAK_USER="$(post /v1/organization/users '{"email": "soak@example.com", "name": "Soak", "role": "reader"}' | id_of)"
SOAK_ROLE="$(post /v1/organization/roles '{"role_name": "Soak role", "permissions": ["api.users.read"]}' | id_of)"
post /v1/organization/permissions '{"name": "documents.read", "description": "read documents", "resource_type": "api.organization"}' >/dev/null
SOAK_GRANT_ROLE="$(post /v1/organization/roles '{"role_name": "Soak grant", "permissions": ["documents.read"]}' | id_of)"
SOAK_GROUP="$(post /v1/organization/groups '{"name": "Soak group"}' | id_of)"
post "/v1/organization/groups/$SOAK_GROUP/users" "{\"user_id\": \"$SOAK_USER\"}" >/dev/null
export SOAK_KEY="$KEY" SOAK_USER SOAK_ROLE SOAK_GRANT_ROLE SOAK_GROUP

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOAD_BEFORE="$(cut -d" " -f1-3 /proc/loadavg)"
RSS_CSV="$OUT/soak-$STAMP-rss.csv"
RESULT="$OUT/soak-$STAMP.txt"
echo "elapsed_s,vmrss_kib" >"$RSS_CSV"
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true; }
(
    start=$SECONDS
    while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS - start <= DURATION + 10)); do
        echo "$((SECONDS - start)),$(rss_kib)" >>"$RSS_CSV"
        sleep "$SAMPLE"
    done
) &
SAMPLER_PID=$!

log "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s on $BASE"
set +e
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s scripts/soak.lua "$BASE" \
    >"$SCRATCH/wrk.log" 2>&1
wrk_rc=$?
set -e
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
echo "$DURATION,$(rss_kib)" >>"$RSS_CSV"

alive=1
kill -0 "$SERVER_PID" 2>/dev/null || alive=0
ready=0
curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && ready=1

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: bash scripts/soak.sh $DURATION (binary $BIN, $THREADS threads, $CONNECTIONS connections)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average before the run $LOAD_BEFORE"
    cat "$SCRATCH/wrk.log"
    echo "rss samples (elapsed_s,vmrss_kib): $RSS_CSV"
} >"$RESULT"
cat "$SCRATCH/wrk.log" >&2

line="$(grep '^soak-result ' "$SCRATCH/wrk.log" || true)"
[[ $wrk_rc -eq 0 && -n "$line" ]] || die "wrk failed (exit $wrk_rc); see $RESULT"
field() { sed -nE "s/.* $1=([0-9]+).*/\1/p" <<<"$line"; }
requests="$(field requests)"
duration_us="$(field duration_us)"
ok="$(field ok)"
bad=$(($(field status_4xx) + $(field status_5xx) + $(field status_other)))
socket=$(($(field connect_errors) + $(field read_errors) + $(field write_errors) + $(field timeouts)))
rps="$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", r / (d / 1e6)}')"
rss_stats="$(awk -F, 'NR > 1 && $2 != "" {n++; if (n == 1) first = $2; last = $2; if ($2 > max) max = $2}
    END {printf "first=%d MiB max=%d MiB last=%d MiB samples=%d", first / 1024, max / 1024, last / 1024, n}' "$RSS_CSV")"
summary="soak: ${DURATION}s requests=$requests rps=$rps ok=$ok non_2xx=$bad 5xx=$(field status_5xx) socket_errors=$socket p50=$(field p50_us)us p99=$(field p99_us)us rss: $rss_stats"
echo "$summary" | tee -a "$RESULT"

((alive == 1)) || die "the server died during the soak"
((ready == 1)) || die "the server did not answer /readyz after the soak"
if grep -q 'panicked' "$SCRATCH/stderr.log"; then
    die "the server panicked: $(grep -m1 'panicked' "$SCRATCH/stderr.log")"
fi
((requests > 0)) || die "no request completed"
if ((bad != 0 || socket != 0)); then
    grep '^soak-first-bad ' "$SCRATCH/wrk.log" >&2 || true
    die "$bad non-2xx answers and $socket socket errors"
fi
((ok == requests)) || die "only $ok of $requests answers were counted as 2xx"
log "no errors; results in $RESULT"
