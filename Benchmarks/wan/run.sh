#!/usr/bin/env bash
# Speed at a real distance (issue 20): every service's sandbox answers each request LATENCY_MS late, like a server that
# far away (one round trip), and kitbag exports and imports a generated account of realistic size with its default
# pacing (no --rate-limit, no --concurrency). Printed per run: wall time, requests, 429s (counted from kitbag's -v log,
# one debug line per answer), and the bound the service's documented limits set:
#   Kinopio (5 requests/s documented):      requests ÷ 5
#   Kintone (100 concurrent per domain; kitbag takes a quarter, 25): requests ÷ 25 × round trip + chain × round trip
#   Kona (nothing documented; kitbag adapts up to 16): requests ÷ 16 × round trip + chain × round trip
#   Kitemaker (nothing documented; the sandbox enforces an invented 5/s, kitbag paces at 4/s): requests ÷ 4
# The chain is the requests that must run one after another (sign-in probe, listings, one page after another).
# "vs 5/s" and "vs 4/s" say how much faster a run was than pacing at a flat 5 (Kona) or 4 (Kitemaker) requests/s.
#
#   bash Benchmarks/wan/run.sh [LATENCY_MS] [CONFIG] [KINTONE_RECORDS] [KINOPIO_CARDS] [KONA_TASKS] [KITEMAKER_ITEMS] [LARGE]
#   defaults: 50 ms, release build, 2000 records (with comments), 10000 cards (100 spaces), 3000 tasks (30 spaces),
#   300 work items; LARGE (e.g. 100000): also export a Kintone app of that many records.
#   (Kitemaker's import creates one entity per request at 4/s: 300 items take over a minute.)
#
# Needs: a built kitbag (swift build -c CONFIG), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
LATENCY=${1:-50}
CONFIG=${2:-release}
RECORDS=${3:-2000}
CARDS=${4:-10000}
TASKS=${5:-3000}
ITEMS=${6:-300}
LARGE=${7:-}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'stop_sandboxes; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source Benchmarks/common.sh

run() { # label service kind(export|import) n chain env-assignment command… → one row
  local label=$1 service=$2 kind=$3 n=$4 chain=$5 assignment=$6; shift 6
  local start end
  start=$(date +%s.%N)
  env "$assignment" "$@" -v --json > "$WORK/$label.json" 2> "$WORK/$label.log" || { tail -5 "$WORK/$label.log"; exit 1; }
  end=$(date +%s.%N)
  python3 - "$WORK/$label.json" "$WORK/$label.log" "$label" "$service" "$kind" "$n" "$chain" "$start" "$end" "$LATENCY" <<'PY'
import json, sys
out, log, label, service, kind, n, chain, start, end, latency = sys.argv[1:]
s = json.load(open(out)); rtt = float(latency) / 1000
wall = float(end) - float(start); requests = sum(s["requests"].values())
too_many = sum(1 for line in open(log, errors="replace") if "→ 429" in line)
chain = int(chain)
if service == "kinopio":
    bound = requests / 5; rule = "÷5/s"
elif service == "kintone":
    bound = requests / 25 * rtt + chain * rtt; rule = "÷25×rt+chain"
elif service == "kona":
    bound = requests / 16 * rtt + chain * rtt; rule = "÷16×rt+chain"
else:
    bound = requests / 4; rule = "÷4/s"
flat = {"kona": 5, "kitemaker": 4}.get(service)
versus = f"{requests / flat / wall:5.1f}x" if flat else "     "
print(f"{label:<24} {n:>7} {wall:8.1f} {requests:8d} {too_many:5d} {bound:8.1f} {rule:<13} {bound / wall * 100:6.0f}% "
      f"{requests / wall:8.1f} {versus}")
PY
}

echo "# kitbag at a distance — ${LATENCY} ms round trip added by each sandbox, $CONFIG build, $(nproc) cores, $(uname -sr)"
printf '%-24s %7s %8s %8s %5s %8s %-13s %7s %8s %6s\n' run size "wall s" requests 429s "bound s" rule "of bnd" "req/s" "vs flat"

SERVICE=kintone
S=$(start_sandbox kt-src "$RECORDS" --latency "$LATENCY")
D=$(start_sandbox kt-dst empty --latency "$LATENCY")
# probe, apps.json, the settings (read at once), the first record page, the last page's comments, spaces.
chain=$((5 + (RECORDS + 499) / 500))
run "kintone export" kintone export "$RECORDS" "$chain" KINTONE_PASSWORD=bench-kt-src \
  env KINTONE_USERNAME=Administrator "$BIN" export kintone --base-url "$S" --formats json -o "$WORK/kt.tar.zst"
run "kintone import" kintone import "$RECORDS" 8 KINTONE_PASSWORD=bench-kt-dst \
  env KINTONE_USERNAME=Administrator "$BIN" import "$WORK/kt.tar.zst" --to kintone --base-url "$D" --journal "$WORK/kt.sqlite"
stop_sandbox kt-src; stop_sandbox kt-dst

SERVICE=kinopio
S=$(start_sandbox ki-src "$CARDS" --latency "$LATENCY")
D=$(start_sandbox ki-dst empty --latency "$LATENCY")
run "kinopio export" kinopio export "$CARDS" 0 KINOPIO_API_KEY=bench-ki-src \
  "$BIN" export kinopio --base-url "$S" --formats json -o "$WORK/ki.tar.zst"
run "kinopio import" kinopio import "$CARDS" 0 KINOPIO_API_KEY=bench-ki-dst \
  "$BIN" import "$WORK/ki.tar.zst" --to kinopio --base-url "$D" --journal "$WORK/ki.sqlite"
stop_sandbox ki-src; stop_sandbox ki-dst

SERVICE=kona
S=$(start_sandbox ko-src "$TASKS" --latency "$LATENCY")
D=$(start_sandbox ko-dst empty --latency "$LATENCY")
spaces=$(((TASKS + 99) / 100))
# userinfo, account, users, two space lists; per space its item lists one after another, then one comment round.
run "kona export" kona export "$TASKS" $((5 + spaces * 5)) KONA_ACCESS_TOKEN=bench-ko-src \
  "$BIN" export kona --base-url "$S" --formats json -o "$WORK/ko.tar.zst"
run "kona import" kona import "$TASKS" $((3 + spaces * 2)) KONA_ACCESS_TOKEN=bench-ko-dst \
  "$BIN" import "$WORK/ko.tar.zst" --to kona --base-url "$D" --journal "$WORK/ko.sqlite"
stop_sandbox ko-src; stop_sandbox ko-dst

SERVICE=kitemaker
S=$(start_sandbox km-src "$ITEMS" --latency "$LATENCY")
D=$(start_sandbox km-dst empty --latency "$LATENCY")
run "kitemaker export" kitemaker export "$ITEMS" 0 KITEMAKER_TOKEN=bench-km-src \
  "$BIN" export kitemaker --base-url "$S" --formats json -o "$WORK/km.tar.zst"
run "kitemaker import" kitemaker import "$ITEMS" 0 KITEMAKER_TOKEN=bench-km-dst \
  "$BIN" import "$WORK/km.tar.zst" --to kitemaker --base-url "$D" --journal "$WORK/km.sqlite"
stop_sandbox km-src; stop_sandbox km-dst

if [ -n "$LARGE" ]; then
  SERVICE=kintone
  S=$(start_sandbox kt-large "$LARGE" --latency "$LATENCY")
  run "kintone export (large)" kintone export "$LARGE" $((5 + (LARGE + 499) / 500)) KINTONE_PASSWORD=bench-kt-large \
    env KINTONE_USERNAME=Administrator "$BIN" export kintone --base-url "$S" --formats json -o "$WORK/kt-large.tar.zst"
  stop_sandbox kt-large
fi
echo "bound: the time the documented limits allow at best; 'of bnd' = bound ÷ wall (100% = at the limit)"
