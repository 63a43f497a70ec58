#!/usr/bin/env bash
# Kinopio benchmark: requests versus the minimum the documented batch sizes allow, export and import time
# for a generated account with the rate limit off, and use of the 5 requests/s budget with it on.
#
#   bash Benchmarks/kinopio/run.sh [CARDS] [CONFIG] [LARGE]     # defaults: 10000 cards, release build, no memory check
#   LARGE (e.g. 1000000): also export 10,000 and LARGE generated cards with pacing off and report
#   wall time, peak RSS and archive size of each (and the sandbox's own peak RSS, which is not kitbag's).
#
# Needs: a built kitbag (swift build -c CONFIG), python3, /usr/bin/time (Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/../.."
CARDS=${1:-10000}
CONFIG=${2:-release}
LARGE=${3:-}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v /usr/bin/time >/dev/null || { echo "install the Debian package 'time'"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

SERVICE=kinopio
source Benchmarks/common.sh

echo "# kitbag Kinopio benchmark — $CARDS cards, $CONFIG build, $(nproc) cores, $(uname -sr)"
SRC=$(start_sandbox src "$CARDS" --no-rate-limit)
DST=$(start_sandbox dst empty --no-rate-limit)
measure "export (rate limit off)" "$WORK/export.json" \
  env KINOPIO_API_KEY=bench-src "$BIN" export kinopio --base-url "$SRC" --rate-limit 0 -o "$WORK/a.tar.zst" --json
measure "import (rate limit off)" "$WORK/import.json" \
  env KINOPIO_API_KEY=bench-dst "$BIN" import "$WORK/a.tar.zst" --to kinopio --base-url "$DST" --rate-limit 0 --journal "$WORK/j.sqlite" --json

python3 - "$WORK/export.json" "$WORK/import.json" <<'PY'
import json, math, sys
e = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2]))
c = e["counts"]; spaces = c.get("space", 0)
req_e = sum(e["requests"].values())
# GET /user, 5 account lists (notification, 3 favourites, groups) + GET /group/:id per group, 5 space lists
# (spaces, removed, hidden, group, template) + inbox, /space/multiple pages of 60, removed-cards per space.
min_e = 1 + 5 + c.get("group", 0) + 6 + math.ceil(spaces / 60) + spaces
print(f"export: {sum(c.values())} entities, {e['bytes']} bytes, {e['seconds']:.2f} s, "
      f"{sum(c.values())/max(e['seconds'],1e-9):.0f} entities/s; requests {req_e} vs minimum {min_e} ({req_e/min_e:.2f}x)")
for r, n in sorted(e["requests"].items()): print(f"  {r}: {n}")
created = i["created"]; req_i = sum(i["requests"].values())
# Per space: cards in batches of 100, connections and boxes in one /multiple batch each (legacy connection types
# are folded into connections: no request), one POST /list per list; spaces (with their lines and drawing
# strokes) in batches of 100; GET /user once; one DELETE per removed card/space.
cards_per_space = (c.get("card", 0) + c.get("removedCard", 0)) / max(spaces, 1)
min_i = (1 + math.ceil(spaces / 100) + spaces * math.ceil(cards_per_space / 100)
         + (spaces if c.get("connection") else 0) + (spaces if c.get("box") else 0)
         + c.get("list", 0) + c.get("removedCard", 0))
print(f"import: created {sum(created.values())} entities; requests {req_i} vs minimum {min_i} ({req_i/max(min_i,1):.2f}x)")
for r, n in sorted(i["requests"].items()): print(f"  {r}: {n}")
PY

# With the sandbox's real 5 requests/s limit: how much of the budget does kitbag use, and does it ever draw a 429?
SRC2=$(start_sandbox src2 "$CARDS")
measure "export (rate limit on)" "$WORK/export2.json" \
  env KINOPIO_API_KEY=bench-src2 "$BIN" export kinopio --base-url "$SRC2" -o "$WORK/b.tar.zst" --json
python3 - "$WORK/export2.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); n = sum(e["requests"].values())
print(f"rate limit on: {n} requests in {e['seconds']:.2f} s = {n/e['seconds']:.2f} requests/s "
      f"({100*n/e['seconds']/5:.0f} % of the 5 requests/s budget)")
PY
if grep -q '"429"\|429' "$WORK/export2.json"; then echo "note: a 429 appears in the report"; fi
cmp -s <(python3 -c 'import json,sys;print(sorted(json.load(open(sys.argv[1]))["counts"].items()))' "$WORK/export.json") \
       <(python3 -c 'import json,sys;print(sorted(json.load(open(sys.argv[1]))["counts"].items()))' "$WORK/export2.json") \
  && echo "both exports hold the same counts"

# Peak RSS: 10,000 versus $LARGE cards, pacing off, JSON only (as Kintone's check) — memory must stay flat:
# spaces stream one `/space/multiple` page at a time.
if [ -n "$LARGE" ]; then memory_at_scale "cards" KINOPIO_API_KEY "$LARGE"; fi
