#!/usr/bin/env bash
# HTTP benchmark of the permission check against the bare HTTP floor of the same server.
#
#   bash scripts/bench/http.sh [seconds-per-run]      (default 15)
#
# Builds the release binary, starts it on a fresh SQLite database on loopback, creates an
# organization's worth of data (50 custom permissions, 20 roles, 100 members with 1-3 roles),
# then runs wrk with 64 keep-alive connections against, in turn:
#   1. GET /healthz                                   (the floor: the HTTP stack alone)
#   2. POST /v1/organization/permissions/check         (one decision per request)
#   3. POST /v1/organization/permissions/check_batch   (100 decisions per request)
# and prints requests/s and latency percentiles of each. wrk shares the machine's cores with
# the server, as in the reference runs. Needs wrk (apt-get install wrk) and curl.
set -euo pipefail
SECONDS_PER_RUN="${1:-15}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
command -v wrk >/dev/null || { echo "http.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
cargo build --release --bin orgiam >&2
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ORGIAM_LOG=warn target/release/orgiam serve --listen "127.0.0.1:$PORT" \
    --database "sqlite://$WORK/bench.db" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
KEY="$(grep -o 'sk-admin-[A-Za-z0-9_-]*' "$WORK/out" | head -1)"
api() { curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' "$@"; }

echo "http.sh: creating data" >&2
for p in $(seq 0 49); do api "$BASE/v1/organization/permissions" -d "{\"name\": \"app.resource$p.action\"}" >/dev/null; done
ROLES=()
for r in $(seq 0 19); do
    perms=$(python3 -c "import random; random.seed($r); print(','.join('\"app.resource%d.action\"' % random.randrange(50) for _ in range(random.randint(3,8))))")
    ROLES+=("$(api "$BASE/v1/organization/roles" -d "{\"role_name\": \"role $r\", \"permissions\": [$perms]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
done
USERS=()
for u in $(seq 0 99); do
    uid="$(api "$BASE/v1/organization/users" -d "{\"email\": \"user$u@example.com\", \"role\": \"member\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    USERS+=("$uid")
    for k in $(seq 0 $((u % 3))); do
        api "$BASE/v1/organization/users/$uid/roles" -d "{\"role_id\": \"${ROLES[$(((u * 7 + k * 3) % 20))]}\"}" >/dev/null
    done
done

# request bodies: a rotating set of checks, half of them allowed (a permission the user holds)
# and half denied (one they do not), from each user's effective permissions
for uid in "${USERS[@]}"; do
    api "$BASE/v1/organization/users/$uid/permissions" | python3 -c "
import json, sys
held = [p['permission'] for p in json.load(sys.stdin)['data'] if p['permission'].startswith('app.')]
print('$uid', ' '.join(held))"
done > "$WORK/held.txt"
python3 - "$WORK" <<'PY'
import json, random, sys
work = sys.argv[1]
random.seed(7)
held = {}
for line in open(work + "/held.txt"):
    parts = line.split()
    held[parts[0]] = parts[1:]
users = sorted(held)
everything = ["app.resource%d.action" % i for i in range(50)]
checks = []
while len(checks) < 1000:
    u = random.choice(users)
    if len(checks) % 2 == 0 and held[u]:
        p = random.choice(held[u])
    else:
        p = random.choice([x for x in everything if x not in held[u]])
    checks.append({"user_id": u, "permission": p})
with open(work + "/checks.lua", "w") as f:
    f.write("bodies = {\n")
    for c in checks:
        f.write("  [[%s]],\n" % json.dumps(c))
    f.write("}\n")
    f.write("batches = {\n")
    for i in range(10):
        f.write("  [[%s]],\n" % json.dumps({"checks": checks[i * 100:(i + 1) * 100]}))
    f.write("}\n")
PY
cat > "$WORK/check.lua" <<LUA
dofile("$WORK/checks.lua")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/organization/permissions/check", nil, bodies[(i % #bodies) + 1])
end
LUA
cat > "$WORK/batch.lua" <<LUA
dofile("$WORK/checks.lua")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/organization/permissions/check_batch", nil, batches[(i % #batches) + 1])
end
LUA
allowed="$(api "$BASE/v1/organization/permissions/check_batch" --data-binary @<(python3 -c "
import re; s=open('$WORK/checks.lua').read(); print(re.findall(r'\[\[(\{\"checks.*?)\]\]', s)[0])") \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(sum(c["allowed"] for c in d), "of", len(d))')"
echo "http.sh: sample batch: $allowed checks allowed"
echo "http.sh: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ)"
for run in "healthz GET /healthz" "check POST check" "check_batch POST check_batch(100)"; do
    set -- $run
    case "$1" in
        healthz) args=("$BASE/healthz") ;;
        check) args=(-s "$WORK/check.lua" "$BASE") ;;
        check_batch) args=(-s "$WORK/batch.lua" "$BASE") ;;
    esac
    echo "== $1 (${SECONDS_PER_RUN}s, 64 connections, 2 threads)"
    wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency "${args[@]}" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
done
