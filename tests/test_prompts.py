"""Active prompts (issue 14, section 3): "Predict" before the measurements, "Try it" questions
under every widget, and a difficulty of one to three stars on every exercise.

The checks apply to every notebook in book/ (NOTEBOOKS): a new chapter with measurements,
widgets or exercises must come with its prompts and stars.
The markdown is parsed with the colon-fence parser MyST itself uses, so a fence that MyST
would nest wrongly (an outer fence no longer than the inner one) fails here too.

Conventions checked (write new prompts the same way):

* A Predict prompt is a markdown cell of its own, directly before the code cell it is
  about: ``:::{admonition} Predict`` with ``:class: tip predict``, a question, and no
  ``{glue:...}`` number (the prompt must not give the measured answer away).
* Every measured cell (tagged ``nbval-ignore-output``, calling ``bench``, ``perf_counter``,
  a ``measure_*`` function or another of MEASURING_CALLS) has a Predict prompt since the
  measured cell before it; consecutive measured cells with no prose between count as one.
* Every widget cell is followed, before the next code cell, by a markdown cell with
  ``::::{admonition} Try it`` and ``:class: note try-it``: two or three numbered questions,
  then ``:::{dropdown} Answers`` nested inside it, with one numbered answer per question.
* Every exercise reads ``:::{exercise} ★★ Title`` (one to three stars first), its
  ``:label:`` kept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

ROOT = Path(__file__).resolve().parents[1]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Calls that make a cell a measurement (besides bench, perf_counter and measure_*).
MEASURING_CALLS = ("latency_scan", "hierarchy_scan", "chase_latency", "pingpong", "cache_bandwidth")
MEASURING = re.compile(
    r"\b(?:bench|perf_counter|measure_\w+|" + "|".join(MEASURING_CALLS) + r")\s*\(",
)
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "book").rglob("*.ipynb")
    if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
)
#: Every notebook of the book, relative to the repository root: all of them are checked.
ALL = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
_MD = MarkdownIt("commonmark").use(colon_fence_plugin)


def _load(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


def _src(cell) -> str:
    return "".join(cell["source"])


def _is_code(cell) -> bool:
    return cell["cell_type"] == "code" and _src(cell).strip() != ""


#: A tqdm progress bar is a widget view too, but nothing for a reader to move.
PROGRESS_BAR = re.compile(r"^[^\n]*:\s+\d+%\|")


def _is_widget(cell) -> bool:
    views = [o for o in cell.get("outputs", []) if WIDGET_MIME in o.get("data", {})]
    return (
        _is_code(cell)
        and bool(views)
        and not all(PROGRESS_BAR.match("".join(o["data"].get("text/plain", ""))) for o in views)
    )


def _is_measured(cell) -> bool:
    return (
        _is_code(cell)
        and "nbval-ignore-output" in cell["metadata"].get("tags", [])
        and not _is_widget(cell)
        and MEASURING.search(_src(cell)) is not None
    )


def _fences(text: str, name: str) -> list[tuple[str, str, str]]:
    """The top-level colon fences of directive ``name`` in ``text``: (markup, argument,
    body), as MyST's parser splits them."""
    found = []
    for tok in _MD.parse(text):
        if tok.type == "colon_fence":
            m = re.match(r"\{([\w:-]+)\}\s*(.*)", tok.info.strip())
            if m and m.group(1) == name:
                found.append((tok.markup, m.group(2).strip(), tok.content))
    return found


def _classes(body: str) -> set[str]:
    m = re.search(r"^:class:(.*)$", body, flags=re.M)
    return set(m.group(1).split()) if m else set()


def _numbered(text: str) -> list[str]:
    return re.findall(r"^\d+\.\s+(\S.*)$", text, flags=re.M)


def predict_problems(text: str) -> list[str] | None:
    """None if ``text`` holds no Predict admonition, else what is wrong with it ([] if fine)."""
    boxes = [f for f in _fences(text, "admonition") if "predict" in _classes(f[2])]
    if not boxes:
        return None
    problems = []
    for _markup, title, body in boxes:
        if not title.startswith("Predict"):
            problems.append(f"a predict box titled {title!r}, not 'Predict'")
        if "?" not in body:
            problems.append("a Predict box that asks no question")
        if "{glue" in body or "{eval}" in body:
            problems.append("a Predict box that quotes a measured number ({eval}`glued(...)`)")
    return problems


def try_it_problems(text: str) -> list[str] | None:
    """None if ``text`` holds no Try-it admonition, else what is wrong with it ([] if fine)."""
    boxes = [f for f in _fences(text, "admonition") if "try-it" in _classes(f[2])]
    if not boxes:
        return None
    problems = []
    for markup, title, body in boxes:
        if not title.startswith("Try it"):
            problems.append(f"a try-it box titled {title!r}, not 'Try it'")
        drops = _fences(body, "dropdown")
        if len(drops) != 1:
            problems.append(f"a Try-it box needs one nested dropdown of answers, found {len(drops)}")
            continue
        inner, _, answers = drops[0]
        if len(inner) >= len(markup):
            problems.append(f"the dropdown's fence ({inner}) must be shorter than the box's ({markup})")
        questions = _numbered(body.split(":" * len(inner) + "{dropdown}")[0])
        if not 2 <= len(questions) <= 3:
            problems.append(f"a Try-it box needs two or three numbered questions, found {len(questions)}")
        if len(_numbered(answers)) != len(questions):
            problems.append(f"{len(questions)} questions but {len(_numbered(answers))} answers")
    return problems


EXERCISE = re.compile(r"^(:{3,})\{exercise\}([^\n]*)\n((?::\w+:[^\n]*\n)*)", flags=re.M)


def exercise_problems(text: str) -> list[str]:
    problems = []
    for m in EXERCISE.finditer(text):
        title, options = m.group(2).strip(), m.group(3)
        label = re.search(r":label:\s*(\S+)", options)
        name = label.group(1) if label else title
        if not label:
            problems.append(f"exercise {title!r} lost its :label:")
        if not re.match(r"★{1,3}(?!★)(\s|$)", title):
            problems.append(f"exercise {name}: title {title!r} must start with one to three stars")
    return problems


# --------------------------------------------------------------------------------------
# The checks themselves, on small examples (so a lax check cannot pass unnoticed).
# --------------------------------------------------------------------------------------

GOOD_TRY = """::::{admonition} Try it
:class: note try-it
1. Where does S stop growing?
2. What does that say about f?

:::{dropdown} Answers
1. At 1/f.
2. f = 1/S.
:::
::::"""


def test_the_checks_catch_bad_prompts():
    assert try_it_problems(GOOD_TRY) == []
    assert try_it_problems("Just prose.") is None
    flat = GOOD_TRY.replace("::::", ":::")  # same-length fences: MyST closes the box early
    assert try_it_problems(flat)
    assert try_it_problems(GOOD_TRY.replace("2. f = 1/S.\n", ""))  # an answer missing
    assert try_it_problems(GOOD_TRY.replace(":::{dropdown} Answers", "Answers:"))  # not hidden
    good_predict = ":::{admonition} Predict\n:class: tip predict\nWhat do you expect, and why?\n:::"
    assert predict_problems(good_predict) == []
    assert predict_problems(good_predict.replace("why?", "why {glue:text}`x`?"))
    assert predict_problems(good_predict.replace("why?", "why {eval}`glued('x', '.2f')`?"))
    assert predict_problems(good_predict.replace("?", "."))
    assert exercise_problems(":::{exercise} ★★ Title\n:label: ex-a\n\nText\n:::") == []
    assert exercise_problems(":::{exercise} ★★★★ Title\n:label: ex-a\n:::")
    assert exercise_problems(":::{exercise}\n:label: ex-a\n:::")
    assert exercise_problems(":::{exercise} ★ Title\n\nText\n:::")


def test_every_chapter_is_checked():
    """The checks below run on every notebook; guard against a glob that finds none (or
    misses the chapters whose prompts the checks were written for)."""
    for rel in ("book/background.ipynb", "book/principles/memory.ipynb", "book/applications/science.ipynb"):
        assert rel in ALL, f"{rel} is not among the notebooks checked: {ALL}"


# --------------------------------------------------------------------------------------
# Every notebook in book/.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ALL)
def test_every_widget_has_try_it_questions(rel):
    cells = _load(rel)["cells"]
    problems = []
    for i, cell in enumerate(cells):
        if not _is_widget(cell):
            continue
        found = None
        for nxt in cells[i + 1 :]:
            if _is_code(nxt):
                break
            if nxt["cell_type"] == "markdown":
                found = try_it_problems(_src(nxt))
                if found is not None:
                    break
        where = f"cell {i} ({_src(cell).strip().splitlines()[0][:60]})"
        if found is None:
            problems.append(f"{where}: no Try-it box before the next code cell")
        else:
            problems += [f"{where}: {p}" for p in found]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rel", ALL)
def test_predict_prompts_stand_before_measurements(rel):
    cells = _load(rel)["cells"]
    problems = []
    predicts = 0
    measured = [i for i, c in enumerate(cells) if _is_measured(c)]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        found = predict_problems(_src(cell))
        if found is None:
            continue
        predicts += 1
        problems += [f"cell {i}: {p}" for p in found]
        if i + 1 >= len(cells) or not _is_code(cells[i + 1]):
            problems.append(f"cell {i}: a Predict box must stand directly before the cell it is about")
    if measured:
        assert predicts, f"{len(measured)} measured cells and no Predict prompt"
    # Group measured cells with no prose between them; each group needs a Predict since the last.
    previous = -1
    for i in measured:
        between = cells[previous + 1 : i]
        if previous >= 0 and not any(c["cell_type"] == "markdown" for c in between):
            previous = i
            continue
        if not any(c["cell_type"] == "markdown" and predict_problems(_src(c)) is not None for c in between):
            problems.append(
                f"measured cell {i} ({_src(cells[i]).strip().splitlines()[0][:60]}) has no Predict prompt before it"
            )
        previous = i
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rel", ALL)
def test_exercises_are_starred(rel):
    text = "\n\n".join(_src(c) for c in _load(rel)["cells"] if c["cell_type"] == "markdown")
    assert EXERCISE.search(text) or "{exercise}" not in text, "an exercise the check cannot read"
    problems = exercise_problems(text)
    assert not problems, "\n".join(problems)
