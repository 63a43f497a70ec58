#!/usr/bin/env bash
# Restore benchmark for Kitemaker (issue 19): requests (and time) to put back one work item deleted in the app from
# an archive of a generated account (10,000 work items by default), with --only workItem:ID, a rerun, and what a
# restore with no selection (a re-read of the whole account) costs. Pacing off: the figures are request counts.
# Kitemaker's API deletes nothing: the sandbox's app stand-in (`/sandbox-only/app/delete-work-item`) deletes it.
#
#   bash Benchmarks/restore/kitemaker.sh [ITEMS] [CONFIG]     # defaults: 10000 work items, release build
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS=${1:-10000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh
source Benchmarks/restore/lib.sh

SERVICE=kitemaker
URL=$(start_sandbox km "$ITEMS" --no-rate-limit)
export KITEMAKER_TOKEN=bench-km KITEMAKER_BASE_URL="$URL"
call() { # method path [json body] → the JSON answer
  python3 - "$URL" "$@" <<'PY'
import json, sys, urllib.request
url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, method=method, data=body,
                             headers={"X-API-KEY": "bench-km", "Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode() or "{}")
PY
}

echo "# kitbag restore benchmark, Kitemaker — $ITEMS work items, $CONFIG build, $(nproc) cores, $(uname -sr)"
SPACE=$(call GET /developers/rest/v1/metadata/spaces | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
ITEM=$(call GET "/developers/rest/v1/metadata/workitems?spaceId=$SPACE" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
ARCHIVE="$WORK/before.tar.zst"
"$BIN" export kitemaker --rate-limit 0 --formats json -o "$ARCHIVE" -q

call POST /sandbox-only/app/delete-work-item "{\"id\": \"$ITEM\"}" > /dev/null
WIDTH=44
restore "one work item (--only workItem:ID), dry run" --only "workItem:$ITEM" --dry-run
restore "one work item (--only workItem:ID)" --only "workItem:$ITEM"
restore "nothing missing (--only workItem:ID, rerun)" --only "workItem:$ITEM"
restore "nothing missing, no selection (whole account)"
