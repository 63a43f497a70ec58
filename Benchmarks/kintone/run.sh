#!/usr/bin/env bash
# Kintone benchmark: requests versus the minimum the documented limits allow (records pages of 500, one comment
# page per record, bulkRequest of 20 × 100 records), export and import throughput with pacing off and with
# kitbag's default pacing against the sandbox's concurrency limit (100), and peak RSS for a small and a large app.
#
#   bash Benchmarks/kintone/run.sh [RECORDS] [LARGE] [CONFIG] [PACED]
#   defaults: 100000 records, 1000000 for the memory check, release build, 5000 records for the paced run
#   (with kitbag's default pacing of 50 requests/s, one comment request per record dominates: 100,000 records
#   would take over half an hour there).
#
# Needs: a built kitbag (swift build -c CONFIG), python3, /usr/bin/time (Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=${1:-100000}
LARGE=${2:-1000000}
CONFIG=${3:-release}
PACED=${4:-5000}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v /usr/bin/time >/dev/null || { echo "install the Debian package 'time'"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

SERVICE=kintone
source Benchmarks/common.sh

report() { # export.json import.json records
  python3 - "$@" <<'PY'
import json, math, sys
e = json.load(open(sys.argv[1])); i = json.load(open(sys.argv[2])); n = int(sys.argv[3])
c = e["counts"]; apps = c.get("app", 0)
req_e = sum(e["requests"].values())
# Probe (apps.json limit 1), apps.json pages of 100, 16 settings documents per app, records in pages of 500
# (the first page asks for totalCount, so the walk needs no extra empty page), and one comment page per record
# (the API has no bulk comment read; the generated seed has no comments, so one page each is the floor).
min_e = 1 + math.ceil((apps + 1) / 100) + 16 * apps + max(1, math.ceil(n / 500)) + n
print(f"export: {n} records, {e['bytes']} bytes, {e['seconds']:.2f} s, {n/max(e['seconds'],1e-9):.0f} records/s; "
      f"requests {req_e} vs minimum {min_e} ({req_e/min_e:.3f}x)")
for r, k in sorted(e["requests"].items()): print(f"  {r}: {k}")
req_i = sum(i["requests"].values()); bulks = i["requests"].get("POST bulkRequest.json", 0)
min_bulks = math.ceil(n / 2000)
print(f"import: created {sum(i['created'].values())} entities in {bulks} bulk requests (minimum {min_bulks});"
      f" {req_i} requests in all")
for r, k in sorted(i["requests"].items()): print(f"  {r}: {k}")
PY
}

echo "# kitbag Kintone benchmark — $RECORDS records, $CONFIG build, $(nproc) cores, $(uname -sr)"

# 1. Requests versus the minimum, pacing off (the sandbox's concurrency limit stays on).
SRC=$(start_sandbox src "$RECORDS")
DST=$(start_sandbox dst empty)
measure "export $RECORDS (pacing off)" "$WORK/export.json" \
  env KINTONE_USERNAME=Administrator KINTONE_PASSWORD=bench-src "$BIN" export kintone --base-url "$SRC" --rate-limit 0 --formats json -o "$WORK/a.tar.zst" --json
measure "import $RECORDS (pacing off)" "$WORK/import.json" \
  env KINTONE_USERNAME=Administrator KINTONE_PASSWORD=bench-dst "$BIN" import "$WORK/a.tar.zst" --to kintone --base-url "$DST" --rate-limit 0 \
    --journal "$WORK/j.sqlite" --json
report "$WORK/export.json" "$WORK/import.json" "$RECORDS"

# 2. Records/s with kitbag's default pacing (10 in flight, 50 requests/s) against the concurrency limit: no 429s.
SRC2=$(start_sandbox src2 "$PACED")
DST2=$(start_sandbox dst2 empty)
measure "export $PACED (default pacing)" "$WORK/export2.json" \
  env KINTONE_USERNAME=Administrator KINTONE_PASSWORD=bench-src2 "$BIN" export kintone --base-url "$SRC2" --formats json -o "$WORK/b.tar.zst" --json
measure "import $PACED (default pacing)" "$WORK/import2.json" \
  env KINTONE_USERNAME=Administrator KINTONE_PASSWORD=bench-dst2 "$BIN" import "$WORK/b.tar.zst" --to kintone --base-url "$DST2" \
    --journal "$WORK/j2.sqlite" --json
report "$WORK/export2.json" "$WORK/import2.json" "$PACED"
grep -q '"GAIA_TO04"\|429' "$WORK/export2.json" "$WORK/import2.json" && echo "note: a 429 appears in a report" || true

# 3. Peak RSS: 10,000 records versus $LARGE records (memory must stay flat: records stream page by page).
for n in 10000 "$LARGE"; do
  S=$(start_sandbox "rss$n" "$n")
  D=$(start_sandbox "rssd$n" empty)
  measure "export $n records (RSS)" "$WORK/rss-export-$n.json" \
    env KINTONE_USERNAME=Administrator KINTONE_PASSWORD="bench-rss$n" "$BIN" export kintone --base-url "$S" --rate-limit 0 --formats json -o "$WORK/r$n.tar.zst" --json
  measure "import $n records (RSS)" "$WORK/rss-import-$n.json" \
    env KINTONE_USERNAME=Administrator KINTONE_PASSWORD="bench-rssd$n" "$BIN" import "$WORK/r$n.tar.zst" --to kintone --base-url "$D" --rate-limit 0 \
      --journal "$WORK/rj$n.sqlite" --json
  rm -f "$WORK/r$n.tar.zst"
done
