#!/usr/bin/env bash
# Archive speed of real exports, release build, against bsdtar on the same content. For each service: export a
# generated account from its sandbox (pacing off) as a folder and as tar, tar.gz and tar.zst; extract the tar and
# time bsdtar -cf, -czf and --zstd -cf of that tree. kitbag has no repack command, so its figure is a whole export:
# MB of content (the extracted tree) per second of export wall time, which includes walking the local sandbox.
# The cost of the archive writer alone is the export's time minus the folder export's (same walk, plain files).
# Each timing is the median of REPEAT runs (default 3), wall clock from /usr/bin/time.
#
#   bash Benchmarks/archive/services.sh [CONFIG] [SERVICES]     # defaults: release, "kinopio kintone kitemaker kona"
#   seeds: KINOPIO_SEED (10000 cards), KINTONE_SEED (5000 records), KITEMAKER_SEED (5000), KONA_SEED (5000)
#
# Needs: a built kitbag (swift build -c CONFIG), bsdtar (libarchive-tools), python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${1:-release}
SERVICES=${2:-kinopio kintone kitemaker kona}
REPEAT=${REPEAT:-3}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
command -v bsdtar >/dev/null || { echo "install bsdtar (Debian package libarchive-tools)"; exit 1; }
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh

seconds() { # time-file → wall seconds
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$1"
}
median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
timed() { # label output-to-remove command… → median wall seconds of REPEAT runs (last run's output kept)
  local label=$1 out=$2; shift 2; local runs=()
  for r in $(seq "$REPEAT"); do
    rm -rf "$out"
    /usr/bin/time -v -o "$WORK/t" "$@" > /dev/null 2>"$WORK/$label.err" || { cat "$WORK/$label.err" >&2; exit 1; }
    runs+=("$(seconds "$WORK/t")")
  done
  echo "$label runs: ${runs[*]}" >&2
  median "${runs[@]}"
}

echo "# kitbag archive vs bsdtar on exported content — $CONFIG build, $(nproc) cores, $(uname -sr), $(bsdtar --version)"
printf '%-9s %-22s %9s %10s %8s %8s\n' service tool input_MB output_MB seconds MB_per_s
for SERVICE in $SERVICES; do
  case $SERVICE in
    kinopio) seed=${KINOPIO_SEED:-10000}; cred=KINOPIO_API_KEY; flags=(--no-rate-limit); only=() ;;
    # API tokens cannot list apps: the generated seed's one app is named.
    kintone) seed=${KINTONE_SEED:-5000}; cred=KINTONE_API_TOKEN; flags=(); only=(--app 1) ;;
    kitemaker) seed=${KITEMAKER_SEED:-5000}; cred=KITEMAKER_TOKEN; flags=(--no-rate-limit); only=() ;;
    kona) seed=${KONA_SEED:-5000}; cred=KONA_ACCESS_TOKEN; flags=(--no-rate-limit); only=() ;;
  esac
  URL=$(start_sandbox "$SERVICE" "$seed" "${flags[@]}")
  exp=(env "$cred=bench-$SERVICE" "$BIN" export "$SERVICE" --base-url "$URL" --rate-limit 0 -q "${only[@]}")
  declare -A secs=()
  mkdir -p "$WORK/$SERVICE"
  secs[folder]=$(timed "$SERVICE folder" "$WORK/$SERVICE/folder" "${exp[@]}" --archive-format folder -o "$WORK/$SERVICE/folder")
  for fmt in tar tar.gz tar.zst; do
    secs[$fmt]=$(timed "$SERVICE $fmt" "$WORK/$SERVICE/a.$fmt" "${exp[@]}" -o "$WORK/$SERVICE/a.$fmt")
  done
  stop_sandbox "$SERVICE"
  rm -rf "$WORK/$SERVICE/tree"; mkdir "$WORK/$SERVICE/tree"
  bsdtar -xf "$WORK/$SERVICE/a.tar" -C "$WORK/$SERVICE/tree"
  sync
  in=$(find "$WORK/$SERVICE/tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
  files=$(find "$WORK/$SERVICE/tree" -type f | wc -l)
  row() { # tool output-file seconds
    python3 -c 'import sys; i, o, s = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
print(f"{sys.argv[1]:<9} {sys.argv[2]:<22} {i/1e6:9.1f} {o/1e6:10.1f} {s:8.2f} {i/1e6/max(s,1e-9):8.1f}")' \
      "$SERVICE" "$1" "$in" "$(stat -c %s "$2" 2>/dev/null || echo 0)" "$3"
  }
  row "kitbag export folder" /dev/null "${secs[folder]}"
  for fmt in tar tar.gz tar.zst; do row "kitbag export $fmt" "$WORK/$SERVICE/a.$fmt" "${secs[$fmt]}"; done
  for b in "tar:-cf" "tar.gz:-czf" "tar.zst:--zstd -cf"; do
    fmt=${b%%:*}; read -r -a opt <<<"${b#*:}"
    s=$(timed "$SERVICE bsdtar $fmt" "$WORK/$SERVICE/b.$fmt" bsdtar "${opt[@]}" "$WORK/$SERVICE/b.$fmt" -C "$WORK/$SERVICE/tree" .)
    row "bsdtar $fmt" "$WORK/$SERVICE/b.$fmt" "$s"
  done
  python3 -c 'import sys
f = float(sys.argv[1]); i = int(sys.argv[2])
for fmt, s in zip(("tar", "tar.gz", "tar.zst"), map(float, sys.argv[3:])):
    d = s - f
    print(f"  {fmt}: archive writing adds {d:.2f} s over the folder export" + (f" = {i/1e6/d:.0f} MB/s of content" if d > 0.05 else " (within noise)"))' \
    "${secs[folder]}" "$in" "${secs[tar]}" "${secs[tar.gz]}" "${secs[tar.zst]}"
  echo "  ($files files in the tree)"
  rm -rf "$WORK/$SERVICE"
done
