#!/usr/bin/env bash
# Restore benchmark (issue 19): requests (and time) to put back one card, one whole space, and everything, from an
# archive of a generated Kinopio account, against what a full `kitbag diff --live` (a re-read of the account) costs.
# Rate limit off: the figures are request counts; at Kinopio's 5 requests/s each request is 0.2 s.
#
#   bash Benchmarks/restore/run.sh [CARDS] [CONFIG]     # defaults: 10000 cards (100 spaces), release build
set -euo pipefail
cd "$(dirname "$0")/../.."
CARDS=${1:-10000}
CONFIG=${2:-release}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sandbox kinopio --seed "$CARDS" --api-key bench-key --no-rate-limit -q > "$WORK/url" 2>"$WORK/log" &
for _ in $(seq 600); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/url")
export KINOPIO_API_KEY=bench-key KINOPIO_BASE_URL="$URL"
ARCHIVE="$WORK/before.tar.zst"
"$BIN" export kinopio --rate-limit 0 --formats json -o "$ARCHIVE" -q

call() { # method path [json body] → the JSON answer
  python3 - "$URL" "$@" <<'PY'
import json, sys, urllib.request
url, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, method=method, data=body,
                             headers={"Authorization": "bench-key", "Content-Type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req))))
PY
}

# shellcheck source=Benchmarks/restore/lib.sh
source Benchmarks/restore/lib.sh

echo "# kitbag restore benchmark — $CARDS cards, $CONFIG build, $(nproc) cores, $(uname -sr)"
SPACES=$(call GET /user/spaces | python3 -c "import json,sys; print(' '.join(sorted(s['id'] for s in json.load(sys.stdin))))")
FIRST=${SPACES%% *}
CARD=$(call GET "/space/$FIRST" | python3 -c "import json,sys; print(json.load(sys.stdin)['cards'][0]['id'])")

call DELETE /card/permanent "{\"id\": \"$CARD\"}" > /dev/null
restore "one card (--only card:ID), dry run" --only "card:$CARD" --dry-run
restore "one card (--only card:ID)" --only "card:$CARD"

SECOND=$(echo "$SPACES" | cut -d' ' -f2)
call DELETE /space/permanent "{\"id\": \"$SECOND\"}" > /dev/null
restore "one space (--only space:ID)" --only "space:$SECOND"

call DELETE /card/permanent "{\"id\": \"$(call GET "/space/$FIRST" | python3 -c "import json,sys; print(json.load(sys.stdin)['cards'][1]['id'])")\"}" > /dev/null
restore "one card, no selection (whole account)"
restore "nothing missing (rerun)"

start=$(date +%s.%N)
"$BIN" diff "$ARCHIVE" --live --rate-limit 0 --json > "$WORK/d.json"
end=$(date +%s.%N)
python3 - "$WORK/d.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'diff --live (whole account)':>40}: {len(d['entries'])} differences")
PY
python3 -c "print(f'{\"\":>40}  {$end - $start:.2f} s')"
