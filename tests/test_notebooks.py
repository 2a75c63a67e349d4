"""Hygiene of every notebook in book/: committed as a fresh top-to-bottom run, with what
the website and nbval need (alt text on images, tags on cells whose output varies)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "book").rglob("*.ipynb")
    if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "book/ has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_executed_top_to_bottom(path):
    nb = _load(path)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", "kernel must be python3"
    counts = [c.get("execution_count") for c in _code_cells(nb)]
    assert None not in counts, "some code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), f"not a fresh top-to-bottom run: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_errors_or_tracebacks(path):
    for cell in _code_cells(_load(path)):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"error output in cell: {''.join(cell['source'])[:80]}"
            if out["output_type"] == "stream" and out.get("name") == "stderr":
                assert "Traceback" not in "".join(out["text"]), "traceback printed to stderr"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_images_have_alt_text(path):
    for cell in _code_cells(_load(path)):
        if any(
            "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
            for o in cell.get("outputs", [])
        ):
            alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt.strip()) >= 15, f"image without alt text: {''.join(cell['source'])[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_widget_cells_are_tagged_and_saved(path):
    nb = _load(path)
    views = 0
    for cell in _code_cells(nb):
        if any(WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", [])):
            views += 1
            assert "nbval-ignore-output" in cell["metadata"].get("tags", []), (
                f"widget cell not tagged nbval-ignore-output: {''.join(cell['source'])[:80]}"
            )
    if views:
        state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        assert state.get("state"), (
            "widget views without saved widget state: the website could not render them"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_title_has_chinese_heading(path):
    nb = _load(path)
    first = "".join(nb["cells"][0]["source"]) if nb["cells"] else ""
    title = first.lstrip().splitlines()[0] if first.strip() else ""
    assert title.startswith("# "), "the first cell must start with the page title"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in title), (
        f"title lacks the article's Chinese heading: {title}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_widgets_are_probed_with_bad_input(path):
    """A notebook that shows widgets ends with the hidden cell that drives every one of them
    to invalid settings (scripts/add_widget_probe.py), and that cell passed."""
    nb = _load(path)
    has_widgets = any(WIDGET_MIME in o.get("data", {}) for c in _code_cells(nb) for o in c.get("outputs", []))
    if not has_widgets:
        return
    last = _code_cells(nb)[-1]
    assert "widget-probe" in last["metadata"].get("tags", []), (
        "missing the widget probe cell (add_widget_probe.py)"
    )
    assert "remove-cell" in last["metadata"].get("tags", [])
    text = "".join(
        "".join(o.get("text", "")) for o in last.get("outputs", []) if o["output_type"] == "stream"
    )
    assert "all handled" in text, f"the widget probe did not pass: {text!r}"


GLYPH_MISSING = re.compile(r"Glyph \d+ .{0,80}?missing from (?:current )?font")
SVG_TEXT = re.compile(r"<text\b[^>]*>(.*?)</text>", re.S)
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _all_outputs(node):
    """Every output in a notebook: the cells' and those saved in widget state (the outputs
    of Output widgets, which the website draws too)."""
    if isinstance(node, dict):
        if "output_type" in node:
            yield node
        for value in node.values():
            yield from _all_outputs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_outputs(value)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_figures_have_the_glyphs_they_show(path):
    """No figure shows a character its font lacks (an empty box on the page): no
    matplotlib "Glyph ... missing from font" warning in any output, and no Chinese in an
    SVG's <text>, which an <img> draws with the reader's system fonts, not the site's
    Noto Sans SC (draw such text as paths, or put it in the page's HTML)."""
    problems = []
    for out in _all_outputs(_load(path)):
        data = out.get("data", {}) if isinstance(out.get("data"), dict) else {}
        texts = [out.get("text"), out.get("evalue"), out.get("traceback"), data.get("text/plain")]
        for text in map(_text, texts):
            problems += [m.group(0) for m in GLYPH_MISSING.finditer(text)]
        for m in SVG_TEXT.finditer(_text(data.get("image/svg+xml"))):
            if CJK.search(m.group(1)):
                problems.append(f"Chinese in SVG text: {m.group(1)[:40]!r}")
    assert not problems, "characters missing from the figure's font: " + "; ".join(sorted(set(problems))[:5])
