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
def test_no_test_code_in_the_notebook(path):
    """The widget probe is test code: the root conftest.py runs it in each notebook's kernel
    after the last cell (tests/widget_probe.py). A reader's notebook carries none of it."""
    nb = _load(path)
    for cell in _code_cells(nb):
        assert "widget-probe" not in cell["metadata"].get("tags", []), "a widget-probe cell is left"
        assert "probe_widgets" not in "".join(cell["source"]), "the notebook calls the tests' widget probe"


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


# A fenced Python block in a chapter's prose is a copy of code, and a copy drifts from the
# code that runs. The code a page teaches is in its code cells (or shown from its running
# source with computing_change.core.notebook.show). A block may stay in the markdown only when it
# is deliberately not run, and says so on its first line ("# Not run: the article's code,
# quoted as printed"). Exercise solutions are the reader's answers, shown for the reader to
# run, and are exempt.
FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
DIRECTIVE_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}")
PYTHON_INFO = re.compile(r"^(?:\{(?:code-block|code|sourcecode)\}[ \t]*)?(?:python3?|py|ipython3?)\b")


def python_blocks_outside_solutions(markdown: str) -> list[str]:
    """The fenced Python blocks of a markdown text that are neither marked as not run nor
    inside a {solution} directive, each as its text."""
    found: list[str] = []
    stack: list[tuple[str, str]] = []  # open directives: (fence, name)
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        code = FENCE_OPEN.match(line)
        directive = DIRECTIVE_OPEN.match(line)
        if directive:
            stack.append((directive["fence"], directive["name"]))
        elif code and PYTHON_INFO.match(code["info"].strip()):
            fence, body = code["fence"], []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            in_solution = any(name == "solution" for _, name in stack)
            first = next((b.strip() for b in body if b.strip()), "")
            if not in_solution and not first.startswith("# Not run:"):
                found.append("\n".join(body))
        elif stack and line == stack[-1][0]:
            stack.pop()
        elif code and not code["info"].strip():
            # a plain fence: skip to its end (it may hold lines that look like fences)
            fence = code["fence"]
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                i += 1
        i += 1
    return found


def test_python_block_rule_finds_what_it_should():
    text = (
        "Prose.\n\n```python\nx = 1\n```\n\n"
        "```{code-block} python\n# Not run: the article's code, as printed\nimport tensorflow\n```\n\n"
        ":::{solution} ex-a\n:class: dropdown\n\n```python\ny = 2\n```\n:::\n\n"
        "```py\nz = 3\n```\n\n```text\nw = 4\n```\n"
    )
    assert python_blocks_outside_solutions(text) == ["x = 1", "z = 3"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_python_copied_into_the_prose(path):
    nb = _load(path)
    offenders = [
        (index, block.splitlines()[0] if block else "")
        for index, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "markdown"
        for block in python_blocks_outside_solutions("".join(cell["source"]))
    ]
    assert not offenders, (
        f"{path.name}: fenced Python in the markdown (cell index, first line): {offenders}. "
        "Put the code in a code cell (or show(fn) from its running source), or mark it "
        "'# Not run: <why>' on its first line."
    )
