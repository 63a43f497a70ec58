# Shared by the restore benchmarks (sourced): `restore LABEL ARGS…` runs `kitbag restore --json` on $ARCHIVE with the
# journal $WORK/j.sqlite, timed, and prints reads, writes and requests (per route when ROUTES=1) and the plan's steps.
# Needs BIN, ARCHIVE, WORK; WIDTH sets the label column (default 40). `kintone_sandbox RECORDS` starts a Kintone sandbox
# and exports it (the Kintone benchmarks).

report() { # label json → one line: reads, writes, steps (and routes)
  python3 - "$1" "$2" "${WIDTH:-40}" "${ROUTES:-0}" <<'PY'
import json, sys
label, path, width, routes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
r = json.load(open(path))
total = sum(r["requests"].values()); writes = r["writeRequests"]
line = f"{label:>{width}}: {total - writes:5d} reads + {writes:3d} writes = {total:5d} requests, {len(r['plan']['steps']):4d} steps"
if routes:
    line += " (" + ", ".join(f"{k} {v}" for k, v in sorted(r["requests"].items())) + ")"
print(line)
PY
}

restore() { # label args… → runs kitbag restore --json, timed
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$BIN" restore "$ARCHIVE" --rate-limit 0 --journal "$WORK/j.sqlite" --json "$@" > "$WORK/r.json"
  end=$(date +%s.%N)
  report "$label" "$WORK/r.json"
  python3 -c "print(f'{\"\":>${WIDTH:-40}}  {$end - $start:.2f} s')"
}

kintone_sandbox() { # records → a Kintone sandbox of one generated app (login bench/bench-password, no rate limit)
  # in the background, its URL in $URL and the KINTONE_* variables, and an export of it in $ARCHIVE
  "$BIN" sandbox kintone --seed "$1" --user bench --password bench-password --no-rate-limit -q > "$WORK/url" 2>"$WORK/log" &
  for _ in $(seq 600); do [ -s "$WORK/url" ] && break; sleep 0.1; done
  URL=$(head -n1 "$WORK/url")
  export KINTONE_BASE_URL="$URL" KINTONE_USERNAME=bench KINTONE_PASSWORD=bench-password
  "$BIN" export kintone --rate-limit 0 --formats json -o "$ARCHIVE" -q
}
