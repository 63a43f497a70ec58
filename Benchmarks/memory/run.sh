#!/usr/bin/env bash
# Peak RSS of an export against the number of containers (issue 20 point 5: within 1.5× of a 100-space account at
# 10,000 spaces). Kinopio and Kona, pacing off, 100 spaces and SPACES spaces of 100 cards or tasks each (the
# generated seeds put 100 in a space), once JSON only and once with every rendering; tar.zst.
#
#   bash Benchmarks/memory/run.sh [CONFIG] [SPACES] [SERVICES]     # defaults: release, 10000, "kinopio kona"
#
# Needs: a built kitbag (swift build -c CONFIG), python3, /usr/bin/time (Debian package "time"). The sandbox holds
# the whole generated account in memory (about 2.5 GiB at 10,000 spaces); its own peak RSS is printed apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${1:-release}
SPACES=${2:-10000}
SERVICES=${3:-kinopio kona}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v /usr/bin/time >/dev/null || { echo "install the Debian package 'time'"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh

echo "# kitbag export peak RSS by number of containers — $CONFIG build, $(nproc) cores, $(uname -sr)"
for SERVICE in $SERVICES; do
  case $SERVICE in
    kinopio) VARIABLE=KINOPIO_API_KEY ;;
    kona) VARIABLE=KONA_ACCESS_TOKEN ;;
    *) echo "no generated seed of spaces for $SERVICE"; exit 2 ;;
  esac
  for spaces in 100 "$SPACES"; do
    S=$(start_sandbox "m$spaces" "$((spaces * 100))" --no-rate-limit)
    for formats in json json,markdown,rss,canvas,html; do
      label="$SERVICE $spaces spaces $formats"
      measure "$label" "$WORK/e.json" \
        env "$VARIABLE=bench-m$spaces" "$BIN" export "$SERVICE" --base-url "$S" --rate-limit 0 --formats "$formats" \
        -o "$WORK/m.tar.zst" --json
      python3 - "$WORK/e.json" "$(stat -c %s "$WORK/m.tar.zst")" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); n = sum(e["counts"].values()); r = sum(e["requests"].values())
print(f"  {n} entities, {r} requests, {e['seconds']:.1f} s, archive {int(sys.argv[2])/1e6:.1f} MB")
PY
      grep "Maximum resident" "$WORK/$label.time" | awk -v l="$label" '{print l "\t" $NF}' >> "$WORK/rss.tsv"
      rm -f "$WORK/m.tar.zst"
    done
    echo "  sandbox peak RSS $(sandbox_rss "m$spaces") MiB"
    stop_sandbox "m$spaces"
  done
done
python3 - "$WORK/rss.tsv" "$SPACES" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rss = {label: int(kb) / 1024 for label, kb in rows}
print("\n| service | renderings | 100 spaces | %s spaces | ratio |" % f"{int(sys.argv[2]):,}")
print("| --- | --- | --- | --- | --- |")
for label in rss:
    service, small, _, formats = label.split(" ")
    if small != "100": continue
    big = rss[f"{service} {sys.argv[2]} spaces {formats}"]
    what = "JSON only" if formats == "json" else "all"
    print(f"| {service} | {what} | {rss[label]:.0f} MiB | {big:.0f} MiB | {big / rss[label]:.2f}× |")
PY
