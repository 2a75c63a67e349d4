#!/usr/bin/env bash
# The whole test suite: the helper package's unit and property tests, nbval over every
# notebook in book/ (strict), notebook hygiene, and the browser tests of the built site.
# Extra arguments go to pytest (e.g. scripts/test.sh -k formulas).
source "$(dirname "$0")/_env.sh"
# The roofs (peak FLOP/s, memory bandwidth) are measured once, carefully, for the whole run
# and shared by every notebook through COMPUTING_CHANGE_ROOFS (computing_change.core.machine),
# instead of each notebook measuring its own in a few seconds.
roofs_dir="$(mktemp -d)"
trap 'rm -rf "$roofs_dir"' EXIT
python -m computing_change.core.machine "$roofs_dir/roofs.json" | tail -1
export COMPUTING_CHANGE_ROOFS="$roofs_dir/roofs.json"
ruff check src tests scripts benchmarks conftest.py
ruff format --check src tests scripts benchmarks conftest.py
python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600 \
  -p no:cacheprovider tests book "$@"
