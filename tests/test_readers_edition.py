"""The reader's edition (readers/, written by scripts/readers_edition.py): up to date with
book/, and plain Markdown that Colab shows as the website does: no MyST syntax left,
solutions folded, and every number the prose cites present."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readers_edition.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("readers_edition", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["readers_edition"] = module
    spec.loader.exec_module(module)
    return module


RE = _load_script()
SOURCES = RE.sources(ROOT)
IDS = [str(p.relative_to(ROOT / "book")) for p in SOURCES]

# MyST that must not survive: a role, a colon fence, a backtick directive, a target,
# an {eval} expression, a substitution.
RAW_MYST = re.compile(
    r"\{[A-Za-z][\w:+-]*\}`|^\s*:{3,}|`{3,}\s*\{|^\s*\([^()\s]+\)=\s*$|\{eval\}|\{\{\s*\w+\s*\}\}",
    re.M,
)
CODE_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t>]*\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!\{)(?:(?!\1).)+?\1", re.S)
GLUE_ROLE = re.compile(r"\{(glue:text|glue|eval)\}`([^`]*)`")


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _prose(text: str) -> str:
    """Markdown without its code blocks and code spans (code may show MyST on purpose)."""
    return CODE_SPAN.sub("", CODE_FENCE.sub("", text))


def _markdowns(nb: dict):
    """(cell index, text) of every markdown cell and every text/markdown output."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            yield i, _text(cell["source"])
        for output in cell.get("outputs", []):
            if "text/markdown" in output.get("data", {}):
                yield i, _text(output["data"]["text/markdown"])


@pytest.fixture(scope="module")
def built() -> dict[Path, str]:
    return RE.build(ROOT)


def _reader(path: Path) -> dict:
    target = RE.target(path, ROOT)
    assert target.exists(), f"{target.relative_to(ROOT)} is missing: run python scripts/readers_edition.py"
    return json.loads(target.read_text(encoding="utf-8"))


def test_every_notebook_has_a_readers_edition():
    assert SOURCES
    readers = sorted((ROOT / RE.READERS).rglob("*.ipynb"))
    assert [RE.target(p, ROOT) for p in SOURCES] == readers


def test_readers_edition_up_to_date(built):
    stale = [
        str(p.relative_to(ROOT))
        for p, text in built.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"out of date (run python scripts/readers_edition.py): {stale}"


def test_generation_is_deterministic(built):
    assert RE.build(ROOT) == built


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_no_raw_myst(path):
    nb = _reader(path)
    found = [
        f"cell {i}: {m.group(0)!r} in ...{text[max(0, m.start() - 40) : m.end() + 40]!r}..."
        for i, markdown in _markdowns(nb)
        for text in [_prose(markdown)]
        for m in RAW_MYST.finditer(text)
    ]
    assert not found, "\n".join(found[:10])


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_solutions_are_folded(path):
    source = json.loads(path.read_text(encoding="utf-8"))
    solutions = sum(
        len(re.findall(r"^\s*:{3,}\{solution\}", _text(c["source"]), re.M))
        for c in source["cells"]
        if c["cell_type"] == "markdown"
    )
    nb = _reader(path)
    folded = 0
    for i, markdown in _markdowns(nb):
        depth = 0
        for m in re.finditer(r"<details>|</details>|<summary>(Solution[^<]*)</summary>", markdown):
            if m.group(0) == "<details>":
                depth += 1
            elif m.group(0) == "</details>":
                depth -= 1
                assert depth >= 0, f"cell {i}: </details> without <details>"
            elif m.group(1):
                assert depth > 0, f"cell {i}: a solution outside <details>"
                folded += 1
        assert depth == 0, f"cell {i}: <details> not closed"
    assert folded == solutions


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_glued_numbers_present(path):
    source = json.loads(path.read_text(encoding="utf-8"))
    glued = RE.glue_data(source)
    cells = {c.get("id"): c for c in _reader(path)["cells"]}
    missing = []
    for cell in source["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        out = _text(cells[cell["id"]]["source"])
        for role, content in GLUE_ROLE.findall(_text(cell["source"])):
            call = RE.eval_role_text(content) if role == "eval" else RE.glue_role_text(content)
            assert call is not None, f"cannot read {{{role}}}`{content}`"
            name, fmt = call
            assert name in glued, f"nothing glued as {name!r} in {path.name}"
            value = RE.escape_md(RE.format_plain_text(glued[name], fmt))
            if value not in out:
                missing.append(f"{name}:{fmt} = {value!r}")
    assert not missing, missing


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_code_cells_as_readers_see_them(path):
    source = json.loads(path.read_text(encoding="utf-8"))
    nb = _reader(path)
    assert nb["cells"][0]["id"] == RE.HEADER_ID
    assert f"book/{path.relative_to(ROOT / 'book').as_posix()}" in _text(nb["cells"][0]["source"])
    removed = {c["id"] for c in source["cells"] if "remove-cell" in c["metadata"].get("tags", [])}
    kept = nb["cells"][1:]
    assert [c["id"] for c in kept] == [c["id"] for c in source["cells"] if c["id"] not in removed]
    counts = [c["execution_count"] for c in kept if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not numbered as one run: {counts}"
    for cell in kept:
        for output in cell.get("outputs", []):
            assert not any(m.startswith(RE.GLUE_PREFIX) for m in output.get("data", {})), cell["id"]
            if RE.WIDGET_VIEW in output.get("data", {}):
                assert output["data"]["text/plain"] == RE.WIDGET_TEXT


def test_format_matches_myst_nb():
    variables = pytest.importorskip("myst_nb.core.variables")
    cases = [
        ("0.30085811800017837", ".2f"),
        ("162000", ","),
        ("162000", ",d"),
        ("2", ""),
        ("2", "s"),
        ("'the model prefers'", "s"),
        ("1.2345526598437056e-05", ".1e"),
        ("0.9929107072592918", ".0%"),
        ("np.float64(0.5)", "s"),
        ("True", ""),
    ]
    for text, fmt in cases:
        assert RE.format_plain_text(text, fmt) == variables.format_plain_text(text, fmt), (text, fmt)


def test_roles_and_directives():
    book = RE.Book(ROOT)
    doc = "book/principles/parallel"
    conv = RE.Converter(book, doc, {"x": "0.123456", "n": "162000", "s": "'a_b'"})
    md = conv.markdown(
        "\n".join(
            [
                "(my-target)=",
                "## Head",
                "",
                "It is {glue:text}`x:.2f`, {eval}`glued('n', ',')` and {eval}`glued(\"s\")`;",
                "see {doc}`memory`, {doc}`the text <../models/fitting>` and `{cite:p}` literally.",
                "",
                "::::{admonition} Try it",
                ":class: note try-it",
                "Body.",
                "",
                ":::{dropdown} Answers",
                "```python",
                ":::",
                "```",
                ":::",
                "::::",
                "",
                "$$ a = b $$ (eq-par-chunk)",
            ]
        )
    )
    assert "It is 0.12, 162,000 and a\\_b;" in md
    assert "[Memory optimization · 内存优化](memory.ipynb)" in md
    assert "[the text](../models/fitting.ipynb)" in md
    assert "`{cite:p}`" in md  # code spans are left alone
    assert "> **Try it**" in md and "> <details>" in md and "> <summary>Answers</summary>" in md
    assert "> ```python\n> :::\n> ```" in md
    assert "\\tag{3.1}$$" in md
    assert "(my-target)=" not in md
    assert book.cite("p", ["graham1969bounds", "amdahl1967validity"]) == "[Graham, 1969, Amdahl, 1967]"
    assert book.cite("t", ["karp1990measuring"]) == "Karp and Flatt [1990]"
