#!/usr/bin/env bash
# Every notebook under Binder's profile: one CPU (taskset -c 0) and a 2 GiB memory cap
# (the kernel and its children are ended above 2048 MiB, as Binder's OOM killer would),
# passing nbval. Prints each notebook's time and peak memory; fails above 1.5 GiB.
source "$(dirname "$0")/_env.sh"
export CC_MEMORY_CAP_MIB=2048 CC_MAX_NOTEBOOK_MIB=1536
# The roofs (peak FLOP/s, memory bandwidth) are measured once, carefully, for the whole run
# and shared by every notebook (on the one CPU of this run) through COMPUTING_CHANGE_ROOFS,
# instead of each notebook measuring its own in a few seconds.
roofs_dir="$(mktemp -d)"
trap 'rm -rf "$roofs_dir"' EXIT
taskset -c 0 python -m computing_change.core.machine "$roofs_dir/roofs.json" | tail -1
export COMPUTING_CHANGE_ROOFS="$roofs_dir/roofs.json"
taskset -c 0 python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600 \
  -p no:cacheprovider book "$@"
