"""The autograded assignments (assignments/, built by scripts/build_assignments.py).

For each assignment: ``otter assign`` turns the source notebook into a student notebook and
an autograder (in a temporary folder); the student notebook must hold no solution and no
hidden test; ``otter run`` (no Docker) grades the solution notebook, which must get full
marks, and the wrong submission (the solution with the mistakes of
``assignments/<name>/wrong_submission.json``), which must lose marks on each question the
file names.

The grading runs on this machine, so it also shows that the tests check properties rather
than one machine's numbers: the suite passes on two cores and under ``taskset -c 0``. The
one-core roofs that assignments 3 and 5 place their kernels under are measured once here
and shared with every graded notebook through ``COMPUTING_CHANGE_ROOFS`` (as
benchmarks/run_all.py shares them), instead of four times, once per notebook. With two or
more usable cores the gradings run in two processes at once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_assignments.py"
_spec = importlib.util.spec_from_file_location("build_assignments", SCRIPT)
BA = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("build_assignments", BA)  # dataclasses look their module up
_spec.loader.exec_module(BA)

NAMES = ["a1_speedup", "a2_out_of_core", "a3_roofline", "a4_scaling", "a5_ladder"]
#: Memory each solution may take, kernel and child processes together (1 GiB).
MAX_MIB = 1024


def _env(work: Path) -> dict[str, str]:
    """The environment of the build and the gradings: temporary files and Jupyter's
    connection files inside this test's folder."""
    env = dict(os.environ)
    for var, sub in (("TMPDIR", "tmp"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        (work / sub).mkdir(exist_ok=True)
        env[var] = str(work / sub)
    env.pop("MPLBACKEND", None)  # the kernels draw inline, as in a student's notebook
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, Path]:
    """Start ``python args...`` with its output in the file ``log``."""
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=env["TMPDIR"], stdout=out, stderr=out)
    return proc, log


def _finish(started: tuple[subprocess.Popen, Path], timeout: float) -> str:
    """Wait for a process of :func:`_start` (ending it if it runs past ``timeout``) and
    return its output; fail if it failed."""
    proc, log = started
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, f"{' '.join(proc.args[1:3])} failed:\n{output}"
    return output


_ROOFS_CODE = """
import json, sys
from computing_change.core import machine
runs = [machine.roofs().as_dict(), machine.roofs(refresh=True).as_dict()]
best = {k: max(r[k] for r in runs) if isinstance(v, float) else v for k, v in runs[0].items()}
open(sys.argv[1], "w").write(json.dumps(best))
"""


def _roofs_var() -> str | None:
    """The variable through which the course's package shares measured roofs, if it does
    (otherwise each notebook measures its own)."""
    from computing_change.core import machine

    return getattr(machine, "ROOFS_ENV", None) if hasattr(machine, "roofs") else None


#: How the gradings are split between two processes when there are two usable cores:
#: about the same time each.
GROUPS = [["a5_ladder", "a2_out_of_core"], ["a4_scaling", "a1_speedup", "a3_roofline"]]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every assignment built by otter assign (without grading) into a temporary folder;
    meanwhile the machine's roofs are being measured for the gradings (:func:`report`).

    A roof is the best rate seen, and other programs can only slow a measurement down, so
    the roofs are measured twice and the higher value of each is kept: a busy moment of a
    shared machine during one measurement would otherwise lower a roof and push a kernel
    measured in a quiet moment above it.
    """
    work = tmp_path_factory.mktemp("assignments")
    env = _env(work)
    var = _roofs_var()
    roofs = _start(["-c", _ROOFS_CODE, str(work / "roofs.json")], env, work / "roofs.log") if var else None
    try:
        _finish(
            _start([str(SCRIPT), "--no-run-tests", "--out", str(work / "out")], env, work / "build.log"), 600
        )
        yield work, env, roofs, var
    finally:
        if roofs and roofs[0].poll() is None:
            roofs[0].kill()
            roofs[0].wait()


@pytest.fixture(scope="module")
def report(built) -> dict:
    """Each assignment's solution and wrong submission, graded by otter run: in two
    processes at once when two cores are usable (other programs only slow a timing down,
    and the timed checks fail only when a notebook runs too fast), in one otherwise."""
    from computing_change.core.machine import usable_cores

    work, env, roofs, var = built
    if roofs:
        _finish(roofs, timeout=600)
        env = {**env, var: str(work / "roofs.json")}
    groups = GROUPS if usable_cores() >= 2 else [NAMES]
    assert sorted(sum(groups, [])) == NAMES
    runs = [
        _start(
            [str(SCRIPT), *names, "--out", str(work / "out"), "--check", str(work / f"report{i}.json")],
            env,
            work / f"check{i}.log",
        )
        for i, names in enumerate(groups)
    ]
    report = {}
    try:
        for run in runs:
            print(_finish(run, timeout=1500))
    finally:
        for proc, _ in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for i in range(len(groups)):
        report.update(json.loads((work / f"report{i}.json").read_text()))
    return report


def test_every_assignment_has_a_source_and_a_wrong_submission():
    assert BA.names() == NAMES
    for name in NAMES:
        spec = json.loads((ROOT / "assignments" / name / "wrong_submission.json").read_text())
        assert spec["mistakes"] and spec["loses"], name
        assert all(m["why"].strip() for m in spec["mistakes"]), f"{name}: say why each mistake is one"


def _solution_lines(source: Path) -> list[str]:
    """The code lines otter assign must remove: those between ``# BEGIN SOLUTION`` and
    ``# END SOLUTION`` and those ending in ``# SOLUTION``."""
    nb = json.loads(source.read_text())
    lines, inside = [], False
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            text = line.strip()
            if text == "# BEGIN SOLUTION":
                inside = True
            elif text == "# END SOLUTION":
                inside = False
            elif text.endswith("# SOLUTION"):
                lines.append(text.removesuffix("# SOLUTION").strip())
            elif inside and text and not text.startswith("#"):
                lines.append(text)
    return lines


def _tests_in_zip(autograder: Path) -> dict[str, dict]:
    tests = {}
    with zipfile.ZipFile(autograder) as zf:
        for member in zf.namelist():
            if member.startswith("tests/") and member.endswith(".py"):
                scope: dict = {}
                exec(zf.read(member).decode(), scope)  # otter's OK-format test files
                tests[scope["test"]["name"]] = scope["test"]
    return tests


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_has_no_solution_and_no_hidden_test(built, name):
    work = built[0]
    paths = BA.paths(name, work / "out")
    student = json.loads(paths.student.read_text())
    code = ["".join(c["source"]) for c in student["cells"] if c["cell_type"] == "code"]
    text = "\n".join("".join(c["source"]) for c in student["cells"])
    for marker in BA.MARKERS:
        assert marker not in text, f"{name}: {marker!r} left in the student notebook"
    student_lines = {line.strip() for cell in code for line in cell.splitlines()}
    solution = _solution_lines(ROOT / "assignments" / name / f"{name}.ipynb")
    assert len(solution) >= 10, f"{name}: the source should hold its solutions"
    leaked = [line for line in solution if line in student_lines]
    assert not leaked, f"{name}: solution lines in the student notebook: {leaked}"

    tests = _tests_in_zip(paths.autograder)
    public = student["metadata"]["otter"]["tests"]
    assert sorted(public) == sorted(tests), f"{name}: every question has its public tests"
    for q, test in tests.items():
        cases = test["suites"][0]["cases"]
        shown = [c["code"] for c in public[q]["suites"][0]["cases"]]
        assert shown == [c["code"] for c in cases if not c["hidden"]], f"{name} {q}: only public tests"
        for case in cases:
            body = "\n".join(line[4:] for line in case["code"].splitlines())  # without >>> and ...
            assert not case["hidden"] or body not in text, f"{name} {q}: a hidden test in the notebook"
        assert f'grader.check("{q}")' in code, f"{name}: a grader.check cell for {q}"
    assert any(c["hidden"] for t in tests.values() for c in t["suites"][0]["cases"]), name


@pytest.mark.parametrize("name", NAMES)
def test_solution_gets_full_marks(report, name):
    result = report[name]["solution"]
    assert "error" not in result, result
    assert result["total"] == result["possible"] > 0, f"{name}: the solution failed {result['failed']}"
    assert result["peak_mib"] < MAX_MIB, f"{name}: the solution took {result['peak_mib']} MiB"


@pytest.mark.parametrize("name", NAMES)
def test_wrong_submission_loses_marks(report, name):
    result = report[name]["wrong"]
    assert "error" not in result, result
    assert result["total"] < result["possible"], f"{name}: the wrong submission got full marks"
    loses = json.loads((ROOT / "assignments" / name / "wrong_submission.json").read_text())["loses"]
    for q in loses:
        score, possible = result["questions"][q]
        assert score < possible, f"{name}: the wrong submission kept every mark of {q}"
