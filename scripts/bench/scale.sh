#!/usr/bin/env bash
# Scale benchmarks on generated data (docs/PERFORMANCE.md, section Scale).
#
#   bash scripts/bench/scale.sh sqlite://path/l.db          # SQLite
#   bash scripts/bench/scale.sh postgres://user@host/db      # PostgreSQL (an empty database)
#
# Builds the release binary; if DIR/KEYS (the URL's basename + .keys, beside the SQLite file or
# in the current directory) does not exist yet, fills the database with
# `orgiam dev generate --size L --seed 1` first (size from SIZE=…). Then runs
# scripts/bench/scale.py, which prints one tab-separated line per figure. Needs wrk and Python 3.
set -euo pipefail
URL="${1:?usage: scale.sh DATABASE_URL}"
SIZE="${SIZE:-L}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v wrk >/dev/null || { echo "scale.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
(cd "$ROOT" && cargo build --release --bin orgiam >&2)
BIN="$ROOT/target/release/orgiam"
case "$URL" in
    sqlite://*) KEYS="${URL#sqlite://}"; KEYS="${KEYS%%\?*}.keys" ;;
    *) KEYS="$(basename "${URL%%\?*}").keys" ;;
esac
if [[ ! -f "$KEYS" ]]; then
    echo "scale.sh: generating size $SIZE into $URL (keys in $KEYS)" >&2
    uptime >&2
    "$BIN" dev generate --database "$URL" --size "$SIZE" --seed 1 --keys-file "$KEYS"
fi
uptime
ORGIAM_RATE_LIMIT_PER_SECOND=0 python3 "$ROOT/scripts/bench/scale.py" --binary "$BIN" --database "$URL" --keys "$KEYS"
uptime
