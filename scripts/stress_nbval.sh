#!/usr/bin/env bash
# Flakiness check: nbval over every notebook, several times in a row (default 3), while a
# busy loop keeps one core fully loaded, as when a teacher's machine is doing something else.
# Every run must pass; any cell whose compared output depends on timing or load shows up here.
# Usage: bash scripts/stress_nbval.sh [RUNS] [extra pytest arguments...]
# Not part of the test suite (it takes RUNS times the notebooks' nbval time).
source "$(dirname "$0")/_env.sh"
runs="${1:-3}"
shift || true
cores="$(nproc)"
busy_core=$((cores - 1))
taskset -c "$busy_core" python -c 'while True: pass' &
busy=$!
# (each pytest run gets its own temporary folder from conftest.py)
trap 'kill "$busy" 2>/dev/null || true' EXIT
echo "busy loop (pid $busy) on core $busy_core of $cores; $runs nbval runs"
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600 \
    -p no:cacheprovider -q book "$@"; then
    status=passed
  else
    status=FAILED
    failed=$((failed + 1))
  fi
  echo "run $i of $runs: $status in $(( $(date +%s) - start )) s"
done
echo "$((runs - failed)) of $runs runs passed with core $busy_core busy"
[ "$failed" -eq 0 ]
