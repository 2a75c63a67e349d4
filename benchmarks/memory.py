"""Performance figures of chapter 3.3, *Memory optimization* (内存优化), as one JSON object.

Run from the repository root, on a quiet machine:

    python benchmarks/memory.py            # about a minute
    python benchmarks/memory.py --quick    # smaller sizes, a rough check in seconds

What it measures (the notebook shows the same experiments, smaller):

* ``allocation``: building n float64 values with ``np.append`` in a loop, a list converted
  once, a preallocated array and ``np.arange``; the fit t = a n + b n^2 of the np.append
  times; the peak memory and time of ``sqrt(x*x + y*y)`` with temporaries and in place.
* ``dtype``: the memory ratio float32 / float64 (exactly 0.5) and the time ratio of a sum
  over an array 8 times the last-level cache; the relative errors of a million-value sum.
* ``chunking``: the peak memory of mean and variance over a stream, in one go and in
  chunks, and the ratio of the two peaks, with the times.
* ``cache``: row against column traversal of a C-order matrix; the naive transpose against
  the blocked one for a range of tile sizes, on matrices that outgrow the last-level cache;
  at a working set inside each cache level and in DRAM, the latency of one dependent read (a
  pointer chase over a random cycle, ``latency_ns``) and the time per read when the reads are
  independent and overlap (``np.take`` at random positions, ``ns_per_element``).

Speed is reported, never asserted; every result is checked for correctness.

The kernels are the chapter's own: :func:`page` compiles the functions that
``book/principles/memory.ipynb`` writes in its cells, from the page's source, so the figures
are those of the code a reader sees. The peak of a call, the error bound and the verdict in
words come from :mod:`computing_change.lessons.memory`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from computing_change.core import machine
from computing_change.core.notebook import page_code
from computing_change.core.timing import bench
from computing_change.core.tracing import traced_peak
from computing_change.lessons import memory as M
from computing_change.models import formulas as F

KIB, MIB = 1024, 1024**2
PAGE = Path(__file__).resolve().parents[1] / "book" / "principles" / "memory.ipynb"
#: The functions of the chapter's cells that the benchmarks time.
PAGE_FUNCTIONS = (
    "fill_by_append",
    "fill_by_list",
    "fill_preallocated",
    "hypot_temporaries",
    "hypot_inplace",
    "sum_relative_error",
    "stream",
    "transform",
    "mean_var_in_one_go",
    "mean_var_chunked",
    "sum_by_rows",
    "sum_by_columns",
    "transpose_naive",
    "transpose_blocked",
    "random_cycle",
    "chase_table",
    "chase",
    "chase_latency",
    "gather_time",
)


def page() -> SimpleNamespace:
    """The functions of :data:`PAGE_FUNCTIONS`, compiled from the chapter's code cells
    (:func:`computing_change.core.notebook.page_code`), in a namespace holding what the
    chapter's setup cell imports and they use."""
    return page_code(PAGE, PAGE_FUNCTIONS, {"np": np, "math": math, "bench": bench, "M": M})


P = page()


def _llc() -> int | None:
    caches = machine.cache_sizes()
    return max(caches.values()) if caches else None


def allocation(quick: bool) -> dict:
    sizes = [2_000, 4_000, 8_000] if quick else [4_000, 8_000, 16_000, 32_000]
    fills = {
        "np.append": P.fill_by_append,
        "list then np.array": P.fill_by_list,
        "preallocated": P.fill_preallocated,
        "np.arange": lambda n: np.arange(n) * 0.5,
    }
    seconds: dict[str, list[float]] = {name: [] for name in fills}
    for n in sizes:
        want = np.arange(n) * 0.5
        for name, fill in fills.items():
            assert np.array_equal(fill(n), want), name
            seconds[name].append(bench(partial(fill, n), repeat=3, warmup=0).median)
    n_arr = np.array(sizes, dtype=float)
    t_app = np.array(seconds["np.append"])
    design = np.column_stack([n_arr, n_arr**2]) / t_app[:, None]
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t_app), rcond=None)
    peaks = {name: traced_peak(fill, sizes[-1]).peak / (8 * sizes[-1]) for name, fill in fills.items()}

    n = machine.safe_size(8 * 6, fraction=0.1, max_items=2**21 if quick else 2**23)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    out, work = np.empty(n), np.empty(n)
    temps = traced_peak(P.hypot_temporaries, x, y)
    inplace = traced_peak(P.hypot_inplace, x, y, out, work)
    assert np.array_equal(temps.value, inplace.value)
    t_temps = bench(lambda: P.hypot_temporaries(x, y), repeat=7).median
    t_inplace = bench(lambda: P.hypot_inplace(x, y, out, work), repeat=7).median
    return {
        "sizes": sizes,
        "seconds": {k: [round(t, 6) for t in v] for k, v in seconds.items()},
        "append_fit": {
            "a_seconds_per_call": float(a),
            "b_seconds_per_copy": float(b),
            "n_star": float(a / b) if b > 0 else None,
            "last_doubling_ratio": round(float(t_app[-1] / t_app[-2]), 3),
        },
        "append_over_preallocated": round(seconds["np.append"][-1] / seconds["preallocated"][-1], 2),
        "preallocated_over_arange": round(seconds["preallocated"][-1] / seconds["np.arange"][-1], 1),
        "peak_in_final_arrays": {k: round(v, 2) for k, v in peaks.items()},
        "inplace": {
            "n": n,
            "peak_arrays_with_temporaries": round(temps.peak / x.nbytes, 3),
            "peak_arrays_in_place": round(inplace.peak / x.nbytes, 3),
            "seconds_with_temporaries": t_temps,
            "seconds_in_place": t_inplace,
            "time_ratio_in_place": round(t_inplace / t_temps, 3),
        },
    }


def dtype(quick: bool) -> dict:
    llc = _llc() or 32 * MIB
    n = machine.safe_size(12, fraction=0.15, max_items=(2 if quick else 8) * llc // 8)
    big64 = np.random.default_rng(1).random(n)
    big32 = big64.astype(np.float32)
    assert math.isclose(float(big32.sum(dtype=np.float64)), float(big64.sum()), rel_tol=1e-6)
    t64 = bench(lambda: big64.sum(), repeat=7).median
    t32 = bench(lambda: big32.sum(), repeat=7).median
    data = np.random.default_rng(0).random(1_000_000)
    errors = {
        f"{dt} {method}": P.sum_relative_error(data, dt, method)
        for dt in ("float32", "float64")
        for method in F.SUM_METHODS
    }
    return {
        "n": n,
        "bytes_float64": big64.nbytes,
        "memory_ratio_float32_over_float64": big32.nbytes / big64.nbytes,
        "sum_seconds_float64": t64,
        "sum_seconds_float32": t32,
        "sum_speedup_float32": round(t64 / t32, 3),
        "relative_errors_1e6_values": {k: float(f"{v:.3e}") for k, v in errors.items()},
        "eps": {dt: float(np.finfo(dt).eps) for dt in ("float16", "float32", "float64")},
    }


def chunking(quick: bool) -> dict:
    n = machine.safe_size(8 * 8, fraction=0.15, max_items=2**21 if quick else 2**23)
    chunk = 2**16
    whole = traced_peak(P.mean_var_in_one_go, n)
    part = traced_peak(P.mean_var_chunked, n, chunk)
    assert np.allclose(whole.value, part.value, rtol=1e-9, atol=0)
    t_whole = bench(lambda: P.mean_var_in_one_go(n), repeat=3, warmup=0, number=1).median
    t_part = bench(lambda: P.mean_var_chunked(n, chunk), repeat=3, warmup=0, number=1).median
    return {
        "n": n,
        "chunk": chunk,
        "peak_bytes_unchunked": whole.peak,
        "peak_bytes_chunked": part.peak,
        "peak_ratio_chunked_over_unchunked": round(part.peak / whole.peak, 5),
        "seconds_unchunked": t_whole,
        "seconds_chunked": t_part,
        "time_ratio_chunked": round(t_part / t_whole, 3),
    }


def cache(quick: bool) -> dict:
    llc = _llc()
    caches = machine.cache_sizes()
    # row against column traversal
    n_rc = math.isqrt(machine.safe_size(8, fraction=0.1, max_items=(2048 if quick else 4096) ** 2))
    mat = np.random.default_rng(2).random((n_rc, n_rc))
    assert math.isclose(P.sum_by_rows(mat), P.sum_by_columns(mat), rel_tol=1e-9)
    t_rows = bench(partial(P.sum_by_rows, mat), repeat=5, number=1).median
    t_cols = bench(partial(P.sum_by_columns, mat), repeat=5, number=1).median
    del mat

    # transpose: two matrices of at least 8 x the last-level cache where memory allows
    want_items = (8 * (llc or 32 * MIB)) // 16
    cap = (2048 if quick else 8192) ** 2
    n_t = math.isqrt(machine.safe_size(16, fraction=0.25, max_items=min(want_items, cap))) // 64 * 64
    src = np.random.default_rng(3).random((n_t, n_t))
    dst = np.empty_like(src)
    t_naive = bench(partial(P.transpose_naive, src, dst), repeat=5, number=1).median
    assert np.array_equal(dst, src.T)
    blocked = {}
    for b in (16, 32, 64, 128, 256, 512):
        dst.fill(np.nan)
        blocked[b] = bench(partial(P.transpose_blocked, src, b, dst), repeat=5, number=1).median
        assert np.array_equal(dst, src.T)
    best = min(blocked, key=blocked.get)
    ws = 2 * src.nbytes
    del src, dst

    # access time per level: a working set at half of each cache level, and far beyond the last
    targets = {name: size // 2 for name, size in caches.items()}
    if not targets:
        targets = {"16 KiB": 16 * KIB, "256 KiB": 256 * KIB, "4 MiB": 4 * MIB}
    far = min(
        max(8 * (llc or 32 * MIB), 64 * MIB), (64 if quick else 512) * MIB, machine.safe_size(1, fraction=0.2)
    )
    # only if it is beyond the last cache the OS reports (a virtual machine may be told of a
    # whole processor's L3, larger than the memory a benchmark may take)
    if far > (llc or 0):
        targets["DRAM"] = far
    # many short calls, best of them (as in the notebook): other programs only add time
    repeat = 21 if quick else 101
    per_level = {
        name: {
            "working_set_bytes": int(size),
            "ns_per_element": round(P.gather_time(int(size), repeat=repeat) * 1e9, 3),
            # the chase's table takes seconds to build beyond a few hundred MiB: 256 MiB at most
            "latency_ns": round(P.chase_latency(int(min(size, 256 * MIB)), repeat=repeat) * 1e9, 3),
        }
        for name, size in targets.items()
    }
    first, last = per_level[next(iter(per_level))], per_level[list(per_level)[-1]]
    return {
        "caches": caches,
        "traversal": {
            "n": n_rc,
            "seconds_by_rows": t_rows,
            "seconds_by_columns": t_cols,
            "columns_over_rows": round(t_cols / t_rows, 2),
        },
        "transpose": {
            "n": n_t,
            "working_set_bytes": ws,
            "working_set_over_llc": round(ws / llc, 2) if llc else None,
            "seconds_naive": t_naive,
            "seconds_blocked": blocked,
            "best_block": best,
            "speedup_best_block": round(t_naive / blocked[best], 3),
        },
        "access_time_per_level": per_level,
        "largest_over_smallest": round(last["ns_per_element"] / first["ns_per_element"], 2),
        "latency_largest_over_smallest": round(last["latency_ns"] / first["latency_ns"], 2),
        "latency_steps": M.describe_steps({k: v["latency_ns"] for k, v in per_level.items()}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a rough check in seconds")
    args = parser.parse_args(argv)
    report = {
        "chapter": "3.3 memory optimization",
        "machine": machine.summary(),
        "quick": args.quick,
        "allocation": allocation(args.quick),
        "dtype": dtype(args.quick),
        "chunking": chunking(args.quick),
        "cache": cache(args.quick),
    }
    json.dump(report, sys.stdout, default=float)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
