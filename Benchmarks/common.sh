# Shared by the benchmark scripts: the sandbox helpers are used after BIN, WORK and SERVICE are set; test_bundle by the
# benchmarks that run inside the test bundle (render, pacing).

start_sandbox() { # name seed extra-flags… → prints the sandbox's base URL (SANDBOX_BIN: another kitbag runs it)
  local name=$1 seed=$2; shift 2
  "${SANDBOX_BIN:-$BIN}" sandbox "$SERVICE" --seed "$seed" --api-key "bench-$name" -q "$@" > "$WORK/$name.url" 2>"$WORK/$name.log" &
  # Started inside $(…), so the caller's `jobs` cannot see it: stop_sandboxes reads the pid from here.
  echo $! >> "$WORK/sandboxes.pid"
  echo $! > "$WORK/$name.pid"
  # A large seed (a million records) takes a while to build before the URL is printed.
  for _ in $(seq 9000); do [ -s "$WORK/$name.url" ] && break; sleep 0.1; done
  head -n1 "$WORK/$name.url"
}

measure() { # label json-out command… → prints wall time and peak RSS
  local label=$1 out=$2; shift 2
  /usr/bin/time -v -o "$WORK/$label.time" "$@" > "$out"
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$WORK/$label.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$WORK/$label.time" | awk '{print $NF}')
  echo "$label: wall $wall, peak RSS $((rss / 1024)) MiB"
}

sandbox_rss() { # name → the sandbox's own peak RSS in MiB so far (VmHWM): the emulator's memory, not kitbag's
  awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$(cat "$WORK/$1.pid")/status"
}

stop_sandbox() { # name → stops that one sandbox (a large seed holds gigabytes)
  kill "$(cat "$WORK/$1.pid")" 2>/dev/null || true
}

stop_sandboxes() { # kills every sandbox start_sandbox started; for the caller's EXIT trap
  [ -f "$WORK/sandboxes.pid" ] && xargs kill 2>/dev/null < "$WORK/sandboxes.pid" || true
}

memory_at_scale() { # unit credential-variable large [sandbox flags…] → export peak RSS at 10,000 and at LARGE, pacing off
  # The sandbox holds the whole generated account in memory; its own peak RSS is printed apart. FORMATS picks the
  # renderings (default json: the walk alone; e.g. FORMATS=json,markdown,rss,canvas,html adds the readable pages).
  # Prints the ratio LARGE/10,000, the growth per item between them and, when LARGE is under 1,000,000, the peak a
  # million would take if memory went on growing at that slope (an extrapolation, named as one).
  local unit=$1 variable=$2 large=$3 n S formats=${FORMATS:-json} kb; shift 3
  : > "$WORK/rss-scale.tsv"
  for n in 10000 "$large"; do
    S=$(start_sandbox "rss$n" "$n" --no-rate-limit "$@")
    measure "export $n $unit (RSS, $formats)" "$WORK/rss-export-$n.json" \
      env "$variable=bench-rss$n" "$BIN" export "$SERVICE" --base-url "$S" --rate-limit 0 --formats "$formats" -o "$WORK/r$n.tar.zst" --json
    python3 - "$WORK/rss-export-$n.json" "$(stat -c %s "$WORK/r$n.tar.zst")" "$(sandbox_rss "rss$n")" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); n = sum(e["counts"].values()); r = sum(e["requests"].values())
print(f"  {n} entities, {r} requests, {e['seconds']:.1f} s ({n/max(e['seconds'],1e-9):.0f} entities/s), "
      f"archive {int(sys.argv[2])/1e6:.1f} MB; sandbox peak RSS {sys.argv[3]} MiB")
PY
    kb=$(grep "Maximum resident set size" "$WORK/export $n $unit (RSS, $formats).time" | awk '{print $NF}')
    printf '%s\t%s\n' "$n" "$kb" >> "$WORK/rss-scale.tsv"
    stop_sandbox "rss$n"; rm -f "$WORK/r$n.tar.zst"
  done
  python3 - "$WORK/rss-scale.tsv" "$unit" <<'PY'
import sys
(n0, k0), (n1, k1) = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1])]
slope = (k1 - k0) * 1024 / max(n1 - n0, 1)
print(f"peak RSS {k0/1024:.0f} MiB at {n0:,} vs {k1/1024:.0f} MiB at {n1:,} {sys.argv[2]}: {k1/k0:.2f}x "
      f"(target <= 1.5x); {slope:.0f} bytes per {sys.argv[2][:-1]} between them")
if n1 < 1_000_000:
    m = (k1 * 1024 + slope * (1_000_000 - n1)) / 2**20
    print(f"  extrapolated at that slope, not measured: {m:.0f} MiB at 1,000,000 = {m * 1024 / k0:.2f}x")
PY
}

test_bundle() { # config → builds the test bundle (release with -enable-testing: the benchmarks import @testable) and prints its path
  local flags=(-c "$1")
  [ "$1" = release ] && flags+=(-Xswiftc -enable-testing)
  swift build --build-tests "${flags[@]}" >/dev/null || return 1
  echo "$(swift build "${flags[@]}" --show-bin-path)/kitbagPackageTests.xctest"
}
