#!/usr/bin/env bash
# HTML against Markdown rendering of one generated Kinopio-like space (issue 22: HTML within 2× of Markdown).
# Usage: Benchmarks/render/run.sh [CARDS, default 10000] [CONFIG: debug (default) or release] [RUNS, default 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
CARDS=${1:-10000}
CONFIG=${2:-debug}
RUNS=${3:-5}
source Benchmarks/common.sh
BIN=$(test_bundle "$CONFIG")
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
KITBAG_BENCH=1 KITBAG_BENCH_CARDS=$CARDS KITBAG_BENCH_RUNS=$RUNS \
  "$BIN" --testing-library swift-testing --filter RenderBenchmark >"$LOG" 2>&1 || { cat "$LOG"; exit 1; }
line=$(grep -h '^KITBAG_BENCH ' "$LOG")
get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }
printf '%-9s %7s %10s %12s\n' rendering cards seconds bytes
printf '%-9s %7s %10s %12s\n' markdown "$CARDS" "$(get markdown_s)" "$(get markdown_bytes)"
printf '%-9s %7s %10s %12s\n' html "$CARDS" "$(get html_s)" "$(get html_bytes)"
echo "html / markdown = $(get ratio) (fastest of $RUNS runs each, $CONFIG build)"
