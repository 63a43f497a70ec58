#!/usr/bin/env bash
# Sandbox write path: how the cost of one all-or-nothing write grows with the size of the store. Starts a Kintone
# sandbox with one empty generated app (`--seed 0`, a unique `Key` field) and fills it through `bulkRequest.json`
# (20 × 100 records = 2,000 records per request, as kitbag's importer sends them), printing the seconds each
# block of BLOCK records took. A store that copies its state for every write slows down as the app grows; one that
# keeps an undo log does not. Also prints the sandbox's own peak RSS.
#
#   bash Benchmarks/sandbox/run.sh [RECORDS] [CONFIG] [BLOCK]
#   defaults: 300000 records, release build, blocks of 50000
#
# Needs: a built kitbag (swift build -c CONFIG, or KITBAG_BIN), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS=${1:-300000}
CONFIG=${2:-release}
BLOCK=${3:-50000}
BIN="${KITBAG_BIN:-.build/$CONFIG/kitbag}"
[ -x "$BIN" ] || swift build -c "$CONFIG" --product kitbag
WORK=$(mktemp -d)
trap 'stop_sandboxes; rm -rf "$WORK"' EXIT

SERVICE=kintone
source Benchmarks/common.sh

echo "# sandbox write path — Kintone bulkRequest into one app, $RECORDS records, $CONFIG build, $(nproc) cores, $(uname -sr)"
URL=$(start_sandbox store 0 --no-rate-limit)
python3 - "$URL" bench-store "$RECORDS" "$BLOCK" <<'PY'
import json, sys, time, urllib.request
url, token, total, block = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def bulk(first):
    requests = []
    for r in range(20):
        records = [{"Title": {"value": f"record {n}"}, "Key": {"value": f"k{n}"}, "Body": {"value": "x" * 64},
                    "Amount": {"value": str(n % 1000)}} for n in range(first + r * 100, first + (r + 1) * 100)]
        requests.append({"method": "POST", "api": "/k/v1/records.json", "payload": {"app": 1, "records": records}})
    body = json.dumps({"requests": requests}).encode()
    req = urllib.request.Request(url + "/k/v1/bulkRequest.json", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Cybozu-API-Token": token})
    with urllib.request.urlopen(req) as answer:
        assert answer.status == 200, answer.status
        answer.read()
done, started, block_start = 0, time.monotonic(), time.monotonic()
while done < total:
    bulk(done)
    done += 2000
    if done % block == 0 or done >= total:
        now = time.monotonic()
        print(f"records {done - block:>9,}–{done:>9,}: {now - block_start:6.2f} s "
              f"({block / max(now - block_start, 1e-9):8,.0f} records/s)", flush=True)
        block_start = now
print(f"all {total:,} records: {time.monotonic() - started:.1f} s")
PY
echo "sandbox peak RSS: $(sandbox_rss store) MiB"
