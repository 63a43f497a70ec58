#!/usr/bin/env bash
# Runs every benchmark; see Benchmarks/README.md. LARGE (default 1000000) is the size of the memory check;
# Kitemaker's uses KITEMAKER_LARGE (default 25000: its sandbox seeds in quadratic time, see the README).
set -euo pipefail
cd "$(dirname "$0")"
bash kinopio/run.sh "${CARDS:-10000}" "${CONFIG:-release}" "${LARGE:-1000000}"
bash kitemaker/run.sh "${ITEMS:-2000}" "${CONFIG:-release}" "${KITEMAKER_LARGE:-25000}"
bash kintone/run.sh "${RECORDS:-100000}" "${LARGE:-1000000}" "${CONFIG:-release}"
bash kona/run.sh "${TASKS:-10000}" "${CONFIG:-release}" "${LARGE:-1000000}"
bash backup/run.sh "${CARDS:-10000}" "${CONFIG:-release}"
bash backup/services.sh "${TASKS:-10000}" "${ITEMS:-2000}" "${CONFIG:-release}"
bash archive/services.sh "${CONFIG:-release}"
bash archive/run.sh
bash render/run.sh "${CARDS:-10000}" "${CONFIG:-release}"
bash memory/run.sh "${CONFIG:-release}" "${SPACES:-10000}"
