#!/usr/bin/env bash
# Kintone restore benchmark (issue 19): requests (reads and writes, per route) and time to put back one deleted
# record (`--only record:APP/ID`) and to set back one edited record (`--revert`), from an archive of a generated
# 10,000-record app, against what a whole-app `kitbag diff --live` (a re-read of the app) costs.
# Rate limit off: the figures are request counts.
#
#   bash Benchmarks/restore/kintone.sh [RECORDS] [CONFIG]     # defaults: 10000 records, release build
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=${1:-10000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

ARCHIVE="$WORK/before.tar.zst"
WIDTH=44 ROUTES=1
# shellcheck source=Benchmarks/restore/lib.sh
source Benchmarks/restore/lib.sh
kintone_sandbox "$RECORDS"

call() { # method path json-body → the JSON answer
  python3 - "$URL" "$@" <<'PY'
import base64, json, sys, urllib.request
url, method, path, body = sys.argv[1:5]
auth = base64.b64encode(b"bench:bench-password").decode()
req = urllib.request.Request(url + "/k/v1/" + path, method=method, data=body.encode(),
                             headers={"X-Cybozu-Authorization": auth, "Content-Type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req))))
PY
}

echo "# kitbag restore benchmark (Kintone) — $RECORDS records in one app, $CONFIG build, $(nproc) cores, $(uname -sr)"
MIDDLE=$((RECORDS / 2))
call DELETE records.json "{\"app\": \"1\", \"ids\": [\"$MIDDLE\"]}" > /dev/null
restore "one record (--only record:1/$MIDDLE), dry run" --only "record:1/$MIDDLE" --dry-run
restore "one record (--only record:1/$MIDDLE)" --only "record:1/$MIDDLE"
restore "the same record again (rerun)" --only "record:1/$MIDDLE"

EDITED=$((MIDDLE + 1))
call PUT record.json "{\"app\": \"1\", \"id\": \"$EDITED\", \"record\": {\"Title\": {\"value\": \"edited\"}}}" > /dev/null
restore "one edited record (--only record:1/$EDITED --revert)" --only "record:1/$EDITED" --revert

start=$(date +%s.%N)
"$BIN" diff "$ARCHIVE" --live --rate-limit 0 --journal "$WORK/j.sqlite" --json -v > "$WORK/d.json" 2>"$WORK/d.log"
end=$(date +%s.%N)
python3 - "$WORK/d.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'diff --live (whole app)':>44}: {len(d['entries'])} differences")
PY
python3 -c "print(f'{\"\":>44}  {$end - $start:.2f} s')"
