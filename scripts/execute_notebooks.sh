#!/usr/bin/env bash
# Re-execute notebooks top to bottom on a fresh kernel and save them with their outputs
# (and widget state), as they must be committed. With no arguments: every notebook in book/.
source "$(dirname "$0")/_env.sh"
if [ "$#" -eq 0 ]; then
  mapfile -t nbs < <(find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)
else
  nbs=("$@")
fi
for nb in "${nbs[@]}"; do
  echo "executing $nb"
  jupyter execute --inplace --kernel_name=python3 --timeout=300 "$nb"
done
