#!/usr/bin/env bash
# Runs every benchmark; see Benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")"
bash kinopio/run.sh "${CARDS:-10000}" "${CONFIG:-release}"
bash kitemaker/run.sh "${ITEMS:-2000}" "${CONFIG:-release}"
bash kintone/run.sh "${RECORDS:-100000}" "${LARGE:-1000000}" "${CONFIG:-release}"
bash kona/run.sh "${TASKS:-10000}" "${CONFIG:-release}"
bash backup/run.sh "${CARDS:-10000}" "${CONFIG:-release}"
bash archive/run.sh
