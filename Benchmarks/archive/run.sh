#!/usr/bin/env bash
# Streams ~100 MB and ~1 GB of generated content (JSON Lines + attachments) through SnapshotWriter
# for tar and tar.zst, reporting MiB/s and peak RSS (GNU time), then times bsdtar on the same files.
# Usage: Benchmarks/archive/run.sh [sizes in MB, default "100 1000"]   (needs /usr/bin/time: apt-get install time)
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${*:-"100 1000"}
WORK=${KITBAG_BENCH_DIR:-/tmp/kitbag-bench}
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

swift build --build-tests >/dev/null
BIN=$(swift build --show-bin-path)/kitbagPackageTests.xctest

rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }

printf '%-8s %6s %10s %10s %8s %10s %9s\n' tool format input_MiB output_MiB seconds MiB_per_s peak_MiB
for fmt in tar tar.zst; do
  for mb in $SIZES; do
    KITBAG_BENCH=1 KITBAG_BENCH_MB=$mb KITBAG_BENCH_FORMAT=$fmt KITBAG_BENCH_OUT="$WORK/out" \
      /usr/bin/time -v "$BIN" --testing-library swift-testing --filter ArchiveBenchmark \
      >"$WORK/log" 2>"$WORK/time" || { cat "$WORK/log" "$WORK/time"; exit 1; }
    line=$(grep -h '^KITBAG_BENCH ' "$WORK/log")
    get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }
    printf '%-8s %6s %10s %10s %8s %10s %9s\n' kitbag "$fmt" "$(get input_MiB)" "$(get output_MiB)" \
      "$(get seconds)" "$(get MiB_per_s)" "$(rss "$WORK/time")"
    if [ "$fmt" = tar ]; then
      # Same files, archived by bsdtar (plain and zstd), from an extracted copy.
      rm -rf "$WORK/tree"; mkdir -p "$WORK/tree"
      bsdtar -xf "$(get path)" -C "$WORK/tree"
      sync
      for bfmt in tar tar.zst; do
        opt=(); [ "$bfmt" = tar.zst ] && opt=(--zstd)
        /usr/bin/time -v bsdtar "${opt[@]}" -cf "$WORK/bsdtar.$bfmt" -C "$WORK/tree" . 2>"$WORK/time"
        secs=$(wall "$WORK/time" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
        out=$(du -m "$WORK/bsdtar.$bfmt" | cut -f1)
        printf '%-8s %6s %10s %10s %8s %10s %9s\n' bsdtar "$bfmt" "$(get input_MiB)" "$out" "$secs" \
          "$(awk -v m="$(get input_MiB)" -v s="$secs" 'BEGIN{printf "%.1f", m/s}')" "$(rss "$WORK/time")"
        rm -f "$WORK/bsdtar.$bfmt"
      done
      rm -rf "$WORK/tree"
    fi
    rm -rf "$WORK/out"
  done
done
