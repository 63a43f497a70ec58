#!/usr/bin/env bash
# Backup benchmark for Kona and Kitemaker: requests and time of `kitbag backup` when nothing changed and (Kona)
# after 1 % and 10 % of the spaces changed, against a full one, on a generated account (pacing off: the figures
# are request counts). Kona skips a space whose marker (item counts and newest updated_at) did not move;
# Kitemaker's API has no updated-since filter, so every backup reads everything again — by design.
#
#   bash Benchmarks/backup/services.sh [KONA_TASKS] [KITEMAKER_ITEMS] [CONFIG]   # defaults: 10000, 2000, release
set -euo pipefail
cd "$(dirname "$0")/../.."
TASKS=${1:-10000}
ITEMS=${2:-2000}
CONFIG=${3:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh

backup() { # label flags… → prints one line; needs a new second for the archive name
  sleep 1.1
  /usr/bin/time -v -o "$WORK/time" env "$CRED=bench-$SERVICE" "$BIN" backup "$SERVICE" --base-url "$URL" --rate-limit 0 \
    --into "$WORK/backups-$SERVICE" --json "${@:2}" > "$WORK/$1.json"
  python3 - "$1" "$WORK/$1.json" "$WORK/time" <<'PY'
import json, re, sys
label, path = sys.argv[1], sys.argv[2]
b = json.load(open(path)); e = b["export"]
t = open(sys.argv[3]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) // 1024
spaces = (f"{b['fetchedContainers']:3d} spaces fetched, {b['reusedContainers']:3d} copied, "
          if b["fetchedContainers"] + b["reusedContainers"] else "no change markers (read in full), ")
print(f"{label:>14}: {sum(e['requests'].values()):6d} requests, {e['seconds']:6.2f} s, {spaces}peak RSS {rss} MiB")
PY
}

change_kona() { # percent of spaces: rename the first task of that many spaces through the API
  python3 - "$URL" "$1" <<'PY'
import json, sys, urllib.request
url, pct = sys.argv[1], float(sys.argv[2])
def call(method, path, body=None):
    req = urllib.request.Request(url + "/api" + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer bench-kona", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
spaces, page = [], 1
while True:
    got = call("GET", f"/spaces?per_page=100&page={page}&hidden=true")["spaces"]
    spaces += got; page += 1
    if len(got) < 100: break
ids = sorted(s["id"] for s in spaces)
n = max(0, round(len(ids) * pct / 100))
for sid in ids[:n]:
    task = call("GET", f"/tasks?space_id={sid}&per_page=1")["tasks"][0]
    call("PUT", f"/tasks/{task['id']}", {"tasks": [{"name": (task.get("name") or "") + " (edited)"}]})
print(f"changed {n} of {len(ids)} spaces", file=sys.stderr)
PY
}

echo "# kitbag backup benchmark, Kona $TASKS tasks and Kitemaker $ITEMS work items — $CONFIG build, $(nproc) cores, $(uname -sr)"
SERVICE=kona CRED=KONA_ACCESS_TOKEN
URL=$(start_sandbox kona "$TASKS" --no-rate-limit)
echo "Kona ($TASKS tasks)"
backup "full (first)"
backup "0 % changed"
change_kona 1;  backup "1 % changed"
change_kona 10; backup "10 % changed"
backup "--full" --full
stop_sandbox kona

SERVICE=kitemaker CRED=KITEMAKER_TOKEN
URL=$(start_sandbox kitemaker "$ITEMS" --no-rate-limit)
echo "Kitemaker ($ITEMS work items)"
backup "full (first)"
backup "0 % changed"
backup "--full" --full
