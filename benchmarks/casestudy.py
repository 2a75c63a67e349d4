"""Performance figures of chapter 5.3, the nearest-neighbour case study (项目实战), as one JSON object.

Run from the repository root, on a quiet machine:

    python benchmarks/casestudy.py                 # about a minute
    python benchmarks/casestudy.py --quick         # fewer repeats, a rough check

It runs every step of the notebook at the default size (``casestudy.default_sizes()``:
512 queries, 4096 references, 128 dimensions), checks every answer against the naive one,
and reports each step's median time, speedup over naive Python, peak traced memory,
attained GFLOP/s and fraction of its roofline bound. The naive Python steps run on
``--naive-queries`` queries and are scaled up (every query costs the same).

Step 4 compiles the naive loops with Numba, then with ``parallel=True`` on one thread per
usable core. Those loops are written in the chapter itself: the script runs the notebook's
own cell that defines ``nearest_loops`` (``page_function``), so it times the code the page
shows. Their first calls compile: that time
is reported apart (``overheads``), and the timings start after it. ``numba`` reports the
compiled loops' speed over naive Python and over the fastest NumPy version in float64, and
the threads' speedup over one thread (``null`` with one usable core: there is none to
measure).

The "final version" is the fastest step. Targets:

* ``final_speedup_meets_100x``: the final version at least 100x faster than naive Python;
* ``final_within_3x_of_roofline``: it attains at least a third of its roofline bound
  ``min(peak, bandwidth * intensity)``.

Every step is placed under the roofs of all usable cores (the later steps use every core;
for the single-threaded early ones this is an upper bound), in the step's precision:
``machine.roofs()``, the course's one definition of the peak (large matrix products) and of
the memory bandwidth (best of dot, copy and triad), printed under ``roofs``. A step reported
above ``machine.ROOF_TOLERANCE`` (1.05) of its bound is impossible and makes the script fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where benchmarks/distributed.py would
# shadow the real `distributed` package that Dask imports. Drop it (spawned workers inherit
# the corrected path).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from computing_change.core import machine  # noqa: E402
from computing_change.core.notebook import page_code  # noqa: E402
from computing_change.core.pools import cluster_client  # noqa: E402
from computing_change.core.timing import bench  # noqa: E402
from computing_change.core.tracing import traced_peak  # noqa: E402
from computing_change.lessons import project as cs  # noqa: E402
from computing_change.models import formulas as F  # noqa: E402

SPEEDUP_TARGET = 100.0
ROOFLINE_FACTOR = 3.0
NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "project.ipynb"


def page_function(name: str):
    """A function exactly as the chapter defines it in its code cells
    (:func:`computing_change.core.notebook.page_code`), with the setup's ``np`` and ``numba``."""
    import numba

    return getattr(page_code(NOTEBOOK, (name,), {"np": np, "numba": numba}), name)


def _check(agree: cs.Agreement, what: str) -> None:
    if not agree.ok:
        raise AssertionError(f"{what}: {agree}")


def run(naive_queries: int, repeat: int) -> dict:
    sizes = cs.default_sizes()
    n, m, d = sizes.n_queries, sizes.n_refs, sizes.dim
    k = min(naive_queries, n)
    q, r = cs.make_data(n, m, d, seed=0)
    q32, r32 = q.astype(np.float32), r.astype(np.float32)
    flops = cs.distance_flops(n, m, d)
    cores = machine.usable_cores()
    steps: list[cs.StepResult] = []
    extra: dict = {}

    # 0 and 1: pure Python, on k queries, scaled up
    q_rows, r_rows = q[:k].tolist(), r.tolist()
    naive_index, naive_dist = cs.nearest_naive(q_rows, r_rows)
    for name, func in (
        ("0 naive Python", cs.nearest_naive),
        ("1 expansion, Python", cs.nearest_expanded_python),
    ):
        got = func(q_rows, r_rows)
        _check(cs.compare_neighbours(q[:k], r, *got, naive_index, naive_dist, rtol=1e-10), name)
        t = bench(lambda f=func: f(q_rows, r_rows), repeat=3, warmup=0, number=1)
        peak = traced_peak(func, q_rows[:1], r_rows).peak
        steps.append(cs.StepResult(name, t.median * n / k, peak, measured_queries=k))

    # 2a: broadcasting, the full-size reference
    traced = traced_peak(cs.nearest_broadcast, q, r)
    ref_index, ref_dist = traced.value
    _check(cs.compare_neighbours(q[:k], r, ref_index[:k], ref_dist[:k], naive_index, naive_dist), "broadcast")
    t = bench(lambda: cs.nearest_broadcast(q, r), repeat=3, warmup=0, number=1)
    steps.append(cs.StepResult("2a broadcasting", t.median, traced.peak))

    # 2b, 3a, 3b: in-process NumPy versions
    for name, func, args, dtype, rtol in (
        ("2b one matrix product", cs.nearest_matmul, (q, r), "float64", 1e-10),
        ("3a blocks, float64", cs.nearest_chunked, (q, r), "float64", 1e-10),
        ("3b blocks, float32", cs.nearest_chunked, (q32, r32), "float32", 1e-5),
    ):
        traced = traced_peak(func, *args)
        _check(cs.compare_neighbours(q, r, *traced.value, ref_index, ref_dist, rtol=rtol), name)
        t = bench(lambda f=func, a=args: f(*a), repeat=repeat)
        steps.append(cs.StepResult(name, t.median, traced.peak, dtype=dtype))

    # 4a, 4b: the naive loops compiled by Numba, then on threads (first calls compile).
    # Numba is imported here, not at the top: spawned workers import this script's top level.
    import numba

    numpy64 = [s for s in steps if s.dtype == "float64" and s.measured_queries is None]
    best_numpy = min(numpy64, key=lambda s: s.seconds)
    threads = min(cores, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    nearest_loops = page_function("nearest_loops")
    numba_steps = {}
    for name, compiled in (
        ("4a Numba loops", numba.njit(nearest_loops)),
        (f"4b Numba threads ({threads})", numba.njit(parallel=True)(nearest_loops)),
    ):
        t0 = time.perf_counter()
        got = compiled(q, r)
        extra[f"{name.split()[0]}_numba_first_call_seconds"] = time.perf_counter() - t0
        if not (np.array_equal(got[0], ref_index) and np.array_equal(got[1][:k], naive_dist)):
            raise AssertionError(f"{name}: not the reference neighbours, or not naive Python's distances")
        t = bench(lambda f=compiled: f(q, r), repeat=repeat)
        peak = traced_peak(compiled, q, r).peak
        steps.append(cs.StepResult(name, t.median, peak))
        numba_steps[name] = (compiled, t)
    loops_t = numba_steps["4a Numba loops"][1]
    threaded, threads_t = numba_steps[f"4b Numba threads ({threads})"]
    thread_speedup = None
    if threads > 1:
        numba.set_num_threads(1)
        one_t = bench(lambda: threaded(q, r), repeat=repeat)
        numba.set_num_threads(threads)
        thread_speedup = round(one_t.median / threads_t.median, 2)
    numba_figures = {
        "threads": threads,
        "threading_layer": numba.threading_layer(),
        "loops_speedup_over_naive": round(steps[0].seconds / loops_t.median, 1),
        "fastest_numpy_float64": best_numpy.name,
        "loops_speed_vs_fastest_numpy_float64": round(best_numpy.seconds / loops_t.median, 3),
        "threads_speed_vs_fastest_numpy_float64": round(best_numpy.seconds / threads_t.median, 3),
        "thread_speedup_over_one_thread": thread_speedup,
    }

    # 5: processes
    with cs.ProcessNearest(r32, workers=cores) as search:
        extra["process_startup_seconds"] = search.startup_seconds
        _check(cs.compare_neighbours(q, r, *search(q32), ref_index, ref_dist, rtol=1e-5), "processes")
        t = bench(lambda: search(q32), repeat=repeat)
        peak = search.worker_peak(q32)
    steps.append(cs.StepResult(f"5 processes ({cores})", t.median, peak, dtype="float32", per_worker=True))

    # 6: Dask
    t0 = time.perf_counter()
    with cluster_client(cores, local=True) as client:
        extra["dask_startup_seconds"] = time.perf_counter() - t0
        search = cs.DaskNearest(client, r32)
        extra["dask_scatter_seconds"] = search.scatter_seconds
        _check(cs.compare_neighbours(q, r, *search(q32), ref_index, ref_dist, rtol=1e-5), "dask")
        t = bench(lambda: search(q32), repeat=repeat)
        peak = search.worker_peak(q32)
    steps.append(cs.StepResult(f"6 Dask ({cores} workers)", t.median, peak, dtype="float32", per_worker=True))

    # the roofline
    roofs = machine.roofs()
    peaks = {dt: roofs.peak(dt) for dt in ("float64", "float32")}
    bandwidth = roofs.bandwidth
    nbytes = {dt: cs.compulsory_bytes(n, m, d, itemsize=np.dtype(dt).itemsize) for dt in peaks}
    bound = {dt: flops / F.task_time_bound(flops, nbytes[dt], peaks[dt], bandwidth) for dt in peaks}

    final = min(steps, key=lambda s: s.seconds)
    speedup = steps[0].seconds / final.seconds
    fractions = [
        roofs.fraction(flops / s.seconds, flops / nbytes[s.dtype], dtype=s.dtype, what=f"step {s.name!r}")
        for s in steps
    ]
    fraction = fractions[steps.index(final)]
    return {
        "chapter": "5.3 project practice: nearest-neighbour search",
        "machine": machine.summary(),
        "usable_cores": cores,
        "roofs": roofs.as_dict(),
        "sizes": {"n_queries": n, "n_refs": m, "dim": d, "naive_queries": k},
        "gflop": flops / 1e9,
        "figures": {
            "final_step": final.name,
            "final_seconds": final.seconds,
            "final_speedup_over_naive": round(speedup, 1),
            "final_speedup_meets_100x": bool(speedup >= SPEEDUP_TARGET),
            "final_gflops": round(flops / final.seconds / 1e9, 2),
            "final_roofline_bound_gflops": round(bound[final.dtype] / 1e9, 2),
            "final_fraction_of_roofline": round(fraction, 3),
            "final_within_3x_of_roofline": bool(fraction >= 1 / ROOFLINE_FACTOR),
            "naive_seconds_scaled_up": round(steps[0].seconds, 2),
        },
        "roofline": {
            "roof": "all usable cores, in each step's precision",
            "peak_gflops": {dt: round(v / 1e9, 2) for dt, v in peaks.items()},
            "bandwidth_gbs": round(bandwidth / 1e9, 2),
            "intensity_flop_per_byte": {dt: round(flops / b, 1) for dt, b in nbytes.items()},
            "bound_gflops": {dt: round(v / 1e9, 2) for dt, v in bound.items()},
        },
        "steps": [
            {
                "name": s.name,
                "seconds": s.seconds,
                "scaled_up_from_queries": s.measured_queries,
                "speedup_over_naive": round(steps[0].seconds / s.seconds, 2),
                "peak_mib": round(s.peak_bytes / 2**20, 3),
                "peak_per_worker": s.per_worker,
                "dtype": s.dtype,
                "gflops": round(flops / s.seconds / 1e9, 3),
                "fraction_of_roofline": round(f, 4),
            }
            for s, f in zip(steps, fractions, strict=True)
        ],
        "numba": numba_figures,
        "overheads": {key: round(v, 4) for key, v in extra.items()},
        "table": cs.format_steps(steps, flops, bound).splitlines(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a rough check")
    parser.add_argument("--naive-queries", type=int, default=8, help="queries the naive Python steps run on")
    args = parser.parse_args(argv)
    if args.naive_queries < 1:
        parser.error("--naive-queries must be >= 1")
    report = run(args.naive_queries if not args.quick else 2, repeat=3 if args.quick else 9)
    report["quick"] = args.quick
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
