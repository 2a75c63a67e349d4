"""The package is layered, and a test reads every import to keep it so.

- ``core``: untaught plumbing (checks, machine, timing, pools, tracing, notebook, jsgen);
  imports nothing else of the package;
- ``models``: every closed form once, fits and views; imports only ``core``;
- ``lessons``: one module per notebook, named after it, holding only what must be
  importable (spawn-pool workers, what a later chapter reuses); imports ``core``,
  ``models`` and the lessons of earlier chapters (the order of ``_toc.yml``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "computing_change"
LAYERS = ("core", "models", "lessons")
ALLOWED = {"core": {"core"}, "models": {"core", "models"}, "lessons": {"core", "models", "lessons"}}


def _chapters() -> list[str]:
    """Notebook names in the order of the table of contents."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return [Path(f).name for f in re.findall(r"file:\s*(\S+)", toc)]


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py")


def _imports(path: Path) -> list[str]:
    """Every module of the package that ``path`` imports, as 'layer.module' or 'layer'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    layer = path.parent.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = [layer] if node.level == 1 else []
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("computing_change"):
                mod = node.module.removeprefix("computing_change").lstrip(".")
            else:
                continue
            if mod in LAYERS:  # from computing_change.core import machine
                found += [f"{mod}.{a.name}" for a in node.names]
            elif mod:
                found.append(mod)
            else:  # from computing_change import core
                found += [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            found += [
                a.name.removeprefix("computing_change.")
                for a in node.names
                if a.name.startswith("computing_change.")
            ]
    return found


def test_the_package_has_its_three_layers_and_nothing_beside_them():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert top == ["__init__.py"], f"modules outside core/, models/, lessons/: {top}"
    for layer in LAYERS:
        assert (PKG / layer / "__init__.py").exists(), layer


def test_lessons_are_named_after_notebooks():
    chapters = set(_chapters())
    for path in (PKG / "lessons").glob("*.py"):
        if path.name != "__init__.py":
            assert path.stem in chapters, f"lessons/{path.name} is not named after a notebook in _toc.yml"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_respect_the_layers(path):
    layer = path.parent.name
    order = _chapters()
    for target in _imports(path):
        target_layer = target.split(".")[0]
        assert target_layer in ALLOWED[layer], (
            f"{layer}/{path.name} imports {target}: {layer} may import only {ALLOWED[layer]}"
        )
        if layer == "lessons" and target_layer == "lessons" and "." in target:
            other = target.split(".")[1]
            assert order.index(other) < order.index(path.stem), (
                f"lessons/{path.name} imports lessons/{other}.py, which is not an earlier chapter"
            )


def test_the_layering_check_finds_a_violation(tmp_path):
    bad = tmp_path / "core" / "x.py"
    bad.parent.mkdir()
    bad.write_text("from computing_change.models import formulas\nfrom ..lessons.parallel import is_prime\n")
    assert _imports(bad) == ["models.formulas", "lessons.parallel"]
