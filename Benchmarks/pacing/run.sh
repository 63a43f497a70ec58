#!/usr/bin/env bash
# Pacing utilisation at a distant server (issue 20): each service's default pacing against a test server that adds
# LATENCY_MS of round trip (half each way) and enforces the service's documented limit — Kinopio's 5 requests in any
# second with a 30 s penalty, Kintone's 100 concurrent requests — or none (Kona). Prints requests/s achieved against
# the bound the limit sets, the 429s, the most requests in any second and the most the server ran at once.
# Usage: Benchmarks/pacing/run.sh [LATENCY_MS, default 50] [CONFIG: release (default) or debug] [SCALE, default 1]
set -euo pipefail
cd "$(dirname "$0")/../.."
LATENCY=${1:-50}
CONFIG=${2:-release}
SCALE=${3:-1}
source Benchmarks/common.sh
BIN=$(test_bundle "$CONFIG")
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
KITBAG_BENCH=1 KITBAG_BENCH_LATENCY_MS=$LATENCY KITBAG_BENCH_SCALE=$SCALE \
  "$BIN" --testing-library swift-testing --filter PacingBenchmark >"$LOG" 2>&1 || { cat "$LOG"; exit 1; }
get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }
printf '%-18s %8s %8s %10s %8s %8s %6s %8s %6s\n' scenario requests seconds "achieved/s" "bound/s" utilis. 429s "max/1s" peak
for name in kinopio-export kinopio-import kinopio-4-callers kitemaker kitemaker-before kintone kintone-before kona kona-before; do
  line=$(grep -h "^KITBAG_BENCH scenario=$name " "$LOG") || continue
  printf '%-18s %8s %8s %10s %8s %7s%% %6s %8s %6s\n' "$name" "$(get requests "$line")" "$(get seconds "$line")" \
    "$(get achieved "$line")" "$(get bound "$line")" "$(get utilisation "$line")" "$(get too_many "$line")" \
    "$(get most_per_second "$line")" "$(get peak_running "$line")"
done
echo "round trip ${LATENCY} ms added by the test server, $CONFIG build"
