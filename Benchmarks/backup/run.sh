#!/usr/bin/env bash
# Backup benchmark: requests and time of an incremental `kitbag backup` after 0 %, 1 % and 10 % of the spaces
# changed, against a full one, on a generated Kinopio account (rate limit off: the figures are request counts).
#
#   bash Benchmarks/backup/run.sh [CARDS] [CONFIG]     # defaults: 10000 cards (100 spaces), release build
set -euo pipefail
cd "$(dirname "$0")/../.."
CARDS=${1:-10000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sandbox kinopio --seed "$CARDS" --api-key bench-key --no-rate-limit -q > "$WORK/url" 2>"$WORK/log" &
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/url")
export KINOPIO_API_KEY=bench-key

backup() { # label → prints one line; needs a new second for the archive name
  sleep 1.1
  "$BIN" backup kinopio --base-url "$URL" --rate-limit 0 --into "$WORK/backups" --json "${@:2}" > "$WORK/$1.json"
  python3 - "$1" "$WORK/$1.json" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
b = json.load(open(path)); e = b["export"]
print(f"{label:>14}: {sum(e['requests'].values()):5d} requests, {e['seconds']:6.2f} s, "
      f"{b['fetchedContainers']:3d} spaces fetched, {b['reusedContainers']:3d} copied")
PY
}

change() { # percent of spaces: rename the first card of that many spaces through the API
  python3 - "$URL" "$1" <<'PY'
import json, sys, urllib.request
url, pct = sys.argv[1], float(sys.argv[2])
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "bench-key", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
ids = sorted(s["id"] for s in call("GET", "/user/spaces"))
n = max(0, round(len(ids) * pct / 100))
for sid in ids[:n]:
    card = call("GET", f"/space/{sid}")["cards"][0]
    call("PATCH", "/card", {"id": card["id"], "name": card["name"] + " (edited)"})
print(f"changed {n} of {len(ids)} spaces", file=sys.stderr)
PY
}

echo "# kitbag backup benchmark — $CARDS cards, $CONFIG build, $(nproc) cores, $(uname -sr)"
backup "full (first)"
backup "0 % changed"
change 1;  backup "1 % changed"
change 10; backup "10 % changed"
backup "--full" --full
