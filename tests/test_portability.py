"""The compared outputs of the notebooks must not depend on the reader's machine.

nbval compares every cell not tagged ``nbval-ignore-output`` with its committed output,
and the suite must pass on 1, 2 and 16 cores, with 4 or 64 GiB of memory, on any x86-64
CPU. The CPU's SIMD kernels are handled by comparing floats at 8 significant digits
(conftest.py; .ci/run also runs every notebook with AVX-512 disabled). The core count and
the memory are handled here, by reading the notebooks' code:

* a value is *machine-dependent* when it comes from a call that reads the machine
  (``usable_cores()``, ``available_memory()``, ``cache_sizes()``, timings, ...), or is
  computed from such a value (followed through assignments, cell after cell);
* ``safe_size(...)`` is machine-dependent unless its result is the same with 1.5, 4 and
  64 GiB available, which is checked by calling it with those memories (its ``max_items``
  cap then decides, as intended);
* a compared cell may not use a machine-dependent value, unless it is listed in
  ``REASONED`` below with the reason its output is the same on every machine.

1 core is also run for real: scripts/binder_profile.sh runs every notebook on one CPU.
"""

from __future__ import annotations

import ast
import json
import operator
from pathlib import Path

import pytest

from computing_change.core import machine

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "book").rglob("*.ipynb")
    if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
)
GIB = 1024**3
MEMORIES = (1.5 * GIB, 4 * GIB, 64 * GIB)

# Calls whose result depends on the machine the notebook runs on.
READS_MACHINE = {
    "usable_cores",
    "available_memory",
    "total_memory",
    "cpu_count",
    "sched_getaffinity",
    "cache_sizes",
    "blas_info",
    "cpu_quota",
    "profile",
    "summary",
    "measure_peak_flops",
    "measure_bandwidth",
    "bench",
    "perf_counter",
    "time",
    "monotonic",
    "threadpool_info",
    "virtual_memory",
    "roofs",
    "cache_bandwidth",
    "bandwidth_for",
    "fraction_of_roof",
    "chase_latency",
}

# (notebook, a line of the cell) -> why its output is the same on every machine.
REASONED: dict[tuple[str, str], str] = {
    ("applications/big_data.ipynb", "sub_run = out_of_core("): (
        "prints the verdict of an assert (out-of-core equals in-memory) and the row count, "
        "which the file plan fixes: the workers and the memory budget change how the rows "
        "are read, not how many there are"
    ),
    ("background.ipynb", "widget_report(gflop=-2.0"): (
        "only invalid inputs: the message is printed before the machine's roofs are used"
    ),
    ("principles/memory.ipynb", "n = machine.safe_size(8 * 6"): (
        "prints the peaks as multiples of one array's size, which do not depend on n"
    ),
}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _const(node: ast.expr):
    """The value of a literal arithmetic expression (2**20, 3 * 8, ...), else raise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, exp = _const(node.left), _const(node.right)
        if exp >= 64:
            raise ValueError(ast.unparse(node))
        return base**exp
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_const(node.left), _const(node.right))
    if isinstance(node, ast.Call) and _name(node.func) in ("max", "min") and not node.keywords:
        values = [_const(a) for a in node.args]
        return max(values) if _name(node.func) == "max" else min(values)
    raise ValueError(ast.unparse(node))


def _safe_size_is_invariant(call: ast.Call, monkeypatch) -> bool:
    try:
        args = [_const(a) for a in call.args]
        kwargs = {k.arg: _const(k.value) for k in call.keywords}
    except ValueError:
        return False
    results = set()
    for mem in MEMORIES:
        monkeypatch.setattr(machine, "available_memory", lambda mem=mem: int(mem))
        results.add(machine.safe_size(*args, **kwargs))
    monkeypatch.undo()
    return len(results) == 1


def _local_names(node: ast.AST) -> set[str]:
    """Names a function, lambda or comprehension binds in its own scope (parameters, loop
    targets, assignments): inside it they shadow the notebook's globals."""
    names: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        names |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        declared = {n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names}
        names -= declared
    else:  # a comprehension
        for gen in node.generators:
            names |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
    return names


SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _tainting(node: ast.AST, tainted: set[str], monkeypatch) -> bool:
    """Does evaluating ``node`` read the machine (directly or through a tainted name)?
    A name bound inside a function or comprehension (a parameter, a loop variable, a local)
    shadows a tainted global of the same name."""
    if isinstance(node, ast.Call):
        name = _name(node.func)
        if name in READS_MACHINE:
            return True
        if name == "safe_size" and not _safe_size_is_invariant(node, monkeypatch):
            return True
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in tainted:
        return True
    if isinstance(node, SCOPES):
        inner = tainted - _local_names(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            outer = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            outer += getattr(node, "decorator_list", [])
            if any(_tainting(n, tainted, monkeypatch) for n in outer):
                return True
            body = node.body if isinstance(node.body, list) else [node.body]
            return any(_tainting(n, inner, monkeypatch) for n in body)
        # the first iterable of a comprehension is evaluated in the enclosing scope
        first = node.generators[0].iter
        if _tainting(first, tainted, monkeypatch):
            return True
        rest = [n for n in ast.iter_child_nodes(node) if n is not node.generators[0]]
        rest += [n for n in ast.iter_child_nodes(node.generators[0]) if n is not first]
        return any(_tainting(n, inner, monkeypatch) for n in rest)
    return any(_tainting(child, tainted, monkeypatch) for child in ast.iter_child_nodes(node))


def _targets(stmt: ast.stmt) -> list[str]:
    names = []
    targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
    for t in targets:
        if t is not None:
            names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names.append(stmt.name)
    return names


def _code(cell) -> str:
    """The cell as Python: IPython magics and shell lines become ``pass``."""
    source = "".join(cell["source"])
    if source.lstrip().startswith("%%"):  # a cell magic: not Python
        return ""
    lines = []
    for ln in source.splitlines():
        indent = ln[: len(ln) - len(ln.lstrip())]
        lines.append(indent + "pass" if ln.lstrip().startswith(("%", "!")) else ln)
    return "\n".join(lines)


def _compared_cells_using_the_machine(path: Path, monkeypatch) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    tainted: set[str] = set()
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(_code(cell))
        uses = False
        for stmt in tree.body:
            if isinstance(stmt, ast.For) and not _tainting(stmt.iter, tainted, monkeypatch):
                # the loop variable is rebound before the body reads it
                tainted.difference_update(n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name))
            if _tainting(stmt, tainted, monkeypatch):
                uses = True
                tainted.update(_targets(stmt))
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.FunctionDef)):
                tainted.difference_update(_targets(stmt))  # rebound to a machine-free value
        compared = cell.get("outputs") and "nbval-ignore-output" not in cell["metadata"].get("tags", [])
        if uses and compared:
            found.append(("".join(cell["source"]).strip().splitlines() or [""])[0])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_compared_outputs_do_not_depend_on_the_machine(path, monkeypatch):
    rel = str(path.relative_to(ROOT / "book"))
    unexplained = [
        first
        for first in _compared_cells_using_the_machine(path, monkeypatch)
        if not any(nb == rel and first.startswith(line) for nb, line in REASONED)
    ]
    assert not unexplained, (
        "compared cells whose output may depend on the reader's cores or memory: tag them "
        "nbval-ignore-output (keeping their asserts), cap the size so it is the same on every "
        "machine, or add the reason to REASONED:\n" + "\n".join(unexplained)
    )


def test_safe_size_check_itself(monkeypatch):
    """The analysis tells an invariant size from one that grows with memory."""
    invariant = ast.parse("safe_size(8, fraction=0.1, max_items=2**20)").body[0].value
    growing = ast.parse("safe_size(8, fraction=0.1, max_items=2**40)").body[0].value
    assert _safe_size_is_invariant(invariant, monkeypatch)
    assert not _safe_size_is_invariant(growing, monkeypatch)


def test_taint_follows_assignments(tmp_path, monkeypatch):
    cells = [
        {"cell_type": "code", "source": "CORES = machine.usable_cores()", "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": "workers = 2 * CORES", "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": "print(workers)", "metadata": {}, "outputs": [{"x": 1}]},
        {"cell_type": "code", "source": "print(3)", "metadata": {}, "outputs": [{"x": 1}]},
        {
            "cell_type": "code",
            "source": "print(CORES)",
            "metadata": {"tags": ["nbval-ignore-output"]},
            "outputs": [{"x": 1}],
        },
    ]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": cells}))
    assert _compared_cells_using_the_machine(nb, monkeypatch) == ["print(workers)"]


def test_names_bound_inside_a_function_shadow_the_tainted_ones(tmp_path, monkeypatch):
    cells = [
        {"cell_type": "code", "source": "n = machine.usable_cores()", "metadata": {}, "outputs": []},
        {
            "cell_type": "code",
            "source": "def f(n):\n    return n + 1\nprint(f(3))",
            "metadata": {},
            "outputs": [{"x": 1}],
        },
        {
            "cell_type": "code",
            "source": "print([n for n in range(3)])",
            "metadata": {},
            "outputs": [{"x": 1}],
        },
        {
            "cell_type": "code",
            "source": "def g():\n    return n\nprint(g())",
            "metadata": {},
            "outputs": [{"x": 1}],
        },
        {
            "cell_type": "code",
            "source": "print([k for k in range(n)])",
            "metadata": {},
            "outputs": [{"x": 1}],
        },
        {
            "cell_type": "code",
            "source": "def h(k=n):\n    return k\nprint(h())",
            "metadata": {},
            "outputs": [{"x": 1}],
        },
    ]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": cells}))
    assert _compared_cells_using_the_machine(nb, monkeypatch) == [
        "def g():",
        "print([k for k in range(n)])",
        "def h(k=n):",
    ]
