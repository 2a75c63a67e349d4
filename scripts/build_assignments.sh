#!/usr/bin/env bash
# Generate the autograded assignments from their sources (assignments/<name>/<name>.ipynb)
# with otter assign, into _build/assignments/{student,autograder,wrong}/; see assignments/README.md.
# Each solution is graded while building and must get full marks (--no-run-tests skips that).
# Arguments go to scripts/build_assignments.py: assignment names, --no-run-tests, --out DIR,
# or NAME --grade FOLDER to grade a folder of submissions.
source "$(dirname "$0")/_env.sh"
python scripts/build_assignments.py "$@"
