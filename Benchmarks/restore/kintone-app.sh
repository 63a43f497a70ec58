#!/usr/bin/env bash
# Kintone restore benchmark (issue 19): requests (per route) and time to put back one deleted app of a generated
# 2,000-record app — created again as a new app (preview, settings, deploy), then its records — and a rerun. The app is
# deleted through the sandbox's stand-in for Kintone's "Delete App" screen (the REST API deletes no app).
# Rate limit off: the figures are request counts.
#
#   bash Benchmarks/restore/kintone-app.sh [RECORDS] [CONFIG]     # defaults: 2000 records, release build
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=${1:-2000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

ARCHIVE="$WORK/before.tar.zst"
WIDTH=36 ROUTES=1
# shellcheck source=Benchmarks/restore/lib.sh
source Benchmarks/restore/lib.sh
kintone_sandbox "$RECORDS"

python3 - "$URL" <<'PY'
import base64, sys, urllib.request
auth = base64.b64encode(b"bench:bench-password").decode()
req = urllib.request.Request(sys.argv[1] + "/sandbox-only/app/delete-app", method="POST", data=b'{"id": "1"}',
                             headers={"X-Cybozu-Authorization": auth, "Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY

echo "# kitbag restore benchmark (Kintone, a deleted app) — $RECORDS records in the app, $CONFIG build, $(nproc) cores, $(uname -sr)"
restore "the deleted app (--only app:1), dry run" --only app:1 --dry-run
restore "the deleted app (--only app:1)" --only app:1
restore "the same app again (rerun)" --only app:1

start=$(date +%s.%N)
"$BIN" diff "$ARCHIVE" --live --rate-limit 0 --journal "$WORK/j.sqlite" --json > "$WORK/d.json"
end=$(date +%s.%N)
python3 - "$WORK/d.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'diff --live afterwards':>36}: {len(d['entries'])} differences")
PY
python3 -c "print(f'{\"\":>36}  {$end - $start:.2f} s')"
