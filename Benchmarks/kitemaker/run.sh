#!/usr/bin/env bash
# Kitemaker benchmark: requests versus the minimum the API allows (GraphQL pages of 50 for export, one REST or
# GraphQL create per entity for import), export and import time for a generated organization with the rate limit
# off, and use of the sandbox's 5 requests/s budget with it on.
#
#   bash Benchmarks/kitemaker/run.sh [WORKITEMS] [CONFIG] [LARGE]     # defaults: 2000 work items, release build, no memory check
#   LARGE (e.g. 1000000): also export 10,000 and LARGE generated work items with pacing off and report
#   wall time, peak RSS and archive size of each (and the sandbox's own peak RSS, which is not kitbag's).
#   FORMATS (default json) picks the renderings of those two exports; MEMORY_ONLY=1 runs only that check.
#
# Needs: a built kitbag (swift build -c CONFIG), python3, /usr/bin/time (Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS=${1:-2000}
CONFIG=${2:-release}
LARGE=${3:-}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v /usr/bin/time >/dev/null || { echo "install the Debian package 'time'"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

SERVICE=kitemaker
source Benchmarks/common.sh

echo "# kitbag Kitemaker benchmark — $ITEMS work items, $CONFIG build, $(nproc) cores, $(uname -sr)"
if [ -z "${MEMORY_ONLY:-}" ]; then
SRC=$(start_sandbox src "$ITEMS" --no-rate-limit)
DST=$(start_sandbox dst empty --no-rate-limit)
measure "export (rate limit off)" "$WORK/export.json" \
  env KITEMAKER_TOKEN=bench-src "$BIN" export kitemaker --base-url "$SRC" --rate-limit 0 -o "$WORK/a.tar.zst" --json
measure "import (rate limit off)" "$WORK/import.json" \
  env KITEMAKER_TOKEN=bench-dst "$BIN" import "$WORK/a.tar.zst" --to kitemaker --base-url "$DST" --rate-limit 0 --journal "$WORK/j.sqlite" --json

python3 - "$WORK/export.json" "$WORK/import.json" "$ITEMS" <<'PY'
import json, math, sys
e = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2])); n = int(sys.argv[3])
c = e["counts"]
pages = lambda k: max(1, math.ceil(k / 50))
req_e = sum(e["requests"].values())
# GET /organization (probe), one organization query, work item pages of 50 per space (the generated seed puts
# ⌈n/2⌉ items in ACM and ⌊n/2⌋ in OPS), one roadmaps query, one page run each of initiatives and feedback, one
# query for feedback persons and companies.
min_e = 1 + 1 + pages((n + 1) // 2) + pages(n // 2) + 1 + pages(c.get("initiative", 0)) + pages(c.get("feedback", 0)) + 1
print(f"export: {sum(c.values())} entities, {e['bytes']} bytes, {e['seconds']:.2f} s, "
      f"{sum(c.values())/max(e['seconds'],1e-9):.0f} entities/s; requests {req_e} vs minimum {min_e} ({req_e/min_e:.2f}x)")
for r, k in sorted(e["requests"].items()): print(f"  {r}: {k}")
created = i["created"]; req_i = sum(i["requests"].values())
# Probe, one organization query, then one create per label, work item, comment, initiative and feedback item
# (the API has no batch routes).
min_i = 2 + c.get("label", 0) + c.get("workItem", 0) + c.get("comment", 0) + c.get("initiative", 0) + c.get("feedback", 0)
print(f"import: created {sum(created.values())} entities in {i.get('seconds', 0) or 0} s; "
      f"requests {req_i} vs minimum {min_i} ({req_i/max(min_i,1):.2f}x)")
for r, k in sorted(i["requests"].items()): print(f"  {r}: {k}")
PY

# With the sandbox's 5 requests/s limit on: how much of the budget does kitbag's 4/s pacing use, and any 429?
SRC2=$(start_sandbox src2 "$ITEMS")
measure "export (rate limit on)" "$WORK/export2.json" \
  env KITEMAKER_TOKEN=bench-src2 "$BIN" export kitemaker --base-url "$SRC2" -o "$WORK/b.tar.zst" --json
python3 - "$WORK/export2.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); n = sum(e["requests"].values())
print(f"rate limit on: {n} requests in {e['seconds']:.2f} s = {n/e['seconds']:.2f} requests/s "
      f"({100*n/e['seconds']/5:.0f} % of the sandbox's 5 requests/s budget)")
PY
cmp -s <(python3 -c 'import json,sys;print(sorted(json.load(open(sys.argv[1]))["counts"].items()))' "$WORK/export.json") \
       <(python3 -c 'import json,sys;print(sorted(json.load(open(sys.argv[1]))["counts"].items()))' "$WORK/export2.json") \
  && echo "both exports hold the same counts"
fi

# Peak RSS: 10,000 versus $LARGE work items, pacing off, JSON only unless FORMATS says otherwise (as Kintone's
# check) — memory must stay flat: work items stream in GraphQL pages of 50. Every generated organization has the
# same two spaces, so only the work items per space grow.
if [ -n "$LARGE" ]; then memory_at_scale "work items" KITEMAKER_TOKEN "$LARGE"; fi
