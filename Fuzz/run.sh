#!/usr/bin/env bash
# Builds kitbag's libFuzzer targets and runs each for a set time.
#   Fuzz/run.sh [SECONDS]        default 60 seconds per target
#   FUZZ_TARGETS="FuzzJSONLines" Fuzz/run.sh 300   only some targets
# Builds in .build-fuzz (debug, -sanitize=fuzzer,address) so the normal .build is untouched. New corpus
# entries go to .build-fuzz/corpus/<target>; crash inputs to Fuzz/crashes/. Prints executions per target and
# exits 1 if any target found a crash (turn each into a file in Fuzz/regressions/<kind>/ plus a fix).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets="${FUZZ_TARGETS:-FuzzArchiveReader FuzzJSONLines FuzzFeedReader}"
scratch=.build-fuzz
export KITBAG_FUZZ=1
# Swift's runtime keeps some allocations for the life of the process; leak reports would be noise.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
# Swift's backtracer trips ASan after a fatal error; libFuzzer prints the stack itself.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

kind() {
  case "$1" in
    FuzzArchiveReader) echo archive ;;
    FuzzJSONLines) echo jsonl ;;
    FuzzFeedReader) echo feed ;;
    *) echo "unknown fuzz target $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$scratch"
for target in $targets; do
  kind "$target" >/dev/null
  echo "== building $target"
  if ! swift build -c debug --scratch-path "$scratch" --product "$target" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >"$scratch/build-$target.log" 2>&1; then
    tail -20 "$scratch/build-$target.log"
    echo "$target did not build (log: $scratch/build-$target.log)" >&2
    exit 2
  fi
done

mkdir -p Fuzz/crashes
failed=0
summary=""
for target in $targets; do
  k="$(kind "$target")"
  work="$scratch/corpus/$target"
  mkdir -p "$work"
  log="$scratch/$target.log"
  echo "== fuzzing $target for ${seconds}s (seeds: Fuzz/corpus/$k)"
  "$scratch/debug/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="Fuzz/crashes/$target-" "$work" "Fuzz/corpus/$k" >"$log" 2>&1
  status=$?
  execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
  [ -n "$execs" ] || execs="$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')"
  corpus="$(ls "$work" | wc -l)"
  if [ "$status" -ne 0 ]; then
    failed=1
    crash="$(grep -Eo 'Fuzz/crashes/[^ ]+' "$log" | tail -1)"
    line="$target: FAILED after ${execs:-?} executions — $crash (log: $log)"
    grep -E 'Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | head -5
  else
    line="$target: ${execs:-?} executions in ${seconds}s, no crash, working corpus $corpus inputs"
  fi
  echo "$line"
  summary="$summary$line"$'\n'
done
echo "== fuzz summary"
printf "%s" "$summary"
exit "$failed"
