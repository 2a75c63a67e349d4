#!/usr/bin/env bash
# The course's performance figures: every script in benchmarks/, plus the time to build the
# website and to run the test suite, as one JSON report (also saved to _build/benchmarks.json).
# The machine's roofs (peaks and memory bandwidth, machine.roofs()) are measured once, printed
# at the top of the report and shared by every script; the run fails if any kernel is reported
# above 105 % of the roof it is placed under. Not part of the test suite. Pass --only NAME ...
# to run some scripts only.
source "$(dirname "$0")/_env.sh"
mkdir -p _build
if [ "$#" -eq 0 ]; then set -- --build --tests; fi
python benchmarks/run_all.py --out _build/benchmarks.json "$@"
