#!/usr/bin/env bash
# Restore benchmark for Kona (issue 19): requests (and time) to put back one deleted task with its comments from an
# archive of a generated account (10,000 tasks in 100 spaces by default), with --only task:ID, and what a restore with
# no selection (a re-read of the whole account) costs. Pacing off: the figures are request counts.
#
#   bash Benchmarks/restore/kona.sh [TASKS] [CONFIG]     # defaults: 10000 tasks, release build
set -euo pipefail
cd "$(dirname "$0")/../.."
TASKS=${1:-10000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh
source Benchmarks/restore/lib.sh

SERVICE=kona
URL=$(start_sandbox kona "$TASKS" --no-rate-limit)
export KONA_ACCESS_TOKEN=bench-kona KONA_BASE_URL="$URL"
call() { # method path [json body] → the JSON answer (empty for a 204)
  python3 - "$URL" "$@" <<'PY'
import json, sys, urllib.request
url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + "/api" + path, method=method, data=body,
                             headers={"Authorization": "Bearer bench-kona", "Content-Type": "application/json"})
raw = urllib.request.urlopen(req).read()
print(raw.decode() if raw else "{}")
PY
}

echo "# kitbag restore benchmark, Kona — $TASKS tasks, $CONFIG build, $(nproc) cores, $(uname -sr)"
SPACE=$(call GET "/spaces?per_page=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['spaces'][0]['id'])")
TASK=$(call GET "/tasks?space_id=$SPACE&per_page=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['tasks'][0]['id'])")
call POST /comments "{\"comments\": [{\"content\": \"first\", \"resource_type\": \"task\", \"resource_id\": $TASK}]}" > /dev/null
call POST /comments "{\"comments\": [{\"content\": \"second\", \"resource_type\": \"task\", \"resource_id\": $TASK}]}" > /dev/null
ARCHIVE="$WORK/before.tar.zst"
"$BIN" export kona --rate-limit 0 --formats json -o "$ARCHIVE" -q
WIDTH=48

call DELETE "/tasks/$TASK" > /dev/null
restore "one task + 2 comments (--only task:ID), dry run" --only "task:$TASK" --dry-run
restore "one task + 2 comments (--only task:ID)" --only "task:$TASK"
restore "nothing missing (--only task:ID, rerun)" --only "task:$TASK"
restore "nothing missing, no selection (whole account)"
