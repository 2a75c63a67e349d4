#!/usr/bin/env python3
"""Generate the course's autograded assignments with otter-grader, and grade with them.

Each assignment has one source notebook, ``assignments/<name>/<name>.ipynb``, in Otter
Assign's format: the questions, their solutions and their tests in one file. The student
notebook and the autograder are generated from it, never edited by hand:

``_build/assignments/student/<name>/<name>.ipynb``
    What students get: every solution replaced by ``...``, only the public tests (in the
    notebook's metadata, run by its ``grader.check`` cells).
``_build/assignments/autograder/<name>/<name>-autograder.zip``
    What grades a submission: every test, hidden ones included (``otter run`` here, or
    ``otter grade`` / Gradescope in Docker). Next to it ``<name>.ipynb``, the solution
    notebook; keep this folder away from students.
``_build/assignments/wrong/<name>.ipynb``
    A wrong submission: the solution with the mistakes of ``assignments/<name>/
    wrong_submission.json`` made in it, to show (and to test) that the autograder takes
    marks off.

Usage::

    python scripts/build_assignments.py [NAME ...] [--no-run-tests] [--out DIR]
    python scripts/build_assignments.py NAME --grade FOLDER [--out DIR]
    python scripts/build_assignments.py [NAME ...] --out DIR --check REPORT.json

The first form builds (all assignments, or those named). Unless ``--no-run-tests`` is given,
``otter assign`` also grades each solution notebook and fails unless it gets full marks.
The second grades every ``.ipynb`` in FOLDER with NAME's built autograder (``otter run``: no
Docker, in this environment) and writes ``FOLDER/scores.csv``. The third grades each built
assignment's solution and wrong submission and writes the scores as JSON (the test suite's
``tests/test_assignments.py`` uses it). ``bash scripts/build_assignments.sh`` runs the first
in the course's virtual environment.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "assignments"
OUT = ROOT / "_build" / "assignments"
#: What marks solutions and tests in a source notebook; none may reach a student notebook.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "# SOLUTION", "BEGIN QUESTION", "BEGIN TESTS", "TEST CONFIG")


def names() -> list[str]:
    """The assignments: every ``assignments/<name>/<name>.ipynb``, in order."""
    return sorted(p.name for p in SOURCES.iterdir() if (p / f"{p.name}.ipynb").is_file())


@dataclass(frozen=True)
class Built:
    """Where one assignment's generated files are."""

    name: str
    student: Path  # the notebook to hand out
    solution: Path  # the solution notebook (autograder folder)
    autograder: Path  # the autograder zip
    wrong: Path  # the wrong submission

    def as_dict(self) -> dict:
        return {k: str(v) for k, v in self.__dict__.items()}


def paths(name: str, out: Path = OUT) -> Built:
    out = Path(out)
    return Built(
        name=name,
        student=out / "student" / name / f"{name}.ipynb",
        solution=out / "autograder" / name / f"{name}.ipynb",
        autograder=out / "autograder" / name / f"{name}-autograder.zip",
        wrong=out / "wrong" / f"{name}.ipynb",
    )


@contextlib.contextmanager
def _quiet(label: str):
    """Keep otter's chatter (logo, summaries) out of the output unless something fails."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    except Exception:
        sys.stderr.write(f"--- output of {label} ---\n{buf.getvalue()}\n")
        raise


def assign(name: str, out: Path = OUT, *, run_tests: bool = True) -> Built:
    """Run ``otter assign`` on assignment ``name``: its student notebook and autograder into
    ``out/student/<name>/`` and ``out/autograder/<name>/``, and its wrong submission into
    ``out/wrong/``. With ``run_tests``, otter grades the solution notebook and raises unless
    it gets full marks."""
    from otter.assign import main as otter_assign

    out = Path(out).resolve()
    built = paths(name, out)
    source = SOURCES / name / f"{name}.ipynb"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".assign-{name}-") as tmp:
        result = Path(tmp) / "dist"
        with _quiet(f"otter assign {name}"):
            otter_assign(str(source), str(result), no_run_tests=not run_tests, no_pdfs=True)
        for part, dest in (("student", built.student.parent), ("autograder", built.solution.parent)):
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(result / part), str(dest))
    zips = sorted(built.solution.parent.glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"otter assign made {len(zips)} autograder zips for {name}")
    zips[0].rename(built.autograder)
    wrong_submission(name, built.solution, built.student, built.wrong)
    return built


def wrong_submission(name: str, solution: Path, student: Path, dest: Path) -> Path:
    """Write the wrong submission of ``name`` to ``dest``: the solution notebook with each
    ``find`` of ``assignments/<name>/wrong_submission.json`` replaced by its ``replace``
    (each must occur exactly once in the solution's code), and the student notebook's
    metadata, so it is what a student could hand in."""
    import nbformat

    spec = json.loads((SOURCES / name / "wrong_submission.json").read_text(encoding="utf-8"))
    nb = nbformat.read(solution, as_version=4)
    for mistake in spec["mistakes"]:
        find, replace = mistake["find"], mistake["replace"]
        cells = [c for c in nb.cells if c.cell_type == "code"]
        count = sum(c.source.count(find) for c in cells)
        if count != 1:
            raise ValueError(
                f"{name}: {find!r} occurs {count} times in the solution (once expected); "
                f"update assignments/{name}/wrong_submission.json"
            )
        for c in cells:
            c.source = c.source.replace(find, replace)
    nb.metadata = nbformat.read(student, as_version=4).metadata
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


class _PeakMemory:
    """The peak resident memory of this process's children (the notebook's kernel and the
    processes it starts), sampled every 0.1 s while the block runs."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def grade(autograder: Path, submission: Path) -> dict:
    """Grade one notebook with ``otter run`` (no Docker, in this environment).

    Returns ``{"total", "possible", "seconds", "peak_mib", "questions": {q: [score,
    possible]}, "failed": {q: [names of failed test cases]}}``; ``peak_mib`` is the peak
    memory of the notebook's kernel and its child processes.
    """
    from otter.run import main as otter_run

    start = time.perf_counter()
    with _quiet(f"otter run {submission}"), _PeakMemory() as memory:
        results = otter_run(str(submission), autograder=str(autograder), output_dir=None, no_logo=True)
    questions, failed = {}, {}
    for q, r in sorted(results.results.items()):
        questions[q] = [float(r.score), float(r.possible)]
        bad = [t.test_case.name for t in r.test_case_results if not t.passed]
        if bad:
            failed[q] = bad
    return {
        "total": float(results.total),
        "possible": float(results.possible),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_mib": round(memory.peak / 2**20),
        "questions": questions,
        "failed": failed,
    }


def check(selected: list[str], out: Path) -> dict:
    """Grade each built assignment's solution and wrong submission (an error in grading one
    is recorded as ``{"error": ...}`` and the others are still graded)."""
    report = {}
    for name in selected:
        built = paths(name, out)
        report[name] = {}
        for kind, notebook in (("solution", built.solution), ("wrong", built.wrong)):
            try:
                report[name][kind] = grade(built.autograder, notebook)
            except Exception as err:  # reported by the caller, per assignment
                report[name][kind] = {"error": f"{type(err).__name__}: {err}"}
            print(f"{name} {kind}: {report[name][kind]}", flush=True)
    return report


def grade_folder(name: str, folder: Path, out: Path) -> Path:
    """Grade every notebook in ``folder`` with ``name``'s built autograder; write scores.csv."""
    built = paths(name, out)
    if not built.autograder.is_file():
        raise SystemExit(f"{built.autograder} is missing: build {name} first")
    rows, questions = [], []
    for nb in sorted(Path(folder).glob("*.ipynb")):
        r = grade(built.autograder, nb)
        questions = questions or list(r["questions"])
        rows.append([nb.name, r["total"], r["possible"], *(r["questions"][q][0] for q in questions)])
        print(f"{nb.name}: {r['total']:g} / {r['possible']:g}")
    dest = Path(folder) / "scores.csv"
    with dest.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "total", "possible", *questions])
        writer.writerows(rows)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: _build/assignments)")
    parser.add_argument(
        "--no-run-tests", action="store_true", help="do not grade the solutions while building"
    )
    parser.add_argument("--grade", type=Path, metavar="FOLDER", help="grade the notebooks in FOLDER")
    parser.add_argument("--check", type=Path, metavar="REPORT", help="grade solutions and wrong submissions")
    args = parser.parse_args(argv)
    known = names()
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown assignment(s) {unknown}; known: {known}")
    selected = args.names or known
    if args.grade:
        if len(args.names) != 1:
            parser.error("--grade needs exactly one assignment name")
        print(f"Scores: {grade_folder(selected[0], args.grade, args.out)}")
        return 0
    if args.check:
        report = check(selected, args.out)
        args.check.write_text(json.dumps(report, indent=2))
        return 0
    for name in selected:
        start = time.perf_counter()
        built = assign(name, args.out, run_tests=not args.no_run_tests)
        tested = "" if args.no_run_tests else ", solution graded with full marks"
        print(
            f"{name}: {built.student.parent} and {built.autograder}{tested} ({time.perf_counter() - start:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
