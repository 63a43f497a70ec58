#!/usr/bin/env bash
# Kona benchmark: requests versus the minimum the API allows (pages of 100, creates of up to 100 objects),
# export and import time for a generated account, and the OAuth refresh path with short-lived tokens.
#
#   bash Benchmarks/kona/run.sh [TASKS] [CONFIG] [LARGE]     # defaults: 10000 tasks, release build, no memory check
#   LARGE (e.g. 1000000): also export 10,000 and LARGE generated tasks in SPACES spaces (default 100) with pacing
#   off and report wall time, peak RSS and archive size of each (and the sandbox's own peak RSS, which is not
#   kitbag's). FORMATS (default json) picks the renderings of those two exports; MEMORY_ONLY=1 runs only
#   that check.
#
# Needs: a built kitbag (swift build -c CONFIG), python3, /usr/bin/time (Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/../.."
TASKS=${1:-10000}
CONFIG=${2:-release}
LARGE=${3:-}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v /usr/bin/time >/dev/null || { echo "install the Debian package 'time'"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

SERVICE=kona
source Benchmarks/common.sh

echo "# kitbag Kona benchmark — $TASKS tasks, $CONFIG build, $(nproc) cores, $(uname -sr)"
if [ -z "${MEMORY_ONLY:-}" ]; then
SRC=$(start_sandbox src "$TASKS" --no-rate-limit)
DST=$(start_sandbox dst empty --no-rate-limit)
measure "export (pacing off)" "$WORK/export.json" \
  env KONA_ACCESS_TOKEN=bench-src "$BIN" export kona --base-url "$SRC" --rate-limit 0 -o "$WORK/a.tar.zst" --json
measure "import (pacing off)" "$WORK/import.json" \
  env KONA_ACCESS_TOKEN=bench-dst "$BIN" import "$WORK/a.tar.zst" --to kona --base-url "$DST" --rate-limit 0 --journal "$WORK/j.sqlite" --json

python3 - "$WORK/export.json" "$WORK/import.json" "$TASKS" <<'PY'
import json, math, sys
e = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2])); n = int(sys.argv[3])
c = e["counts"]; spaces = c.get("space", 0)
req_e = sum(e["requests"].values())
# The generated seed puts 100 tasks in each space. Kona's lists carry no totals, so a full page of 100 needs one
# more (empty) page to know it was the last. Per space: conversations and events one page each; comments are
# listed per item (one request each when an item has fewer than 100).
full, rest = divmod(n, 100)
task_pages = full * 2 + (1 if rest else 0)
items = c.get("conversation", 0) + c.get("task", 0) + c.get("calendarEvent", 0)
# userinfo, accounts/current, users (one page, plus an empty one: until the server has returned a page longer
# than a short one, a short page might be its per_page cap), spaces read with and without hidden=true (Kona does
# not say whether hidden=true means "only hidden") in pages of 100, each list ended by a page the same rule accepts.
# Until a page of 100 has been seen, a short space list is confirmed by one more (empty) page.
space_list = spaces // 100 + 1 + (1 if spaces < 100 else 0)
min_e = 2 + 2 + 2 * space_list + 2 * spaces + task_pages + items
print(f"export: {sum(c.values())} entities, {e['bytes']} bytes, {e['seconds']:.2f} s, "
      f"{sum(c.values())/max(e['seconds'],1e-9):.0f} entities/s; requests {req_e} vs minimum {min_e} ({req_e/min_e:.2f}x)")
for r, k in sorted(e["requests"].items()): print(f"  {r}: {k}")
created = i["created"]; req_i = sum(i["requests"].values())
# GET /userinfo twice (probe, user mapping); spaces in creates of 100; each space's tasks in one create of 100.
min_i = 2 + math.ceil(spaces / 100) + (spaces if c.get("task") else 0)
print(f"import: created {sum(created.values())} entities; requests {req_i} vs minimum {min_i} ({req_i/max(min_i,1):.2f}x)")
for r, k in sorted(i["requests"].items()): print(f"  {r}: {k}")
PY

# Kona documents no rate limit; kitbag paces itself (5 requests/s, 4 at once) unless told otherwise.
SRC2=$(start_sandbox src2 demo)
measure "export demo (default pacing)" "$WORK/export2.json" \
  env KONA_ACCESS_TOKEN=bench-src2 "$BIN" export kona --base-url "$SRC2" -o "$WORK/b.tar.zst" --json
python3 - "$WORK/export2.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); n = sum(e["requests"].values())
print(f"default pacing: {n} requests in {e['seconds']:.2f} s = {n/e['seconds']:.2f} requests/s")
PY
fi

# Peak RSS: 10,000 versus $LARGE tasks, pacing off, JSON only unless FORMATS says otherwise (as Kintone's check),
# both in the same number of spaces (SPACES, default 100) so only the tasks grow — memory must stay flat.
# (Memory against the number of spaces is measured apart.)
if [ -n "$LARGE" ]; then memory_at_scale "tasks" KONA_ACCESS_TOKEN "$LARGE" --spaces "${SPACES:-100}"; fi
