"""Performance figures of chapter 3.4, *Algorithm optimization* (算法优化), as one JSON object.

Run from the repository root, on a quiet machine:

    python benchmarks/algorithms.py            # about a minute
    python benchmarks/algorithms.py --quick    # smaller sizes, a rough check in seconds

It runs the chapter's own code, at larger sizes: the functions the chapter defines in its
cells (the two inversion counts, the sweep that times them, the sum-of-squares versions, the
block split and the two drivers of the parallel scan) are read from
book/principles/algorithms.ipynb and executed here, so the figures cannot drift from the
page. The workers and the power-law fit come from computing_change.lessons.algorithms, as in the
chapter. What it measures:

* ``selection``: counting inversions by an O(n^2) double loop and by an O(n log n) merge
  sort, both pure Python; the exponents fitted on a log-log scale over sizes whose call takes
  at least 1 ms, against the slopes of their operation counts over the same sizes (2 and
  ``1 + 1/ln n``). Target: each within 0.15.
* ``code_optimization``: the sum of squares as a Python loop and as vectorized NumPy, with
  BLAS limited to one thread so the ratio measures vectorization, not threads. Target: 50x.
* ``parallel_scan``: the two-pass prefix sum on a process pool over shared memory, for each
  worker count up to the usable cores, against ``np.cumsum``; the copying variant; what moving
  the data costs. Speed is reported, never asserted; correctness is asserted.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import math
import pickle
import symtable
import sys
import time
from itertools import accumulate
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from computing_change.core import machine
from computing_change.core.pools import process_pool, worker_counts
from computing_change.core.timing import bench
from computing_change.lessons import algorithms as A
from computing_change.models import formulas as F
from computing_change.models.fits import fit_power_law

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "principles" / "algorithms.ipynb"
#: The functions the chapter defines in its cells that this script runs.
LESSON = (
    "count_inversions_brute",
    "merge_sort_count",
    "count_inversions_merge",
    "time_sweep",
    "sum_squares_loop",
    "sum_squares_vectorized",
    "sum_squares_dot",
    "split_blocks",
    "parallel_cumsum",
    "parallel_cumsum_copy",
)
FIT_MIN_SECONDS = 1e-3
EXPONENT_TOLERANCE = 0.15
SPEEDUP_TARGET = 50.0


def _globals_read(source: str) -> set[str]:
    """The global names the functions defined in ``source`` (and the lambdas in them) read."""
    names: set[str] = set()

    def walk(table) -> None:
        if table.get_type() == "function":
            names.update(table.get_globals())
        for child in table.get_children():
            walk(child)

    walk(symtable.symtable(source, "<chapter>", "exec"))
    return names


def chapter_functions(path: Path = CHAPTER, names=LESSON) -> dict:
    """The functions ``names`` as the chapter's cells define them, run in a namespace that
    holds what the chapter imports for them (NumPy, ``A``, ``bench``, ...).

    Only the cells' top-level ``def`` statements are taken, nothing else they run. Raises
    RuntimeError if a function is missing, or reads a global name the namespace lacks.
    """
    namespace = {
        "np": np,
        "math": math,
        "time": time,
        "accumulate": accumulate,
        "bench": bench,
        "A": A,
        "__name__": "chapter_3_4",
    }
    notebook = json.loads(path.read_text(encoding="utf-8"))
    defs = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # IPython syntax (%pip, !cmd): defines nothing this script needs
            continue
        defs += [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    missing = sorted(set(names) - {d.name for d in defs})
    if missing:
        raise RuntimeError(f"{path} no longer defines {missing} in its cells")
    module = ast.Module(body=defs, type_ignores=[])
    unknown = _globals_read(ast.unparse(module)) - set(namespace) - set(names) - set(dir(builtins))
    if unknown:
        raise RuntimeError(
            f"the chapter's functions read {sorted(unknown)}, which this script does not provide"
        )
    exec(compile(module, str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


L = chapter_functions()


def _fit(sizes: np.ndarray, times: np.ndarray, model: np.ndarray) -> dict:
    n_min = float(sizes[times >= FIT_MIN_SECONDS].min())
    fit = fit_power_law(sizes, times, n_min=n_min)
    theory = fit_power_law(sizes, model, n_min=n_min).exponent
    return {
        "sizes": sizes.tolist(),
        "seconds": times.tolist(),
        "fit_n_min": n_min,
        "exponent": round(fit.exponent, 4),
        "exponent_stderr": round(fit.stderr, 4),
        "theory_exponent": round(theory, 4),
        "abs_difference": round(abs(fit.exponent - theory), 4),
        "within_tolerance": bool(abs(fit.exponent - theory) <= EXPONENT_TOLERANCE),
    }


def selection(quick: bool) -> dict:
    check = np.random.default_rng(0).permutation(2000).tolist()
    assert L["count_inversions_brute"](check) == L["count_inversions_merge"](check)
    top_b, top_m = (11, 15) if quick else (13, 18)
    limit = 0.3 if quick else 2.0
    nb, tb = L["time_sweep"](L["count_inversions_brute"], [2**k for k in range(5, top_b + 1)], limit)
    nm, tm = L["time_sweep"](L["count_inversions_merge"], [2**k for k in range(5, top_m + 1)], limit)
    brute = _fit(nb, tb, nb * (nb - 1) / 2)
    merge = _fit(nm, tm, nm * np.log2(nm))
    common = int(min(nb.max(), nm.max()))
    return {
        "problem": "count inversions of a random permutation (pure Python)",
        "brute_force": brute,
        "merge_sort": merge,
        "time_ratio_at_largest_common_n": {
            "n": common,
            "brute_over_merge": float(tb[nb == common][0] / tm[nm == common][0]),
        },
    }


def code_optimization(quick: bool) -> dict:
    n = machine.safe_size(8 * 3, fraction=0.05, max_items=2**18 if quick else 2**20, min_items=2**14)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n)
    as_list = x.tolist()
    rtol = (n + 1) * np.finfo(float).eps
    with threadpool_limits(limits=1, user_api="blas"):
        results = {
            "loop over a list": (lambda: L["sum_squares_loop"](as_list), 3),
            "loop over a NumPy array": (lambda: L["sum_squares_loop"](x), 3),
            "np.sum(x * x)": (lambda: L["sum_squares_vectorized"](x), 15),
            "x @ x": (lambda: L["sum_squares_dot"](x), 15),
        }
        values = {name: f() for name, (f, _) in results.items()}
        exact = math.fsum(np.square(x))
        assert all(math.isclose(v, exact, rel_tol=rtol) for v in values.values())
        seconds = {name: bench(f, repeat=r).median for name, (f, r) in results.items()}
    base = seconds["loop over a list"]
    speedup = base / seconds["x @ x"]
    return {
        "kernel": "sum of squares, float64",
        "n": n,
        "blas_threads": 1,
        "seconds": seconds,
        "ns_per_item": {k: v / n * 1e9 for k, v in seconds.items()},
        "speedup_vs_loop_over_list": {k: base / v for k, v in seconds.items()},
        "vectorized_speedup": speedup,
        "meets_target": bool(speedup >= SPEEDUP_TARGET),
        "target": SPEEDUP_TARGET,
    }


def parallel_scan(quick: bool) -> dict:
    cores = machine.usable_cores()
    counts = worker_counts(cores, oversubscribe=False)
    n = machine.safe_size(64, fraction=0.05, max_items=2**21 if quick else 2**24, min_items=2**16)
    rng = np.random.default_rng(2)
    repeat = 3 if quick else 9
    parallel_cumsum, parallel_cumsum_copy = L["parallel_cumsum"], L["parallel_cumsum_copy"]
    out: dict = {"n": n, "dtype": "int64", "usable_cores": cores}
    with A.SharedArray(n) as xs, A.SharedArray(n) as ys:
        xs.array[:] = rng.integers(0, 1000, n)
        reference = np.cumsum(xs.array)
        serial_out = np.empty_like(reference)
        serial = bench(lambda: np.cumsum(xs.array, out=serial_out), repeat=repeat).median
        reduce_ = bench(lambda: xs.array.sum(), repeat=repeat).median
        out["serial_cumsum_seconds"] = serial
        out["serial_sum_seconds"] = reduce_
        with process_pool(max(counts)) as pool:
            overhead = bench(lambda: pool.submit(A.payload_nbytes, b"").result(), repeat=repeat).median
            rows = []
            for p in counts:
                ys.array[:] = 0
                t = bench(lambda p=p: parallel_cumsum(xs, ys, pool, p), repeat=repeat).median
                assert np.array_equal(ys.array, reference)
                t_reduce, t_scan = parallel_cumsum(xs, ys, pool, p)
                model = F.two_pass_scan_speedup(p, n, serial / n, reduce_ / n, overhead)
                rows.append(
                    {
                        "workers": p,
                        "seconds": t,
                        "speedup": serial / t,
                        "model_speedup": model,
                        "reduce_seconds": t_reduce,
                        "scan_seconds": t_scan,
                        "additions_ratio": (2 * n - (n - L["split_blocks"](n, p)[-1][0]) - 2) / (n - 1),
                    }
                )
            out["shared_memory"] = rows
            p = max(counts)
            copied = np.empty_like(reference)
            t_copy = bench(lambda: parallel_cumsum_copy(xs.array, copied, pool, p), repeat=3, number=1).median
            assert np.array_equal(copied, reference)
            block = xs.array[: n // p].copy()
            one_way = bench(lambda: pool.submit(A.payload_nbytes, block).result(), repeat=repeat).median
        pickled = bench(
            lambda: pickle.loads(pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL)), repeat=repeat
        )
    out["copying"] = {
        "workers": p,
        "seconds": t_copy,
        "speedup": serial / t_copy,
        "items_sent_per_scan": 3 * n - (n - L["split_blocks"](n, p)[-1][0]),
    }
    out["transfer"] = {
        "task_round_trip_seconds": overhead,
        "send_block_seconds": one_way,
        "block_items": n // p,
        "send_ns_per_item": (one_way - overhead) / (n // p) * 1e9,
        "pickle_and_unpickle_ns_per_item": pickled.median / (n // p) * 1e9,
        "serial_scan_ns_per_item": serial / n * 1e9,
    }
    if cores == 1:
        out["note"] = "one usable core: the parallel scan was checked for correctness; no speedup is possible"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a rough check in seconds")
    args = parser.parse_args(argv)
    sel = selection(args.quick)
    code = code_optimization(args.quick)
    scan = parallel_scan(args.quick)
    report = {
        "chapter": "3.4 algorithm optimization",
        "machine": machine.summary(),
        "quick": args.quick,
        "figures": {
            "vectorized_speedup": round(code["vectorized_speedup"], 1),
            "vectorized_speedup_meets_50x": code["meets_target"],
            "exponent_brute_force": sel["brute_force"]["exponent"],
            "exponent_brute_force_theory": sel["brute_force"]["theory_exponent"],
            "exponent_merge_sort": sel["merge_sort"]["exponent"],
            "exponent_merge_sort_theory": sel["merge_sort"]["theory_exponent"],
            "exponents_within_0.15": sel["brute_force"]["within_tolerance"]
            and sel["merge_sort"]["within_tolerance"],
            "parallel_scan_speedup_by_workers": {
                str(r["workers"]): round(r["speedup"], 2) for r in scan["shared_memory"]
            },
            "parallel_scan_model_speedup_by_workers": {
                str(r["workers"]): round(r["model_speedup"], 2) for r in scan["shared_memory"]
            },
            "copying_scan_speedup": round(scan["copying"]["speedup"], 3),
        },
        "selection": sel,
        "code_optimization": code,
        "parallel_scan": scan,
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
