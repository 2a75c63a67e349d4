"""Save each markdown cell's ``{eval}`glued(...)``` results in the cell's metadata.

jupyterlab-myst shows an ``{eval}`` role's result from the markdown cell's metadata
``user_expressions`` until the reader runs the cell in their own kernel; the format is the
one it writes itself after a run::

    "user_expressions": [
      {"expression": "glued('name', '.2f')",
       "result": {"status": "ok", "data": {"text/plain": "0.52"}, "metadata": {}}}
    ]

one entry per role, in the cell's order. The values come from the same run: the glue
outputs saved in the notebook's code cells (``application/papermill.record/text/plain``),
formatted by ``computing_change.core.notebook.format_glue_text``, the rule of myst-nb's
``{glue:text}``, so JupyterLab shows the numbers the website shows.

    python scripts/fill_expressions.py book/a.ipynb ...   # fill (every notebook if none)
    python scripts/fill_expressions.py --check ...        # exit 1 if any is out of date
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from computing_change.core.notebook import format_glue_text

ROLE = re.compile(r"\{eval\}`([^`]*)`")
GLUED = re.compile(r"glued\('([^'\\]+)'(?:, '([^'\\]*)')?\)")
RECORD = "application/papermill.record/text/plain"
KEY = "user_expressions"


def glue_records(nb: dict) -> dict[str, str]:
    """Name -> saved ``text/plain`` of every glue output, the last one winning (myst-nb)."""
    records: dict[str, str] = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and RECORD in out.get("data", {}):
                records[name] = out["data"][RECORD]
    return records


def cell_expressions(source: str, records: dict[str, str], where: str) -> list[dict]:
    """The ``user_expressions`` a markdown cell's source should carry."""
    entries = []
    for expression in ROLE.findall(source):
        match = GLUED.fullmatch(expression)
        if match is None:
            raise ValueError(f"{where}: {{eval}}`{expression}` is not glued('name', 'fmt')")
        name, fmt = match.group(1), match.group(2) or ""
        if name not in records:
            raise ValueError(f"{where}: {name!r} is cited but no cell glues it")
        text = format_glue_text(records[name], fmt)
        result = {"status": "ok", "data": {"text/plain": text}, "metadata": {}}
        entries.append({"expression": expression, "result": result})
    return entries


def expected(nb: dict, where: str = "notebook") -> list[list[dict]]:
    """For each cell, the ``user_expressions`` it should carry ([] for none)."""
    records = glue_records(nb)
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            out.append([])
            continue
        source = "".join(cell["source"])
        out.append(cell_expressions(source, records, f"{where} cell {i}"))
    return out


def fill(nb: dict, where: str = "notebook") -> bool:
    """Set every markdown cell's ``user_expressions``; True if anything changed."""
    changed = False
    for cell, entries in zip(nb["cells"], expected(nb, where), strict=True):
        if cell["cell_type"] != "markdown":
            continue
        meta = cell.setdefault("metadata", {})
        if entries and meta.get(KEY) != entries:
            meta[KEY] = entries
            changed = True
        elif not entries and KEY in meta:
            del meta[KEY]
            changed = True
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    if not paths:
        paths = sorted(
            p
            for p in Path("book").rglob("*.ipynb")
            if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
        )
    stale = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not fill(nb, str(path)):
            continue
        stale.append(path)
        if not check:
            text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            path.write_text(text, encoding="utf-8")
            print(f"filled {path}")
    if check and stale:
        print("user_expressions out of date in: " + ", ".join(map(str, stale)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
