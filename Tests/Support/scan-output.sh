#!/usr/bin/env bash
# Scans a saved test output for the credentials in Tests/Support/credentials.txt; prints each one found by its
# description (never its value) and fails if there is any. `make test` runs it over the whole `swift test` output.
#   bash Tests/Support/scan-output.sh FILE
set -euo pipefail
list="$(dirname "$0")/credentials.txt"
file=${1:?usage: scan-output.sh FILE}
hits=0
while read -r value label; do
  [ -z "$value" ] || [ "${value:0:1}" = "#" ] || [ "${value:0:1}" = "!" ] && continue
  if grep -qF -- "$value" "$file"; then
    echo "credential in the test output: $label" >&2
    hits=$((hits + 1))
  fi
done < "$list"
lines=$(wc -l < "$file")
if [ "$hits" -gt 0 ]; then
  echo "secrets scan: $hits credential(s) found in $lines lines of test output" >&2
  exit 1
fi
echo "secrets scan: 0 of $(grep -cvE '^(#|!|$)' "$list") credentials found in $lines lines of test output"
