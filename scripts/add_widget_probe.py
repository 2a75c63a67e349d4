#!/usr/bin/env python3
"""Give every notebook that shows widgets its hidden last cell, which drives all of the
notebook's widgets to invalid settings (computing_change.widgets.probe_widgets).

Idempotent: a notebook that already ends with the probe cell is left alone. Re-execute the
notebooks afterwards (scripts/execute_notebooks.sh). Usage: add_widget_probe.py [NB ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
TAG = "widget-probe"
SOURCE = (
    "# Every widget on this page, driven to invalid settings (zero, negative, NaN, infinite,\n"
    "# extreme sizes): each must answer with a message, never a traceback or a wrong number.\n"
    "from computing_change.widgets import probe_widgets\n\n"
    "probe_widgets(verbose=True)"
)


def has_widgets(nb) -> bool:
    return any(
        WIDGET in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def main(paths: list[str]) -> None:
    nbs = [Path(p) for p in paths] or sorted((ROOT / "book").rglob("*.ipynb"))
    for path in nbs:
        if "_build" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        if not has_widgets(nb):
            continue
        last = nb.cells[-1] if nb.cells else None
        if last is not None and TAG in last.metadata.get("tags", []):
            continue
        cell = nbformat.v4.new_code_cell(SOURCE)
        cell.metadata["tags"] = ["remove-cell", TAG]
        nb.cells.append(cell)
        nbformat.write(nb, path)
        print(f"added the widget probe to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
