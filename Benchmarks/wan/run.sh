#!/usr/bin/env bash
# Speed at a real distance (issue 20): every service's sandbox answers each request LATENCY_MS late, like a server that
# far away (one round trip), and kitbag exports and imports a generated account of realistic size with its default
# pacing (no --rate-limit, no --concurrency). Printed per run: wall time, requests, 429s (counted from kitbag's -v log,
# one debug line per answer), and the bound the service's documented limits set:
#   Kinopio (5 requests/s documented):      requests ÷ 5
#   Kintone (100 concurrent per domain; kitbag takes a quarter, 25): requests ÷ 25 × round trip + chain × round trip
#   Kona (nothing documented; kitbag adapts up to 16): requests ÷ 16 × round trip + chain × round trip
#   Kitemaker (nothing documented; kitbag adapts up to 8 in flight, the sandbox runs an assumed 10 at once):
#     requests ÷ 8 × round trip + chain × round trip. Its export reads the spaces' cursor pages side by side (each
#     space's one after another) with the account lists beside them (chain: probe, organization, one space's pages);
#     its import creates the work items of its 8 status columns at once, each column one after another
#     (the generated seed's longest column: a sixth of the items), and everything else one at a time
# The chain is the requests that must run one after another (sign-in probe, listings, one page after another).
# A chain of r-N means every request of the run but N.
# "vs 5/s" and "vs 4/s" say how much faster a run was than pacing at a flat 5 (Kona) or 4 (Kitemaker) requests/s.
#
#   bash Benchmarks/wan/run.sh [LATENCY_MS] [CONFIG] [KINTONE_RECORDS] [KINOPIO_CARDS] [KONA_TASKS] [KITEMAKER_ITEMS] [LARGE]
#   defaults: 50 ms, release build, 2000 records (with comments), 10000 cards (100 spaces), 3000 tasks (30 spaces),
#   300 work items; LARGE (e.g. 100000): also export a Kintone app of that many records.
#
# SANDBOX_BIN=.build/release/kitbag runs the sandboxes from another build (a debug client against release sandboxes:
# a debug sandbox's own work, e.g. Kitemaker's GraphQL pages, can take longer than the round trip).
# ONLY="kona kitemaker" runs just those services (e.g. to repeat a comparison under a noisy machine's load).
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
chain = requests - int(chain[2:]) if chain.startswith("r-") else int(chain)
if service == "kinopio":
    bound = requests / 5; rule = "÷5/s"
elif service == "kintone":
    bound = requests / 25 * rtt + chain * rtt; rule = "÷25×rt+chain"
elif service == "kona":
    bound = requests / 16 * rtt + chain * rtt; rule = "÷16×rt+chain"
else:
    bound = requests / 8 * rtt + chain * rtt; rule = "÷8×rt+chain"
flat = {"kona": 5, "kitemaker": 4}.get(service)
versus = f"{requests / flat / wall:5.1f}x" if flat else "     "
print(f"{label:<24} {n:>7} {wall:8.1f} {requests:8d} {too_many:5d} {bound:8.1f} {rule:<13} {bound / wall * 100:6.0f}% "
      f"{requests / wall:8.1f} {versus}")
PY
}

echo "# kitbag at a distance — ${LATENCY} ms round trip added by each sandbox, $CONFIG build, $(nproc) cores, $(uname -sr)"
printf '%-24s %7s %8s %8s %5s %8s %-13s %7s %8s %6s\n' run size "wall s" requests 429s "bound s" rule "of bnd" "req/s" "vs flat"

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

both() { # service short size export-chain import-chain credential-variable [VAR=value…] → export, then import
  local service=$1 short=$2 size=$3 chain_export=$4 chain_import=$5 variable=$6 S D; shift 6
  SERVICE=$service
  S=$(start_sandbox "$short-src" "$size" --latency "$LATENCY")
  D=$(start_sandbox "$short-dst" empty --latency "$LATENCY")
  run "$service export" "$service" export "$size" "$chain_export" "$variable=bench-$short-src" \
    env "$@" "$BIN" export "$service" --base-url "$S" --formats json -o "$WORK/$short.tar.zst"
  run "$service import" "$service" import "$size" "$chain_import" "$variable=bench-$short-dst" \
    env "$@" "$BIN" import "$WORK/$short.tar.zst" --to "$service" --base-url "$D" --journal "$WORK/$short.sqlite"
  stop_sandbox "$short-src"; stop_sandbox "$short-dst"
}

# Kintone: probe, apps.json, the settings (read at once), the record pages (the comments of a page overlap the next
# page's read), the last page's comments, spaces. Past three pages the records are read by $id ranges: the first
# page, the last, then the ranges between four at once. The import's chain is an estimate: app, fields, layout and
# views, deploy and its polling, the bulk requests.
record_chain() { local pages=$((($1 + 499) / 500)); [ "$pages" -gt 3 ] && echo $((2 + (pages - 2 + 3) / 4)) || echo "$pages"; }
want kintone && both kintone kt "$RECORDS" $((5 + $(record_chain "$RECORDS"))) 8 KINTONE_PASSWORD KINTONE_USERNAME=Administrator
want kinopio && both kinopio ki "$CARDS" 0 0 KINOPIO_API_KEY
# Kona: userinfo, account, users, two space lists; per space its item lists at once (tasks take two pages: a full
# page of 100 asks for one more), then one round of comment reads. Import: the probe, the user, the spaces' create,
# then the spaces' items up to 16 spaces at once (each space's creates one after another; the generated seed has
# one task batch per space).
spaces=$(((TASKS + 99) / 100))
want kona && both kona ko "$TASKS" $((5 + spaces * 3)) $((3 + (spaces + 15) / 16)) KONA_ACCESS_TOKEN
# Kitemaker: export, the probe and the organization, then both spaces' pages (150 work items each: 3 pages) beside
# the account lists; import, all but the work items outside the longest column.
want kitemaker && both kitemaker km "$ITEMS" $((2 + (ITEMS / 2 + 49) / 50)) "r-$((ITEMS - (ITEMS + 5) / 6))" KITEMAKER_TOKEN

if [ -n "$LARGE" ] && want kintone; then
  SERVICE=kintone
  S=$(start_sandbox kt-large "$LARGE" --latency "$LATENCY")
  run "kintone export (large)" kintone export "$LARGE" $((5 + $(record_chain "$LARGE"))) KINTONE_PASSWORD=bench-kt-large \
    env KINTONE_USERNAME=Administrator "$BIN" export kintone --base-url "$S" --formats json -o "$WORK/kt-large.tar.zst"
  stop_sandbox kt-large
fi
echo "bound: the time the documented limits allow at best; 'of bnd' = bound ÷ wall (100% = at the limit)"
