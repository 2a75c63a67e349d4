#!/usr/bin/env bash
# The whole test suite: the helper package's unit and property tests, nbval over every
# notebook in book/ (strict), notebook hygiene, and the browser tests of the built site.
# Extra arguments go to pytest (e.g. scripts/test.sh -k formulas).
source "$(dirname "$0")/_env.sh"
ruff check src tests scripts benchmarks conftest.py
ruff format --check src tests scripts benchmarks conftest.py
python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600 \
  -p no:cacheprovider tests book "$@"
