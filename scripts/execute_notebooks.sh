#!/usr/bin/env bash
# Re-execute notebooks top to bottom on a fresh kernel and save them with their outputs
# (and widget state), as they must be committed. With no arguments: every notebook in book/.
# Then save in each markdown cell the results of its {eval}`glued(...)` roles, from this run's
# glue outputs, so that JupyterLab (jupyterlab-myst) shows this run's numbers in the text
# before the reader runs the notebook (scripts/fill_expressions.py).
source "$(dirname "$0")/_env.sh"
if [ "$#" -eq 0 ]; then
  mapfile -t nbs < <(find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)
else
  nbs=("$@")
fi
for nb in "${nbs[@]}"; do
  echo "executing $nb"
  jupyter execute --inplace --kernel_name=python3 --timeout=300 "$nb"
  python scripts/fill_expressions.py "$nb"
done
