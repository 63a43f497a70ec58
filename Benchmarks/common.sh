# Shared by the per-service benchmark scripts: sourced after BIN, WORK and SERVICE are set.

start_sandbox() { # name seed extra-flags… → prints the sandbox's base URL
  local name=$1 seed=$2; shift 2
  "$BIN" sandbox "$SERVICE" --seed "$seed" --api-key "bench-$name" -q "$@" > "$WORK/$name.url" 2>"$WORK/$name.log" &
  for _ in $(seq 100); do [ -s "$WORK/$name.url" ] && break; sleep 0.1; done
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
